/**
 * The artifact tree's deferred placeholders (JobArtifacts.init with deferPlaceholders): the claim
 * returns before the placeholders are written (they start once the agent is spawned), and no
 * placeholder ever lands over a real file written right after they started.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobResult, StepResult } from '../../contracts/index.ts';
import { normalizeJob } from '../../contracts/normalize.ts';
import { newJobId } from '../../lib/ids.ts';
import { JOB_FILES, JobArtifacts, STEP_FILES } from '../../runner/artifacts.ts';
import { buildStepResult } from '../../runner/results.ts';
import { initialState, updateStep } from '../../runner/state.ts';
import { readJson } from '../helpers/env.ts';

let root: string;
beforeEach(async () => { root = await mkdtemp(path.join(os.tmpdir(), 'orch-art-')); });
afterEach(async () => { await rm(root, { recursive: true, force: true }); });

const job = (): ReturnType<typeof normalizeJob> =>
  normalizeJob({ goal: 'placeholders', steps: [{ step_id: 'a', agent: 'command', command: ['true'] }, { step_id: 'b', agent: 'command', command: ['true'] }] }, { now: new Date(), newId: newJobId });

describe('artifacts: deferred placeholders', () => {
  it('the claim returns before the placeholders; every file of the tree exists once settled', async () => {
    const j = job();
    const art = new JobArtifacts(root, j.job_id);
    await art.init(j, initialState(j, new Date().toISOString()), { deferPlaceholders: true });
    expect(existsSync(art.file('state.json'))).toBe(true);
    expect(existsSync(art.file('result.json'))).toBe(false);
    await art.settled();
    for (const f of JOB_FILES) expect(existsSync(art.file(f)), f).toBe(true);
    for (const s of ['a', 'b']) for (const f of STEP_FILES) expect(existsSync(art.stepFile(s, f)), `${s}/${f}`).toBe(true);
  });

  it('real results written at once after the claim are never replaced by placeholders (50 rounds)', async () => {
    for (let round = 0; round < 50; round++) {
      const j = job();
      const art = new JobArtifacts(root, j.job_id);
      const state = initialState(j, new Date().toISOString());
      await art.init(j, state, { deferPlaceholders: true });
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
});
