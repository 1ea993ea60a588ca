/**
 * Human gates: a job-level approval, a step gate that resumes exactly at the gated step (finished
 * steps never run again), ask_human/needs_human, reject, cancel in every state, and retry of a
 * failed job from the step it stopped at.
 */
import { readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobResult } from '../../contracts/index.ts';
import { approveJob, cancelJob, jobStatus, rejectJob, retryJob } from '../../runner/control.ts';
import { createRunner, type Runner } from '../../runner/runner.ts';
import type { JobState } from '../../runner/state.ts';
import { expectQueueInvariants, readJson, submit, tempHome, waitFor, waitForState, type TempHome } from '../helpers/env.ts';

let home: TempHome;
let runner: Runner;
let marker: string;
beforeEach(async () => {
  home = await tempHome();
  marker = path.join(home.dir, 'markers.txt');
  runner = createRunner({ config: home.config });
  await runner.start();
});
afterEach(async () => {
  await runner.stop({ force: true });
  await home.cleanup();
});

const runsOf = (stepId: string): number => (readFileSync(marker, 'utf8').match(new RegExp(`^${stepId} `, 'gm')) ?? []).length;
const ctl = () => ({ config: home.config, queue: home.queue });

describe('approvals', () => {
  it('policy.requires_approval parks the job before it starts; approve runs it', async () => {
    const job = await submit(home, { goal: 'gated job', policy: { requires_approval: true }, steps: [{ step_id: 's1', agent: 'claude', simulate: { marker_file: marker } }] });
    expect(await home.queue.locate(job.job_id)).toBe('awaiting_approval');
    const st = await jobStatus(ctl(), job.job_id);
    expect(st.state?.waiting?.reason).toBe('approval');
    await new Promise((r) => setTimeout(r, 300));
    expect(await home.queue.locate(job.job_id)).toBe('awaiting_approval');
    await approveJob(ctl(), job.job_id, { by: 'alice' });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
    expect(readJson<JobState>(path.join(home.config.paths.artifactsRoot, job.job_id, 'state.json')).approvals[0]).toMatchObject({ by: 'alice', decision: 'approved', reason: 'approval' });
  });

  it('a step gate parks before the step; approve resumes AT the gated step and never re-runs finished ones', async () => {
    const job = await submit(home, { goal: 'gate', steps: [
      { step_id: 'plan', agent: 'opencode', simulate: { marker_file: marker } },
      { step_id: 'impl', agent: 'codex', requires_approval: true, simulate: { marker_file: marker } },
      { step_id: 'review', agent: 'claude', simulate: { marker_file: marker } },
    ] });
    expect(await waitForState(home, job.job_id, ['awaiting_approval'])).toBe('awaiting_approval');
    const waiting = (await jobStatus(ctl(), job.job_id)).state!;
    expect(waiting.waiting).toMatchObject({ reason: 'gate', step_id: 'impl' });
    expect(waiting.steps.map((s) => s.status)).toEqual(['success', 'pending', 'pending']);
    expectQueueInvariants(home);

    await expect(approveJob(ctl(), job.job_id, { by: 'bob', step: 'review' })).rejects.toMatchObject({ code: 'E_BAD_STATE' });
    await approveJob(ctl(), job.job_id, { by: 'bob', step: 'impl' });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
    expect([runsOf('plan'), runsOf('impl'), runsOf('review')]).toEqual([1, 1, 1]);
  });

  it('ask_human parks after a failed step; approve continues past it', async () => {
    const job = await submit(home, { goal: 'ask', steps: [
      { step_id: 'tests', agent: 'command', command: ['false'], max_retries: 0, on_failure: 'ask_human' },
      { step_id: 'after', agent: 'claude' },
    ] });
    await waitForState(home, job.job_id, ['awaiting_approval']);
    expect((await jobStatus(ctl(), job.job_id)).state?.waiting).toMatchObject({ reason: 'ask_human', step_id: 'tests' });
    await approveJob(ctl(), job.job_id, { by: 'carol', note: 'flaky, ignore' });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
    expect(readJson<JobResult>(path.join(home.config.paths.artifactsRoot, job.job_id, 'result.json')).steps.map((s) => s.status)).toEqual(['failed', 'success']);
  });

  it('an agent asking for a human (needs_human) parks the job with its question; reject fails it with the reason', async () => {
    const job = await submit(home, { goal: 'unclear', steps: [{ step_id: 'q', agent: 'claude', simulate: { outcome: 'needs_human' } }] });
    await waitForState(home, job.job_id, ['awaiting_approval']);
    const st = (await jobStatus(ctl(), job.job_id)).state!;
    expect(st.waiting?.reason).toBe('needs_human');
    expect(st.waiting?.message).toMatch(/NEEDS_HUMAN/);
    await rejectJob(ctl(), job.job_id, { by: 'dave', note: 'out of scope' });
    expect(await home.queue.locate(job.job_id)).toBe('failed');
    expectQueueInvariants(home);
    const result = readJson<JobResult>(path.join(home.config.paths.artifactsRoot, job.job_id, 'result.json'));
    expect(result.status).toBe('failed');
    expect(result.error).toMatchObject({ code: 'E_REJECTED', message: 'rejected by dave: out of scope' });
  });

  it('approve of a job that is not waiting is a clear error', async () => {
    const job = await submit(home, { goal: 'x', steps: [{ step_id: 's', agent: 'command', command: ['true'] }] });
    await waitForState(home, job.job_id, ['done']);
    await expect(approveJob(ctl(), job.job_id, { by: 'x' })).rejects.toMatchObject({ code: 'E_BAD_STATE', message: expect.stringContaining('not awaiting_approval') });
  });
});

