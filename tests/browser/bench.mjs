// Browser benchmark: the gzipped size of the UI's wasm module, and generation speed of the
// served model on WebGPU and on the CPU path in the same headless Chromium, printed with their
// ratio. Each device: one warm-up reply, then the best of 3 replies of N tokens.
//
//   node bench.mjs URL DIST_DIR N
//
// Run by scripts/bench-web.sh, which builds the UI and serves a model.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { launchChromium } from "./launch.mjs";

const [url, dist, n] = process.argv.slice(2);
const wasm = readdirSync(join(dist, "pkg")).find((f) => f.endsWith(".wasm"));
const bytes = readFileSync(join(dist, "pkg", wasm));
const gz = gzipSync(bytes, { level: 9 }).length;

const { context, page } = await launchChromium();

async function speed(mode) {
  await page.goto(url + (mode === "cpu" ? "?device=cpu" : "") + "#generate");
  await page.waitForSelector('#load-status[data-ready="true"]', { timeout: 600000 });
  const device = (await page.textContent("#device")).replace("device: ", "");
  await page.fill("#max-tokens", String(n));
  await page.press("#max-tokens", "Tab");
  const runs = [];
  for (let i = 0; i < 4; i++) {
    await page.click("#generate");
    await page.waitForSelector('#speed[data-running="true"]', { state: "attached", timeout: 600000 });
    await page.waitForSelector('#speed[data-running="false"]', { timeout: 600000 });
    const tokens = Number(await page.getAttribute("#speed", "data-tokens"));
    const tps = parseFloat(await page.textContent("#speed"));
    if (i > 0) runs.push({ tokens, tps }); // the first reply is a warm-up
  }
  return { device, best: Math.max(...runs.map((r) => r.tps)), runs };
}

const gpu = await speed("gpu");
const cpu = await speed("cpu");
await context.close();
const mb = (b) => (b / 1e6).toFixed(2);
console.log(`wasm module: ${mb(bytes.length)} MB, gzipped ${mb(gz)} MB`);
console.log(`generation (${n} tokens, best of 3): ${gpu.device}: ${gpu.best.toFixed(1)} tokens/s; ${cpu.device}: ${cpu.best.toFixed(1)} tokens/s`);
console.log(`WebGPU / CPU tokens/s ratio: ${(gpu.best / cpu.best).toFixed(3)}`);
console.log(JSON.stringify({ wasm_bytes: bytes.length, wasm_gzip_bytes: gz, gpu, cpu, ratio: gpu.best / cpu.best }));
