/**
 * Headless Chromium for the dashboard tests: Debian's `chromium` (/usr/bin/chromium, or
 * CHROMIUM_PATH) driven by playwright-core, which never downloads a browser. `.ci/run` installs
 * the package; when it is missing or cannot start, `probeChromium()` says why and the suites skip
 * with that reason printed.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { TOKEN } from '../helpers/gateway-env.ts';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** No background traffic: this machine's network is closed, and tests must not depend on it. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
}

/** null when Chromium starts, else the reason it cannot (printed by the suites that skip). */
export async function probeChromium(): Promise<string | null> {
  if (!existsSync(CHROMIUM_PATH)) return `no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or set CHROMIUM_PATH)`;
  try {
    const b = await launchChromium();
    await b.close();
    return null;
  } catch (err) {
    return `Chromium at ${CHROMIUM_PATH} does not start: ${(err as Error).message.split('\n')[0]}`;
  }
}

/** A fresh browser context (its own cookies) logged in to the dashboard at `url`. */
export async function loggedIn(browser: Browser, url: string, opts: { token?: string; name?: string; viewport?: { width: number; height: number } } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1360, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${url}/ui`);
  await page.getByLabel('token').fill(opts.token ?? TOKEN);
  if (opts.name) await page.getByLabel('your name').fill(opts.name);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('who').waitFor();
  return { context, page };
}

/** Errors the page threw or logged, and CSP violations: a test ends by asserting there were none. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // expected answers the page handles: 401 (logged out), 409 (already decided)
    const expected = /Failed to load resource: the server responded with a status of (401|409)/.test(m.text());
    if (m.type() === 'error' && !expected) errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  return errors;
}
