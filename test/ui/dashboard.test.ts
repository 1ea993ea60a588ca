/**
 * The dashboard end to end, in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core) against a real gateway + runner with simulated agents on 127.0.0.1: a person
 * logs in, watches a job's steps turn green live, reads its log, report and diff, approves and
 * rejects waiting jobs and sees them finish, and pages through 10,000 jobs. Agent output, prompts
 * and file names full of <script> come out as text. Skips (saying why) only when Chromium cannot
 * start at all.
 */
import { utimesSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { normalizeJob } from '../../contracts/normalize.ts';
import { auth, http, postJob, startGateway, type GatewayHarness } from '../helpers/gateway-env.ts';
import { waitForState } from '../helpers/env.ts';
import { collectPageErrors, launchChromium, loggedIn, probeChromium } from './browser.ts';

const skipReason = await probeChromium();
if (skipReason) console.warn(`[test/ui] SKIPPING the browser tests: ${skipReason}`);

const OK_GREEN = 'rgb(5, 150, 105)'; // --ok in the light scheme: a finished step's marker

let h: GatewayHarness;
let browser: Browser;

async function submitted(job: unknown): Promise<string> {
  const r = await postJob(h, job);
  expect(r.status, r.text).toBe(202);
  return (r.body as { job_id: string }).job_id;
}

const stepAt = (page: Page, step: string, status: string) => page.locator(`[data-testid="timeline"] [data-step="${step}"][data-status="${status}"]`);

describe.skipIf(skipReason !== null)('dashboard in headless Chromium', () => {
  beforeAll(async () => {
    h = await startGateway({ runner: true, env: { MAX_DAILY_COST_USD: '10' } });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('login: the token goes in a form, the session comes back as an HttpOnly cookie, nothing in the URL', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    await page.goto(`${h.url}/ui`);
    await page.getByLabel('token').fill('wrong-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('That token was not accepted.').waitFor();
    await page.getByLabel('token').fill('test-token-0123456789');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('who').waitFor();
    expect(page.url()).not.toContain('test-token');
    const cookies = await context.cookies();
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({ name: 'orchestrator_session', httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie)).toBe(''); // scripts cannot read it
    await page.getByRole('banner').getByTestId('health').filter({ hasText: 'runner alive' }).waitFor();
    await page.getByTestId('budget').getByText('all agents').waitFor();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('token').waitFor();
    expect(await context.cookies()).toHaveLength(0);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('follows a job live: each step runs then turns green, the log streams, the report and the diff render', async () => {
    const { context, page } = await loggedIn(browser, h.url, { name: 'alice' });
    const errors = collectPageErrors(page);
    const id = await submitted({
      goal: 'Say hello',
      steps: [
        { step_id: 'write', agent: 'claude', simulate: { delay_ms: 1500, files: { 'src/hello.ts': 'export const hello = (name: string): string => `hello ${name}`;\n' } } },
        { step_id: 'review', agent: 'codex', simulate: { delay_ms: 1500 } },
      ],
    });
    await page.goto(`${h.url}/ui/#/jobs/${id}`);
    await page.evaluate(() => ((globalThis as unknown as { __samePage: boolean }).__samePage = true));
    await stepAt(page, 'write', 'running').waitFor();
    await expect.poll(() => page.getByTestId('timeline').locator('[data-step="review"]').getAttribute('data-status')).toBe('pending');
    await page.getByTestId('log').locator('.log-line', { hasText: 'Working on write' }).first().waitFor(); // streamed while it runs
    await stepAt(page, 'write', 'success').waitFor();
    await stepAt(page, 'review', 'running').waitFor();
    // polled: the timeline is re-rendered on every event, and a marker read just as it is replaced has no style
    await expect.poll(() => page.getByTestId('timeline').locator('[data-step="write"] .marker').evaluate((el) => (globalThis as unknown as { getComputedStyle: (e: unknown) => { backgroundColor: string } }).getComputedStyle(el).backgroundColor)).toBe(OK_GREEN);
    await stepAt(page, 'review', 'success').waitFor();
    await page.locator('.job-head [data-queue-state="done"]').waitFor();
    await page.getByTestId('live').filter({ hasText: 'finished' }).waitFor();
    // no reload happened: it all came over the event stream
    expect(await page.evaluate(() => (globalThis as unknown as { __samePage?: boolean }).__samePage)).toBe(true);
    const write = page.getByTestId('timeline').locator('[data-step="write"]');
    await expect.poll(() => write.textContent()).toMatch(/1 attempt/);
    expect(await write.textContent()).toMatch(/\$0\.\d{4}/);

    await page.getByRole('tab', { name: 'Diff' }).click();
    const file = page.locator('.diff-file[data-file="src/hello.ts"]');
    await file.waitFor();
    expect(await file.locator('tr.add').first().textContent()).toContain('export const hello');
    await page.getByRole('tab', { name: 'Report' }).click();
    await page.getByTestId('report').locator('h1', { hasText: id }).waitFor();
    expect(await page.getByTestId('report').locator('table').count()).toBeGreaterThanOrEqual(2);
    await page.getByRole('tab', { name: 'Artifacts' }).click();
    const artifacts = page.getByTestId('artifacts');
    for (const f of ['report.md', 'patch.diff', 'events.jsonl', 'steps/write/result.json']) await artifacts.locator(`[data-artifact="${f}"]`).waitFor();
    await artifacts.locator('[data-artifact="state.json"] a').first().click();
    await page.getByTestId('artifact').locator('pre', { hasText: '"status": "success"' }).waitFor();
    expect(errors).toEqual([]);
    await page.screenshot({ path: `${h.home.dir}/job.png` });
    await context.close();
  });

  it('approvals: a gated job waits with its reason, is approved with a note, and runs to done', async () => {
    const { context, page } = await loggedIn(browser, h.url, { name: 'alice' });
    const errors = collectPageErrors(page);
    const id = await submitted({ goal: 'Deploy to staging', steps: [{ step_id: 'build', agent: 'command', command: ['true'] }, { step_id: 'deploy', agent: 'command', command: ['echo', 'deployed'], requires_approval: true }] });
    await waitForState(h.home, id, ['awaiting_approval']);
    await page.goto(`${h.url}/ui/#/approvals`);
    const card = page.locator(`article[data-job="${id}"]`);
    await card.locator('[data-reason="gate"]').waitFor();
    expect(await card.textContent()).toContain('deploy');
    await card.getByLabel('reason').fill('ship it');
    await card.getByRole('button', { name: 'Approve' }).click();
    await card.getByText(/approved: now pending/).waitFor();
    await card.getByRole('link', { name: id }).click();
    await page.locator('.job-head [data-queue-state="done"]').waitFor();
    await stepAt(page, 'deploy', 'success').waitFor();
    const st = (await http(h.url, 'GET', `/jobs/${id}`, { headers: auth() })).body as { state: { approvals: Array<{ by: string; note: string; decision: string; reason: string }> } };
    expect(st.state.approvals[0]).toMatchObject({ decision: 'approved', reason: 'gate', note: 'ship it' });
    expect(st.state.approvals[0]?.by).toMatch(/^alice \(via api token:/);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('rejects a waiting job from its page, with the reason recorded', async () => {
    const { context, page } = await loggedIn(browser, h.url);
    const id = await submitted({ goal: 'Needs sign-off first', policy: { requires_approval: true } });
    await page.goto(`${h.url}/ui/#/jobs/${id}`);
    const waiting = page.getByTestId('waiting');
    await waiting.locator('[data-reason="approval"]').waitFor();
    await waiting.getByRole('button', { name: 'Reject' }).click();
    await waiting.getByText('say why you reject it').waitFor(); // a rejection needs a reason
    await waiting.getByLabel('reason').fill('not this week');
    await waiting.getByRole('button', { name: 'Reject' }).click();
    await page.locator('.job-head [data-queue-state="failed"]').waitFor();
    const st = (await http(h.url, 'GET', `/jobs/${id}`, { headers: auth() })).body as { queue_state: string; state: { approvals: Array<{ decision: string; note: string }> } };
    expect(st.queue_state).toBe('failed');
    expect(st.state.approvals[0]).toMatchObject({ decision: 'rejected', note: 'not this week' });
    await context.close();
  });

  it('cancels a running job from its page', async () => {
    const { context, page } = await loggedIn(browser, h.url);
    const id = await submitted({ goal: 'Long one', steps: [{ step_id: 'slow', agent: 'claude', simulate: { delay_ms: 30_000 } }] });
    await page.goto(`${h.url}/ui/#/jobs/${id}`);
    await stepAt(page, 'slow', 'running').waitFor();
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await page.locator('.job-head [data-queue-state="failed"]').waitFor();
    await page.locator('.job-head [data-status="cancelled"]').waitFor();
    await context.close();
  });

  it('retries a failed job from its page: it runs again from the step it stopped at', async () => {
    const { context, page } = await loggedIn(browser, h.url);
    const id = await submitted({ goal: 'Flaky one', steps: [{ step_id: 'flaky', agent: 'claude', max_retries: 0, simulate: { fail_attempts: 1 } }] });
    expect(await waitForState(h.home, id, ['done', 'failed'])).toBe('failed');
    await page.goto(`${h.url}/ui/#/jobs/${id}/log`);
    await page.getByTestId('log').getByText('■ job failed').waitFor(); // the first run's stream has ended
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Retry job' }).click();
    await page.locator('.job-head [data-queue-state="done"]').waitFor();
    // the page follows the new run live: its log is replayed, then goes on with attempt 2
    await page.getByTestId('log').getByText('▶ step flaky started (claude, attempt 2)').waitFor();
    await page.getByTestId('log').getByText('■ job success').waitFor();
    const st = (await http(h.url, 'GET', `/jobs/${id}`, { headers: auth() })).body as { state: { steps: Array<{ attempts: number }>; history: Array<{ event: string; detail?: string }> } };
    expect(st.state.steps[0]?.attempts).toBe(2);
    expect(st.state.history.find((e) => e.event === 'retried')?.detail).toMatch(/^by /);
    await context.close();
  });

  it('shows agent output, a prompt and file names full of <script> as text, and runs none of it', async () => {
    const evilName = '<img src=x onerror=window.__pwned=3>.md';
    const id = await submitted({
      goal: 'Fix the <img src=x onerror="window.__pwned=2"> bug',
      steps: [{ step_id: 'evil', agent: 'claude', simulate: { output_text: '<script>window.__pwned=1</script>', summary: 'done <script>window.__pwned=5</script> [click](javascript:window.__pwned=6)', files: { [evilName]: '<script>window.__pwned=4</script>\n' } } }],
    });
    await waitForState(h.home, id, ['done']);
    const { context, page } = await loggedIn(browser, h.url);
    const errors = collectPageErrors(page);
    const pwned = (): Promise<unknown> => page.evaluate(() => (globalThis as unknown as { __pwned?: unknown }).__pwned);
    await page.goto(`${h.url}/ui/#/jobs/${id}/log`);
    await page.getByTestId('goal').getByText('Fix the <img src=x onerror="window.__pwned=2"> bug').waitFor();
    await page.getByTestId('log').getByText('<script>window.__pwned=1</script>').first().waitFor();
    await page.getByRole('tab', { name: 'Report' }).click();
    await page.getByTestId('report').getByText('<script>window.__pwned=5</script>', { exact: false }).first().waitFor();
    await page.getByRole('tab', { name: 'Diff' }).click();
    await page.getByTestId('diff').getByText(evilName).first().waitFor();
    await page.getByTestId('diff').getByText('<script>window.__pwned=4</script>').first().waitFor();
    await page.getByRole('tab', { name: 'Artifacts' }).click();
    await page.getByTestId('artifacts').locator('[data-artifact="steps/evil/report.md"]').waitFor();
    await page.goto(`${h.url}/ui/#/queue`);
    await page.locator(`tr[data-job="${id}"]`).getByText('Fix the <img src=x onerror="window.__pwned=2"> bug').waitFor();
    await page.goto(`${h.url}/ui/#/artifact/${id}/steps%2Fevil%2Freport.md`);
    await page.getByTestId('artifact').getByText('<script>window.__pwned=5</script>', { exact: false }).first().waitFor();
    expect(await pwned()).toBeUndefined();
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('script').count()).toBe(1); // the app's own module only
    expect(await page.locator('a[href^="javascript:"]').count()).toBe(0);
    expect(errors).toEqual([]);
    // and the policy behind it: Trusted Types with no policy, so the browser refuses any HTML string sink
    const sink = await page.evaluate(() => {
      try {
        (globalThis as unknown as { document: { body: { innerHTML: string } } }).document.body.innerHTML = '<img src=x>';
        return 'allowed';
      } catch (err) {
        return (err as Error).name;
      }
    });
    expect(sink).toBe('TypeError');
    await context.close();
  });

  it('pages through 10,000 jobs one page at a time, and filters by state', async () => {
    const big = await startGateway();
    try {
      const base = normalizeJob({ goal: 'seeded job' } as never, { now: new Date(), newId: () => 'x' });
      const t0 = Date.now();
      for (let i = 0; i < 10_000; i++) {
        const id = `seed-${String(i).padStart(5, '0')}-job`;
        const state = i % 10 === 0 ? 'failed' : 'done';
        const file = big.home.queue.pathOf(state, id);
        writeFileSync(file, JSON.stringify({ ...base, job_id: id, goal: `seeded job ${i}` }));
        utimesSync(file, new Date(t0 - (10_000 - i) * 1000), new Date(t0 - (10_000 - i) * 1000));
      }
      const { context, page } = await loggedIn(browser, big.url);
      const errors = collectPageErrors(page);
      const rows = page.getByTestId('jobs').locator('tbody tr[data-job]');
      await page.locator('[data-count="done"] .n', { hasText: '9000' }).waitFor({ timeout: 15_000 });
      await expect.poll(() => rows.count()).toBe(50);
      expect(await rows.first().getAttribute('data-job')).toBe('seed-09999-job'); // newest first
      const times: number[] = [];
      for (let p = 0; p < 3; p++) {
        const before = await rows.first().getAttribute('data-job');
        const t = Date.now();
        await page.getByTestId('older').click();
        await expect.poll(() => rows.first().getAttribute('data-job')).not.toBe(before);
        times.push(Date.now() - t);
      }
      expect(await rows.first().getAttribute('data-job')).toBe('seed-09849-job');
      await page.locator('a[data-count="failed"]').click();
      await expect.poll(() => rows.first().getAttribute('data-job')).toBe('seed-09990-job');
      expect(await rows.count()).toBe(50);
      console.log(`[test/ui] 10,000 jobs: pages loaded in ${times.join(', ')} ms`);
      for (const ms of times) expect(ms).toBeLessThan(5000);
      expect(errors).toEqual([]);
      await context.close();
    } finally {
      await big.close();
    }
  });
});
