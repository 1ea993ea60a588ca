/**
 * GET /jobs/:id/events: a client follows a job without polling, in order, through to done; it
 * sees a parked job wait and resume after an approval; a reconnect with Last-Event-ID gets only
 * what it missed; `orchestrator logs --follow` reads the same feed over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followEventsHttp } from '../../cli/sse-client.ts';
import type { JobEvent } from '../../runner/events.ts';
import { auth, http, postJob, readSse, startGateway, TOKEN, type GatewayHarness, type SseMessage } from '../helpers/gateway-env.ts';
import { waitForState } from '../helpers/env.ts';

let h: GatewayHarness;
beforeAll(async () => {
  h = await startGateway({ runner: true });
});
afterAll(async () => h.close());

const types = (ms: SseMessage[]): string[] => ms.filter((m) => m.event !== 'state').map((m) => m.event ?? '');

describe('SSE: /jobs/:id/events', () => {
  it('streams claimed → step started → agent output → step finished → job finished, in order, then ends', async () => {
    const res = await postJob(h, { goal: 'follow me', steps: [{ step_id: 'one', agent: 'claude', simulate: { delay_ms: 300, output_text: 'working on it' } }, { step_id: 'two', agent: 'command', command: ['echo', 'hello from two'] }] });
    const id = (res.body as { job_id: string }).job_id;
    const stream = await fetch(`${h.url}/jobs/${id}/events`, { headers: auth() });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const msgs = await readSse(stream);
    const t = types(msgs);
    expect(t[0]).toBe('job:claimed');
    expect(t.at(-2)).toBe('job:finished');
    expect(t.at(-1)).toBe('end');
    const order = ['job:claimed', 'step:started', 'agent:output', 'step:finished', 'step:started', 'step:finished', 'job:finished', 'end'];
    let at = 0;
    for (const e of t) if (e === order[at]) at++;
    expect(at).toBe(order.length);
    const ids = msgs.filter((m) => m.id !== undefined).map((m) => m.id ?? 0);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const steps = msgs.filter((m) => m.event === 'step:started').map((m) => (JSON.parse(m.data) as JobEvent<'step:started'>).data.step_id);
    expect(steps).toEqual(['one', 'two']);
    const output = msgs.filter((m) => m.event === 'agent:output').map((m) => (JSON.parse(m.data) as JobEvent<'agent:output'>).data.line).join('\n');
    expect(output).toContain('hello from two');
    const end = JSON.parse(msgs.at(-1)?.data ?? '{}') as { queue_state: string };
    expect(end.queue_state).toBe('done');
  });

  it('shows a parked job waiting, and follows it after an approval through to done', async () => {
    const res = await postJob(h, { goal: 'gated', steps: [{ step_id: 'plan', agent: 'command', command: ['true'] }, { step_id: 'ship', agent: 'command', command: ['true'], requires_approval: true }] });
    const id = (res.body as { job_id: string }).job_id;
    const stream = await fetch(`${h.url}/jobs/${id}/events`, { headers: auth() });
    const seen: SseMessage[] = [];
    let approved = false;
    const all = await readSse(stream, {
      onMessage: (m) => {
        seen.push(m);
        if (m.event === 'job:parked' && !approved) {
          approved = true;
          void http(h.url, 'POST', `/jobs/${id}/approve`, { headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ note: 'ship it', by: 'alice' }) });
        }
      },
    });
    const t = types(all);
    expect(t.indexOf('job:parked')).toBeGreaterThan(0);
    expect(t.lastIndexOf('job:claimed')).toBeGreaterThan(t.indexOf('job:parked'));
    expect(t.at(-2)).toBe('job:finished');
    expect(all.filter((m) => m.event === 'state').map((m) => (JSON.parse(m.data) as { queue_state: string }).queue_state)).toContain('awaiting_approval');
    const st = await http(h.url, 'GET', `/jobs/${id}`, { headers: auth() });
    expect(JSON.stringify((st.body as { state: unknown }).state)).toContain('alice (via api token:');
  });

  it('Last-Event-ID resumes after what the client already has', async () => {
    const res = await postJob(h, { goal: 'resume', steps: [{ step_id: 'a', agent: 'command', command: ['true'] }] });
    const id = (res.body as { job_id: string }).job_id;
    await waitForState(h.home, id, ['done']);
    const full = (await readSse(await fetch(`${h.url}/jobs/${id}/events`, { headers: auth() }))).filter((m) => m.id !== undefined);
    expect(full.length).toBeGreaterThan(2);
    const cut = full[1]?.id ?? 0;
    const rest = (await readSse(await fetch(`${h.url}/jobs/${id}/events`, { headers: { ...auth(), 'last-event-id': String(cut) } }))).filter((m) => m.id !== undefined);
    expect(rest.map((m) => m.id)).toEqual(full.slice(2).map((m) => m.id));
  });

  it('404 for an unknown job, 401 without a token', async () => {
    expect((await http(h.url, 'GET', '/jobs/unknown-job-1/events', { headers: auth() })).status).toBe(404);
    expect((await http(h.url, 'GET', '/jobs/unknown-job-1/events')).status).toBe(401);
  });

  it('logs --follow over HTTP (ORCHESTRATOR_URL) sees the same events', async () => {
    const res = await postJob(h, { goal: 'cli follow', steps: [{ step_id: 'say', agent: 'command', command: ['echo', 'via sse'] }] });
    const id = (res.body as { job_id: string }).job_id;
    const got: JobEvent[] = [];
    const final = await followEventsHttp({ baseUrl: h.url, token: TOKEN, jobId: id, onEvent: (ev) => got.push(ev) });
    expect(final).toBe('done');
    expect(got.map((e) => e.type)).toEqual(expect.arrayContaining(['job:claimed', 'step:started', 'agent:output', 'step:finished', 'job:finished']));
    expect(got.some((e) => e.type === 'agent:output' && (e.data as { line: string }).line === 'via sse')).toBe(true);
  });
});
