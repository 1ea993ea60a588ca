/**
 * The artifact tree's deferred placeholders (JobArtifacts.init with deferPlaceholders): the claim
 * returns before the placeholders are written (the runner starts them once an agent has run for
 * PLACEHOLDER_DELAY_MS), no placeholder ever lands over a real file written just before or just
 * after they started, and a step that ends sooner never has them written at all.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobResult, NormalizedJob, StepResult } from '../../contracts/index.ts';
import { normalizeJob } from '../../contracts/normalize.ts';
import { newJobId } from '../../lib/ids.ts';
import { JOB_FILES, JobArtifacts, STEP_FILES } from '../../runner/artifacts.ts';
import { writeFinalArtifacts } from '../../runner/finalize.ts';
import { buildStepResult } from '../../runner/results.ts';
import { initialState, updateStep, type JobState } from '../../runner/state.ts';
import { readJson } from '../helpers/env.ts';

let root: string;
beforeEach(async () => { root = await mkdtemp(path.join(os.tmpdir(), 'orch-art-')); });
afterEach(async () => { await rm(root, { recursive: true, force: true }); });

const job = (): ReturnType<typeof normalizeJob> =>
  normalizeJob({ goal: 'placeholders', steps: [{ step_id: 'a', agent: 'command', command: ['true'] }, { step_id: 'b', agent: 'command', command: ['true'] }] }, { now: new Date(), newId: newJobId });

/** A two-step job as the runner leaves it at claim time: essentials on disk, placeholders deferred. */
async function claimed(): Promise<{ j: ReturnType<typeof job>; art: JobArtifacts; state: JobState }> {
  const j = job();
  const art = new JobArtifacts(root, j.job_id);
  const state = initialState(j, new Date().toISOString());
  await art.init(j, state, { deferPlaceholders: true });
  return { j, art, state };
}

describe('artifacts: deferred placeholders', () => {
  it('the claim returns before the placeholders; every file of the tree exists once settled', async () => {
    const { art } = await claimed();
    expect(existsSync(art.file('state.json'))).toBe(true);
    expect(existsSync(art.file('result.json'))).toBe(false);
    await art.settled();
    for (const f of JOB_FILES) expect(existsSync(art.file(f)), f).toBe(true);
    for (const s of ['a', 'b']) for (const f of STEP_FILES) expect(existsSync(art.stepFile(s, f)), `${s}/${f}`).toBe(true);
  });

  it('real results written at once after the claim are never replaced by placeholders (50 rounds)', async () => {
    for (let round = 0; round < 50; round++) {
      const { j, art, state } = await claimed();
      art.startPlaceholders(); // as the runner does once the agent is spawned
      const done = updateStep(state, 'a', { status: 'success', attempts: 1, summary: 'real' });
      await Promise.all([
        art.writeStepResult(buildStepResult(j, 'a', done, {}), j.goal),
        art.writeContext({ schema_version: '1.0', job_id: j.job_id, strategy: j.context_strategy, updated_at: new Date().toISOString(), sessions: {}, window: [{ role: 'coder', agent: 'command', step_id: 'a', content: 'real' }] }),
        art.writeJobSummary(j, done, 'real patch\n'),
      ]);
      await art.settled();
      expect(readJson<StepResult>(art.stepFile('a', 'result.json')).status, `round ${round}`).toBe('success');
      expect(readJson<{ window: unknown[] }>(art.file('context.json')).window, `round ${round}`).toHaveLength(1);
      expect(readJson<JobResult>(art.file('result.json')).steps[0]?.status, `round ${round}`).toBe('success');
    }
  });

  it('placeholders started while real writes are under way wait for them (50 rounds)', async () => {
    for (let round = 0; round < 50; round++) {
      const { j, art, state } = await claimed();
      const done = updateStep(state, 'a', { status: 'success', attempts: 1, summary: 'real' });
      const writes = Promise.all([art.writeStepResult(buildStepResult(j, 'a', done, {}), j.goal), art.writeJobSummary(j, done, 'real patch\n')]);
      art.startPlaceholders(); // the agent ran past the delay while its step's results were being written
      await writes;
      await art.settled();
      expect(readJson<StepResult>(art.stepFile('a', 'result.json')).status, `round ${round}`).toBe('success');
      expect(readJson<JobResult>(art.file('result.json')).steps[0]?.status, `round ${round}`).toBe('success');
      expect(readJson<StepResult>(art.stepFile('b', 'result.json')).status, `round ${round}`).toBe('pending');
    }
  });

  it('steps that end before the placeholders start: they are never written, and the close leaves the whole tree', async () => {
    const { j, art, state } = await claimed();
    const a = updateStep(state, 'a', { status: 'success', attempts: 1, summary: 'real a' });
    await art.writeStepResult(buildStepResult(j, 'a', a, {}), j.goal);
    await art.writeStepPatch('a', '');
    const inode = statSync(art.stepFile('a', 'result.json')).ino;
    expect(existsSync(art.file('job.json'))).toBe(false); // no placeholder was written
    expect(existsSync(art.stepFile('b', 'result.json'))).toBe(false);
    const b = updateStep(a, 'b', { status: 'success', attempts: 1, summary: 'real b' });
    await art.writeStepResult(buildStepResult(j, 'b', b, {}), j.goal);
    const closed = { ...b, status: 'success' as const, finished_at: new Date().toISOString() };
    await writeFinalArtifacts(art, j, closed, '');
    for (const f of JOB_FILES) expect(existsSync(art.file(f)), f).toBe(true);
    for (const s of ['a', 'b']) for (const f of STEP_FILES) expect(existsSync(art.stepFile(s, f)), `${s}/${f}`).toBe(true);
    expect(statSync(art.stepFile('a', 'result.json')).ino).toBe(inode); // the real file was never replaced
    expect(readJson<JobResult>(art.file('result.json')).steps.map((s) => s.status)).toEqual(['success', 'success']);
    expect(readJson<NormalizedJob>(art.file('job.json')).job_id).toBe(j.job_id);
  });
});
