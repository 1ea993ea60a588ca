/**
 * Shutdown: SIGTERM lets the running step finish and hands the rest of the job back to pending
 * (no attempt lost); a second signal stops at once, kills the agent and hands the job back too.
 */
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { JobState } from '../../runner/state.ts';
import { readJson, submit, tempHome, waitFor, type TempHome } from '../helpers/env.ts';
import { agentProcessesOf, exited, killAll, spawnOrchestrator } from '../helpers/processes.ts';

let home: TempHome;
beforeEach(async () => { home = await tempHome({ RUNNER_SHUTDOWN_GRACE_MS: '20000' }); });
afterEach(async () => {
  await killAll();
  await home.cleanup();
});

const stateOf = (id: string): JobState | undefined => {
  try { return readJson<JobState>(path.join(home.config.paths.artifactsRoot, id, 'state.json')); } catch { return undefined; }
};

it('SIGTERM: the running step finishes, the job is handed back at the next step, and a new runner completes it', async () => {
  const job = await submit(home, { goal: 'graceful', job_id: 'graceful-job-01', steps: [
    { step_id: 'slow', agent: 'codex', simulate: { delay_ms: 1500 } },
    { step_id: 'next', agent: 'claude' },
  ] });
  const runner = spawnOrchestrator(['runner'], home.env);
  await waitFor(() => stateOf(job.job_id)?.steps[0]?.status === 'running' || undefined, 20_000, 'slow step running');
  runner.kill('SIGTERM');
  expect(await exited(runner)).toBe(0);
  expect(await home.queue.locate(job.job_id)).toBe('pending');
  const st = stateOf(job.job_id)!;
  expect(st.steps.map((s) => [s.status, s.attempts])).toEqual([['success', 1], ['pending', 0]]);
  expect(st.cursor).toBe('next');

  const again = spawnOrchestrator(['runner'], home.env);
  await waitFor(async () => (await home.queue.locate(job.job_id)) === 'done' || undefined, 20_000, 'done');
  again.kill('SIGTERM');
  await exited(again);
  expect(stateOf(job.job_id)!.steps.map((s) => s.attempts)).toEqual([1, 1]);
});

it('a second signal forces: the agent is killed and the attempt is handed back uncounted', async () => {
  const job = await submit(home, { goal: 'forced', job_id: 'forced-job-001', steps: [{ step_id: 'long', agent: 'command', command: ['sleep', '60'], max_retries: 0 }] });
  const runner = spawnOrchestrator(['runner'], home.env);
  await waitFor(() => agentProcessesOf('forced-job-001', home.dir).length > 0 || undefined, 20_000, 'agent running');
  runner.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  expect(runner.exitCode).toBe(null); // still waiting for the step
  runner.kill('SIGTERM');
  expect(await exited(runner)).toBe(0);
  expect(agentProcessesOf('forced-job-001', home.dir)).toEqual([]);
  expect(await home.queue.locate(job.job_id)).toBe('pending');
  const st = stateOf(job.job_id)!;
  expect(st.steps[0]).toMatchObject({ status: 'retryable', visit_attempts: 0 });
});
