// Drives Debian's headless Chromium through the village console's push list and assistance
// ledger (used by tests/tests/web_push.rs), logged in as a clerk at 1366×768: the console's tab
// bar links to /push and /assist; /push lists the approved post with the priority worker first
// (marked, with the phone held here) and no send button (no push command configured); a mark
// without a result is refused next to the result field and the row stays; marked
// "interested", the worker leaves the post's list. /assist lists the priority worker as due
// with how far behind; a record without a kind is refused next to the kind field and the due
// figure stays; a training-info record is logged, appears in the worker's ledger and the due
// figure drops by one. Switched to English, /push and /assist show no Chinese of their own and a
// refused mark answers in English naming the result field. The sync page shows the last bundle.
// No page is wider than the screen,
// and nothing may leave 127.0.0.1. Screenshots: SHOTS/push.png, SHOTS/assist.png.
//
// usage: node web_push.mjs URL NAME PASSWORD POST PRIORITY_WORKER PLAIN_WORKER SHOTS
import { english, fail, han, launch, login, refusedInEnglish, noneRefused, watched } from "./browser.mjs";

const [url, name, password, post, priority, plain, shots] = process.argv.slice(2);
const origin = new URL(url).origin;
const outside = [];

const browser = await launch();

// The page fits the 1366-pixel screen without scrolling sideways.
async function fits(page, what) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  if (width > 1366) fail(`${what} is ${width} px wide, wider than the 1366 px screen`);
}

