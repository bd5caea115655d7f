import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** The browser tests drive Debian's Chromium (playwright-core brings none); CHROMIUM_PATH points at another. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_MISSING = `Chromium is not installed at ${CHROMIUM}: the browser tests need it. Install it with \`sudo apt-get install chromium\` (Debian/Ubuntu), or set CHROMIUM_PATH to a Chromium binary.`;

/** Headless Chromium, or an error whose whole message is the one line saying how to install it. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    const err = new Error(CHROMIUM_MISSING);
    err.stack = CHROMIUM_MISSING;
    throw err;
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}
