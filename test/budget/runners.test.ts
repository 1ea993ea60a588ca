/**
 * Four real runner processes (`orchestrator runner`) share one ORCHESTRATOR_HOME and one SQLite
 * ledger, and race for a daily cap of 5 calls: exactly 5 jobs run, the rest wait in
 * awaiting_approval with reason budget_exceeded; `approve --over-budget` and `budget --json`
 * work from the CLI.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { NormalizedJob } from '../../contracts/index.ts';
import { BudgetStore } from '../../runner/budget-store.ts';
import type { JobState } from '../../runner/state.ts';
import { expectQueueInvariants, readJson, submit, tempHome, waitFor, waitForState, type TempHome } from '../helpers/env.ts';
import { BIN, exited, killAll, spawnOrchestrator } from '../helpers/processes.ts';

const run = promisify(execFile);
let home: TempHome;

afterEach(async () => {
  await killAll();
  await home.cleanup();
});

describe('budget: four runner processes', () => {
  it('never run more than MAX_DAILY_API_CALLS jobs, not even by one', async () => {
    home = await tempHome({ MAX_DAILY_API_CALLS: '5', RUNNER_CONCURRENCY: '3' });
    const jobs: NormalizedJob[] = [];
    for (let i = 0; i < 12; i++) jobs.push(await submit(home, { goal: `job ${i}`, steps: [{ step_id: 'only', agent: 'claude', simulate: { delay_ms: 100 } }] }));
    const runners = Array.from({ length: 4 }, () => spawnOrchestrator(['runner'], home.env));

    const ids = jobs.map((j) => j.job_id);
    await waitFor(async () => {
      const states = await Promise.all(ids.map((id) => home.queue.locate(id)));
      return states.every((s) => s === 'done' || s === 'awaiting_approval') ? states : undefined;
    }, 60_000, 'every job done or parked');
    const states = await Promise.all(ids.map((id) => home.queue.locate(id)));
    expect(states.filter((s) => s === 'done')).toHaveLength(5);
    expect(states.filter((s) => s === 'awaiting_approval')).toHaveLength(7);
    const parked = ids.filter((_, i) => states[i] === 'awaiting_approval');
    for (const id of parked) {
      const st = readJson<JobState>(path.join(home.config.paths.artifactsRoot, id, 'state.json'));
      expect(st.waiting?.reason).toBe('budget_exceeded');
      expect(Date.parse(st.waiting?.resume_after ?? '')).toBeGreaterThan(Date.now());
      expect(st.steps[0]?.attempts).toBe(0);
    }
    const store = BudgetStore.open(home.config.paths.stateDbPath);
    expect(store.db.prepare('SELECT COUNT(*) AS n, COUNT(DISTINCT runner_id) AS r FROM budget_usage').get()).toMatchObject({ n: 5 });
    store.close();

    const env = { ...process.env, ...home.env };
    await run(process.execPath, [BIN, 'approve', '--job', parked[0]!, '--over-budget'], { env });
    expect(await waitForState(home, parked[0]!, ['done', 'failed'], 30_000)).toBe('done');
    const budget = JSON.parse((await run(process.execPath, [BIN, 'budget', '--json'], { env })).stdout) as { global: { calls: number; limit_calls: number }; agents: Array<{ name: string; calls: number }> };
    expect(budget.global).toMatchObject({ calls: 6, limit_calls: 5 });
    expect(budget.agents).toEqual([expect.objectContaining({ name: 'claude', calls: 6 })]);

    for (const r of runners) r.kill('SIGTERM');
    await Promise.all(runners.map(exited));
    expectQueueInvariants(home);
  });
});
