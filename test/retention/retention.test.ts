/**
 * Retention as a specification: old artifacts and workspaces of finished jobs go (queue file
 * first, so the queue never points at deleted artifacts); nothing of a pending, running or
 * awaiting job is touched however old; young jobs stay; a dry run deletes nothing and reports
 * exactly what a real run removes; the CLI prints what it freed.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRunner } from '../../runner/runner.ts';
import { describeRetention, parseDuration, runRetention, startRetention } from '../../runner/retention.ts';
import { expectQueueInvariants, submit, tempHome, waitFor, waitForState, type TempHome } from '../helpers/env.ts';
import { BIN } from '../helpers/processes.ts';

const run = promisify(execFile);
let home: TempHome;
const DAY = 86_400_000;

/** Set the mtime of a tree (every entry) to `ms`. */
function age(p: string, ms: number): void {
  if (!existsSync(p)) return;
  const st = statSync(p);
  if (st.isDirectory()) for (const n of readdirSync(p)) age(path.join(p, n), ms);
  utimesSync(p, ms / 1000, ms / 1000);
}

interface World {
  done: string;
  failed: string;
  young: string;
  pending: string;
  running: string;
  awaiting: string;
  orphan: string;
}

/** Jobs in every state, all (but `young`) last active 30 days ago. */
async function world(): Promise<World> {
  const runner = createRunner({ config: home.config });
  await runner.start();
  const done = (await submit(home, { goal: 'done', steps: [{ step_id: 's', agent: 'command', command: ['true'] }] })).job_id;
  const failed = (await submit(home, { goal: 'failed', steps: [{ step_id: 's', agent: 'command', command: ['false'], max_retries: 0 }] })).job_id;
  const young = (await submit(home, { goal: 'young', steps: [{ step_id: 's', agent: 'command', command: ['true'] }] })).job_id;
  expect(await waitForState(home, done, ['done', 'failed'])).toBe('done');
  expect(await waitForState(home, failed, ['done', 'failed'])).toBe('failed');
  expect(await waitForState(home, young, ['done', 'failed'])).toBe('done');
  await runner.stop();

  const pending = (await submit(home, { goal: 'pending', steps: [{ step_id: 's', agent: 'command', command: ['true'] }] })).job_id;
  const awaiting = (await submit(home, { goal: 'awaiting', policy: { requires_approval: true }, steps: [{ step_id: 's', agent: 'command', command: ['true'] }] })).job_id;
  const running = (await submit(home, { goal: 'running', steps: [{ step_id: 's', agent: 'command', command: ['true'] }] })).job_id;
  expect(await home.queue.move(running, 'pending', 'running')).toBe('moved');
  // live jobs with artifacts and workspaces (a handed-back job has both, a running one too)
  for (const id of [pending, running, awaiting]) {
    mkdirSync(path.join(home.config.paths.artifactsRoot, id), { recursive: true });
    writeFileSync(path.join(home.config.paths.artifactsRoot, id, 'logs.txt'), 'old\n');
    mkdirSync(path.join(home.config.paths.workspacesRoot, id, 'work'), { recursive: true });
    writeFileSync(path.join(home.config.paths.workspacesRoot, id, 'work', 'file.txt'), 'x'.repeat(1000));
  }
  const orphan = 'orphan-artifacts-0001';
  mkdirSync(path.join(home.config.paths.artifactsRoot, orphan), { recursive: true });
  writeFileSync(path.join(home.config.paths.artifactsRoot, orphan, 'state.json'), '{}');
  const old = Date.now() - 30 * DAY;
  for (const id of [done, failed, pending, running, awaiting, orphan]) {
    age(path.join(home.config.paths.artifactsRoot, id), old);
    age(path.join(home.config.paths.workspacesRoot, id), old);
    for (const s of ['done', 'failed', 'pending', 'running', 'awaiting_approval'] as const) age(home.queue.pathOf(s, id), old);
  }
  return { done, failed, young, pending, running, awaiting, orphan };
}

/** Every path of a job: artifacts, workspace, queue file. */
function snapshot(id: string): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    if (!existsSync(p)) return;
    out.push(p);
    if (statSync(p).isDirectory()) for (const n of readdirSync(p)) walk(path.join(p, n));
  };
  walk(path.join(home.config.paths.artifactsRoot, id));
  walk(path.join(home.config.paths.workspacesRoot, id));
  for (const s of ['done', 'failed', 'pending', 'running', 'awaiting_approval'] as const) walk(home.queue.pathOf(s, id));
  return out.sort();
}

beforeEach(async () => {
  home = await tempHome();
});
afterEach(async () => {
  await home.cleanup();
});

