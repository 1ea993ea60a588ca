/**
 * Retention: remove the artifacts of finished jobs older than ARTIFACTS_TTL_SEC and workspaces older
 * than WORKSPACES_TTL_SEC (MVP defaults 7 d and 2 d). `orchestrator cleanup` runs it once;
 * `startRetention()` runs it every RETENTION_INTERVAL_SEC inside `serve`; deploy/retention.cron
 * runs the CLI in split deployments.
 *
 * Invariants:
 * - nothing of a pending, running or awaiting_approval job is touched: its queue state is checked
 *   when the pass starts and again right before each deletion;
 * - the queue never points at deleted artifacts: a finished job's queue file (and id reservation)
 *   is removed first, through FsQueue.removeFinished (a failed job requeued meanwhile makes that
 *   return false and its artifacts stay), then its artifact directory. A crash in between leaves
 *   artifacts without a queue file, which the next pass removes;
 * - a dry run deletes nothing and reports exactly what a real run would remove.
 * Age is the job's last activity: the newest mtime among its state/result/logs/events files.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { createQueue, type FsQueue } from '../fsqueue/queue.ts';
import { isSafeJobId, type QueueState } from '../fsqueue/states.ts';
import type { Config } from '../lib/config.ts';
import { errnoCode, errorMessage, OrchestratorError } from '../lib/errors.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';

export interface RetentionOptions {
  config: Config;
  queue?: FsQueue;
  now?: () => Date;
  dryRun?: boolean;
  /** Overrides both TTLs (`cleanup --older-than 7d`). */
  olderThanSec?: number;
  log?: Logger;
}

export interface RetentionItem {
  job_id: string;
  kind: 'artifacts' | 'workspace' | 'queue_file';
  path: string;
  bytes: number;
  age_sec: number;
  /** The job's queue state when it was removed (null: no queue file). */
  queue_state: QueueState | null;
}

export interface RetentionReport {
  dry_run: boolean;
  at: string;
  artifacts_ttl_sec: number;
  workspaces_ttl_sec: number;
  removed: RetentionItem[];
  /** Old enough, but the job is pending/running/awaiting: kept. */
  kept_live: string[];
  bytes_freed: number;
  errors: Array<{ path: string; error: string }>;
}

const LIVE: readonly QueueState[] = ['pending', 'running', 'awaiting_approval'];
const ACTIVITY_FILES = ['state.json', 'result.json', 'logs.txt', 'events.jsonl'];

/** `7d`, `12h`, `30m`, `45s`, `2w` or plain seconds → seconds. */
export function parseDuration(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$/i.exec(raw);
  if (!m) throw new OrchestratorError('E_BAD_INPUT', `${JSON.stringify(raw)} is not a duration (e.g. 7d, 12h, 30m, 3600)`, { issues: [{ path: '--older-than', message: 'expected <number>[s|m|h|d|w]' }] });
  const unit = (m[2] ?? '').toLowerCase();
  const mult = unit === 'm' ? 60 : unit === 'h' ? 3600 : unit === 'd' ? 86400 : unit === 'w' ? 604800 : 1;
  return Math.round(Number(m[1]) * mult);
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** Total size of a tree (symlinks counted as links, never followed). */
async function treeBytes(p: string): Promise<number> {
  const st = await fsp.lstat(p).catch(() => undefined);
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const name of await fsp.readdir(p).catch(() => [] as string[])) total += await treeBytes(path.join(p, name));
  return total;
}

async function mtimeMs(p: string): Promise<number | undefined> {
  return (await fsp.lstat(p).catch(() => undefined))?.mtimeMs;
}

/** Newest mtime of a job's activity files (else of its directory). */
async function lastActivity(artifactDir: string): Promise<number | undefined> {
  let best: number | undefined;
  for (const f of ACTIVITY_FILES) {
    const m = await mtimeMs(path.join(artifactDir, f));
    if (m !== undefined && (best === undefined || m > best)) best = m;
  }
  return best ?? (await mtimeMs(artifactDir));
}

