/**
 * The budget ledger across real OS processes sharing one SQLite file: four processes racing for
 * the last units of budget never exceed the cap, not even by one call; a reservation is counted
 * once however often it is replayed, and a settlement after a crash counts once.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toMicros } from '../../runner/budget.ts';
import { BudgetStore } from '../../runner/budget-store.ts';

const run = promisify(execFile);
const WORKER = path.resolve(__dirname, 'fixtures/ledger-worker.ts');
let dir: string;
let db: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'budget-'));
  db = path.join(dir, 'state.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ROOT = path.resolve(__dirname, '../..');
const worker = (...args: string[]): Promise<{ stdout: string }> => run(process.execPath, ['--import', 'tsx', WORKER, ...args], { cwd: ROOT });

/** Start `n` racing processes, release them together once all are ready, return what each got. */
async function race(n: number, mode: string): Promise<number[]> {
  const go = path.join(dir, 'go');
  const procs = Array.from({ length: n }, (_, i) => spawn(process.execPath, ['--import', 'tsx', WORKER, 'race', db, String(i), go, mode], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] }));
  const outputs = procs.map((p) => {
    let out = '';
    const ready = new Promise<void>((r) => p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) r();
    }));
    const exited = new Promise<string>((r) => p.once('close', () => r(out)));
    return { ready, exited };
  });
  await Promise.all(outputs.map((o) => o.ready));
  writeFileSync(go, '');
  const won = (await Promise.all(outputs.map((o) => o.exited))).map((out) => (JSON.parse(out.split('\n')[1]!) as { won: number }).won);
  // a real race: more than one process got calls through
  expect(won.filter((w) => w > 0).length).toBeGreaterThanOrEqual(2);
  return won;
}

describe('budget ledger: across processes', () => {
  it('four processes racing for calls stop at exactly MAX_DAILY_API_CALLS', async () => {
    BudgetStore.open(db).close();
    const won = await race(4, 'calls');
    expect(won.reduce((a, b) => a + b, 0)).toBe(500);
    const store = BudgetStore.open(db);
    expect(store.usage('global', '*', '2030-01-01')).toEqual({ calls: 500, micros: 0 });
    store.close();
  });

  it('four processes racing for cost never reserve past the cap (5.00 / 0.01 = exactly 500 calls)', async () => {
    BudgetStore.open(db).close();
    const won = await race(4, 'usd');
    expect(won.reduce((a, b) => a + b, 0)).toBe(500);
    const store = BudgetStore.open(db);
    expect(store.usage('agent', 'claude', '2030-01-01')).toEqual({ calls: 500, micros: toMicros(5) });
    store.close();
  });

  it('with settlements below the estimate, more calls fit and the spend still never passes the cap', async () => {
    BudgetStore.open(db).close();
    const won = await race(4, 'usd-settle');
    const total = won.reduce((a, b) => a + b, 0);
    const store = BudgetStore.open(db);
    const u = store.usage('agent', 'claude', '2030-01-01');
    store.close();
    expect(u.calls).toBe(total);
    expect(total).toBeGreaterThanOrEqual(500);
    expect(u.micros).toBeLessThanOrEqual(toMicros(5));
  });

  it('a crash between reserve and settle: the retry replays, the settle counts once', async () => {
    await worker('reserve-and-die', db, 'job-a', 's1', '1').catch((err: { signal?: string }) => expect(err.signal).toBe('SIGKILL'));
    const store = BudgetStore.open(db);
    // the unsettled reservation counts at its estimate
    expect(store.usage('job', 'job-a', '')).toEqual({ calls: 1, micros: toMicros(0.25) });
    const limits = [{ scope: 'global' as const, key: '*', calls: 1, usdMicros: 0, daily: true, source: 'MAX_DAILY_API_CALLS' }];
    const req = { key: { jobId: 'job-a', stepId: 's1', attempt: 1 }, agent: 'claude', project: 'default', day: '2030-01-01', estimateMicros: toMicros(0.25), limits, overBudget: false, runnerId: 'r2', at: '' };
    expect(store.reserve(req)).toEqual({ status: 'replayed' }); // even at the cap: it is the same call
    expect(store.settle(req.key, toMicros(0.031), 'now')).toBe('settled');
    const again = JSON.parse((await worker('settle', db, 'job-a', 's1', '1', '0.5')).stdout) as { result: string };
    expect(again.result).toBe('already_settled');
    expect(store.usage('job', 'job-a', '')).toEqual({ calls: 1, micros: toMicros(0.031) });
    expect(store.usage('global', '*', '2030-01-01')).toEqual({ calls: 1, micros: toMicros(0.031) });
    expect(store.settle({ jobId: 'nope', stepId: 's', attempt: 1 }, 1, 'now')).toBe('unknown');
    // a new attempt is a new call, refused at the cap
    expect(store.reserve({ ...req, key: { ...req.key, attempt: 2 } })).toMatchObject({ status: 'denied', denial: { kind: 'calls', used: 1, limit: 1 } });
    // ... unless approved over budget: recorded, and counted
    expect(store.reserve({ ...req, key: { ...req.key, attempt: 2 }, overBudget: true })).toEqual({ status: 'over_budget' });
    expect(store.usage('global', '*', '2030-01-01').calls).toBe(2);
    const report = store.report('2030-01-01');
    expect(report).toMatchObject({ day: '2030-01-01', unsettled: 1, agents: [{ name: 'claude', calls: 2 }], projects: [{ name: 'default', calls: 2 }] });
    store.close();
  });

  it('a process killed while holding the write lock does not wedge the others', async () => {
    BudgetStore.open(db).close();
    // a writer that dies mid-transaction: SQLite rolls it back for the next opener
    const child = spawn(process.execPath, ['-e', `
      const D = require(${JSON.stringify(require.resolve('better-sqlite3'))});
      const db = new D(${JSON.stringify(db)}); db.pragma('busy_timeout = 10000');
      db.exec('BEGIN IMMEDIATE');
      db.prepare("INSERT INTO budget_usage (job_id, step_id, attempt, day, agent, project, reserved_micros, status, runner_id, reserved_at) VALUES ('ghost','s',1,'2030-01-01','claude','default',1,'reserved','x','')").run();
      process.stdout.write('locked'); setTimeout(() => {}, 60000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((r) => child.stdout.once('data', () => r()));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const store = BudgetStore.open(db);
    expect(store.reserve({ key: { jobId: 'j', stepId: 's', attempt: 1 }, agent: 'claude', project: 'default', day: '2030-01-01', estimateMicros: 0, limits: [], overBudget: false, runnerId: 'r', at: '' }).status).toBe('reserved');
    expect(store.usage('global', '*', '2030-01-01').calls).toBe(1);
    store.close();
  });
});
