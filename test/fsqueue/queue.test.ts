/**
 * fsqueue: durable exclusive enqueue, unique ids across states, atomic claim, ordering, and bad
 * files moved aside rather than deleted.
 */
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { normalizeJob } from '../../contracts/normalize.ts';
import { PendingIndex } from '../../fsqueue/pending-index.ts';
import { OrchestratorError } from '../../lib/errors.ts';
import { newJobId } from '../../lib/ids.ts';
import { silentLogger } from '../../lib/logger.ts';
import { PendingScanner } from '../../runner/scanner.ts';
import { listJobs } from '../../runner/control.ts';
import { QUEUE_STATES, type QueueState } from '../../fsqueue/states.ts';
import { tempHome, type TempHome } from '../helpers/env.ts';

let home: TempHome;
beforeEach(async () => { home = await tempHome(); });
afterEach(async () => { await home.cleanup(); });

const mk = (over: Record<string, unknown> = {}) => normalizeJob({ goal: 'g', ...over }, { now: new Date(), newId: newJobId });

describe('fsqueue: enqueue', () => {
  it('publishes a complete file into pending/ and leaves no temp file', async () => {
    const job = mk();
    await home.queue.enqueue(job);
    expect(JSON.parse(readFileSync(home.queue.pathOf('pending', job.job_id), 'utf8'))).toEqual(job);
    expect(readdirSync(home.queue.tmpDir)).toEqual([]);
  });

  it('refuses a job_id that exists in any state (409 / exit 2), without touching the first', async () => {
    const job = mk({ job_id: 'dup-job-0001' });
    await home.queue.enqueue(job);
    await home.queue.move(job.job_id, 'pending', 'running');
    await home.queue.move(job.job_id, 'running', 'done');
    const err = await home.queue.enqueue(mk({ job_id: 'dup-job-0001', goal: 'other' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OrchestratorError);
    expect((err as OrchestratorError).code).toBe('E_JOB_EXISTS');
    expect((err as OrchestratorError).httpStatus).toBe(409);
    expect((err as OrchestratorError).exitCode).toBe(2);
    expect(JSON.parse(readFileSync(home.queue.pathOf('done', job.job_id), 'utf8')).goal).toBe('g');
    expect(existsSync(home.queue.pathOf('pending', job.job_id))).toBe(false);
  });

  it('50 concurrent enqueues of one id: exactly one wins', async () => {
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => home.queue.enqueue(mk({ job_id: 'race-id-0001' }))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason.code === 'E_JOB_EXISTS')).toBe(true);
  });

  it('idempotency keys map repeats to the first job', async () => {
    expect(await home.queue.claimIdempotencyKey('delivery-1', 'job-aaaaaaaa')).toEqual({ created: true, jobId: 'job-aaaaaaaa' });
    await home.queue.enqueue(mk({ job_id: 'job-aaaaaaaa' }));
    expect(await home.queue.claimIdempotencyKey('delivery-1', 'job-bbbbbbbb')).toEqual({ created: false, jobId: 'job-aaaaaaaa' });
  });
});

describe('fsqueue: claim', () => {
  it('two claimers racing for one file: exactly one wins, the loser gets "lost"', async () => {
    for (let i = 0; i < 20; i++) {
      const job = mk();
      await home.queue.enqueue(job);
      const res = await Promise.all([0, 1, 2, 3].map(() => home.queue.move(job.job_id, 'pending', 'running', { durable: false })));
      expect(res.filter((r) => r === 'moved')).toHaveLength(1);
      expect(res.filter((r) => r === 'lost')).toHaveLength(3);
    }
  });

  it('refuses moves the state machine does not allow', async () => {
    const job = mk();
    await home.queue.enqueue(job);
    await expect(home.queue.move(job.job_id, 'pending', 'done')).rejects.toMatchObject({ code: 'E_BAD_STATE' });
  });
});

describe('fsqueue: order', () => {
  it('priority first, then FIFO by submission, then id', () => {
    const idx = new PendingIndex();
    idx.add({ id: 'c', priority: 0, submittedAt: 3 });
    idx.add({ id: 'a', priority: 0, submittedAt: 1 });
    idx.add({ id: 'urgent', priority: 10, submittedAt: 9 });
    idx.add({ id: 'b', priority: 0, submittedAt: 1 });
    idx.add({ id: 'low', priority: -5, submittedAt: 0 });
    idx.delete('c');
    const order: string[] = [];
    for (let e = idx.pop(); e; e = idx.pop()) order.push(e.id);
    expect(order).toEqual(['urgent', 'a', 'b', 'low']);
  });

  it('the scanner indexes pending jobs once and pops them in order', async () => {
    const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);
    const jobs = [
      normalizeJob({ goal: 'first', priority: 0 }, { now: at(0), newId: newJobId }),
      normalizeJob({ goal: 'urgent', priority: 5 }, { now: at(1), newId: newJobId }),
      normalizeJob({ goal: 'second', priority: 0 }, { now: at(2), newId: newJobId }),
    ];
    for (const j of jobs) await home.queue.enqueue(j);
    const scanner = new PendingScanner(home.queue, silentLogger(), () => undefined, () => undefined);
    await scanner.scan();
    await scanner.scan();
    expect(scanner.index.size).toBe(3);
    expect(scanner.index.peekAll().map((e) => e.id)).toEqual([jobs[1]!.job_id, jobs[0]!.job_id, jobs[2]!.job_id]);
  });
});

