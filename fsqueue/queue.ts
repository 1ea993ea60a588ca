/**
 * The file-system queue: the ONLY module that creates, moves or removes job files.
 *
 * Invariants:
 * - A job is `<state>/<job_id>.json` in exactly one state directory at any instant (moves are
 *   rename(2) within one filesystem, which is atomic).
 * - A job id is unique across all states: `ids/<job_id>` is reserved with O_EXCL and made durable
 *   (fsync of ids/) before the job is published.
 * - Enqueue is durable and never overwrites: the job is written into its reservation, fsynced,
 *   then link(2)ed into the state directory (EEXIST instead of replace), and that directory is
 *   fsynced. `ids/<job_id>` stays a second name of the job file's inode until retention removes
 *   both; nothing reads it.
 * - Bad files are never deleted: they are moved to `corrupt/` with a `.reason.txt` beside them.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, linkSync, promises as fsp, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { NormalizedJob } from '../contracts/index.ts';
import { OrchestratorError, errnoCode, errorMessage } from '../lib/errors.ts';
import { fsyncDir, fsyncFd, openAsync, publishFileExclusive, readFileNoFollow, writeFileAtomic } from '../lib/fsutil.ts';
import { QUEUE_STATES, canMove, isSafeJobId, jobFilePath, type QueueState } from './states.ts';

/** Errors that mean "the queue cannot be written right now" (the caller may retry). */
const UNAVAILABLE = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EIO', 'EMFILE', 'ENFILE']);
/** A reservation with no job file anywhere, older than this, is the debris of a crash. */
const STALE_RESERVATION_MS = 60_000;

/** Ajv and the compiled schemas, loaded on the first validating read (a `status` never needs them). */
let validation: Promise<typeof import('../contracts/validate.ts')> | undefined;
const loadValidation = (): Promise<typeof import('../contracts/validate.ts')> => (validation ??= import('../contracts/validate.ts'));

/** The shape `orchestrator status` prints, checked without the schema (display only). */
function looksLikeJob(v: unknown): v is NormalizedJob {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const j = v as Record<string, unknown>;
  return typeof j.job_id === 'string' && typeof j.goal === 'string' && Array.isArray(j.steps)
    && j.steps.every((s: unknown) => s !== null && typeof s === 'object' && typeof (s as Record<string, unknown>).step_id === 'string' && typeof (s as Record<string, unknown>).agent === 'string');
}

export type MoveResult = 'moved' | 'lost';

export type ReadOutcome =
  | { ok: true; job: NormalizedJob }
  | { ok: false; reason: string };

/** Stats in flight at once when listing a state's files with their times. */
const STAT_BATCH = 512;

/** A job in a listing: where it is and its file's mtime (when it was enqueued). */
export interface TimedEntry {
  job_id: string;
  queue_state: QueueState;
  mtime_ms: number;
}

/** Pure: two lists in listing order merged into one. */
function mergeSorted(a: readonly TimedEntry[], b: readonly TimedEntry[]): TimedEntry[] {
  if (b.length === 0) return [...a];
  const out: TimedEntry[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) out.push(newestFirst(a[i]!, b[j]!) <= 0 ? a[i++]! : b[j++]!);
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}

/** Listing order: newest first, ties by id. */
export function newestFirst(a: TimedEntry, b: TimedEntry): number {
  return b.mtime_ms - a.mtime_ms || (a.job_id < b.job_id ? -1 : a.job_id > b.job_id ? 1 : 0);
}

export class FsQueue {
  readonly root: string;
  readonly tmpDir: string;
  readonly corruptDir: string;
  readonly idsDir: string;
  readonly idemDir: string;

  constructor(root: string) {
    this.root = root;
    this.tmpDir = path.join(root, 'tmp');
    this.corruptDir = path.join(root, 'corrupt');
    this.idsDir = path.join(root, 'ids');
    this.idemDir = path.join(root, 'idem');
  }

  dir(state: QueueState): string {
    return path.join(this.root, state);
  }

  pathOf(state: QueueState, id: string): string {
    return jobFilePath(this.root, state, id);
  }

  /** Create the layout and check that temp and state directories share one filesystem. */
  async init(): Promise<void> {
    for (const d of [...QUEUE_STATES.map((s) => this.dir(s)), this.tmpDir, this.corruptDir, this.idsDir, this.idemDir]) {
      await fsp.mkdir(d, { recursive: true });
    }
    this.checkSameFilesystem();
  }

