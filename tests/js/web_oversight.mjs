// Drives Debian's headless Chromium through the oversight pages of two nodes' consoles (used
// by tests/tests/web_oversight.rs): at the village, a complaint with no text is refused with
// the message next to the field and nothing filed; the complaint is filed and shows `received`;
// at the county (its own browser context: cookies do not tell ports apart), the complaint
// arrives by sync and is stepped to `accepted` after a skipped step is refused next to the
// status field; back at the village the page shows `accepted` with the county's signed step.
// Then the village's report page: its table and the SVG chart carry the figures the command
// line computed (EXPECTED, `lingong report --json` of this month), the chart draws the months
// before too, and the sync page lists the parent. The village's big screen shows a newly
// approved post by server-sent events with /feed.json blocked, and by polling with the events
// blocked. Switched to English, the oversight pages show no Chinese of their own and a refused
// step answers in English naming the status field. Nothing may leave 127.0.0.1. Screenshot:
// SHOTS/report.png.
//
// usage: node web_oversight.mjs VILLAGE_URL COUNTY_URL NAME PASSWORD SHOTS EXPECTED_JSON
import { english, fail, launch, login, refusedInEnglish, noneRefused, watched } from "./browser.mjs";

const [villageUrl, countyUrl, name, password, shots, expectedJson] = process.argv.slice(2);
const expected = JSON.parse(expectedJson);
const village = new URL(villageUrl).origin;
const county = new URL(countyUrl).origin;
const outside = [];
const text = "2026年10月至11月在乐源茶园采茶，工资4200元至今未付（浏览器测试）";

const browser = await launch();
const context = () => watched(browser, [village, county], outside);

// Reloads `path` until `check()` holds, for at most `ms` (3 minutes: a loaded 2-core machine
// once took more than the 90 s this had, and the failure said nothing more). On timeout the
// failure carries that node's sync page (its peers and last sessions), to tell a stalled
// machine from a record that never came.
async function until(page, path, check, what, ms = 180000) {
  const end = Date.now() + ms;
  for (;;) {
    await page.goto(path);
    if (await check()) return;
    if (Date.now() > end) {
      await page.goto(new URL(path).origin + "/sync");
      const sync = (await page.locator("body").innerText()).slice(0, 2000);
      fail("timed out after " + ms / 1000 + " s waiting for " + what + "; that node's sync page:\n" + sync);
    }
    await page.waitForTimeout(500);
  }
}

