// Starts Debian's headless Chromium (CHROMIUM names another binary) with a fresh profile and
// WebGPU enabled (SwiftShader when there is no GPU), as every browser script here needs it.
import { chromium } from "playwright-core";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function launchChromium(options = {}) {
  const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "cringe-chromium-")), {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--enable-unsafe-webgpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
    ],
    ...options,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page };
}

// Exits with a message naming the script.
export function failer(script) {
  return (msg) => {
    console.error(`${script}: ${msg}`);
    process.exit(1);
  };
}
