/**
 * Callbacks survive a restart: a delivery still being retried when its process stops (or dies)
 * stays in var/callbacks/ and the next dispatcher resumes it, with the same delivery id, once
 * its owner process is gone. And the runner records a job's callback there itself, before it
 * moves the job, so a runner that dies right after the move (before any dispatcher reacted to
 * the event) does not lose it.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { CallbackDispatcher } from '../../gateway/callbacks.ts';
import { Leases } from '../../fsqueue/lease.ts';
import { callbackFor, type OutboxEntry } from '../../runner/callback-outbox.ts';
import { decidedClosing, initialState } from '../../runner/state.ts';
import { normalizeJob } from '../../contracts/normalize.ts';
import type { NormalizedJob } from '../../contracts/index.ts';
import { newJobId } from '../../lib/ids.ts';
import { createRunner } from '../../runner/runner.ts';
import { silentLogger } from '../../lib/logger.ts';
import { submit, tempHome, waitFor, waitForState, type TempHome } from '../helpers/env.ts';
import { agentProcessesOf, exited, spawnOrchestrator } from '../helpers/processes.ts';

let home: TempHome;
let receiver: Server;
let answer = 503;
const deliveries: string[] = [];
const bodies: Array<{ event: string; job_id: string; status: string; delivery_id: string }> = [];
beforeEach(async () => {
  deliveries.length = 0;
  bodies.length = 0;
  answer = 503;
  home = await tempHome({ CALLBACK_SECRET: 'outbox-secret-for-tests', CALLBACK_BACKOFF_MS: '100', CALLBACK_MAX_ATTEMPTS: '10' });
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      deliveries.push(String(req.headers['x-orchestrator-delivery']));
      if (answer === 200) bodies.push(JSON.parse(body) as (typeof bodies)[number]);
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
});
afterEach(async () => {
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
  await home.cleanup();
});

/** A one-step job with a callback_url, run to done by a runner with no dispatcher in its process. */
async function doneByLoneRunner(goal: string): Promise<NormalizedJob> {
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const runner = createRunner({ config: home.config });
  await runner.start();
  const job = await submit(home, { goal, callback_url: url, steps: [{ step_id: 's', agent: 'command', command: ['true'] }] });
  expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
  await runner.stop();
  return job;
}

