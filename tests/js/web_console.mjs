// Drives Debian's headless Chromium through one node's web console (used by
// tests/tests/web_console.rs): log in, a refused post shows the Chinese message next to the
// field, publish a post, approve it from the review queue, see it appear on the big screen
// without reloading it, then on the public list and on a poster whose QR check says genuine
// (and altered when a printed field is changed). Every request the browser makes must go to
// the node: nothing leaves 127.0.0.1. Switched to English, the console and the public list show
// no Chinese of their own, and a refused post answers in English naming the field (not a
// command-line flag). Screenshots go to SHOTS.
//
// usage: node web_console.mjs URL NAME PASSWORD SHOTS
import { english, fail, launch, login, refusedInEnglish, noneRefused, watched } from "./browser.mjs";

const [url, name, password, shots] = process.argv.slice(2);
const origin = new URL(url).origin;
const title = "茶园采茶工（浏览器测试）";
const outside = [];

const browser = await launch();
try {
  const context = await watched(browser, [origin], outside);
  const page = await context.newPage();

  // A page that needs a login sends the browser to the login form.
  await login(page, origin, "/", name, password);
  const unit = await page.inputValue("#post-unit");
  if (unit !== "day") fail("the wage unit picker does not start at day (most gig work is paid by the day): " + unit);
  console.log("ok: logged in");

  // The big screen, open in its own tab from before the post exists.
  const screen = await context.newPage();
  await screen.setViewportSize({ width: 1920, height: 1080 });
  await screen.goto(origin + "/screen");

  // A refused field: the message in Chinese, next to the field, and nothing saved.
  const publish = async (wage) => {
    await page.fill("#post-title", title);
    await page.fill("#post-occupation", "钟点工");
    await page.fill("#post-wage", String(wage));
    await page.selectOption("#post-unit", "day");
    await page.fill("#post-headcount", "8");
    await page.fill("#post-location", "湄潭县乐源社区茶园");
    await page.fill("#post-contact", "王女士 13800001234");
    await page.fill("#post-description", "包午餐，日结");
    await Promise.all([page.waitForLoadState("load"), page.click("#publish button[type=submit]")]);
  };
  await publish(100000);
  const err = page.locator(".field.bad[data-field=wage] .err");
  await err.waitFor({ timeout: 10000 });
  const message = await err.textContent();
  if (!/wage/.test(message) || !/[\u4e00-\u9fff]/.test(message)) fail("the wage error is not a Chinese message naming the field: " + message);
  if ((await page.inputValue("#post-title")) !== title) fail("the refused form lost what was typed");
  console.log("ok: a bad wage is refused next to its field: " + message.trim());

  await publish(150);
  await page.locator("#done").waitFor({ timeout: 10000 });
  await page.locator("#posts tr", { hasText: title }).first().waitFor();
  const id = await page.locator("#posts tr", { hasText: title }).first().getAttribute("data-id");
  console.log("ok: published " + id);

  // The review queue shows it with its findings; approve it.
  const row = page.locator(`#review tr[data-id="${id}"]`);
  await row.waitFor({ timeout: 10000 });
  await page.screenshot({ path: shots + "/console.png", fullPage: false });
  await Promise.all([page.waitForLoadState("load"), row.locator("button", { hasText: "通过" }).first().click()]);
  await page.locator("#done").waitFor({ timeout: 10000 });
  if (await page.locator(`#review tr[data-id="${id}"]`).count()) fail("the approved post is still in the review queue");
  console.log("ok: approved from the review queue");

  // The screen shows it without a reload (it polls /feed.json).
  await screen.locator(`.row[data-id="${id}"]`).waitFor({ timeout: 30000 });
  await screen.screenshot({ path: shots + "/screen.png" });
  console.log("ok: the big screen shows it without reloading");

  // The public list, on a phone-sized page, without a login.
  const phone = await watched(browser, [origin], outside, { viewport: { width: 390, height: 844 } });
  const pub = await phone.newPage();
  await pub.goto(origin + "/posts?q=" + encodeURIComponent("钟点工"));
  await pub.locator(`li[data-id="${id}"]`).waitFor({ timeout: 10000 });
  await pub.screenshot({ path: shots + "/public-posts.png", fullPage: true });
  console.log("ok: the public list shows it");

  // The poster: A4 with a QR code; the signed link it carries checks as genuine, an altered
  // one not (tests/tests/web_console.rs checks forged signatures and other nodes over HTTP).
  await pub.goto(origin + "/posts/" + id + "/poster");
  if (!(await pub.locator(".poster .qr svg").count())) fail("the poster has no QR code");
  const poster = await context.newPage();
  await poster.setViewportSize({ width: 794, height: 1123 });
  await poster.goto(origin + "/posts/" + id + "/poster");
  await poster.screenshot({ path: shots + "/poster.png", fullPage: true });
  const link = await pub.evaluate(() => {
    const p = document.querySelector(".poster");
    return p ? p.getAttribute("data-check-url") : null;
  });
  if (!link) fail("the poster does not say what its QR code links to");
  await pub.goto(link);
  await pub.locator("[data-check=genuine]").waitFor({ timeout: 10000 });
  // A changed field: the digest no longer matches what the printing station signed.
  const altered = link.replace(/h=([0-9a-f])/, (m, c) => "h=" + (c === "0" ? "1" : "0"));
  await pub.goto(altered);
  await pub.locator("[data-check=forged]").waitFor({ timeout: 10000 });
  console.log("ok: the poster's QR link checks genuine, an altered one does not");

  // Switched to English: the console and the public list say everything of their own in
  // English, and a refused post says so in English, naming the field.
  await page.goto(origin + "/?lang=en");
  const checked = await english(page, "the console");
  await page.fill("#post-title", title);
  await page.fill("#post-occupation", "钟点工");
  await Promise.all([page.waitForLoadState("load"), page.click("#publish button[type=submit]")]);
  const wageMessage = await refusedInEnglish(page, "#publish", "wage");
  await pub.goto(origin + "/posts?lang=en");
  await english(pub, "the public list");
  await page.goto(origin + "/?lang=zh");
  console.log(`ok: in English the console shows no Chinese of its own (${checked} texts); a refused wage: ${wageMessage}`);

  if (outside.length) fail("requests left the node: " + outside.join(", "));
  noneRefused();
  console.log("ok: no request left " + origin);
} finally {
  await browser.close();
}
