/**
 * Machine-wide concurrency limits with real runner processes: AGENT_CONCURRENCY and
 * PROJECT_CONCURRENCY hold across three runners (checked on the steps' recorded run intervals),
 * jobs of other agents are not held up behind the limited ones, and the slot of a runner killed
 * with SIGKILL comes back through recovery.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../contracts/index.ts';
import { openStateDb } from '../../runner/state-db.ts';
import type { JobState } from '../../runner/state.ts';
import { expectQueueInvariants, readJson, submit, tempHome, waitFor, waitForState, type TempHome } from '../helpers/env.ts';
import { agentProcessesOf, exited, killAll, spawnOrchestrator } from '../helpers/processes.ts';

let home: TempHome;

afterEach(async () => {
  await killAll();
  await home.cleanup();
});

interface Interval {
  job: string;
  agent: string;
  project: string;
  start: number;
  end: number;
}

function intervals(ids: string[], projects: Map<string, string>): Interval[] {
  const out: Interval[] = [];
  for (const id of ids) {
    const st = readJson<JobState>(path.join(home.config.paths.artifactsRoot, id, 'state.json'));
    for (const s of st.steps) {
      if (s.started_at && s.finished_at) out.push({ job: id, agent: s.agent, project: projects.get(id) ?? 'default', start: Date.parse(s.started_at), end: Date.parse(s.finished_at) });
    }
  }
  return out;
}

/** The largest number of intervals open at one instant. */
function maxOverlap(list: Interval[]): number {
  const points = list.flatMap((i) => [{ t: i.start, d: 1 }, { t: i.end, d: -1 }]).sort((a, b) => a.t - b.t || a.d - b.d);
  let cur = 0;
  let max = 0;
  for (const p of points) {
    cur += p.d;
    max = Math.max(max, cur);
  }
  return max;
}

async function allFinished(ids: string[], timeoutMs: number): Promise<void> {
  await waitFor(async () => {
    const states = await Promise.all(ids.map((id) => home.queue.locate(id)));
    return states.every((s) => s === 'done' || s === 'failed') ? true : undefined;
  }, timeoutMs, 'all jobs finished');
}

describe('concurrency: across runner processes', () => {
  it('AGENT_CONCURRENCY and PROJECT_CONCURRENCY hold machine-wide; other jobs are not held up', async () => {
    home = await tempHome({ AGENT_CONCURRENCY: 'claude=1', PROJECT_CONCURRENCY: 'web=1', RUNNER_CONCURRENCY: '2' });
    const projects = new Map<string, string>();
    const add = async (job: Job): Promise<string> => {
      const j = await submit(home, job);
      if (job.project_id) projects.set(j.job_id, job.project_id);
      return j.job_id;
    };
    const claude: string[] = [];
    for (let i = 0; i < 4; i++) claude.push(await add({ goal: `claude ${i}`, priority: 10, steps: [{ step_id: 'review', agent: 'claude', simulate: { delay_ms: 600 } }] }));
    const web: string[] = [];
    for (let i = 0; i < 2; i++) web.push(await add({ goal: `web ${i}`, project_id: 'web', steps: [{ step_id: 'plan', agent: 'opencode', simulate: { delay_ms: 600 } }] }));
    const codex: string[] = [];
    for (let i = 0; i < 2; i++) codex.push(await add({ goal: `codex ${i}`, steps: [{ step_id: 'impl', agent: 'codex', simulate: { delay_ms: 600 } }] }));
    // its second step needs the claude slot: taken at the step boundary, or the job waits in pending
    const mixed = await add({ goal: 'mixed', steps: [{ step_id: 'impl', agent: 'codex', simulate: { delay_ms: 200 } }, { step_id: 'review', agent: 'claude', simulate: { delay_ms: 200 } }] });

    const runners = Array.from({ length: 3 }, () => spawnOrchestrator(['runner'], home.env));
    const ids = [...claude, ...web, ...codex, mixed];
    await allFinished(ids, 60_000);
    for (const id of ids) expect(await home.queue.locate(id)).toBe('done');

    const all = intervals(ids, projects);
    const claudeRuns = all.filter((i) => i.agent === 'claude');
    expect(claudeRuns).toHaveLength(5);
    expect(maxOverlap(claudeRuns)).toBe(1);
    expect(maxOverlap(all.filter((i) => i.project === 'web'))).toBe(1);
    // codex jobs ran while the claude queue was still draining
    const lastClaudeStart = Math.max(...claudeRuns.map((i) => i.start));
    for (const i of all.filter((x) => codex.includes(x.job))) expect(i.start).toBeLessThan(lastClaudeStart);
    // more than one runner took part, and every slot was given back
    const owners = new Set(ids.map((id) => readJson<JobState>(path.join(home.config.paths.artifactsRoot, id, 'state.json')).history.find((h) => h.event === 'claimed')?.detail?.split(' ')[1]));
    expect(owners.size).toBeGreaterThan(1);
    for (const r of runners) r.kill('SIGTERM');
    await Promise.all(runners.map(exited));
    const db = openStateDb(home.config.paths.stateDbPath);
    expect(db.prepare('SELECT COUNT(*) AS n FROM slots').get()).toEqual({ n: 0 });
    db.close();
    expectQueueInvariants(home);
  });

  it("a runner killed with SIGKILL: recovery frees its slot and the next job runs", async () => {
    home = await tempHome({ AGENT_CONCURRENCY: 'claude=1' });
    const first = spawnOrchestrator(['runner'], home.env);
    const long = await submit(home, { goal: 'long', steps: [{ step_id: 'review', agent: 'claude', max_retries: 0, simulate: { delay_ms: 20_000 } }] });
    const db = openStateDb(home.config.paths.stateDbPath);
    const slots = db.prepare<[], { job_id: string; pid: number }>('SELECT job_id, pid FROM slots');
    await waitFor(() => (agentProcessesOf(long.job_id).length > 0 && slots.all().some((r) => r.job_id === long.job_id) ? true : undefined), 30_000, 'the long job running');
    first.kill('SIGKILL');
    await exited(first);
    expect(slots.all()).toEqual([{ job_id: long.job_id, pid: first.pid }]); // held by a dead runner

    const next = await submit(home, { goal: 'next', steps: [{ step_id: 'review', agent: 'claude', simulate: { delay_ms: 50 } }] });
    const second = spawnOrchestrator(['runner'], home.env);
    expect(await waitForState(home, next.job_id, ['done', 'failed'], 30_000)).toBe('done');
    expect(await waitForState(home, long.job_id, ['done', 'failed'], 30_000)).toBe('failed');
    expect(readJson<JobState>(path.join(home.config.paths.artifactsRoot, long.job_id, 'state.json')).steps[0]?.error?.code).toBe('E_RUNNER_CRASHED');
    await waitFor(() => (agentProcessesOf(long.job_id).length === 0 ? true : undefined), 10_000, 'the orphaned agent killed');
    second.kill('SIGTERM');
    await exited(second);
    expect(slots.all()).toEqual([]);
    db.close();
    expectQueueInvariants(home);
  });
});