try {
  const context = await watched(browser, [origin], outside);
  const page = await context.newPage();

  // Log in: the push list asks for it first.
  await login(page, origin, "/push", name, password);
  for (const href of ["/push", "/assist"]) {
    if (!(await page.locator(`nav.tabs a[href="${href}"]`).count())) fail("the console has no link to " + href);
  }
  console.log("ok: logged in as a clerk; the console links to /push and /assist");

  // The push list: the post, the priority worker first.
  await page.click('nav.tabs a[href="/push"]');
  await page.waitForURL(origin + "/push");
  const section = page.locator(`section.post[data-post="${post}"]`);
  await section.waitFor({ timeout: 10000 });
  const rows = section.locator("tr.worker");
  const order = await rows.evaluateAll((trs) => trs.map((tr) => [tr.dataset.worker, Number(tr.dataset.priority)]));
  if (order.length < 2) fail("the post's list has fewer than two workers: " + JSON.stringify(order));
  if (order[0][0] !== priority || !(order[0][1] > 0)) fail("the priority worker is not first: " + JSON.stringify(order));
  if (!order.some(([w]) => w === plain)) fail("the other worker is not on the list: " + JSON.stringify(order));
  const first = section.locator(`tr.worker[data-worker="${priority}"]`);
  if (!(await first.locator(".priority").count())) fail("the priority worker is not marked");
  const phone = (await first.locator("td.mono").textContent()).trim();
  if (!/^1\d{10}$/.test(phone)) fail("no phone on the priority worker's row: " + phone);
  if (await page.locator("#send").count()) fail("a send button is shown though the node has no push command");
  await fits(page, "/push");
  await page.screenshot({ path: shots + "/push.png" });
  console.log(`ok: /push lists ${order.length} workers for the post, the priority worker first (phone ${phone})`);

  // A mark without a result: refused next to the field, the row stays.
  await Promise.all([page.waitForLoadState("load"), first.locator("button[type=submit]").click()]);
  const markErr = page.locator(`tr.worker[data-worker="${priority}"] .field.bad[data-field=result] .err`);
  await markErr.waitFor({ timeout: 10000 });
  const markMessage = (await markErr.textContent()).trim();
  if (!han.test(markMessage)) fail("the missing result is not refused in Chinese: " + markMessage);
  if (!(await page.locator(`section.post[data-post="${post}"] tr.worker[data-worker="${priority}"]`).count())) fail("a refused mark took the worker off the list");
  console.log("ok: a mark without a result is refused next to the field: " + markMessage);

  // Marked "interested": the worker leaves the post's list, the other stays.
  const row = page.locator(`section.post[data-post="${post}"] tr.worker[data-worker="${priority}"]`);
  await row.locator("select[name=result]").selectOption("interested");
  await row.locator("input[name=note]").fill("电话联系，愿意明天面试");
  await Promise.all([page.waitForURL(/\/push\?done=/), row.locator("button[type=submit]").click()]);
  await page.locator("#done").waitFor({ timeout: 10000 });
  if (await page.locator(`tr.worker[data-worker="${priority}"]`).count()) fail("the marked worker is still on the list");
  if (!(await page.locator(`section.post[data-post="${post}"] tr.worker[data-worker="${plain}"]`).count())) fail("the other worker left the list too");
  console.log("ok: marked interested, the worker left the list: " + (await page.locator("#done").textContent()).trim());

  // The assistance ledger: the priority worker is due.
  await page.click('nav.tabs a[href="/assist"]');
  await page.waitForURL(origin + "/assist");
  const due = () => page.locator(`tr.due[data-worker="${priority}"]`);
  await due().waitFor({ timeout: 10000 });
  const behind = Number(await due().getAttribute("data-behind"));
  const missing = (await due().locator(".missing").textContent()).trim();
  if (!(behind > 0) || !missing.includes("培训信息")) fail(`the due row says behind ${behind}, missing ${missing}`);
  if (await page.locator(`tr.due[data-worker="${plain}"]`).count()) fail("a worker without priority is listed as due");
  await fits(page, "/assist");
  console.log(`ok: /assist lists the priority worker as due: behind ${behind}, missing ${missing}`);

  // A record without a kind: refused next to the kind field, nothing changed.
  await page.selectOption("#log-worker", priority);
  await page.fill("#log-note", "介绍县人社局12月茶叶加工培训班");
  await Promise.all([page.waitForLoadState("load"), page.click("#log button[type=submit]")]);
  const kindErr = page.locator("#log .field.bad[data-field=kind] .err");
  await kindErr.waitFor({ timeout: 10000 });
  const kindMessage = (await kindErr.textContent()).trim();
  if (!han.test(kindMessage)) fail("the missing kind is not refused in Chinese: " + kindMessage);
  if ((await page.inputValue("#log-note")) !== "介绍县人社局12月茶叶加工培训班") fail("the refused form lost what was typed");
  if ((await page.inputValue("#log-worker")) !== priority) fail("the refused form lost the worker chosen");
  if (Number(await due().getAttribute("data-behind")) !== behind) fail("a refused record changed the due list");
  console.log("ok: a record without a kind is refused next to the field: " + kindMessage);

  // Logged as training information: in the ledger, and the due figure drops by one.
  const kinds = await page.locator("#log-kind option").allTextContents();
  if (!kinds.includes("培训信息")) fail("the kind picker is not in Chinese: " + kinds.join(","));
  await page.selectOption("#log-kind", "training-info");
  await Promise.all([page.waitForURL(/\/assist\?worker=/), page.click("#log button[type=submit]")]);
  await page.locator("#done").waitFor({ timeout: 10000 });
  await page.locator('#ledger tr[data-kind="training-info"]').waitFor({ timeout: 10000 });
  if (!(await page.locator('#ledger tr[data-kind="job-recommendation"]').count())) fail("the ledger lacks the push mark's job recommendation");
  const after = (await due().count()) ? Number(await due().getAttribute("data-behind")) : 0;
  if (after !== behind - 1) fail(`the due figure went from ${behind} to ${after}, not down by one`);
  await page.screenshot({ path: shots + "/assist.png" });
  console.log(`ok: a training-info record is in the ledger and the worker is now behind ${after}`);

  // Switched to English: both pages and the pickers say everything of their own in English,
  // the plain worker's priority-free row included; a refused mark says so in English, naming
  // the result field, not `push mark --result`.
  await page.goto(origin + "/assist?lang=en");
  const checkedAssist = await english(page, "/assist");
  await page.goto(origin + "/push");
  const checkedPush = await english(page, "/push");
  const plainRow = page.locator(`section.post[data-post="${post}"] tr.worker[data-worker="${plain}"]`);
  await Promise.all([page.waitForLoadState("load"), plainRow.locator("button[type=submit]").click()]);
  const resultMessage = await refusedInEnglish(page, `tr.worker[data-worker="${plain}"]`, "result");
  await page.goto(origin + "/push?lang=zh");
  console.log(`ok: in English /push (${checkedPush} texts) and /assist (${checkedAssist}) show no Chinese of their own; a refused mark: ${resultMessage}`);

  // The sync page shows the last bundle.
  await page.goto(origin + "/sync");
  const last = page.locator('#last-bundle [data-direction="export"]');
  await last.waitFor({ timeout: 10000 });
  const lastText = (await last.textContent()).trim();
  if (!/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/.test(lastText)) fail("the last bundle has no time in China Standard Time: " + lastText);
  console.log("ok: the sync page shows the last bundle: " + lastText);

  if (outside.length) fail("requests left the node: " + outside.join(", "));
  noneRefused();
  console.log("ok: no request left 127.0.0.1");
} finally {
  await browser.close();
}
