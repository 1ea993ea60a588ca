/**
 * A command that closes a job (cancel, reject, approve to an end) and dies half way: killed for
 * real (SIGKILL at a failpoint, lib/failpoint.ts) just before or just after its queue move. What
 * it made durable is enough for recovery to finish its closing as decided, or to undo nothing
 * that never happened; a runner's own closing is never overwritten by a stale intent.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobResult } from '../../contracts/index.ts';
import { silentLogger } from '../../lib/logger.ts';
import { deliveryIdOf, type OutboxEntry } from '../../runner/callback-outbox.ts';
import { INTENT_GRACE_MS, intentAbandoned, intentsDir, newIntent, settleIntents, writeIntent, type ClosingIntent } from '../../runner/closing-intent.ts';
import { finish } from '../../runner/apply.ts';
import { createRunner } from '../../runner/runner.ts';
import type { JobState } from '../../runner/state.ts';
import { readJson, submit, tempHome, waitForState, type TempHome } from '../helpers/env.ts';
import { exited, spawnOrchestrator } from '../helpers/processes.ts';

let home: TempHome;
beforeEach(async () => {
  home = await tempHome({ CALLBACK_SECRET: 'closing-intent-secret-for-tests' });
});
afterEach(async () => {
  await home.cleanup();
});

const URL = 'http://127.0.0.1:9/hook'; // never called: no dispatcher runs in these processes
const artifact = <T,>(id: string, name: string): T => readJson<T>(path.join(home.config.paths.artifactsRoot, id, name));
const intentOf = (id: string): ClosingIntent => readJson<ClosingIntent>(path.join(intentsDir(home.config), `${id}.json`));
const intents = (): string[] => (existsSync(intentsDir(home.config)) ? readdirSync(intentsDir(home.config)) : []);
const outbox = (): OutboxEntry[] => {
  const dir = path.join(home.config.paths.varRoot, 'callbacks');
  return existsSync(dir) ? readdirSync(dir).map((n) => readJson<OutboxEntry>(path.join(dir, n))) : [];
};

async function parked(goal: string): Promise<string> {
  const job = await submit(home, { goal, callback_url: URL, policy: { requires_approval: true }, steps: [{ step_id: 's', agent: 'command', command: ['true'] }] });
  expect(await home.queue.locate(job.job_id)).toBe('awaiting_approval');
  return job.job_id;
}

async function orchestrator(args: string[], failpoint?: string): Promise<{ code: number | null; signal: string | null; output: string }> {
  const cli = spawnOrchestrator(args, failpoint ? { ...home.env, ORCHESTRATOR_FAILPOINT: failpoint } : home.env);
  const code = await exited(cli);
  return { code, signal: cli.signalCode, output: cli.output() };
}

describe('a command closing a job dies half way', () => {
  it('killed right after its move: the job sits in failed/ unclosed, and `orchestrator recover` completes the cancel as decided, callback included', async () => {
    const id = await parked('cancelled, then the process dies');
    expect(await orchestrator(['cancel', '--job', id], 'closing:after-move')).toMatchObject({ code: null, signal: 'SIGKILL' });

    // what the crash leaves: moved, but neither closed nor announced
    expect(await home.queue.locate(id)).toBe('failed');
    expect(artifact<JobState>(id, 'state.json').finished_at).toBeNull();
    expect(outbox()).toEqual([]);
    const decided = intentOf(id).state;
    expect(decided).toMatchObject({ status: 'cancelled', queue_state: 'failed' });

    const rec = await orchestrator(['recover', '--json']);
    expect(rec.code).toBe(0);
    expect(JSON.parse(rec.output)).toEqual([expect.objectContaining({ job_id: id, to: 'failed' })]);

    const state = artifact<JobState>(id, 'state.json');
    expect(state).toMatchObject({ status: 'cancelled', queue_state: 'failed', finished_at: decided.finished_at });
    expect(artifact<JobResult>(id, 'result.json')).toMatchObject({ status: 'cancelled', steps: [expect.objectContaining({ status: 'skipped' })] });
    expect(outbox().map((e) => e.payload)).toEqual([expect.objectContaining({ event: 'job.finished', job_id: id, status: 'cancelled', delivery_id: deliveryIdOf(id, 'job.finished', decided.finished_at!) })]);
    expect(intents()).toEqual([]);
    expect((await orchestrator(['recover'])).output).toContain('nothing to recover');
  });

  it('a reject killed right after its move is completed the same way, by the next runner to start', async () => {
    const id = await parked('rejected, then the process dies');
    expect(await orchestrator(['reject', '--job', id, '--reason', 'too risky'], 'closing:after-move')).toMatchObject({ signal: 'SIGKILL' });
    expect(artifact<JobState>(id, 'state.json').finished_at).toBeNull();

    const runner = createRunner({ config: home.config });
    await runner.start(); // recovery runs first thing
    await runner.stop();
    expect(artifact<JobState>(id, 'state.json')).toMatchObject({ status: 'failed', error: { code: 'E_REJECTED', message: expect.stringContaining('too risky') } });
    expect(artifact<JobResult>(id, 'result.json').status).toBe('failed');
    expect(outbox().map((e) => e.payload)).toEqual([expect.objectContaining({ job_id: id, status: 'failed' })]);
    expect(intents()).toEqual([]);
    expect(await home.queue.locate(id)).toBe('failed');
  });

  it('killed right before its move: nothing happened, recovery drops the intent, and the job can be cancelled again', async () => {
    const id = await parked('cancel never made');
    expect(await orchestrator(['cancel', '--job', id], 'closing:before-move')).toMatchObject({ signal: 'SIGKILL' });
    expect(intents()).toEqual([`${id}.json`]);
    expect(await home.queue.locate(id)).toBe('awaiting_approval');

    const rec = await orchestrator(['recover', '--json']);
    expect(JSON.parse(rec.output)).toEqual([]); // nothing was recovered: the job never moved
    expect(intents()).toEqual([]);
    expect(await home.queue.locate(id)).toBe('awaiting_approval');
    expect(artifact<JobState>(id, 'state.json').finished_at).toBeNull();
    expect(outbox()).toEqual([]);

    expect((await orchestrator(['cancel', '--job', id])).code).toBe(0);
    expect(artifact<JobResult>(id, 'result.json').status).toBe('cancelled');
    expect(intents()).toEqual([]);
  });

  it("an intent whose cancel lost the move to a runner leaves the runner's closing alone", async () => {
    const runner = createRunner({ config: home.config });
    await runner.start();
    const job = await submit(home, { goal: 'the runner won', callback_url: URL, steps: [{ step_id: 's', agent: 'command', command: ['false'], max_retries: 0 }] });
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('failed');
    await runner.stop();
    const before = artifact<JobState>(job.job_id, 'state.json');

    // the cancel decided while the job was pending, lost the move, and died before dropping its intent
    const dead = spawnSync('true').pid!;
    const cancelled = { ...finish(before, 'cancelled', new Date(Date.parse(before.finished_at!) - 1000).toISOString(), { code: 'E_CANCELLED', message: 'cancelled by x while pending' }), queue_state: 'failed' as const };
    await writeIntent(home.config, { ...newIntent(job, 'pending', cancelled, null, new Date()), owner: { pid: dead, host: os.hostname() } });

    expect(await settleIntents({ config: home.config, queue: home.queue, log: silentLogger(), now: () => new Date() })).toEqual([expect.objectContaining({ job_id: job.job_id, outcome: 'dropped' })]);
    expect(artifact<JobState>(job.job_id, 'state.json')).toEqual(before);
    expect(artifact<JobResult>(job.job_id, 'result.json').status).toBe('failed');
    expect(outbox().map((e) => e.payload.status)).toEqual(['failed']); // the runner's own, only
    expect(intents()).toEqual([]);
  });

  it('intentAbandoned: a live owner is still at it; a dead one, or one left behind too long, is not', () => {
    const here = { host: 'h1', pid: 100, now: Date.parse('2026-01-01T00:10:00Z'), alive: (pid: number) => pid === 200 };
    const at = (msAgo: number): string => new Date(here.now - msAgo).toISOString();
    expect(intentAbandoned({ owner: { host: 'h1', pid: 200 }, created_at: at(10 * INTENT_GRACE_MS) }, here)).toBe(false); // alive, however old
    expect(intentAbandoned({ owner: { host: 'h1', pid: 300 }, created_at: at(0) }, here)).toBe(true); // dead
    expect(intentAbandoned({ owner: { host: 'h1', pid: 100 }, created_at: at(1000) }, here)).toBe(false); // this process, under way
    expect(intentAbandoned({ owner: { host: 'h1', pid: 100 }, created_at: at(INTENT_GRACE_MS + 1) }, here)).toBe(true); // this process, left behind
    expect(intentAbandoned({ owner: { host: 'h2', pid: 200 }, created_at: at(1000) }, here)).toBe(false); // another host: trusted a while
    expect(intentAbandoned({ owner: { host: 'h2', pid: 200 }, created_at: at(INTENT_GRACE_MS + 1) }, here)).toBe(true);
  });
});