async function dirNames(dir: string): Promise<string[]> {
  try {
    return (await fsp.readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && isSafeJobId(e.name)).map((e) => e.name);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
}

async function queueStates(queue: FsQueue): Promise<Map<string, QueueState>> {
  const out = new Map<string, QueueState>();
  for (const s of ['done', 'failed', ...LIVE] as QueueState[]) {
    for (const id of await queue.list(s).catch(() => [] as string[])) out.set(id, s);
  }
  return out;
}

/** One retention pass. */
export async function runRetention(opts: RetentionOptions): Promise<RetentionReport> {
  const { config } = opts;
  const queue = opts.queue ?? createQueue(config.paths.queueRoot);
  const now = (opts.now ?? (() => new Date()))();
  const log = opts.log ?? silentLogger();
  const dry = opts.dryRun ?? false;
  const artifactsTtl = opts.olderThanSec ?? config.retention.artifactsTtlSec;
  const workspacesTtl = opts.olderThanSec ?? config.retention.workspacesTtlSec;
  const report: RetentionReport = { dry_run: dry, at: now.toISOString(), artifacts_ttl_sec: artifactsTtl, workspaces_ttl_sec: workspacesTtl, removed: [], kept_live: [], bytes_freed: 0, errors: [] };
  const ageSec = (ms: number): number => Math.max(0, Math.floor((now.getTime() - ms) / 1000));
  const states = await queueStates(queue);
  const isLiveNow = async (id: string): Promise<boolean> => {
    const s = await queue.locate(id).catch(() => 'pending' as const); // unsure = live
    return s !== undefined && LIVE.includes(s);
  };
  const keepLive = (id: string): void => {
    if (!report.kept_live.includes(id)) report.kept_live.push(id);
  };
  const remove = async (item: RetentionItem): Promise<void> => {
    if (!dry) {
      try {
        await fsp.rm(item.path, { recursive: true, force: true });
      } catch (err) {
        report.errors.push({ path: item.path, error: errorMessage(err) });
        return;
      }
    }
    report.removed.push(item);
    report.bytes_freed += item.bytes;
  };

  // 1. artifacts (and the queue files of those jobs)
  const artifactDirs = new Set(await dirNames(config.paths.artifactsRoot));
  for (const id of artifactDirs) {
    const dir = path.join(config.paths.artifactsRoot, id);
    const state = states.get(id) ?? null;
    const last = await lastActivity(dir);
    if (last === undefined || ageSec(last) < artifactsTtl) continue;
    if (state && LIVE.includes(state)) {
      keepLive(id);
      continue;
    }
    const bytes = await treeBytes(dir);
    if (state === 'done' || state === 'failed') {
      const queueFile = queue.pathOf(state, id);
      const fileBytes = (await fsp.lstat(queueFile).catch(() => undefined))?.size ?? 0;
      if (!dry) {
        // the compare-and-swap: false if the job moved meanwhile (a failed job requeued)
        const removed = await queue.removeFinished(id, state).catch((err: unknown) => {
          report.errors.push({ path: queueFile, error: errorMessage(err) });
          return false;
        });
        if (!removed) continue;
      }
      report.removed.push({ job_id: id, kind: 'queue_file', path: queueFile, bytes: fileBytes, age_sec: ageSec(last), queue_state: state });
      report.bytes_freed += fileBytes;
    } else {
      // no queue file when the pass started: orphaned artifacts, unless the job appeared meanwhile
      const nowIn = await queue.locate(id).catch(() => 'pending' as const);
      if (nowIn !== undefined) {
        if (LIVE.includes(nowIn)) keepLive(id);
        continue;
      }
    }
    await remove({ job_id: id, kind: 'artifacts', path: dir, bytes, age_sec: ageSec(last), queue_state: state });
  }

  // 2. finished queue files whose artifacts are already gone (a crash between the two deletions)
  for (const [id, state] of states) {
    if ((state !== 'done' && state !== 'failed') || artifactDirs.has(id)) continue;
    const file = queue.pathOf(state, id);
    const st = await fsp.lstat(file).catch(() => undefined);
    if (!st || ageSec(st.mtimeMs) < artifactsTtl) continue;
    if (!dry && !(await queue.removeFinished(id, state).catch(() => false))) continue;
    report.removed.push({ job_id: id, kind: 'queue_file', path: file, bytes: st.size, age_sec: ageSec(st.mtimeMs), queue_state: state });
    report.bytes_freed += st.size;
  }

  // 3. workspaces
  for (const id of await dirNames(config.paths.workspacesRoot)) {
    const dir = path.join(config.paths.workspacesRoot, id);
    const state = states.get(id) ?? null;
    const last = (await lastActivity(path.join(config.paths.artifactsRoot, id))) ?? (await mtimeMs(dir));
    if (last === undefined || ageSec(last) < workspacesTtl) continue;
    if ((state && LIVE.includes(state)) || (await isLiveNow(id))) {
      keepLive(id);
      continue;
    }
    await remove({ job_id: id, kind: 'workspace', path: dir, bytes: await treeBytes(dir), age_sec: ageSec(last), queue_state: state });
  }

  if (report.removed.length > 0 || report.errors.length > 0) {
    log.info({ dry_run: dry, removed: report.removed.length, bytes_freed: report.bytes_freed, errors: report.errors.length }, 'retention pass');
  }
  return report;
}

/** Person-readable lines: what was (or would be) freed. */
export function describeRetention(r: RetentionReport): string[] {
  const verb = r.dry_run ? 'would remove' : 'removed';
  const lines = r.removed.map((i) => `${verb} ${i.kind.padEnd(10)} ${i.path} (${fmtBytes(i.bytes)}, ${Math.floor(i.age_sec / 86400)} d ${Math.floor((i.age_sec % 86400) / 3600)} h old${i.queue_state ? `, ${i.queue_state}` : ''})`);
  for (const id of r.kept_live) lines.push(`kept       ${id}: old, but pending/running/awaiting_approval`);
  for (const e of r.errors) lines.push(`error      ${e.path}: ${e.error}`);
  const jobs = new Set(r.removed.map((i) => i.job_id)).size;
  lines.push(`${r.dry_run ? 'dry run: would free' : 'freed'} ${fmtBytes(r.bytes_freed)} (${r.removed.length} item(s) of ${jobs} job(s); artifacts older than ${r.artifacts_ttl_sec} s, workspaces older than ${r.workspaces_ttl_sec} s)`);
  return lines;
}

export interface RetentionHandle {
  /** Run a pass now (waits for a pass already in flight first). */
  runNow(): Promise<RetentionReport>;
  /** Stop the timer and wait for a pass in flight. */
  stop(): Promise<void>;
}

/**
 * Run retention every `intervalSec` (default RETENTION_INTERVAL_SEC; 0 = never) and once shortly
 * after start. Passes never overlap. For `orchestrator serve`.
 */
export function startRetention(opts: RetentionOptions & { intervalSec?: number; onReport?: (r: RetentionReport) => void }): RetentionHandle {
  const log = opts.log ?? silentLogger();
  const intervalSec = opts.intervalSec ?? opts.config.retention.intervalSec;
  let inFlight: Promise<RetentionReport | undefined> | undefined;
  const pass = (): Promise<RetentionReport | undefined> => {
    inFlight ??= runRetention(opts)
      .then((r) => {
        opts.onReport?.(r);
        return r;
      })
      .catch((err: unknown) => {
        log.error({ err: errorMessage(err) }, 'retention pass failed; will retry at the next interval');
        return undefined;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
  const timers: NodeJS.Timeout[] = [];
  if (intervalSec > 0) {
    timers.push(setTimeout(() => void pass(), 1000).unref());
    timers.push(setInterval(() => void pass(), intervalSec * 1000).unref());
  }
  return {
    async runNow() {
      await inFlight;
      const r = await runRetention(opts);
      opts.onReport?.(r);
      return r;
    },
    async stop() {
      for (const t of timers) clearInterval(t);
      await inFlight;
    },
  };
}