it('a delivery interrupted by shutdown is resumed by the next dispatcher and delivered once the receiver is back', async () => {
  const jobId = 'outbox-job-0001';
  const artDir = path.join(home.config.paths.artifactsRoot, jobId);
  mkdirSync(artDir, { recursive: true });
  writeFileSync(path.join(artDir, 'job.json'), JSON.stringify({ job_id: jobId, callback_url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` }));
  writeFileSync(path.join(artDir, 'logs.txt'), '');
  const outbox = path.join(home.config.paths.varRoot, 'callbacks');

  const first = new CallbackDispatcher({ config: home.config, log: silentLogger() });
  first.notify({ event: 'job.finished', job_id: jobId, status: 'success', queue_state: 'done' });
  await waitFor(() => deliveries.length >= 2 || undefined, 10_000, 'two failed attempts');
  await first.close(0);
  const [entryName] = readdirSync(outbox);
  expect(entryName).toMatch(/\.json$/);
  // the first process is gone: hand its entry a dead pid
  const deadPid = spawnSync('true').pid;
  const entryFile = path.join(outbox, entryName!);
  const entry = JSON.parse(readFileSync(entryFile, 'utf8')) as { owner: { pid: number }; payload: { delivery_id: string } };
  writeFileSync(entryFile, JSON.stringify({ ...entry, owner: { ...entry.owner, pid: deadPid } }));

  answer = 200;
  const second = new CallbackDispatcher({ config: home.config, log: silentLogger() });
  expect(await second.resume()).toBe(1);
  await second.idle();
  expect(readdirSync(outbox)).toEqual([]);
  expect(new Set(deliveries)).toEqual(new Set([entry.payload.delivery_id]));
  const log = readFileSync(path.join(artDir, 'logs.txt'), 'utf8');
  expect(log).toMatch(/deferred before attempt|interrupted by shutdown/);
  expect(log).toMatch(/resumed after \d+ attempt\(s\)/);
  expect(log).toMatch(/delivered \(HTTP 200/);
  await second.close();
});

it('an entry whose owner is still alive is left alone', async () => {
  const outbox = path.join(home.config.paths.varRoot, 'callbacks');
  mkdirSync(outbox, { recursive: true });
  writeFileSync(path.join(outbox, 'x.json'), JSON.stringify({ url: 'http://127.0.0.1:1/', attempts: 0, owner: { pid: process.ppid, host: (await import('node:os')).hostname() }, payload: { job_id: 'x', event: 'job.finished', delivery_id: 'x' } }));
  const d = new CallbackDispatcher({ config: home.config, log: silentLogger() });
  expect(await d.resume()).toBe(0);
  await d.close();
});

it('the runner records the callback before the move: with no dispatcher in its process, the next one delivers it', async () => {
  // a runner alone: it dies (here: stops) without any dispatcher having seen job:finished
  const job = await doneByLoneRunner('callback recorded');
  const outbox = path.join(home.config.paths.varRoot, 'callbacks');
  const names = readdirSync(outbox);
  expect(names).toHaveLength(1);
  const entryFile = path.join(outbox, names[0]!);
  const entry = JSON.parse(readFileSync(entryFile, 'utf8')) as OutboxEntry;
  expect(entry.payload).toMatchObject({ event: 'job.finished', job_id: job.job_id, status: 'success', queue_state: 'done', waiting: null });
  expect(names[0]).toBe(`${entry.payload.delivery_id}.json`);
  writeFileSync(entryFile, JSON.stringify({ ...entry, owner: { ...entry.owner, pid: spawnSync('true').pid } })); // its process is gone

  answer = 200;
  const next = new CallbackDispatcher({ config: home.config, log: silentLogger() });
  expect(await next.resume()).toBe(1);
  await next.idle();
  expect(deliveries).toEqual([entry.payload.delivery_id]);
  expect(readdirSync(outbox)).toEqual([]);
  await next.close();
});

it('one delivery per closing: the runner\'s record, the event and a resume all name the same entry', async () => {
  answer = 200;
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const runner = createRunner({ config: home.config });
  const dispatcher = new CallbackDispatcher({ config: home.config, log: silentLogger() });
  const detach = dispatcher.attach(runner.events);
  await runner.start();
  const jobs = await Promise.all([0, 1, 2].map((i) => submit(home, { goal: `once ${i}`, callback_url: url, steps: [{ step_id: 's', agent: 'command', command: ['true'] }] })));
  for (const j of jobs) expect(await waitForState(home, j.job_id, ['done', 'failed'])).toBe('done');
  await waitFor(() => deliveries.length >= 3 || undefined, 10_000, 'three deliveries');
  // the same closings announced again (as a recovery or a second event would): nothing new is sent
  for (const j of jobs) dispatcher.notify({ event: 'job.finished', job_id: j.job_id, status: 'success', queue_state: 'done' });
  await dispatcher.idle();
  expect(await dispatcher.resume()).toBe(0);
  await new Promise((r) => setTimeout(r, 200));
  expect(deliveries).toHaveLength(3);
  expect(new Set(deliveries).size).toBe(3);
  detach();
  await runner.stop();
  await dispatcher.close();
});

it('a job that recovery fails (its runner was SIGKILLed mid-step) still gets its job.finished callback', async () => {
  answer = 200;
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const first = spawnOrchestrator(['runner'], home.env);
  const job = await submit(home, { goal: 'dies', callback_url: url, steps: [{ step_id: 's', agent: 'claude', max_retries: 0, simulate: { delay_ms: 20_000 } }] });
  await waitFor(() => (agentProcessesOf(job.job_id).length > 0 ? true : undefined), 30_000, 'the step running');
  first.kill('SIGKILL');
  await exited(first);
  const second = spawnOrchestrator(['runner'], home.env);
  try {
    expect(await waitForState(home, job.job_id, ['done', 'failed'], 30_000)).toBe('failed');
    await waitFor(() => bodies.length > 0 || undefined, 10_000, 'the callback');
    expect(bodies).toEqual([expect.objectContaining({ event: 'job.finished', job_id: job.job_id, status: 'failed' })]);
  } finally {
    second.kill('SIGTERM');
    await exited(second);
  }
  expect(deliveries).toHaveLength(1);
});

it('callbackFor: finished and parked closings, each with its own stable id; nothing for a running job', () => {
  const job = normalizeJob({ goal: 'ids', callback_url: 'http://127.0.0.1:1/hook', steps: [{ step_id: 's', agent: 'command', command: ['true'] }] }, { now: new Date(), newId: newJobId });
  const opts = { config: home.config, createdAt: '2026-01-01T00:00:00.000Z' };
  const base = initialState(job, '2026-01-01T00:00:00.000Z');
  expect(callbackFor(job, { ...base, queue_state: 'running', status: 'running' }, opts)).toBeNull();
  const done = { ...base, queue_state: 'done' as const, status: 'success' as const, started_at: '2026-01-01T00:00:01.000Z', finished_at: '2026-01-01T00:00:03.500Z' };
  const a = callbackFor(job, done, opts)!;
  expect(a.payload).toMatchObject({ event: 'job.finished', status: 'success', queue_state: 'done', duration_ms: 2500, cost_usd: 0, waiting: null });
  expect(a.payload.delivery_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  expect(callbackFor(job, done, { ...opts, createdAt: '2027-01-01T00:00:00.000Z' })!.payload.delivery_id).toBe(a.payload.delivery_id);
  const waiting = { reason: 'needs_human' as const, step_id: 's', since: '2026-01-01T00:00:02.000Z', resume_after: null, message: 'look' };
  const parked = callbackFor(job, { ...base, queue_state: 'awaiting_approval', status: 'needs_human', waiting }, opts)!;
  expect(parked.payload).toMatchObject({ event: 'job.awaiting_approval', status: 'needs_human', waiting: { reason: 'needs_human', step_id: 's', resume_after: null, message: 'look' }, duration_ms: null });
  const parkedAgain = callbackFor(job, { ...base, queue_state: 'awaiting_approval', status: 'needs_human', waiting: { ...waiting, since: '2026-01-01T00:09:00.000Z' } }, opts)!;
  expect(new Set([a.payload.delivery_id, parked.payload.delivery_id, parkedAgain.payload.delivery_id]).size).toBe(3);
  expect(callbackFor({ job_id: job.job_id }, done, opts)).toBeNull();
  // what recovery completes for a runner that died while closing: the same closings, nothing else
  expect(decidedClosing(done)).toBe('done');
  expect(decidedClosing({ ...done, queue_state: 'failed', status: 'failed' })).toBe('failed');
  expect(decidedClosing({ ...base, queue_state: 'awaiting_approval', status: 'needs_human', waiting })).toBe('awaiting_approval');
  expect(decidedClosing({ ...base, queue_state: 'running', status: 'running' })).toBeNull();
  expect(decidedClosing({ ...done, finished_at: null })).toBeNull();
});

it('a job cancelled by `orchestrator cancel` (a process that exits at once) gets its callback from a running dispatcher', async () => {
  answer = 200;
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const dispatcher = new CallbackDispatcher({ config: home.config, log: silentLogger(), resumeEveryMs: 100 });
  dispatcher.startResuming();
  const job = await submit(home, { goal: 'waits', callback_url: url, policy: { requires_approval: true }, steps: [{ step_id: 's', agent: 'command', command: ['true'] }] });
  expect(await waitForState(home, job.job_id, ['awaiting_approval'])).toBe('awaiting_approval');
  const cli = spawnOrchestrator(['cancel', '--job', job.job_id], home.env);
  expect(await exited(cli)).toBe(0);
  await waitFor(() => bodies.length > 0 || undefined, 10_000, 'the callback');
  expect(bodies).toEqual([expect.objectContaining({ event: 'job.finished', job_id: job.job_id, status: 'cancelled' })]);
  await dispatcher.close();
  expect(deliveries).toHaveLength(1);
});

it("resume() takes this process's own entry only once it was left behind for a while", async () => {
  answer = 200;
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const outbox = path.join(home.config.paths.varRoot, 'callbacks');
  mkdirSync(outbox, { recursive: true });
  const entry = (id: string, at: Date): string =>
    JSON.stringify({ url, attempts: 0, owner: { pid: process.pid, host: os.hostname() }, payload: { event: 'job.finished', delivery_id: id, job_id: `job-${id}`, status: 'success', queue_state: 'done', created_at: at.toISOString() } });
  writeFileSync(path.join(outbox, 'fresh-0001.json'), entry('fresh-0001', new Date())); // the event will deliver it
  writeFileSync(path.join(outbox, 'stale-0001.json'), entry('stale-0001', new Date(Date.now() - 60_000))); // nobody did
  const d = new CallbackDispatcher({ config: home.config, log: silentLogger() });
  expect(await d.resume()).toBe(1);
  await d.idle();
  expect(deliveries).toEqual(['stale-0001']);
  expect(readdirSync(outbox)).toEqual(['fresh-0001.json']);
  await d.close();
});

it('a runner that died between recording its closing and moving the job: recovery completes that closing, and one job.finished arrives', async () => {
  const job = await doneByLoneRunner('closed, not moved');
  const stateFile = path.join(home.config.paths.artifactsRoot, job.job_id, 'state.json');
  const closed = JSON.parse(readFileSync(stateFile, 'utf8')) as { finished_at: string; steps: Array<{ attempts: number }> };
  const outbox = path.join(home.config.paths.varRoot, 'callbacks');
  const [name] = readdirSync(outbox);
  const entry = JSON.parse(readFileSync(path.join(outbox, name!), 'utf8')) as OutboxEntry;

  // back to the moment of the crash: state.json says done and the callback is recorded, but the
  // job file is still in running/ under the lease of a process that is gone
  const dead = spawnSync('true').pid!;
  writeFileSync(path.join(outbox, name!), JSON.stringify({ ...entry, owner: { ...entry.owner, pid: dead } }));
  renameSync(home.queue.pathOf('done', job.job_id), home.queue.pathOf('running', job.job_id));
  const leases = new Leases(home.config.paths.queueRoot);
  await leases.init();
  await leases.write({ job_id: job.job_id, claim_id: 'c-dead', runner_id: 'runner-dead', pid: dead, host: home.config.host, claimed_at: new Date().toISOString(), runs: [] });

  answer = 200;
  const next = spawnOrchestrator(['runner'], home.env);
  try {
    await waitFor(() => bodies.length > 0 || undefined, 20_000, 'the callback');
    expect(await waitForState(home, job.job_id, ['done', 'failed'])).toBe('done');
    await new Promise((r) => setTimeout(r, 500)); // a second closing would call back again
  } finally {
    next.kill('SIGTERM');
    await exited(next);
  }
  expect(deliveries).toEqual([entry.payload.delivery_id]);
  const after = JSON.parse(readFileSync(stateFile, 'utf8')) as typeof closed & { history: Array<{ event: string }> };
  expect(after.finished_at).toBe(closed.finished_at); // the same closing, not a second run of the job
  expect(after.steps[0]?.attempts).toBe(closed.steps[0]?.attempts);
  expect(after.history.map((h) => h.event)).toContain('recovered');
  expect(readdirSync(outbox)).toEqual([]);
});
