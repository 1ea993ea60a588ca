/**
 * Completion callbacks: a job's callback_url gets a signed POST when it ends or parks for a
 * human, retried with backoff, every attempt in the job's logs.txt; a slow receiver never holds
 * the runner up.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backoffMs, redactUrl, retryable } from '../../gateway/callbacks.ts';
import { waitFor, waitForState } from '../helpers/env.ts';
import { http, auth, postJob, startGateway, type GatewayHarness } from '../helpers/gateway-env.ts';

const CB_SECRET = 'callback-secret-for-tests';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let h: GatewayHarness;
let receiver: Server;
let base: string;
const received: Received[] = [];
/** Per path: status codes to answer in turn (the last one repeats); 0 = never answer. */
const script = new Map<string, number[]>();

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const p = req.url ?? '/';
      received.push({ path: p, headers: req.headers, body });
      const codes = script.get(p) ?? [200];
      const code = codes.length > 1 ? codes.shift()! : codes[0]!;
      if (code === 0) return; // a receiver that hangs
      res.writeHead(code, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  h = await startGateway({ runner: true, env: { CALLBACK_SECRET: CB_SECRET, CALLBACK_BACKOFF_MS: '50', CALLBACK_MAX_ATTEMPTS: '4', CALLBACK_TIMEOUT_MS: '20000' } });
});
afterAll(async () => {
  await h.close();
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
});

const logs = (id: string): string => readFileSync(path.join(h.home.config.paths.artifactsRoot, id, 'logs.txt'), 'utf8');
const quick = (goal: string, cb: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ goal, callback_url: `${base}${cb}`, steps: [{ step_id: 's', agent: 'command', command: ['true'] }], ...extra });

describe('callbacks: pure parts', () => {
  it('retries network errors, timeouts, 408, 429 and 5xx only', () => {
    expect([retryable('network'), retryable('timeout'), retryable(408), retryable(429), retryable(500), retryable(503)]).toEqual([true, true, true, true, true, true]);
    expect([retryable(400), retryable(401), retryable(404), retryable(302)]).toEqual([false, false, false, false]);
  });
  it('backs off exponentially, honours Retry-After, caps at 5 minutes', () => {
    expect([2, 3, 4, 5].map((n) => backoffMs(1000, n))).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffMs(1000, 2, 30)).toBe(30_000);
    expect(backoffMs(1000, 40)).toBe(300_000);
  });
  it('never logs query strings or credentials of a callback URL', () => {
    expect(redactUrl('https://user:pw@hooks.example.com/x?token=abc')).toBe('https://hooks.example.com/x?…');
  });
});

describe('callbacks: delivery', () => {
  it('POSTs a signed job.finished, retried after 5xx with backoff, each attempt in logs.txt', async () => {
    script.set('/flaky', [500, 503, 200]);
    const id = (await postJob(h, quick('call me back', '/flaky'))).body as { job_id: string };
    await waitForState(h.home, id.job_id, ['done']);
    await waitFor(() => received.filter((r) => r.path === '/flaky').length >= 3 || undefined, 10_000, 'three attempts');
    await h.gw.callbacks.idle();
    const got = received.filter((r) => r.path === '/flaky');
    expect(got.map((r) => r.headers['x-orchestrator-attempt'])).toEqual(['1', '2', '3']);
    for (const r of got) {
      expect(r.headers['x-orchestrator-signature']).toBe(`sha256=${createHmac('sha256', CB_SECRET).update(r.body).digest('hex')}`);
      expect(r.headers['x-orchestrator-event']).toBe('job.finished');
    }
    expect(new Set(got.map((r) => r.body)).size).toBe(1); // the same document every time
    const doc = JSON.parse(got[0]!.body) as { event: string; job_id: string; status: string; queue_state: string; status_url: string };
    expect(doc).toMatchObject({ event: 'job.finished', job_id: id.job_id, status: 'success', queue_state: 'done', status_url: `/jobs/${id.job_id}` });
    const lines = logs(id.job_id).split('\n').filter((l) => l.includes('callback job.finished'));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/attempt 1\/4: HTTP 500 .*retry in 50 ms/);
    expect(lines[1]).toMatch(/attempt 2\/4: HTTP 503 .*retry in 100 ms/);
    expect(lines[2]).toMatch(/attempt 3\/4: delivered \(HTTP 200/);
  });

  it('gives up at once on a 4xx, and after CALLBACK_MAX_ATTEMPTS on errors', async () => {
    script.set('/gone', [404]);
    script.set('/down', [500]);
    const a = ((await postJob(h, quick('gone', '/gone'))).body as { job_id: string }).job_id;
    const b = ((await postJob(h, quick('down', '/down'))).body as { job_id: string }).job_id;
    await waitForState(h.home, a, ['done']);
    await waitForState(h.home, b, ['done']);
    await waitFor(() => received.filter((r) => r.path === '/down').length >= 4 || undefined, 10_000, 'four attempts');
    await h.gw.callbacks.idle();
    expect(received.filter((r) => r.path === '/gone')).toHaveLength(1);
    expect(logs(a)).toMatch(/attempt 1\/4: HTTP 404 .*giving up/);
    expect(received.filter((r) => r.path === '/down')).toHaveLength(4);
    expect(logs(b)).toMatch(/attempt 4\/4: HTTP 500 .*giving up/);
  });

  it('a parked job sends job.awaiting_approval; a job cancelled over the API sends job.finished', async () => {
    const id = ((await postJob(h, quick('gated', '/gate', { steps: [{ step_id: 's', agent: 'command', command: ['true'], requires_approval: true }] }))).body as { job_id: string }).job_id;
    await waitForState(h.home, id, ['awaiting_approval']);
    await waitFor(() => received.some((r) => r.path === '/gate') || undefined, 10_000, 'the parked callback');
    const parked = JSON.parse(received.find((r) => r.path === '/gate')!.body) as { event: string; waiting: { reason: string; step_id: string } };
    expect(parked.event).toBe('job.awaiting_approval');
    expect(parked.waiting).toMatchObject({ reason: 'gate', step_id: 's' });
    expect((await http(h.url, 'POST', `/jobs/${id}/cancel`, { headers: auth() })).status).toBe(200);
    await waitFor(() => received.filter((r) => r.path === '/gate').length >= 2 || undefined, 10_000, 'the finished callback');
    const last = JSON.parse(received.filter((r) => r.path === '/gate')[1]!.body) as { event: string; status: string; queue_state: string };
    expect(last).toMatchObject({ event: 'job.finished', status: 'cancelled', queue_state: 'failed' });
  });

  it('a receiver that never answers does not hold the runner up', async () => {
    script.set('/hang', [0]);
    const first = ((await postJob(h, quick('slow receiver', '/hang'))).body as { job_id: string }).job_id;
    await waitForState(h.home, first, ['done']);
    await waitFor(() => received.some((r) => r.path === '/hang') || undefined, 10_000, 'the hanging request');
    // the delivery is still waiting for an answer; the runner goes on with the next job
    const next = ((await postJob(h, quick('next job', '/after-hang'))).body as { job_id: string }).job_id;
    expect(await waitForState(h.home, next, ['done'], 10_000)).toBe('done');
    expect(logs(first)).not.toMatch(/callback job.finished .* attempt/);
    receiver.closeAllConnections();
  });
});
