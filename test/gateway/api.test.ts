/**
 * The rest of the HTTP API with an in-process runner: job status, cursor paging, approve /
 * reject / cancel / retry, artifacts (traversal refused), /health, /metrics (valid Prometheus text whose
 * counters move as jobs run) and the OpenAPI document.
 */
import { symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForState } from '../helpers/env.ts';
import { auth, http, metricValue, parsePrometheus, postJob, startGateway, written, type GatewayHarness } from '../helpers/gateway-env.ts';

let h: GatewayHarness;
beforeAll(async () => {
  h = await startGateway({ runner: true });
});
afterAll(async () => h.close());

const quick = (goal: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ goal, steps: [{ step_id: 'only', agent: 'command', command: ['true'] }], ...extra });
const idOf = (r: { body: unknown }): string => (r.body as { job_id: string }).job_id;

async function scrape(): Promise<ReturnType<typeof parsePrometheus>> {
  const res = await http(h.url, 'GET', '/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(res.text);
}

describe('API: jobs', () => {
  it('GET /jobs/:id: queue state, job, state.json and result once done', async () => {
    const id = idOf(await postJob(h, quick('status me')));
    await waitForState(h.home, id, ['done']);
    const res = await http(h.url, 'GET', `/jobs/${id}`, { headers: auth() });
    expect(res.status).toBe(200);
    const b = res.body as { queue_state: string; job: { goal: string }; state: { status: string }; result: { status: string; kind: string }; events_url: string };
    expect(b.queue_state).toBe('done');
    expect(b.job.goal).toBe('status me');
    expect(b.state.status).toBe('success');
    expect(b.result).toMatchObject({ kind: 'job', status: 'success' });
    expect(b.events_url).toBe(`/jobs/${id}/events`);
  });

  it('GET /jobs pages with a cursor, newest first, and filters by state', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(idOf(await postJob(h, { goal: `page ${i}`, policy: { requires_approval: true } })));
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const res = await http(h.url, 'GET', `/jobs?state=awaiting_approval&limit=2${cursor ? `&cursor=${cursor}` : ''}`, { headers: auth() });
      expect(res.status).toBe(200);
      const b = res.body as { jobs: Array<{ job_id: string; queue_state: string }>; next_cursor: string | null };
      expect(b.jobs.length).toBeLessThanOrEqual(2);
      for (const j of b.jobs) expect(j.queue_state).toBe('awaiting_approval');
      seen.push(...b.jobs.map((j) => j.job_id));
      cursor = b.next_cursor;
      if (!cursor) break;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(ids));
  });

  it('approve, reject, cancel and retry; a wrong state is a 409', async () => {
    const a = idOf(await postJob(h, quick('approve me', { policy: { requires_approval: true } })));
    const r = idOf(await postJob(h, quick('reject me', { policy: { requires_approval: true } })));
    const c = idOf(await postJob(h, quick('cancel me', { policy: { requires_approval: true } })));
    const ok = await http(h.url, 'POST', `/jobs/${a}/approve`, { headers: auth() });
    expect(ok.status).toBe(200);
    expect((ok.body as { queue_state: string }).queue_state).toBe('pending');
    expect(await waitForState(h.home, a, ['done', 'failed'])).toBe('done');
    expect((await http(h.url, 'POST', `/jobs/${a}/approve`, { headers: auth() })).status).toBe(409);

    const rej = await http(h.url, 'POST', `/jobs/${r}/reject`, { headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'not now' }) });
    expect(rej.status).toBe(200);
    expect(await h.home.queue.locate(r)).toBe('failed');

    const can = await http(h.url, 'POST', `/jobs/${c}/cancel`, { headers: auth() });
    expect(can.body).toMatchObject({ queue_state: 'failed', requested: false });
    const again = await http(h.url, 'POST', `/jobs/${c}/cancel`, { headers: auth() });
    expect(again.status).toBe(409);
    expect((again.body as { error: { code: string } }).error.code).toBe('E_BAD_STATE');

    // retry: the cancelled job runs after all; a done or rejected one is a 409
    const retried = await http(h.url, 'POST', `/jobs/${c}/retry`, { headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ note: 'needed after all', by: 'kim' }) });
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ job_id: c, queue_state: 'pending', status: 'pending' });
    expect(await waitForState(h.home, c, ['done', 'failed'])).toBe('done');
    for (const id of [a, r]) {
      const no = await http(h.url, 'POST', `/jobs/${id}/retry`, { headers: auth() });
      expect(no.status).toBe(409);
      expect((no.body as { error: { code: string } }).error.code).toBe('E_BAD_STATE');
    }
  });

  it('artifacts: files and listings under the job directory only; traversal and escaping symlinks refused', async () => {
    const id = idOf(await postJob(h, quick('artifacts')));
    await waitForState(h.home, id, ['done']);
    const result = await http(h.url, 'GET', `/jobs/${id}/artifacts/result.json`, { headers: auth() });
    expect(result.status).toBe(200);
    expect(result.headers.get('content-type')).toMatch(/^application\/json/);
    expect((result.body as { job_id: string }).job_id).toBe(id);
    const step = await http(h.url, 'GET', `/jobs/${id}/artifacts/steps/only/report.md`, { headers: auth() });
    expect(step.status).toBe(200);
    const listing = await http(h.url, 'GET', `/jobs/${id}/artifacts/`, { headers: auth() });
    expect((listing.body as { entries: Array<{ name: string }> }).entries.map((e) => e.name)).toEqual(expect.arrayContaining(['job.json', 'result.json', 'steps']));
    expect((await http(h.url, 'GET', `/jobs/${id}/artifacts/nope.txt`, { headers: auth() })).status).toBe(404);
    symlinkSync('/etc/hostname', path.join(h.home.config.paths.artifactsRoot, id, 'escape.txt'));
    const before = written(h);
    for (const p of ['..%2F..%2F..%2Fetc%2Fpasswd', '%2e%2e/%2e%2e/etc/passwd', 'steps/..%2F..%2Fx', '.%2Fresult.json', 'steps//only', 'escape.txt', '%5C..%5Cx', 'a%00b']) {
      const res = await http(h.url, 'GET', `/jobs/${id}/artifacts/${p}`, { headers: auth() });
      expect([400, 404], p).toContain(res.status);
      expect(res.text).not.toContain('root:');
    }
    expect((await http(h.url, 'GET', `/jobs/${id}/artifacts/../../../../etc/passwd`, { headers: auth() })).status).toBeGreaterThanOrEqual(400);
    expect(written(h)).toEqual(before);
  });
});