describe('cancel', () => {
  it('a running job: the agent is killed and the job ends cancelled with every artifact', async () => {
    const job = await submit(home, { goal: 'long', steps: [{ step_id: 'long', agent: 'codex', simulate: { delay_ms: 60_000 } }, { step_id: 'next', agent: 'claude' }] });
    await waitForState(home, job.job_id, ['running']);
    // the step has started (not just the claim): under load a fixed sleep is not enough
    const stepRunning = (): true | undefined => {
      try {
        return readJson<JobState>(path.join(home.config.paths.artifactsRoot, job.job_id, 'state.json')).steps[0]?.status === 'running' || undefined;
      } catch {
        return undefined;
      }
    };
    await waitFor(stepRunning, 20_000, 'the first step running');
    expect((await cancelJob(ctl(), job.job_id, 'erin')).requested).toBe(true);
    expect(await waitForState(home, job.job_id, ['failed'], 10_000)).toBe('failed');
    expectQueueInvariants(home);
    const result = readJson<JobResult>(path.join(home.config.paths.artifactsRoot, job.job_id, 'result.json'));
    expect(result.status).toBe('cancelled');
    expect(result.steps.map((s) => s.status)).toEqual(['cancelled', 'skipped']);
  });

  it('a waiting job is closed at once', async () => {
    const job = await submit(home, { goal: 'w', policy: { requires_approval: true } });
    expect((await cancelJob(ctl(), job.job_id, 'frank')).requested).toBe(false);
    expect(await home.queue.locate(job.job_id)).toBe('failed');
    expectQueueInvariants(home);
    expect(readJson<JobResult>(path.join(home.config.paths.artifactsRoot, job.job_id, 'result.json')).status).toBe('cancelled');
  });
});