  /** rename(2) across filesystems fails with EXDEV: refuse a split layout up front. */
  checkSameFilesystem(): void {
    const dev = statSync(this.tmpDir).dev;
    for (const s of QUEUE_STATES) {
      if (statSync(this.dir(s)).dev !== dev) {
        throw new OrchestratorError('E_CONFIG', `queue directory ${this.dir(s)} is on a different filesystem than ${this.tmpDir}; atomic moves need one filesystem`);
      }
    }
  }

  private unavailable(err: unknown, what: string): OrchestratorError {
    return new OrchestratorError('E_QUEUE_UNAVAILABLE', `queue unavailable: cannot ${what} (${errnoCode(err) ?? errorMessage(err)}); nothing was written, retry later`, { errno: errnoCode(err) }, { cause: err });
  }

  /** Durably add a job. Throws E_JOB_EXISTS if its id is anywhere in the queue, E_QUEUE_UNAVAILABLE on disk errors. */
  async enqueue(job: NormalizedJob, state: 'pending' | 'awaiting_approval' = 'pending'): Promise<void> {
    const id = job.job_id;
    if (!isSafeJobId(id)) throw new OrchestratorError('E_BAD_INPUT', `job_id ${JSON.stringify(id)} is not a safe file name`, { issues: [{ path: '$.job_id', message: 'must match ^[a-zA-Z0-9._-]{8,64}$' }] });
    const marker = path.join(this.idsDir, id);
    const fd = await this.reserveId(id);
    try {
      // The reservation is also the job file's first name: the job is written into it, fsynced
      // (alongside the fsync of ids/ that makes the reservation durable), then linked into its
      // state directory. One inode per job, where a temp file beside the reservation made two
      // (bench/README.md, ingest: the gateway is bound by the kernel's work per file).
      const reserved = fsyncDir(this.idsDir);
      reserved.catch(() => undefined);
      try {
        writeFileSync(fd, JSON.stringify(job) + '\n');
        await fsyncFd(fd);
      } finally {
        closeSync(fd);
      }
      await reserved;
      try {
        linkSync(marker, this.pathOf(state, id)); // a name, not an inode: on the event loop, like move()
      } catch (err) {
        if (errnoCode(err) === 'EEXIST') throw new OrchestratorError('E_JOB_EXISTS', `job ${id} already exists (in ${state})`, { job_id: id, state });
        throw err;
      }
      await fsyncDir(this.dir(state));
    } catch (err) {
      // Nothing partial is left behind: release the id so the caller can retry the same job.
      await fsp.rm(marker, { force: true }).catch(() => undefined);
      if (err instanceof OrchestratorError) throw err;
      if (UNAVAILABLE.has(errnoCode(err) ?? '')) throw this.unavailable(err, `write job ${id}`);
      throw err;
    }
  }

  /**
   * Reserve `ids/<id>` (O_EXCL) and return it open for writing. An existing reservation is the
   * id's: E_JOB_EXISTS, unless no job has that id and the reservation is stale (a crash between
   * reserving and publishing), which is taken over once.
   */
  private async reserveId(id: string, retried = false): Promise<number> {
    const marker = path.join(this.idsDir, id);
    try {
      return await openAsync(marker, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') {
        if (UNAVAILABLE.has(errnoCode(err) ?? '')) throw this.unavailable(err, `reserve job id ${id}`);
        throw err;
      }
    }
    const where = await this.locate(id);
    if (where) throw new OrchestratorError('E_JOB_EXISTS', `job ${id} already exists (in ${where})`, { job_id: id, state: where });
    const st = await fsp.lstat(marker).catch(() => undefined);
    if (!retried && (!st || Date.now() - st.mtimeMs > STALE_RESERVATION_MS)) {
      await fsp.rm(marker, { force: true });
      return this.reserveId(id, true);
    }
    throw new OrchestratorError('E_JOB_EXISTS', `job ${id} is being submitted by another request`, { job_id: id });
  }