describe('API: health, metrics, docs', () => {
  it('/health: queue depth per state and a fresh runner heartbeat (200); 503 without a runner', async () => {
    const res = await http(h.url, 'GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: true, runner_alive: true });
    expect(Object.keys((res.body as { queue: Record<string, number> }).queue).sort()).toEqual(['awaiting_approval', 'done', 'failed', 'pending', 'running']);
    const alone = await startGateway();
    try {
      const r = await http(alone.url, 'GET', '/health');
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ ok: false, runner_alive: false });
    } finally {
      await alone.close();
    }
  });

  it('/metrics is valid Prometheus text and its counters move as jobs run', async () => {
    const before = await scrape();
    const finishedBefore = metricValue(before.samples, 'orchestrator_jobs_finished_total', { status: 'success' });
    const stepsBefore = metricValue(before.samples, 'orchestrator_steps_finished_total', { agent: 'claude' });
    const webhookBefore = metricValue(before.samples, 'orchestrator_webhook_requests_total', { code: '202' });
    const ids = [idOf(await postJob(h, { goal: 'metrics', steps: [{ step_id: 'c', agent: 'claude' }] })), idOf(await postJob(h, quick('metrics 2')))];
    await http(h.url, 'POST', '/webhook', { headers: { 'content-type': 'application/json' }, body: '{}' }); // a 401
    for (const id of ids) await waitForState(h.home, id, ['done']);
    await new Promise((r) => setTimeout(r, 100));
    const after = await scrape();
    expect(after.types.get('orchestrator_jobs')).toBe('gauge');
    expect(after.types.get('orchestrator_step_duration_seconds')).toBe('histogram');
    expect(after.types.get('orchestrator_jobs_finished_total')).toBe('counter');
    expect(metricValue(after.samples, 'orchestrator_jobs_finished_total', { status: 'success' })).toBeGreaterThanOrEqual(finishedBefore + 2);
    expect(metricValue(after.samples, 'orchestrator_steps_finished_total', { agent: 'claude', status: 'success' })).toBe(stepsBefore + 1);
    expect(metricValue(after.samples, 'orchestrator_step_duration_seconds_count', { agent: 'claude' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(after.samples, 'orchestrator_cost_usd_total', { agent: 'claude' })).toBeGreaterThan(0);
    expect(metricValue(after.samples, 'orchestrator_tokens_total', { agent: 'claude', direction: 'in' })).toBeGreaterThan(0);
    expect(metricValue(after.samples, 'orchestrator_queue_wait_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(metricValue(after.samples, 'orchestrator_webhook_requests_total', { code: '202' })).toBe(webhookBefore + 2);
    expect(metricValue(after.samples, 'orchestrator_webhook_requests_total', { code: '401' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(after.samples, 'orchestrator_jobs', { state: 'done' })).toBe((await h.home.queue.counts()).done);
    expect(metricValue(after.samples, 'orchestrator_runners_alive')).toBe(1);
  });

  it('/docs/json is an OpenAPI 3.1 document of every route; /docs is a page', async () => {
    const res = await http(h.url, 'GET', '/docs/json');
    expect(res.status).toBe(200);
    const doc = res.body as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/webhook', '/jobs', '/jobs/{id}', '/jobs/{id}/approve', '/jobs/{id}/reject', '/jobs/{id}/cancel', '/jobs/{id}/retry', '/jobs/{id}/events', '/jobs/{id}/artifacts/{path}', '/health', '/metrics']));
    // every $ref resolves inside the document
    const refs = [...res.text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1] ?? '');
    for (const r of refs) expect(doc.components.schemas, r).toHaveProperty(r);
    const page = await http(h.url, 'GET', '/docs');
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.text).toContain('/webhook');
  });
});
