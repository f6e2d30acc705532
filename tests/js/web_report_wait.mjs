// Drives Debian's headless Chromium through the report page of a node whose reports are never
// waited for (report_wait_ms = 0; used by tests/tests/web_oversight.rs): the first /report shows
// the computing status ("正在计算本月报表…", how far it has got, a refresh link, no seal form),
// then the figures appear without a reload (one navigation, a mark set on the page kept, the
// period typed into the form meanwhile kept) with the seal form. In a context without
// JavaScript, in English, a quarter's report shows "Computing the report for …" in English
// only, and the page refreshes itself (its <noscript> meta refresh) until the figures show.
// Nothing may leave 127.0.0.1.
//
// usage: node web_report_wait.mjs URL NAME PASSWORD QUARTER
import { english, fail, launch, login, noneRefused, watched } from "./browser.mjs";

const [url, name, password, quarter] = process.argv.slice(2);
const origin = new URL(url).origin;
const outside = [];

const browser = await launch();
try {
  // With script: the computing status, then the figures in place.
  const context = await watched(browser, [origin], outside);
  const page = await context.newPage();
  await login(page, origin, "/", name, password);
  // What each document showed when it was parsed, before the page's script could change it.
  await page.addInitScript(() => {
    document.addEventListener("DOMContentLoaded", () => {
      const banner = document.getElementById("report-computing");
      window.__first = {
        computing: banner ? banner.textContent.trim() : null,
        refresh: !!document.getElementById("report-refresh"),
        seal: !!document.getElementById("seal-button"),
        progress: !!document.getElementById("report-progress"),
      };
    });
  });
  let navigations = 0;
  page.on("framenavigated", (f) => { if (f === page.mainFrame()) navigations += 1; });
  await page.goto(origin + "/report");
  const first = await page.evaluate(() => window.__first);
  if (!first || !first.computing) fail("the first /report does not show the computing status: " + JSON.stringify(first));
  if (!first.computing.includes("正在计算本月报表")) fail("the computing status says: " + first.computing);
  if (!first.refresh || !first.progress) fail("the computing status lacks its refresh link or progress: " + JSON.stringify(first));
  if (first.seal) fail("the seal form is offered before the figures are computed");
  console.log("ok: the first /report answered at once: " + first.computing);
  await page.evaluate(() => { window.__mark = "kept"; });
  await page.fill("input#period", "2026-10");
  await page.locator("#figures").waitFor({ timeout: 60000 });
  await page.locator("#seal-button").waitFor({ timeout: 10000 });
  if (await page.locator("#report-computing").count()) fail("the computing status is still shown beside the figures");
  if ((await page.evaluate(() => window.__mark)) !== "kept") fail("the page was reloaded to show the figures");
  if (navigations !== 1) fail("the page navigated " + navigations + " times, not once");
  if ((await page.inputValue("input#period")) !== "2026-10") fail("the period typed meanwhile was lost");
  const computation = await page.locator("#report").getAttribute("data-computation");
  await page.locator("svg.chart").waitFor({ timeout: 60000 });
  const bars = await page.locator("svg.chart rect[data-series]").count();
  if (bars !== 12) fail("the chart draws " + bars + " bars once every month is computed, not 12");
  console.log(`ok: the figures of computation ${computation} appeared without a reload; the form kept what was typed; the chart has its six months`);

  // Without script, in English: the status in English, and the page refreshes itself.
  const plain = await watched(browser, [origin], outside, { javaScriptEnabled: false });
  const p = await plain.newPage();
  await login(p, origin, "/", name, password);
  await p.goto(origin + "/report?period=" + quarter + "&lang=en");
  const banner = p.locator("#report-computing");
  if (!(await banner.count())) fail("the first /report of " + quarter + " does not show the computing status");
  const said = (await banner.textContent()).trim();
  if (!said.includes("Computing the report for " + quarter)) fail("the computing status in English says: " + said);
  if (await p.locator("#seal-button").count()) fail("the seal form is offered before the figures are computed");
  const checked = await english(p, "/report (computing)");
  console.log(`ok: without script, in English: ${said} (${checked} texts checked)`);
  await p.locator("#figures").waitFor({ timeout: 60000 });
  await p.locator("#seal-button").waitFor({ timeout: 10000 });
  console.log("ok: without script the page refreshed itself until the figures showed");

  if (outside.length) fail("requests left the node: " + outside.join(", "));
  noneRefused();
  console.log("ok: no request left 127.0.0.1");
} finally {
  await browser.close();
}
