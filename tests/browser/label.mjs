// Labels world-log generations in the real web UI, in headless Chromium, with real key presses
// and clicks: import a file, label 10 items, reload (nothing may be lost), label 10 more, undo
// one and redo it, filter by status, export. Prints a JSON summary on the last line.
//
//   node label.mjs URL WORLDLOG OUT_DIR
//
// CHROMIUM names the browser binary (default /usr/bin/chromium). Screenshots of each step go
// to OUT_DIR, the exported labels to OUT_DIR/labels.jsonl. Run by tests/browser_e2e.rs.
import { join } from "node:path";
import { failer, launchChromium } from "./launch.mjs";

const [url, worldlog, outDir] = process.argv.slice(2);
const fail = failer("label.mjs");
const { context, page } = await launchChromium({ acceptDownloads: true });
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
page.on("console", (m) => m.type() === "error" && errors.push(m.text()));

const attr = (sel, name) => page.getAttribute(sel, name);
const loaded = () => page.waitForSelector('section.label[data-loaded="true"]');
const saved = () => page.waitForSelector('#saved[data-saved="true"]');
const done = async () => Number(await attr("#progress", "data-done"));
// Presses a key and waits until the item shown changes.
async function press(key) {
  const before = await attr("#item", "data-index");
  await page.keyboard.press(key);
  await page.waitForFunction((b) => document.querySelector("#item")?.getAttribute("data-index") !== b, before);
}

await page.goto(url + "#label");
await loaded();
await page.fill("#annotator", "e2e-annotator");
await page.locator("#annotator").blur(); // commits the name (change event), leaves the field
await page.setInputFiles("#import", worldlog);
await page.waitForSelector("#progress");
const total = Number(await attr("#progress", "data-total"));
if (total < 20) fail(`only ${total} items imported`);
await page.screenshot({ path: join(outDir, "label-imported.png"), fullPage: true });

// Item i gets: a (safe) when i % 3 == 0, x (unsafe) when i % 3 == 1, space (skip) otherwise.
const keyFor = (i) => ["a", "x", "Space"][i % 3];
for (let i = 0; i < 10; i++) await press(keyFor(i));
await saved();
await page.screenshot({ path: join(outDir, "label-before-reload.png"), fullPage: true });

await page.reload();
await loaded();
await page.waitForSelector("#progress");
const afterReload = await done();
const indexAfterReload = await attr("#item", "data-index");
if (afterReload !== 10) fail(`after reload ${afterReload} items judged, expected 10`);
if (indexAfterReload !== "10") fail(`after reload the current item is ${indexAfterReload}, expected 10`);
if ((await page.inputValue("#annotator")) !== "e2e-annotator") fail("annotator name lost on reload");

for (let i = 10; i < 20; i++) await press(keyFor(i));
// Undo the 20th judgement (a button click this time), then redo it by key.
await page.click("#undo");
await page.waitForFunction(() => document.querySelector("#item")?.getAttribute("data-index") === "19");
if ((await done()) !== 19) fail(`undo left ${await done()} judged, expected 19`);
await press(keyFor(19));
await saved();
if ((await done()) !== 20) fail(`expected 20 judged, got ${await done()}`);

// Filter: only unsafe items; the first is item 1.
await page.selectOption("#filter", "unsafe");
await page.waitForFunction(() => document.querySelector("#item")?.getAttribute("data-index") === "1");
const shownStatus = await page.textContent("#status");
if (shownStatus !== "unsafe") fail(`filtered item shows status ${shownStatus}`);
await page.screenshot({ path: join(outDir, "label-filter-unsafe.png"), fullPage: true });
await page.selectOption("#filter", "all");
await saved();

const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export")]);
await download.saveAs(join(outDir, "labels.jsonl"));
await page.screenshot({ path: join(outDir, "label-exported.png"), fullPage: true });
await context.close();

if (errors.length) fail(`page errors: ${errors.join(" | ")}`);
console.log(JSON.stringify({ total, judged: 20, afterReload, exported: join(outDir, "labels.jsonl") }));
