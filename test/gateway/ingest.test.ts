/**
 * Durable ingest under load: 500 concurrent POSTs give 500 distinct, durable, valid job files;
 * 100 concurrent duplicate deliveries give one job; an existing job_id is a 409; an unwritable
 * queue is a 503 that leaves nothing behind and succeeds on retry.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isValidNormalizedJob } from '../../contracts/validate.ts';
import { expectQueueInvariants } from '../helpers/env.ts';
import { parseSchedule } from '../../runner/scheduler.ts';
import { hubSignature, http, jsonHeaders, postJob, startGateway, written, type GatewayHarness } from '../helpers/gateway-env.ts';

let h: GatewayHarness;
beforeEach(async () => {
  h = await startGateway();
});
afterEach(async () => h.close());

describe('ingest: the example payloads', () => {
  it('examples/webhook_payloads/*.json (and the MVP\'s payload, when shared/ is there) are accepted as they are', async () => {
    const dir = path.resolve('examples/webhook_payloads');
    const files = readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => path.join(dir, f));
    const mvp = path.resolve('../shared/mvp-examples/webhook_payload_simple.json');
    if (existsSync(mvp)) files.push(mvp);
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const f of files) {
      const res = await http(h.url, 'POST', '/webhook', { body: readFileSync(f), headers: jsonHeaders() });
      expect(res.status, f).toBe(202);
    }
  });
  it('examples/schedules/*.json are valid schedules', () => {
    const dir = path.resolve('examples/schedules');
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) expect(parseSchedule(readFileSync(path.join(dir, f), 'utf8'), f).id).toBeTruthy();
  });
});

describe('ingest: concurrency', () => {
  it('500 concurrent valid POSTs: 500 distinct jobs, each durable and valid, none lost', async () => {
    const N = 500;
    const results = await Promise.all(Array.from({ length: N }, (_, i) => postJob(h, { goal: `concurrent job ${i}`, tags: [`n${i}`], steps: [{ step_id: 's1', agent: 'command', command: ['true'] }] })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s !== 202)).toEqual([]);
    const ids = results.map((r) => (r.body as { job_id: string }).job_id);
    expect(new Set(ids).size).toBe(N);
    const files = readdirSync(h.home.queue.dir('pending')).filter((f) => f.endsWith('.json'));
    expect(files.length).toBe(N);
    const seenTags = new Set<string>();
    for (const id of ids) {
      const job: unknown = JSON.parse(readFileSync(h.home.queue.pathOf('pending', id), 'utf8'));
      expect(isValidNormalizedJob(job)).toBe(true);
      seenTags.add((job as { tags: string[] }).tags[0] ?? '');
    }
    expect(seenTags.size).toBe(N); // every payload landed in its own job
    expect(readdirSync(h.home.queue.tmpDir)).toEqual([]);
    expectQueueInvariants(h.home);
  });

  it('100 concurrent duplicate deliveries give one job; every reply names it', async () => {
    const body = JSON.stringify({ goal: 'delivered many times' });
    const sig = hubSignature(body);
    const results = await Promise.all(
      Array.from({ length: 100 }, () => http(h.url, 'POST', '/webhook', { body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': sig, 'x-github-delivery': 'guid-72d3162e' } })),
    );
    const ids = new Set(results.map((r) => (r.body as { job_id: string }).job_id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.status === 202)).toHaveLength(1);
    expect(results.filter((r) => r.status === 200)).toHaveLength(99);
    expect(readdirSync(h.home.queue.dir('pending')).filter((f) => f.endsWith('.json'))).toHaveLength(1);
  });

  it('Idempotency-Key: a repeat returns the first job with 200, even with another body', async () => {
    const a = await postJob(h, { goal: 'first' }, { 'idempotency-key': 'order-42' });
    const b = await postJob(h, { goal: 'second' }, { 'idempotency-key': 'order-42' });
    expect(a.status).toBe(202);
    expect(b.status).toBe(200);
    expect((b.body as { job_id: string }).job_id).toBe((a.body as { job_id: string }).job_id);
    const c = await postJob(h, { goal: 'third' }, { 'idempotency-key': 'order-43' });
    expect(c.status).toBe(202);
  });

  it('409 for a job_id that exists, and nothing is written', async () => {
    expect((await postJob(h, { goal: 'named', job_id: 'fixed-id-0001' })).status).toBe(202);
    const before = written(h);
    const dup = await postJob(h, { goal: 'again', job_id: 'fixed-id-0001' });
    expect(dup.status).toBe(409);
    expect((dup.body as { error: { code: string } }).error.code).toBe('E_JOB_EXISTS');
    expect(written(h)).toEqual(before);
  });

  it('requires_approval: 202 with status awaiting_approval, the job file in awaiting_approval/', async () => {
    const res = await postJob(h, { goal: 'gated', policy: { requires_approval: true } });
    expect(res.status).toBe(202);
    const id = (res.body as { job_id: string; status: string }).job_id;
    expect((res.body as { status: string }).status).toBe('awaiting_approval');
    expect(await h.home.queue.locate(id)).toBe('awaiting_approval');
  });
});

/** chattr +i makes a directory unwritable even for root: the closest thing to a full disk we can make. */
function immutableFlagWorks(): boolean {
  const dir = mkdtempSync(path.join(tmpdir(), 'chattr-probe-'));
  try {
    execFileSync('chattr', ['+i', dir], { stdio: 'ignore' });
    execFileSync('chattr', ['-i', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('ingest: the queue cannot be written', () => {
  it.skipIf(!immutableFlagWorks())('503 with Retry-After, nothing partial left behind, and the retry succeeds', async () => {
    const pending = h.home.queue.dir('pending');
    const before = written(h);
    execFileSync('chattr', ['+i', pending]);
    let res;
    try {
      res = await postJob(h, { goal: 'disk full', job_id: 'retry-me-0001' }, { 'idempotency-key': 'k-disk-full' });
    } finally {
      execFileSync('chattr', ['-i', pending]);
    }
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect((res.body as { error: { code: string } }).error.code).toBe('E_QUEUE_UNAVAILABLE');
    expect(written(h)).toEqual(before); // no job file, no id reservation, no idempotency key, no temp file
    const retry = await postJob(h, { goal: 'disk full', job_id: 'retry-me-0001' }, { 'idempotency-key': 'k-disk-full' });
    expect(retry.status).toBe(202);
    expect(readdirSync(pending)).toContain('retry-me-0001.json');
    expect(readdirSync(path.join(h.home.queue.root, 'tmp'))).toEqual([]);
  });
});