  /** Where is this job now? Checks every state (5 lstat calls). */
  async locate(id: string): Promise<QueueState | undefined> {
    if (!isSafeJobId(id)) return undefined;
    for (const s of QUEUE_STATES) {
      try {
        await fsp.lstat(this.pathOf(s, id));
        return s;
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
    }
    return undefined;
  }

  /**
   * Parse and validate a job file. Never throws for bad content: returns the reason instead.
   * `validate: false` (read-only display: `status`) checks the shape it shows instead of the
   * whole schema, sparing a short-lived process Ajv's schema compilation (~100 ms).
   */
  async readFile(file: string, opts: { validate?: boolean } = {}): Promise<ReadOutcome> {
    let text: string;
    try {
      text = await readFileNoFollow(file);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') return { ok: false, reason: 'ENOENT' };
      if (code === 'ELOOP') return { ok: false, reason: 'is a symbolic link' };
      return { ok: false, reason: `unreadable: ${code ?? errorMessage(err)}` };
    }
    let data: unknown;
    if (opts.validate === false) {
      try {
        data = JSON.parse(text);
      } catch (err) {
        return { ok: false, reason: errorMessage(err) };
      }
      if (!looksLikeJob(data)) return { ok: false, reason: 'not a job (job_id, goal and steps expected)' };
    } else {
      const { isValidNormalizedJob, parseJsonText } = await loadValidation();
      try {
        data = parseJsonText(text);
      } catch (err) {
        return { ok: false, reason: errorMessage(err) };
      }
      if (!isValidNormalizedJob(data)) return { ok: false, reason: 'not a valid normalized job (job.schema.json)' };
    }
    if (path.basename(file) !== `${data.job_id}.json`) return { ok: false, reason: `file name does not match job_id ${JSON.stringify(data.job_id)}` };
    return { ok: true, job: data };
  }

  /** Read a job by id, wherever it is (`validate: false`: see readFile). */
  async get(id: string, opts: { validate?: boolean } = {}): Promise<{ state: QueueState; job: NormalizedJob } | undefined> {
    for (let tries = 0; tries < 3; tries++) {
      const state = await this.locate(id);
      if (!state) return undefined;
      const out = await this.readFile(this.pathOf(state, id), opts);
      if (out.ok) return { state, job: out.job };
      if (out.reason !== 'ENOENT') throw new OrchestratorError('E_INTERNAL', `job file ${this.pathOf(state, id)} is unreadable: ${out.reason}`);
      // moved between locate and read: look again
    }
    return undefined;
  }

  /**
   * Move a job between states. "lost" when the file is not in `from` (another runner won the race,
   * or it was moved meanwhile): an expected outcome, not an error.
   */
  async move(id: string, from: QueueState, to: QueueState, opts: { durable?: boolean } = {}): Promise<MoveResult> {
    if (!canMove(from, to)) throw new OrchestratorError('E_BAD_STATE', `cannot move job ${id} from ${from} to ${to}`, { job_id: id, from, to });
    try {
      // on the event loop: a rename creates no inode and costs ~20 µs here whatever the size of the
      // directory, where the thread pool's round trip added 60-100 µs, and that varied with load
      // (bench/README.md, claim latency); the directory's fsync stays on the pool
      renameSync(this.pathOf(from, id), this.pathOf(to, id));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return 'lost';
      throw err;
    }
    if (opts.durable ?? true) await fsyncDir(this.dir(to));
    return 'moved';
  }

  /** Job ids in a state, in directory order. */
  async list(state: QueueState): Promise<string[]> {
    const names = await fsp.readdir(this.dir(state));
    const ids: string[] = [];
    for (const n of names) if (n.endsWith('.json') && !n.startsWith('.')) ids.push(n.slice(0, -5));
    return ids;
  }

  /** Raw file names in a state (the scanner also needs the non-job ones, to quarantine them). */
  async listNames(state: QueueState): Promise<string[]> {
    return (await fsp.readdir(this.dir(state))).filter((n) => !n.startsWith('.'));
  }

  /** Per state: its jobs with their files' mtimes, newest first, and the directory mtime then (see listTimed()). */
  private readonly timedCache = new Map<QueueState, { dirMtimeMs: number | null; entries: readonly TimedEntry[] }>();

  /**
   * A state's jobs with their files' mtimes (ms, floored), newest first (ties by id): the order
   * of `orchestrator list` and `GET /jobs`. A job file is written once and only ever renamed, so
   * its mtime never changes: a long-lived caller (the gateway, the dashboard) stats only the names
   * new since its last call, and re-reads nothing while the directory's mtime stands still (taken
   * over a second ago, as count() does). A short-lived one (the CLI) stats every name, as before.
   * The array is shared with later calls: do not modify it.
   */
  async listTimed(state: QueueState): Promise<readonly TimedEntry[]> {
    const dirMtimeMs = (await fsp.stat(this.dir(state))).mtimeMs;
    const hit = this.timedCache.get(state);
    if (hit && hit.dirMtimeMs === dirMtimeMs) return hit.entries;
    // the names still here keep their place (the old list is sorted); the others are new
    const names = new Set(await this.list(state));
    const kept = (hit?.entries ?? []).filter((e) => names.delete(e.job_id));
    const fresh = [...names];
    const added: TimedEntry[] = [];
    // parallel batches: one awaited stat after another costs ~40 µs each (0.4 s at 10,000)
    for (let i = 0; i < fresh.length; i += STAT_BATCH) {
      const batch = fresh.slice(i, i + STAT_BATCH);
      const stats = await Promise.all(batch.map((id) => fsp.stat(this.pathOf(state, id)).catch(() => undefined)));
      stats.forEach((st, j) => {
        if (st) added.push({ job_id: batch[j]!, queue_state: state, mtime_ms: Math.floor(st.mtimeMs) });
      });
    }
    const entries = kept.length === 0 ? added.sort(newestFirst) : mergeSorted(kept, added.sort(newestFirst));
    this.timedCache.set(state, { dirMtimeMs: Date.now() - dirMtimeMs > 1000 ? dirMtimeMs : null, entries });
    return entries;
  }

  /** Per state: a count and the directory mtime it was taken at (see count()). */
  private readonly countCache = new Map<QueueState, { mtimeMs: number; count: number }>();

  /**
   * Jobs in a state. A long-lived caller (the gateway's /metrics and /health) re-lists a directory
   * only when it changed: its mtime moves with every entry added or removed. A count is reused only
   * when that mtime was over a second old when it was taken (file system timestamps are coarse: a
   * change in the same tick could otherwise keep the mtime), so the answer is always exact.
   */
  async count(state: QueueState): Promise<number> {
    const before = await fsp.stat(this.dir(state));
    const hit = this.countCache.get(state);
    if (hit && hit.mtimeMs === before.mtimeMs) return hit.count;
    const count = (await this.list(state)).length;
    if (Date.now() - before.mtimeMs > 1000) this.countCache.set(state, { mtimeMs: before.mtimeMs, count });
    else this.countCache.delete(state);
    return count;
  }

  async counts(): Promise<Record<QueueState, number>> {
    const out = {} as Record<QueueState, number>;
    for (const s of QUEUE_STATES) out[s] = await this.count(s);
    return out;
  }

  /** Move an unusable file aside with its reason; the runner keeps going. Returns the new path. */
  async quarantine(state: QueueState, name: string, reason: string): Promise<string | undefined> {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const dest = path.join(this.corruptDir, `${stamp}-${state}-${name}`);
    try {
      await fsp.rename(path.join(this.dir(state), name), dest);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    await writeFileAtomic(`${dest}.reason.txt`, `file: ${state}/${name}\nmoved: ${new Date().toISOString()}\nreason: ${reason}\n`, { durable: false });
    return dest;
  }

  /** Delete a finished job's file and its id reservation (retention only). */
  async removeFinished(id: string, state: 'done' | 'failed'): Promise<boolean> {
    try {
      await fsp.unlink(this.pathOf(state, id));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw err;
    }
    await fsp.rm(path.join(this.idsDir, id), { force: true });
    return true;
  }

  // ---- idempotency keys (webhook deliveries, Idempotency-Key) ----

  private idemPath(key: string): string {
    return path.join(this.idemDir, createHash('sha256').update(key).digest('hex'));
  }

  /**
   * Claim an idempotency key for `jobId`. Returns the job id that owns the key: `jobId` itself
   * when this call created it, the first job's id otherwise.
   */
  async claimIdempotencyKey(key: string, jobId: string): Promise<{ created: boolean; jobId: string }> {
    const file = this.idemPath(key);
    for (let tries = 0; tries < 3; tries++) {
      const res = await publishFileExclusive(file, jobId, { tmpDir: this.tmpDir }).catch((err: unknown) => {
        if (UNAVAILABLE.has(errnoCode(err) ?? '')) throw this.unavailable(err, 'record idempotency key');
        throw err;
      });
      if (res === 'created') return { created: true, jobId };
      const owner = (await fsp.readFile(file, 'utf8').catch(() => '')).trim();
      if (owner && (await this.locate(owner))) return { created: false, jobId: owner };
      const st = await fsp.stat(file).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs < STALE_RESERVATION_MS && owner) return { created: false, jobId: owner };
      await fsp.rm(file, { force: true }); // debris of a crashed submit: take the key over
    }
    throw new OrchestratorError('E_QUEUE_UNAVAILABLE', 'could not record idempotency key; retry');
  }

  async releaseIdempotencyKey(key: string): Promise<void> {
    await fsp.rm(this.idemPath(key), { force: true });
  }
}

export function createQueue(root: string): FsQueue {
  return new FsQueue(root);
}