describe('fsqueue: listing (orchestrator list, GET /jobs)', () => {
  /** What a listing must say: every job file on disk, newest first, ties by id. */
  const onDisk = (): string[] =>
    QUEUE_STATES.flatMap((st) => readdirSync(home.queue.dir(st)).filter((n) => n.endsWith('.json')).map((n) => ({ id: n.slice(0, -5), m: Math.floor(statSync(home.queue.pathOf(st, n.slice(0, -5))).mtimeMs) })))
      .sort((a, b) => b.m - a.m || (a.id < b.id ? -1 : 1))
      .map((e) => e.id);
  /** Every page of the listing, followed by its cursors. */
  const paged = async (limit: number, state?: QueueState): Promise<string[]> => {
    const ids: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await listJobs({ config: home.config, queue: home.queue }, { limit, ...(state ? { state } : {}), ...(cursor ? { cursor } : {}) });
      ids.push(...page.jobs.map((j) => j.job_id));
      if (!page.next_cursor) return ids;
      cursor = page.next_cursor;
    }
  };
  const age = (st: QueueState, id: string, sec: number): void => utimesSync(home.queue.pathOf(st, id), sec, sec);
  const settle = (): void => { for (const st of QUEUE_STATES) utimesSync(home.queue.dir(st), 1_000_000, 1_000_000); }; // directories unchanged for long: listings may be reused

  it('pages merge every state newest first (ties by id), and follow the queue as it changes, on one long-lived queue', async () => {
    const jobs = Array.from({ length: 24 }, () => mk());
    for (const [i, j] of jobs.entries()) {
      await home.queue.enqueue(j);
      const to = QUEUE_STATES[i % QUEUE_STATES.length]!;
      if (to !== 'pending') renameSync(home.queue.pathOf('pending', j.job_id), home.queue.pathOf(to, j.job_id));
      age(to, j.job_id, 2_000_000 + Math.floor(i / 3)); // groups of three share a second: ties
    }
    settle();
    expect(await paged(5)).toEqual(onDisk());
    expect(await paged(5)).toEqual(onDisk()); // again, from what the first listing kept

    // the queue moves on: a job added, one removed, one moved to another state
    const added = mk();
    await home.queue.enqueue(added);
    age('pending', added.job_id, 3_000_000);
    rmSync(home.queue.pathOf('done', jobs[3]!.job_id));
    renameSync(home.queue.pathOf('running', jobs[2]!.job_id), home.queue.pathOf('failed', jobs[2]!.job_id));
    expect(await paged(5)).toEqual(onDisk());
    expect((await paged(50))[0]).toBe(added.job_id);
    settle();
    expect(await paged(7, 'failed')).toEqual(onDisk().filter((id) => existsSync(home.queue.pathOf('failed', id))));
    expect(await paged(50)).toEqual(onDisk());
  });
});

describe('fsqueue: bad files are moved aside with a reason', () => {
  it('garbage, wrong names, symlinks and non-json files go to corrupt/ and the scan keeps going', async () => {
    const pending = home.queue.dir('pending');
    writeFileSync(path.join(pending, 'garbage.json'), '{ not json');
    writeFileSync(path.join(pending, 'notes.txt'), 'hello');
    const good = mk();
    writeFileSync(path.join(pending, 'renamed-job-0001.json'), JSON.stringify(good));
    symlinkSync('/etc/passwd', path.join(pending, 'link-job-0001.json'));
    await home.queue.enqueue(mk({ job_id: 'good-job-0001' }));
    const quarantined: string[] = [];
    const scanner = new PendingScanner(home.queue, silentLogger(), () => undefined, (f) => quarantined.push(f));
    await scanner.scan();
    expect(scanner.index.peekAll().map((e) => e.id)).toEqual(['good-job-0001']);
    expect(quarantined.sort()).toEqual(['garbage.json', 'link-job-0001.json', 'notes.txt', 'renamed-job-0001.json']);
    const corrupt = readdirSync(home.queue.corruptDir);
    const reasons = corrupt.filter((f) => f.endsWith('.reason.txt')).map((f) => readFileSync(path.join(home.queue.corruptDir, f), 'utf8')).join('\n');
    expect(reasons).toMatch(/invalid JSON/);
    expect(reasons).toMatch(/does not match job_id/);
    expect(reasons).toMatch(/symbolic link/);
    expect(readdirSync(pending).sort()).toEqual(['good-job-0001.json']);
  });
});
