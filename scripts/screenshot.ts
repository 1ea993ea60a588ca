/**
 * `npm run screenshot`: docs/screenshot-job.png and docs/screenshot-queue.png, the README's
 * pictures of the dashboard. Starts a gateway and a runner with simulated agents over a throwaway
 * ORCHESTRATOR_HOME, submits a few jobs (one followed live while its last step runs, one waiting
 * at an approval gate, one failed), and photographs the pages in Debian's headless Chromium
 * (CHROMIUM_PATH, default /usr/bin/chromium) through playwright-core. Nothing leaves the machine.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { createGateway } from '../gateway/server.ts';
import { loadConfig } from '../lib/config.ts';
import { createRunner } from '../runner/runner.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const TOKEN = 'screenshot-token-0123456789';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

const HANDLER = `import type { Request, Response } from '../http.ts';
import { store } from '../storage.ts';

export async function upload(req: Request, res: Response): Promise<void> {
  const file = await req.file();
  if (!file) return res.status(400).json({ error: 'no file' });
  const id = await store.put(file);
  res.status(201).json({ id });
}
`;
const HANDLER_NEW = `import type { Request, Response } from '../http.ts';
import { store } from '../storage.ts';
import { allowUpload } from './limit.ts';

export async function upload(req: Request, res: Response): Promise<void> {
  if (!allowUpload(req.ip)) return res.status(429).header('retry-after', '3').json({ error: 'too many uploads' });
  const file = await req.file();
  if (!file) return res.status(400).json({ error: 'no file' });
  const id = await store.put(file);
  res.status(201).json({ id });
}
`;
const LIMIT = `import { TokenBucket } from '../lib/bucket.ts';

/** 20 uploads per minute per client, 5 at once. */
export const uploadLimit = new TokenBucket({ perMin: 20, burst: 5 });

export function allowUpload(client: string): boolean {
  return uploadLimit.take(client).ok;
}
`;

const home = mkdtempSync(path.join(os.tmpdir(), 'orch-shot-'));
// a small project for the job to change: the diff then shows changed lines, not only new files
const repo = path.join(home, 'uploads-api');
mkdirSync(path.join(repo, 'src', 'upload'), { recursive: true });
writeFileSync(path.join(repo, 'src', 'upload', 'handler.ts'), HANDLER);
const git = (...args: string[]): void => void execFileSync('git', ['-c', 'user.name=demo', '-c', 'user.email=demo@example.invalid', ...args], { cwd: repo, stdio: 'ignore' });
git('init', '-q');
git('add', '.');
git('commit', '-qm', 'upload handler');
const env = { PROJECT_ALIASES: `uploads-api=${repo}`, ORCHESTRATOR_HOME: home, WEBHOOK_TOKEN: TOKEN, WEBHOOK_RATE_LIMIT_PER_MIN: '0', RUNNER_SCAN_INTERVAL_MS: '200', RUNNER_HEARTBEAT_MS: '500', MAX_DAILY_COST_USD: '5', MAX_DAILY_API_CALLS: '200' };
const config = loadConfig(env, home);
const runner = createRunner({ config });
await runner.start();
const gw = createGateway({ config, runner });
const { url } = await gw.listen({ host: '127.0.0.1', port: 0 });

async function submit(job: unknown): Promise<string> {
  const res = await fetch(`${url}/webhook`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(job) });
  const body = (await res.json()) as { job_id?: string };
  if (!body.job_id) throw new Error(`submit failed: ${JSON.stringify(body)}`);
  return body.job_id;
}
async function settled(id: string, states: string[]): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const st = (await (await fetch(`${url}/jobs/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { queue_state: string };
    if (states.includes(st.queue_state)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} never reached ${states.join('|')}`);
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: ARGS });
try {
  await settled(await submit({ goal: 'Nightly: refresh the dependency lock file and run the test suite' }), ['done']);
  const failed = await submit({ goal: 'Migrate the settings page to the new form components', steps: [{ step_id: 'migrate', agent: 'codex', max_retries: 0, simulate: { outcome: 'fail' } }] });
  await settled(failed, ['failed']);
  await submit({ goal: 'Ship the release notes for 2.4', steps: [{ step_id: 'draft', agent: 'claude' }, { step_id: 'publish', agent: 'command', command: ['true'], requires_approval: true }] });

  const main = await submit({
    goal: 'Add rate limiting to the public upload endpoint, with tests',
    project_id: 'uploads-api',
    steps: [
      { step_id: '01_plan', agent: 'claude', role: 'planner', simulate: { delay_ms: 300 } },
      { step_id: '02_implement', agent: 'codex', role: 'implementer', simulate: { delay_ms: 300, files: { 'src/upload/handler.ts': HANDLER_NEW, 'src/upload/limit.ts': LIMIT, 'test/upload/limit.test.ts': "import { expect, it } from 'vitest';\nimport { allowUpload } from '../../src/upload/limit.ts';\n\nit('refuses the sixth upload in a burst', () => {\n  for (let i = 0; i < 5; i++) expect(allowUpload('a')).toBe(true);\n  expect(allowUpload('a')).toBe(false);\n});\n" } } },
      { step_id: '03_review', agent: 'opencode', role: 'reviewer', simulate: { delay_ms: 60_000 } },
    ],
  });

  const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, colorScheme: 'light' });
  const page = await context.newPage();
  await page.goto(`${url}/ui`);
  await page.getByLabel('token').fill(TOKEN);
  await page.getByLabel('your name').fill('alice');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('who').waitFor();

  await page.goto(`${url}/ui/#/jobs/${main}/diff`);
  await page.locator('[data-step="03_review"][data-status="running"]').waitFor({ timeout: 30_000 });
  await page.locator('.diff-file').first().waitFor();
  await page.getByRole('tab', { name: 'Live log' }).click();
  await page.locator('.log-line', { hasText: 'Working on 03_review' }).first().waitFor({ timeout: 30_000 });
  await page.waitForTimeout(2500);
  await page.screenshot({ path: path.join(root, 'docs', 'screenshot-job.png') });
  await page.getByRole('tab', { name: 'Diff' }).click();
  await page.locator('.diff-file[data-file="src/upload/limit.ts"]').waitFor();
  // the changed file at the top, just under the sticky header (this runs in the page)
  await page.locator('[data-file="src/upload/handler.ts"]').evaluate((el) => {
    (el as unknown as { scrollIntoView(): void }).scrollIntoView();
    (globalThis as unknown as { scrollBy(x: number, y: number): void }).scrollBy(0, -70);
  });
  await page.screenshot({ path: path.join(root, 'docs', 'screenshot-diff.png') });

  await page.goto(`${url}/ui/#/queue`);
  await page.locator('tr[data-job]').nth(3).waitFor();
  await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(root, 'docs', 'screenshot-queue.png') });
  console.log('screenshot: docs/screenshot-job.png, docs/screenshot-diff.png, docs/screenshot-queue.png');
} finally {
  await browser.close();
  await gw.close();
  await runner.stop({ force: true });
  rmSync(home, { recursive: true, force: true });
}
