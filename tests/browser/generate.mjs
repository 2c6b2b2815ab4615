// Generates in the real web UI, in headless Chromium: the served model loads (with progress),
// the device is shown, a reply streams with tokens/s, and Stop ends a generation early.
// Prints a JSON summary on the last line.
//
//   node generate.mjs URL OUT_DIR gpu|cpu
//
// gpu: the page picks WebGPU (SwiftShader in headless Chromium); cpu: `?device=cpu` forces
// the CPU fallback.
//
// CHROMIUM names the browser binary (default /usr/bin/chromium). Run by tests/browser_e2e.rs.
import { join } from "node:path";
import { failer, launchChromium } from "./launch.mjs";

const [url, outDir, mode] = process.argv.slice(2);
if (mode !== "gpu" && mode !== "cpu") {
  console.error("usage: node generate.mjs URL OUT_DIR gpu|cpu");
  process.exit(2);
}
const shot = (name) => join(outDir, `generate-${mode}-${name}.png`);
const fail = failer("generate.mjs");
const { context, page } = await launchChromium();
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
page.on("console", (m) => m.type() === "error" && errors.push(m.text()));

await page.goto(url + (mode === "cpu" ? "?device=cpu" : "") + "#generate");
await page.waitForSelector('#load-status[data-ready="true"]', { timeout: 300000 });
const device = await page.textContent("#device");
const loadStatus = await page.textContent("#load-status");
await page.screenshot({ path: shot("loaded"), fullPage: true });

const finished = () => page.waitForSelector('#speed[data-running="false"]', { timeout: 300000 });
const tokens = async () => Number(await page.getAttribute("#speed", "data-tokens"));

// A full generation (short on the GPU: SwiftShader is a software GPU, and slow).
await page.fill("#max-tokens", mode === "gpu" ? "12" : "64");
await page.press("#max-tokens", "Tab");
await page.fill("#prompt", "hello! how are you today?");
await page.click("#generate");
// `attached`, not visible: the speed line is empty (hidden) until the first token, which
// SwiftShader can take well over the default 30 s to produce on a loaded machine.
await page.waitForSelector('#speed[data-running="true"]', { state: "attached", timeout: 300000 });
await finished();
const full = await tokens();
const speedText = await page.textContent("#speed");
const reply = await page.textContent("#reply");
if (!(full > 0) || !reply.trim()) fail(`no reply (tokens ${full}, text ${JSON.stringify(reply)})`);
if (!/tokens\/s/.test(speedText)) fail(`no tokens/s shown: ${speedText}`);
await page.screenshot({ path: shot("reply"), fullPage: true });

// Stop as soon as the first token is out.
await page.click("#generate");
await page.waitForFunction(
  () => Number(document.querySelector("#speed")?.getAttribute("data-tokens")) >= 1,
  null,
  { timeout: 300000 },
);
await page.click("#stop");
await finished();
const stopped = await tokens();
if (!(stopped < full)) fail(`stop did not end early: ${stopped} tokens vs ${full} for a full run`);
await page.screenshot({ path: shot("stopped"), fullPage: true });
await context.close();

if (errors.length) fail(`page errors: ${errors.join(" | ")}`);
console.log(JSON.stringify({ device, loadStatus, full, stopped, speed: speedText }));