describe('retry', () => {
  it('a failed job runs again from the step it stopped at: the step that succeeded is not run again, attempt numbers go on', async () => {
    const job = await submit(home, { goal: 'retry me', steps: [
      { step_id: 'plan', agent: 'opencode', simulate: { marker_file: marker } },
      { step_id: 'impl', agent: 'codex', max_retries: 0, simulate: { marker_file: marker, fail_attempts: 1 } },
      { step_id: 'review', agent: 'claude', simulate: { marker_file: marker } },
    ] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('failed');
    expect(readJson<JobResult>(path.join(home.config.paths.artifactsRoot, job.job_id, 'result.json')).steps.map((s) => s.status)).toEqual(['success', 'failed', 'skipped']);

    const r = await retryJob(ctl(), job.job_id, { by: 'gina', note: 'flaky network' });
    expect(r).toMatchObject({ queue_state: 'pending', state: { cursor: 'impl', status: 'pending', finished_at: null } });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
    expect([runsOf('plan'), runsOf('impl'), runsOf('review')]).toEqual([1, 2, 1]);
    expect(readFileSync(marker, 'utf8')).toMatch(/^impl 2 /m); // the second attempt is attempt 2, not attempt 1 again
    const state = readJson<JobState>(path.join(home.config.paths.artifactsRoot, job.job_id, 'state.json'));
    expect(state.steps.map((s) => [s.step_id, s.status, s.attempts])).toEqual([['plan', 'success', 1], ['impl', 'success', 2], ['review', 'success', 1]]);
    expect(state.history).toContainEqual(expect.objectContaining({ event: 'retried', step_id: 'impl', detail: 'by gina: flaky network' }));
    expect(readJson<JobResult>(path.join(home.config.paths.artifactsRoot, job.job_id, 'result.json')).status).toBe('success');
    expectQueueInvariants(home);
  });

  it('a failed job moved back to pending/ by hand (mv) runs again like a retry, not closed a second time as it was', async () => {
    const job = await submit(home, { goal: 'moved back', steps: [
      { step_id: 'plan', agent: 'opencode', simulate: { marker_file: marker } },
      { step_id: 'impl', agent: 'codex', max_retries: 0, simulate: { marker_file: marker, fail_attempts: 1 } },
    ] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('failed');
    renameSync(home.queue.pathOf('failed', job.job_id), home.queue.pathOf('pending', job.job_id)); // what an operator would do
    expect(await waitForState(home, job.job_id, ['done'])).toBe('done');
    expect([runsOf('plan'), runsOf('impl')]).toEqual([1, 2]);
    const state = readJson<JobState>(path.join(home.config.paths.artifactsRoot, job.job_id, 'state.json'));
    expect(state.history).toContainEqual(expect.objectContaining({ event: 'retried', step_id: 'impl', detail: expect.stringContaining('moved back to pending by hand') }));
    expectQueueInvariants(home);
  });

  it('refused, with the reason, for a job that is not failed, a rejected one, and one whose workspace is gone', async () => {
    const done = await submit(home, { goal: 'fine', steps: [{ step_id: 's', agent: 'claude' }] });
    expect(await waitForState(home, done.job_id, ['done', 'failed'])).toBe('done');
    await expect(retryJob(ctl(), done.job_id, { by: 'h' })).rejects.toMatchObject({ code: 'E_BAD_STATE', message: expect.stringContaining('is done: only a failed job can be retried') });

    const rejected = await submit(home, { goal: 'no', policy: { requires_approval: true } });
    await rejectJob(ctl(), rejected.job_id, { by: 'ivy', note: 'not now' });
    await expect(retryJob(ctl(), rejected.job_id, { by: 'h' })).rejects.toMatchObject({ code: 'E_BAD_STATE', message: expect.stringContaining('a rejection is final') });

    const failed = await submit(home, { goal: 'broken', steps: [{ step_id: 's', agent: 'claude', max_retries: 0, simulate: { outcome: 'fail' } }] });
    expect(await waitForState(home, failed.job_id, ['done', 'failed'])).toBe('failed');
    rmSync(readJson<JobState>(path.join(home.config.paths.artifactsRoot, failed.job_id, 'state.json')).workspace!.path, { recursive: true }); // as retention does
    await expect(retryJob(ctl(), failed.job_id, { by: 'h' })).rejects.toMatchObject({ code: 'E_BAD_STATE', message: expect.stringContaining('retention removed it') });
    expect(await home.queue.locate(failed.job_id)).toBe('failed'); // nothing moved
  });
});
