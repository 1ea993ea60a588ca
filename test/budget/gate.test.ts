/**
 * The budget gate in the runner (simulated agents, real processes and files, an injectable clock):
 * a job over budget runs nothing and parks in awaiting_approval with reason budget_exceeded and
 * the reset time; it resumes by itself after the reset, or at once with --over-budget; its
 * artifacts say why it waited. A job's own policy.max_cost_usd parks it for good.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Job, JobResult } from '../../contracts/index.ts';
import { BudgetStore } from '../../runner/budget-store.ts';
import { approveJob } from '../../runner/control.ts';
import { createRunner, type Runner } from '../../runner/runner.ts';
import type { JobState } from '../../runner/state.ts';
import { expectQueueInvariants, readJson, submit, tempHome, waitFor, waitForState, type TempHome } from '../helpers/env.ts';

let home: TempHome;
let runner: Runner | undefined;
let clock: Date;

afterEach(async () => {
  await runner?.stop({ force: true });
  runner = undefined;
  await home.cleanup();
});

async function start(env: Record<string, string>, at: string): Promise<void> {
  home = await tempHome(env);
  clock = new Date(at);
  runner = createRunner({ config: home.config, now: () => clock });
  await runner.start();
}

const art = (id: string, ...p: string[]): string => path.join(home.config.paths.artifactsRoot, id, ...p);
const oneStep = (goal: string, extra: Partial<Job> = {}): Job => ({ goal, steps: [{ step_id: 'review', agent: 'claude', simulate: { marker_file: path.join(home.dir, `${goal}.ran`) } }], ...extra });

describe('budget gate: daily limits', () => {
  it('parks the job over the cap without running it, then resumes it after the reset', async () => {
    await start({ MAX_DAILY_API_CALLS: '1', BUDGET_TZ: 'UTC' }, '2030-01-01T23:59:00Z');
    const a = await submit(home, oneStep('a'));
    expect(await waitForState(home, a.job_id, ['done', 'failed', 'awaiting_approval'])).toBe('done');
    const b = await submit(home, oneStep('b'));
    expect(await waitForState(home, b.job_id, ['done', 'failed', 'awaiting_approval'])).toBe('awaiting_approval');
    expect(existsSync(path.join(home.dir, 'b.ran'))).toBe(false); // nothing ran

    const st = readJson<JobState>(art(b.job_id, 'state.json'));
    expect(st.waiting).toMatchObject({ reason: 'budget_exceeded', step_id: 'review', resume_after: '2030-01-02T00:00:00.000Z' });
    expect(st.waiting?.message).toContain('1 of 1 calls used today (MAX_DAILY_API_CALLS)');
    expect(st.steps[0]).toMatchObject({ status: 'pending', attempts: 0 });
    expect(readFileSync(art(b.job_id, 'report.md'), 'utf8')).toMatch(/budget_exceeded[\s\S]*Resumes by itself after 2030-01-02T00:00:00.000Z/);
    expect(readFileSync(art(b.job_id, 'logs.txt'), 'utf8')).toContain('step review not started: daily budget exhausted');
    // the parked event is appended right after the job file moves: a reader may see the move first
    await waitFor(() => readFileSync(art(b.job_id, 'events.jsonl'), 'utf8').includes('"reason":"budget_exceeded"') || undefined, 5000, 'the job:parked event');
    expectQueueInvariants(home);

    clock = new Date('2030-01-02T00:00:01Z'); // the budget day turns
    expect(await waitForState(home, b.job_id, ['done', 'failed'], 15_000)).toBe('done');
    expect(existsSync(path.join(home.dir, 'b.ran'))).toBe(true);
    const done = readJson<JobState>(art(b.job_id, 'state.json'));
    expect(done.approvals.map((x) => x.by)).toEqual(['timer (budget_exceeded)']);

    const store = BudgetStore.open(home.config.paths.stateDbPath);
    expect(store.report('2030-01-01')).toMatchObject({ total: { calls: 1 }, unsettled: 0 });
    expect(store.report('2030-01-02')).toMatchObject({ total: { calls: 1 }, unsettled: 0, agents: [{ name: 'claude', calls: 1 }] });
    // settled at the cost the agent reported
    const cost = readJson<JobResult>(art(b.job_id, 'result.json')).metrics.cost_usd;
    expect(cost).toBeGreaterThan(0);
    expect(store.report('2030-01-02').total.micros).toBe(Math.round(cost * 1e6));
    store.close();
  });

  it('approve --over-budget runs it at once; a plain approve is refused', async () => {
    await start({ BUDGET_LIMITS: 'agent.claude.calls=1', BUDGET_TZ: 'Europe/Berlin' }, '2030-06-01T12:00:00Z');
    const a = await submit(home, oneStep('a', { project_id: 'web' }));
    expect(await waitForState(home, a.job_id, ['done', 'failed', 'awaiting_approval'])).toBe('done');
    // another agent is not limited
    const c = await submit(home, { goal: 'codex', steps: [{ step_id: 'impl', agent: 'codex' }] });
    expect(await waitForState(home, c.job_id, ['done', 'failed', 'awaiting_approval'])).toBe('done');
    const b = await submit(home, oneStep('b', { project_id: 'web' }));
    expect(await waitForState(home, b.job_id, ['done', 'failed', 'awaiting_approval'])).toBe('awaiting_approval');
    const st = readJson<JobState>(art(b.job_id, 'state.json'));
    expect(st.waiting?.resume_after).toBe('2030-06-01T22:00:00.000Z'); // midnight in Berlin (CEST)
    expect(st.waiting?.message).toContain('daily budget of agent claude exhausted');

    const ctx = { config: home.config, queue: home.queue, now: () => clock };
    await expect(approveJob(ctx, b.job_id, { by: 'ops' })).rejects.toThrow(/--over-budget/);
    await approveJob(ctx, b.job_id, { by: 'ops', overBudget: true, note: 'release' });
    expect(await waitForState(home, b.job_id, ['done', 'failed', 'awaiting_approval'])).toBe('done');
    expect(readFileSync(art(b.job_id, 'logs.txt'), 'utf8')).toContain('runs over budget (approved with --over-budget)');

    const store = BudgetStore.open(home.config.paths.stateDbPath);
    const rep = store.report('2030-06-01');
    expect(rep.agents).toEqual([expect.objectContaining({ name: 'claude', calls: 2 }), expect.objectContaining({ name: 'codex', calls: 1 })]);
    expect(rep.projects).toEqual([expect.objectContaining({ name: 'default', calls: 1 }), expect.objectContaining({ name: 'web', calls: 2 })]);
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM budget_usage WHERE over_budget = 1').get()).toEqual({ n: 1 });
    store.close();
  });
});

describe('budget gate: a job\'s own limit', () => {
  it('policy.max_cost_usd parks the job with no reset time once its spend would pass the cap', async () => {
    await start({ BUDGET_RESERVE_USD: '0.01' }, '2030-01-01T10:00:00Z');
    const job = await submit(home, { goal: 'two steps', policy: { max_cost_usd: 0.01 }, steps: [{ step_id: 's1', agent: 'claude' }, { step_id: 's2', agent: 'claude' }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed', 'awaiting_approval'])).toBe('awaiting_approval');
    const st = readJson<JobState>(art(job.job_id, 'state.json'));
    expect(st.steps.map((s) => s.status)).toEqual(['success', 'pending']);
    expect(st.waiting).toMatchObject({ reason: 'budget_exceeded', step_id: 's2', resume_after: null });
    expect(st.waiting?.message).toContain('policy.max_cost_usd');
    expect(st.waiting?.message).toContain('it does not reset');
    await approveJob({ config: home.config, queue: home.queue }, job.job_id, { by: 'ops', overBudget: true });
    expect(await waitForState(home, job.job_id, ['done', 'failed', 'awaiting_approval'])).toBe('done');
  });
});