describe('retention', () => {
  it('a dry run deletes nothing and lists exactly what the real run then removes', async () => {
    const w = await world();
    const before = Object.fromEntries(Object.values(w).map((id) => [id, snapshot(id)]));
    const dry = await runRetention({ config: home.config, queue: home.queue, dryRun: true });
    for (const id of Object.values(w)) expect(snapshot(id)).toEqual(before[id]);
    expect(dry.dry_run).toBe(true);
    expect(dry.bytes_freed).toBeGreaterThan(0);

    const real = await runRetention({ config: home.config, queue: home.queue });
    const key = (r: typeof real) => r.removed.map((i) => `${i.kind}:${i.path}`).sort();
    expect(key(real)).toEqual(key(dry));
    expect(real.bytes_freed).toBe(dry.bytes_freed);
    expect(describeRetention(real).at(-1)).toMatch(/^freed \d/);
    expect(describeRetention(dry).at(-1)).toMatch(/^dry run: would free/);
  });

  it('removes old finished jobs (queue file, id, artifacts, workspace) and nothing of live or young jobs', async () => {
    const w = await world();
    const live = [w.pending, w.running, w.awaiting, w.young].map((id) => [id, snapshot(id)] as const);
    const report = await runRetention({ config: home.config, queue: home.queue });

    for (const id of [w.done, w.failed]) {
      expect(snapshot(id)).toEqual([]);
      expect(existsSync(path.join(home.queue.idsDir, id))).toBe(false);
    }
    expect(existsSync(path.join(home.config.paths.artifactsRoot, w.orphan))).toBe(false);
    for (const [id, snap] of live) expect(snapshot(id)).toEqual(snap);
    expect(report.kept_live.sort()).toEqual([w.pending, w.running, w.awaiting].sort());
    expect(new Set(report.removed.map((i) => i.job_id))).toEqual(new Set([w.done, w.failed, w.orphan]));
    expect(report.errors).toEqual([]);
    expectQueueInvariants(home); // no queue file points at missing artifacts
  });

  it('honours the TTLs: workspaces (2 d) go before artifacts (7 d); --older-than overrides both', async () => {
    const w = await world();
    const fourDays = Date.now() - 4 * DAY;
    age(path.join(home.config.paths.artifactsRoot, w.done), fourDays);
    age(path.join(home.config.paths.workspacesRoot, w.done), fourDays);
    await runRetention({ config: home.config, queue: home.queue });
    expect(existsSync(path.join(home.config.paths.artifactsRoot, w.done))).toBe(true);
    expect(existsSync(path.join(home.config.paths.workspacesRoot, w.done))).toBe(false);
    expect(await home.queue.locate(w.done)).toBe('done');

    await runRetention({ config: home.config, queue: home.queue, olderThanSec: parseDuration('3d') });
    expect(existsSync(path.join(home.config.paths.artifactsRoot, w.done))).toBe(false);
    expect(await home.queue.locate(w.done)).toBeUndefined();
    expect(await home.queue.locate(w.young)).toBe('done'); // seconds old
    expect(parseDuration('12h')).toBe(43_200);
    expect(parseDuration('3600')).toBe(3600);
    expect(() => parseDuration('soon')).toThrow(/duration/);
  });

  it('`orchestrator cleanup` prints what it would free and what it freed', async () => {
    const w = await world();
    const env = { ...process.env, ...home.env };
    const dry = await run(process.execPath, [BIN, 'cleanup', '--dry-run'], { env });
    expect(dry.stdout).toContain(`would remove artifacts  ${path.join(home.config.paths.artifactsRoot, w.done)}`);
    expect(dry.stdout).toMatch(/dry run: would free .* of 3 job\(s\)/);
    expect(existsSync(path.join(home.config.paths.artifactsRoot, w.done))).toBe(true);
    const real = await run(process.execPath, [BIN, 'cleanup', '--older-than', '7d', '--json'], { env });
    const report = JSON.parse(real.stdout) as { removed: Array<{ job_id: string }>; bytes_freed: number };
    expect(new Set(report.removed.map((r) => r.job_id))).toEqual(new Set([w.done, w.failed, w.orphan]));
    expect(existsSync(path.join(home.config.paths.artifactsRoot, w.done))).toBe(false);
    expect(existsSync(path.join(home.config.paths.artifactsRoot, w.pending))).toBe(true);
  });

  it('startRetention runs passes on a timer (never overlapping) and stops cleanly', async () => {
    const w = await world();
    const reports: number[] = [];
    const handle = startRetention({ config: home.config, queue: home.queue, intervalSec: 3600, onReport: (r) => reports.push(r.removed.length) });
    await waitFor(() => (reports.length > 0 ? true : undefined), 20_000, 'the first pass (a second after start)');
    expect(reports[0]).toBeGreaterThan(0);
    expect(existsSync(path.join(home.config.paths.artifactsRoot, w.done))).toBe(false);
    expect((await handle.runNow()).removed).toEqual([]);
    await handle.stop();
    expect(existsSync(path.join(home.config.paths.artifactsRoot, w.running))).toBe(true);
  });
});
