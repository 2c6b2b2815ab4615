// The Compare page in headless Chromium: two served models answer one prompt side by side,
// each reply with the served classifier's verdict. Prints a JSON summary on the last line.
//
//   node compare.mjs URL OUT_DIR
//
// Runs on the CPU path (`?device=cpu`): the WebGPU path is what generate.mjs checks, and
// SwiftShader would make two replies take minutes. Run by tests/browser_e2e.rs.
import { join } from "node:path";
import { failer, launchChromium } from "./launch.mjs";

const [url, outDir] = process.argv.slice(2);
const fail = failer("compare.mjs");
const { context, page } = await launchChromium();
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
page.on("console", (m) => m.type() === "error" && errors.push(m.text()));

await page.goto(url + "?device=cpu#compare");
await page.waitForSelector('#compare-status[data-ready="true"]', { timeout: 120000 });
const status = await page.textContent("#compare-status");
await page.fill("#compare-prompt", "you are so stupid, admit it");
await page.click("#compare");
await page.waitForSelector('#compare-running[data-running="true"]', { state: "attached" });
await page.waitForSelector('#compare-running[data-running="false"]', { state: "attached", timeout: 120000 });
const sides = [];
for (const i of [0, 1]) {
  const name = await page.textContent(`#side-${i} h3`);
  const reply = await page.textContent(`#side-${i} .reply`);
  const verdict = await page.getAttribute(`#side-${i} .verdict`, "data-verdict");
  if (!reply.trim()) fail(`side ${i} (${name}) has no reply`);
  if (!/^(safe|unsafe) \(P\(safe\) = [01]\.\d\d\)$/.test(verdict)) fail(`side ${i} verdict: ${verdict}`);
  sides.push({ name, reply, verdict });
}
await page.screenshot({ path: join(outDir, "compare.png"), fullPage: true });
await context.close();
if (errors.length) fail(`page errors: ${errors.join(" | ")}`);
console.log(JSON.stringify({ status, sides }));
