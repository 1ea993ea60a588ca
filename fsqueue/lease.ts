/**
 * Leases: who owns a running job. A lease is `leases/<job_id>.json` (owner runner id, pid, host,
 * claim id, the agent runs to kill on recovery) plus an advisory proper-lockfile lock
 * `locks/<job_id>.lock` that the owner holds (and refreshes) for the whole run.
 * Runners also publish a heartbeat `runners/<runner_id>.json`.
 *
 * Correctness does NOT rest on the lock (proper-lockfile can let two processes take over one stale
 * lock): the decisive step of every hand-over is a rename of the job file (a compare-and-swap),
 * and an owner re-checks its claim id before it writes a terminal state.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { errnoCode } from '../lib/errors.ts';
import { readJsonIfExists, writeJsonAtomic } from '../lib/fsutil.ts';
import { pidAlive } from '../lib/proc.ts';

export interface AgentRunRef {
  run_id: string;
  pgid: number;
  step_id: string;
  attempt: number;
}

export interface Lease {
  job_id: string;
  claim_id: string;
  runner_id: string;
  pid: number;
  host: string;
  claimed_at: string;
  runs: AgentRunRef[];
}

export interface RunnerHeartbeat {
  runner_id: string;
  pid: number;
  host: string;
  started_at: string;
  heartbeat_at: string;
  concurrency: number;
  running: string[];
}

/** Pure: is the owner of this lease gone? */
export function leaseOwnerDead(
  lease: Pick<Lease, 'pid' | 'host' | 'runner_id'>,
  heartbeat: Pick<RunnerHeartbeat, 'heartbeat_at' | 'pid'> | undefined,
  ctx: { now: number; host: string; staleMs: number; pidAlive: (pid: number) => boolean },
): boolean {
  const fresh = heartbeat !== undefined && ctx.now - Date.parse(heartbeat.heartbeat_at) <= ctx.staleMs && heartbeat.pid === lease.pid;
  if (lease.host === ctx.host && !ctx.pidAlive(lease.pid)) return true;
  return !fresh;
}

export class Leases {
  readonly leasesDir: string;
  readonly locksDir: string;
  readonly runnersDir: string;

  constructor(queueRoot: string) {
    this.leasesDir = path.join(queueRoot, 'leases');
    this.locksDir = path.join(queueRoot, 'locks');
    this.runnersDir = path.join(queueRoot, 'runners');
  }

  async init(): Promise<void> {
    for (const d of [this.leasesDir, this.locksDir, this.runnersDir]) await fsp.mkdir(d, { recursive: true });
  }

  leasePath(id: string): string {
    return path.join(this.leasesDir, `${id}.json`);
  }

  lockPath(id: string): string {
    return path.join(this.locksDir, `${id}.lock`);
  }

  async write(lease: Lease): Promise<void> {
    await writeJsonAtomic(this.leasePath(lease.job_id), lease, { durable: false });
  }

  read(id: string): Promise<Lease | undefined> {
    return readJsonIfExists<Lease>(this.leasePath(id));
  }

  async remove(id: string): Promise<void> {
    await fsp.rm(this.leasePath(id), { force: true });
  }

  /**
   * Take the advisory lock for a job (held for a whole run). `onCompromised` is called, instead of
   * proper-lockfile's default throw-from-a-timer, if someone else took the lock over.
   */
  async lock(id: string, opts: { staleMs: number; updateMs: number; onCompromised: (err: Error) => void }): Promise<() => Promise<void>> {
    const target = path.join(this.locksDir, id);
    const release = await lockfile.lock(target, {
      realpath: false,
      lockfilePath: this.lockPath(id),
      stale: Math.max(opts.staleMs, 2000),
      update: Math.max(1000, Math.min(opts.updateMs, Math.floor(Math.max(opts.staleMs, 2000) / 2))),
      retries: 0,
      onCompromised: opts.onCompromised,
    });
    return async () => {
      await release().catch(() => undefined);
    };
  }

  async isLocked(id: string, staleMs: number): Promise<boolean> {
    return lockfile.check(path.join(this.locksDir, id), { realpath: false, lockfilePath: this.lockPath(id), stale: Math.max(staleMs, 2000) });
  }

  /** Remove a lock whatever its state (the caller has established that its owner is dead). */
  async forceUnlock(id: string): Promise<boolean> {
    try {
      await fsp.rm(this.lockPath(id), { recursive: true });
      return true;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw err;
    }
  }

  async heartbeat(hb: RunnerHeartbeat): Promise<void> {
    await writeJsonAtomic(path.join(this.runnersDir, `${hb.runner_id}.json`), hb, { durable: false });
  }

  async readHeartbeat(runnerId: string): Promise<RunnerHeartbeat | undefined> {
    return readJsonIfExists<RunnerHeartbeat>(path.join(this.runnersDir, `${runnerId}.json`));
  }

  async removeHeartbeat(runnerId: string): Promise<void> {
    await fsp.rm(path.join(this.runnersDir, `${runnerId}.json`), { force: true });
  }

  async listHeartbeats(): Promise<RunnerHeartbeat[]> {
    const out: RunnerHeartbeat[] = [];
    for (const n of await fsp.readdir(this.runnersDir).catch(() => [] as string[])) {
      if (!n.endsWith('.json')) continue;
      const hb = await readJsonIfExists<RunnerHeartbeat>(path.join(this.runnersDir, n)).catch(() => undefined);
      if (hb) out.push(hb);
    }
    return out;
  }

  /**
   * Is the owner of running job `id` gone? A job with no lease is orphaned only once its file has
   * sat in running/ longer than `staleMs` (a claimer writes its lease just after the rename).
   */
  async ownerDead(id: string, runningFile: string, ctx: { host: string; staleMs: number; now?: number }): Promise<{ dead: boolean; lease: Lease | undefined }> {
    const now = ctx.now ?? Date.now();
    const lease = await this.read(id).catch(() => undefined);
    if (!lease) {
      const st = await fsp.stat(runningFile).catch(() => undefined);
      return { dead: !st || now - st.ctimeMs > Math.min(ctx.staleMs, 10_000), lease };
    }
    const hb = await this.readHeartbeat(lease.runner_id).catch(() => undefined);
    return { dead: leaseOwnerDead(lease, hb, { now, host: ctx.host, staleMs: ctx.staleMs, pidAlive }), lease };
  }
}
