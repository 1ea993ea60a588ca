/**
 * GET /jobs?view=summary: the same cursor paging and scope as GET /jobs, each entry with one
 * line about the job (goal, agents, status, progress, cost, why it waits), read from the job file
 * and state.json only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeJob } from '../../contracts/normalize.ts';
import { summarizeJob } from '../../gateway/job-summary.ts';
import { initialState, updateStep } from '../../runner/state.ts';
import { auth, http, postJob, startGateway, type GatewayHarness } from '../helpers/gateway-env.ts';
import { waitForState } from '../helpers/env.ts';

let h: GatewayHarness;
beforeAll(async () => {
  h = await startGateway({ runner: true });
});
afterAll(async () => h.close());

describe('summarizeJob', () => {
  it('sums cost and tokens over the steps, counts the finished ones, keeps the goal\'s first line', () => {
    const job = normalizeJob({ goal: `${'x'.repeat(300)}\nsecond line`, steps: [{ step_id: 'a', agent: 'claude' }, { step_id: 'b', agent: 'codex' }, { step_id: 'c', agent: 'claude' }] }, { now: new Date('2026-01-01T00:00:00Z'), newId: () => 'job-00000001' });
    let st = initialState(job, '2026-01-01T00:00:01Z');
    st = updateStep(st, 'a', { status: 'success', cost_usd: 0.1, tokens_in: 10, tokens_out: 5 });
    st = updateStep(st, 'b', { status: 'failed', cost_usd: 0.2, tokens_in: 20, tokens_out: 1, tolerated: true });
    const s = summarizeJob(job, { ...st, cursor: 'c', status: 'running' });
    expect(s).toMatchObject({ agents: ['claude', 'codex'], steps_total: 3, steps_done: 2, status: 'running', cursor: 'c', cost_usd: 0.3, tokens_in: 30, tokens_out: 6, waiting: null, project_id: null });
    expect(s.goal).toHaveLength(200);
    expect(summarizeJob(job, undefined)).toMatchObject({ status: 'pending', cursor: 'a', steps_done: 0, cost_usd: 0 });
  });
});

describe('GET /jobs?view=summary', () => {
  it('adds a summary to each entry of the page, with the waiting reason of parked jobs', async () => {
    const done = (await postJob(h, { goal: 'first\nmore', steps: [{ step_id: 'a', agent: 'claude' }] })).body as { job_id: string };
    const gated = (await postJob(h, { goal: 'gated', steps: [{ step_id: 'a', agent: 'command', command: ['true'] }, { step_id: 'b', agent: 'command', command: ['true'], requires_approval: true }] })).body as { job_id: string };
    await waitForState(h.home, done.job_id, ['done']);
    await waitForState(h.home, gated.job_id, ['awaiting_approval']);
    const r = await http(h.url, 'GET', '/jobs?view=summary&limit=10', { headers: auth() });
    expect(r.status).toBe(200);
    const jobs = (r.body as { jobs: Array<{ job_id: string; queue_state: string; summary: Record<string, unknown> }> }).jobs;
    const d = jobs.find((j) => j.job_id === done.job_id);
    expect(d?.summary).toMatchObject({ goal: 'first', status: 'success', steps_done: 1, steps_total: 1, agents: ['claude'] });
    expect(d?.summary.cost_usd).toBeGreaterThan(0);
    const g = jobs.find((j) => j.job_id === gated.job_id);
    expect(g?.queue_state).toBe('awaiting_approval');
    expect(g?.summary.waiting).toMatchObject({ reason: 'gate', step_id: 'b' });
    const plain = await http(h.url, 'GET', '/jobs?limit=10', { headers: auth() });
    expect((plain.body as { jobs: Array<Record<string, unknown>> }).jobs[0]).not.toHaveProperty('summary');
    expect((await http(h.url, 'GET', '/jobs?view=full', { headers: auth() })).status).toBe(400);
  });

  it('pages with the same cursor as GET /jobs', async () => {
    for (let i = 0; i < 3; i++) await postJob(h, { goal: `page ${i}`, policy: { requires_approval: true } });
    const all = (await http(h.url, 'GET', '/jobs?limit=500', { headers: auth() })).body as { jobs: Array<{ job_id: string }> };
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/jobs?view=summary&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await http(h.url, 'GET', q, { headers: auth() })).body as { jobs: Array<{ job_id: string }>; next_cursor: string | null };
      seen.push(...page.jobs.map((j) => j.job_id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all.jobs.map((j) => j.job_id));
  });
});
