// What the browser tests' scripts (web_console.mjs, web_oversight.mjs, web_push.mjs) share:
// Debian's headless Chromium started with the flags that keep it off the network, a console-sized
// context that records every request leaving the nodes under test, the login form, and the
// check that a page switched to English shows no Chinese in its own words.
import { chromium } from "playwright-core";

export const fail = (what) => { throw new Error(what); };

// Chinese characters (the CJK unified ideographs).
export const han = /[\u4e00-\u9fff]/;

// Headless Chromium (CHROMIUM, else Debian's /usr/bin/chromium) that does not call Google's
// hosts by itself.
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

// What the pages of every watched context got wrong in the browser: each script error, and each
// part of a page the node's own Content-Security-Policy refused (an inline style or script the
// page relies on and the browser dropped), with the page it happened on.
export const refused = [];

// A new context of `browser` (1366×768 and Chinese unless `options` say otherwise) that adds to
// `outside` the address of every request going anywhere but `origins`, and to `refused` what
// its pages got wrong.
export async function watched(browser, origins, outside, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: "zh-CN", ...options });
  context.on("request", (r) => {
    const u = r.url();
    if (!origins.some((o) => u.startsWith(o)) && !u.startsWith("data:") && !u.startsWith("about:")) outside.push(u);
  });
  context.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/.test(m.text())) {
      refused.push(`${m.location().url}: ${m.text().slice(0, 160)}`);
    }
  });
  context.on("weberror", (e) => refused.push(`${e.page() ? e.page().url() : "?"}: ${e.error().message}`));
  return context;
}

// Fails if any watched page had a script error or a part refused by the node's CSP; else says so.
export function noneRefused() {
  if (refused.length) fail(`the browser refused or missed parts of pages: ${[...new Set(refused)].join(" | ")}`);
  console.log("ok: no page had a script error or a part refused by its CSP");
}

// Opens `origin + path`, which must send a browser without a session to the login form, and
// logs in there as `name`; the console's front page follows.
export async function login(page, origin, path, name, password) {
  await page.goto(origin + path);
  if (!new URL(page.url()).pathname.startsWith("/login")) fail(`${path} did not ask for a login: ${page.url()}`);
  await page.fill("#name", name);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL(origin + "/"), page.click("button[type=submit]")]);
}

// The page's own words: labels, buttons, table heads, tabs, headings of the page, the options of
// every picker but those listing records (employers, workers), messages, placeholders and
// confirmations. What clerks typed (titles, names, places, the station's name) is data and may
// be Chinese.
const OWN_WORDS = "label, button, th, nav a, h1, .banner, .err, .tag, select:not([name=employer]):not([name=worker]) option";

// The everyday words the occupation fields give as examples: what a clerk types is Chinese in
// either language, since the occupation table is.
const EXAMPLES = /钟点工|搬运/g;

// Fails unless `page`, as it stands (switched to English), shows its own words in English only;
// returns how many texts were checked.
export async function english(page, what) {
  const { station, texts } = await page.evaluate((sel) => {
    const out = [];
    for (const e of document.querySelectorAll(sel)) out.push(e.textContent.trim());
    for (const e of document.querySelectorAll("[placeholder], [data-confirm]")) {
      out.push(e.getAttribute("placeholder") || "", e.getAttribute("data-confirm") || "");
    }
    out.push(document.title);
    // The station's name (data, as its clerks registered it) heads the page's top bar.
    const top = document.querySelector("header.top strong");
    const station = top ? top.textContent.split(" · ")[0].trim() : "";
    return { station, texts: out.filter((t) => t) };
  }, OWN_WORDS);
  const own = (t) => (station ? t.split(station).join("") : t).replace(EXAMPLES, "");
  const chinese = texts.filter((t) => han.test(own(t)));
  if (chinese.length) fail(`${what} in English still shows Chinese: ${chinese.join(" | ")}`);
  return texts.length;
}

// The message a refused form shows next to `field` (a `.field.bad[data-field=…]` of the page),
// which in English must be English and name the field, not a command line flag (`--kind`).
export async function refusedInEnglish(page, scope, field) {
  const err = page.locator(`${scope} .field.bad[data-field=${field}] .err`);
  await err.waitFor({ timeout: 10000 });
  const message = (await err.textContent()).trim();
  if (han.test(message) || /--[a-z]/.test(message) || !message.includes(field)) {
    fail(`the refused ${field} is not an English message naming the field: ${message}`);
  }
  return message;
}
