// Starts Debian's headless Chromium (CHROMIUM names another binary) with a fresh profile and
// WebGPU enabled (SwiftShader when there is no GPU), as every browser script here needs it.
// The profile (about 90 MB) is removed when the script exits, however it exits.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function launchChromium(options = {}) {
  const profile = mkdtempSync(join(tmpdir(), "cringe-chromium-"));
  const removeProfile = () => rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  const context = await chromium.launchPersistentContext(profile, {
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
  }).catch((e) => {
    removeProfile();
    throw e;
  });
  // Registered after Playwright's own exit handler, which stops the browser first.
  process.on("exit", () => {
    try {
      removeProfile();
    } catch (e) {
      console.error(`could not remove the Chromium profile ${profile}: ${e.message}`);
    }
  });
  // Every action may wait minutes, not Playwright's 30 s: on a loaded 2-core machine a page
  // decoding on SwiftShader keeps its main thread busy for long stretches, and even a click
  // waits for it (a CI run failed so: "page.click: Timeout 30000ms exceeded").
  context.setDefaultTimeout(300000);
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