try {
  // The village files a complaint.
  const vc = await context();
  const v = await vc.newPage();
  await login(v, village, "/complaints", name, password);
  console.log("ok: logged in at the village");
  await v.goto(village + "/complaints");
  await v.selectOption("#file-kind", "wage-arrears");
  await v.fill("#file-amount", "4200");
  await Promise.all([v.waitForLoadState("load"), v.click("#file button[type=submit]")]);
  const err = v.locator(".field.bad[data-field=text] .err");
  await err.waitFor({ timeout: 10000 });
  const message = (await err.textContent()).trim();
  if (!/[\u4e00-\u9fff]/.test(message)) fail("the missing text is not refused in Chinese next to the field: " + message);
  if ((await v.inputValue("#file-amount")) !== "4200") fail("the refused form lost what was typed");
  if (await v.locator("#list tr[data-id]").count()) fail("a refused complaint was filed");
  console.log("ok: a complaint without text is refused next to the field: " + message);

  await v.fill("#file-text", text);
  await Promise.all([v.waitForURL(/\/complaints\?id=/), v.click("#file button[type=submit]")]);
  const id = new URL(v.url()).searchParams.get("id");
  await v.locator("#done").waitFor({ timeout: 10000 });
  const filed = await v.locator("#complaint-status").getAttribute("data-status");
  if (filed !== "received") fail("a new complaint is not received: " + filed);
  await v.locator(`#list tr[data-id="${id}"]`).waitFor();
  console.log("ok: filed complaint " + id + " at the village");

  // The county receives it by sync and steps it forward.
  const cc = await context();
  const c = await cc.newPage();
  await login(c, county, "/complaints", name, password);
  console.log("ok: logged in at the county");
  await until(c, county + "/complaints?id=" + id, async () => (await c.locator("#complaint-status").count()) > 0,
    "the complaint to reach the county");
  console.log("ok: the complaint reached the county");
  await c.selectOption("#update-status", "closed");
  await Promise.all([c.waitForLoadState("load"), c.click("#update button[type=submit]")]);
  await c.locator(".field.bad[data-field=status] .err").waitFor({ timeout: 10000 });
  if ((await c.locator("#complaint-status").getAttribute("data-status")) !== "received") fail("a refused step changed the status");
  console.log("ok: a skipped step is refused next to the status field");
  await c.selectOption("#update-status", "accepted");
  await c.fill("#update-note", "县劳动保障监察大队已受理，联系用工单位核实");
  await Promise.all([c.waitForURL(/done=/), c.click("#update button[type=submit]")]);
  if ((await c.locator("#complaint-status").getAttribute("data-status")) !== "accepted") fail("the county's step did not save");
  console.log("ok: the county stepped it to accepted");

  // The village sees the county's signed step.
  await until(v, village + "/complaints?id=" + id,
    async () => (await v.locator("#complaint-status").getAttribute("data-status")) === "accepted",
    "the accepted status to reach the village");
  const steps = await v.locator("#history tr[data-status]").count();
  if (steps !== 2) fail("the village shows " + steps + " history steps, not 2");
  const by = await v.locator('#history tr[data-status="accepted"]').textContent();
  if (!by.includes("黄平县")) fail("the accepted step is not signed by the county: " + by);
  console.log("ok: the village shows accepted, signed by the county");

  // The report: the table and the chart carry the command line's figures.
  await v.goto(village + "/report");
  await v.locator("svg.chart").waitFor({ timeout: 30000 });
  for (const key of ["posts", "placements", "complaints"]) {
    const cell = (await v.locator(`#figures tr[data-figure="${key}"] td.num`).textContent()).trim();
    if (cell !== String(expected[key] + (key === "complaints" ? 1 : 0))) {
      fail(`the report's ${key} is ${cell}, the command line said ${expected[key]} (before the complaint)`);
    }
  }
  const period = expected.period;
  for (const key of ["posts", "placements"]) {
    const bar = v.locator(`svg.chart rect[data-series="${key}"][data-month="${period}"]`);
    const value = await bar.getAttribute("data-value");
    if (value !== String(expected[key])) fail(`the chart's ${key} bar for ${period} is ${value}, not ${expected[key]}`);
  }
  const bars = await v.locator("svg.chart rect[data-series]").count();
  if (bars !== 12) fail("the chart draws " + bars + " bars, not 2 for each of 6 months");
  const earlier = await v.locator('svg.chart rect[data-series="posts"]').evaluateAll(
    (rs) => rs.filter((r) => Number(r.getAttribute("data-value")) > 0).length);
  if (earlier < 2) fail("the chart shows posts in fewer than two months");
  await v.screenshot({ path: shots + "/report.png", fullPage: false });
  console.log("ok: the report's table and chart carry the month's figures");

  // Verify the seals (none yet), and the seal button refuses a month not over.
  await Promise.all([v.waitForLoadState("load"), v.click("#verify-button")]);
  await v.locator("#verify").waitFor({ timeout: 30000 });
  await Promise.all([v.waitForLoadState("load"), v.click("#seal-button")]);
  await v.locator("#error").waitFor({ timeout: 10000 });
  if ((await v.locator("#seal-state").getAttribute("data-sealed")) !== "false") fail("a refused seal was made");
  console.log("ok: verify runs; sealing a month not over is refused");

  // The sync page lists the township as the parent.
  await v.goto(village + "/sync");
  await v.locator("#peers tr[data-peer]").first().waitFor({ timeout: 10000 });
  const peerRow = await v.locator("#peers tr[data-peer]").first().textContent();
  if (!peerRow.includes("旧州镇")) fail("the sync page does not name the township: " + peerRow);
  if ((await v.locator("#parent").getAttribute("data-connected")) !== "true") fail("the sync page says the parent is not connected");
  const waiting = (await v.locator("#waiting").textContent()).trim();
  if (!/^\d+/.test(waiting)) fail("the sync page does not count what waits to go up: " + waiting);
  // What it holds, named as a clerk names records, and its times in China Standard Time.
  const held = (await v.locator('#sync span.tag[data-kind="posts"]').textContent()).trim();
  if (!/^岗位 \d+$/.test(held)) fail("the sync page does not name its posts in Chinese: " + held);
  const lastSync = (await v.locator("#peers tr[data-peer] td").nth(3).textContent()).trim();
  if (!/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(lastSync)) fail("the last session is not a China Standard Time: " + lastSync);
  console.log("ok: the sync page names the township, connected; waiting to go up: " + waiting);

  // Switched to English: every oversight page says everything of its own in English, and the
  // county's refused step says so in English, naming the status field.
  let checked = 0;
  for (const path of ["/complaints?id=" + id + "&lang=en", "/report", "/supervision", "/audit?run=1", "/sync"]) {
    await v.goto(village + path);
    checked += await english(v, path);
  }
  await c.goto(county + "/complaints?id=" + id + "&lang=en");
  await c.selectOption("#update-status", "closed");
  await Promise.all([c.waitForLoadState("load"), c.click("#update button[type=submit]")]);
  const stepMessage = await refusedInEnglish(c, "#update", "status");
  await v.goto(village + "/sync?lang=zh");
  await c.goto(county + "/complaints?lang=zh");
  console.log(`ok: in English the oversight pages show no Chinese of their own (${checked} texts); a refused step: ${stepMessage}`);

  // The big screen: a new post arrives by server-sent events (polling blocked), and by polling
  // where the events are blocked.
  const bySse = await vc.newPage();
  await bySse.route("**/feed.json*", (r) => r.abort());
  await bySse.goto(village + "/screen");
  const byPoll = await vc.newPage();
  await byPoll.route("**/screen/events*", (r) => r.abort());
  await byPoll.goto(village + "/screen");
  const postId = await v.evaluate(async () => {
    const session = await (await fetch("/api/session")).json();
    const h = { "Content-Type": "application/json", "X-CSRF-Token": session.csrf };
    const made = await fetch("/api/posts", {
      method: "POST", headers: h,
      body: JSON.stringify({ title: "茶叶加工厂分拣工（实时推送测试）", occupation: "4-10-01-06", wage: 160,
        unit: "day", headcount: 2, contact: "王女士 13800001234" }),
    });
    if (!made.ok) throw new Error("post create " + made.status + " " + await made.text());
    const id = (await made.json()).id;
    const reviewed = await fetch("/api/posts/" + id + "/review", { method: "POST", headers: h, body: JSON.stringify({ approve: true }) });
    if (!reviewed.ok) throw new Error("review " + reviewed.status + " " + await reviewed.text());
    return id;
  });
  const approvedAt = Date.now();
  await bySse.locator(`.row[data-id="${postId}"]`).waitFor({ timeout: 30000 });
  console.log(`ok: the screen showed the approved post by server-sent events after ${Date.now() - approvedAt} ms (polling blocked)`);
  await byPoll.locator(`.row[data-id="${postId}"]`).waitFor({ timeout: 30000 });
  console.log(`ok: and by polling after ${Date.now() - approvedAt} ms where the events are blocked`);

  if (outside.length) fail("requests left the node: " + outside.join(", "));
  noneRefused();
  console.log("ok: no request left 127.0.0.1");
} finally {
  await browser.close();
}
