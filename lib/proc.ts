/**
 * Process facts and killing, Linux-first. Agents run in their own process group and carry an
 * environment marker (ORCH_RUN_ID); killing by group AND by marker also reaches a grandchild that
 * left the group (setsid) but still holds our pipes, and lets recovery find orphans of a dead runner.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { errnoCode } from './errors.ts';

export const RUN_MARKER_VAR = 'ORCH_RUN_ID';

/** `/proc/<pid>/stat` fields we need, or undefined when the process is gone (Linux). */
function procStat(pid: number | string): { state: string; pgrp: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // the command name (field 2) may contain spaces and parentheses: parse after the last ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0] ?? '?', pgrp: Number(rest[2]) };
  } catch {
    return undefined;
  }
}

/**
 * Alive = exists and is not a zombie. A killed grandchild reparented to a PID 1 that does not
 * reap stays a zombie: it answers kill(pid, 0) but runs nothing and holds no pipe.
 */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (errnoCode(err) !== 'EPERM') return false;
  }
  const st = procStat(pid);
  return st === undefined ? process.platform !== 'linux' : st.state !== 'Z';
}

/** Pids listed in /proc (empty off Linux). */
function procPids(): number[] {
  try {
    return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number);
  } catch {
    return [];
  }
}

/** Live (non-zombie) members of a process group. */
export function groupMembers(pgid: number): number[] {
  return procPids().filter((pid) => {
    const st = procStat(pid);
    return st !== undefined && st.pgrp === pgid && st.state !== 'Z';
  });
}

/**
 * Where a run's processes can be: each one carrying its marker descends from the run's first
 * process, so its pid was allocated after that one's, unless the pid counter wrapped since.
 * `forksBefore` is the kernel's task counter (/proc/stat `processes`) read BEFORE the spawn.
 */
export interface RunOrigin {
  pid: number;
  forksBefore: number;
}

/**
 * Pure: the lowest pid a process of the run can have now, or 0 (look at every pid). Since the
 * spawn the pid cursor moved by at most one per task created (forksNow - forksBefore) plus one
 * per pid in use it skipped (at most the live tasks); if that cannot reach pid_max from the run's
 * first pid, nothing wrapped and every later pid is above it.
 */
export function lowestRunPid(origin: RunOrigin, now: { forks: number; liveTasks: number; pidMax: number }): number {
  const maxAdvance = now.forks - origin.forksBefore + now.liveTasks;
  return maxAdvance >= 0 && origin.pid + maxAdvance < now.pidMax ? origin.pid : 0;
}

/** Tasks created since boot (/proc/stat `processes`), or undefined off Linux. */
export function forkCounter(): number | undefined {
  try {
    const m = /^processes (\d+)$/m.exec(readFileSync('/proc/stat', 'latin1'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

let pidMaxCached: number | undefined;

function scanFloor(origin: RunOrigin | undefined): number {
  if (!origin) return 0;
  const forks = forkCounter();
  if (forks === undefined) return 0;
  try {
    // /proc/loadavg: "0.00 0.01 0.05 1/123 4567": 123 = tasks that exist now
    const liveTasks = Number(readFileSync('/proc/loadavg', 'latin1').split(' ')[3]?.split('/')[1]);
    pidMaxCached ??= Number(readFileSync('/proc/sys/kernel/pid_max', 'latin1').trim());
    if (!Number.isFinite(liveTasks) || !Number.isFinite(pidMaxCached)) return 0;
    return lowestRunPid(origin, { forks, liveTasks, pidMax: pidMaxCached });
  } catch {
    return 0;
  }
}

/**
 * Pids of live processes whose environment holds `${RUN_MARKER_VAR}=<runId>` (Linux /proc). With
 * the run's origin, only pids allocated since its spawn are read (a scan of every process's
 * environment cost ~1.5 ms after each step; bench/README.md).
 */
export function pidsWithRunMarker(runId: string, origin?: RunOrigin): number[] {
  const needle = `${RUN_MARKER_VAR}=${runId}`;
  const out: number[] = [];
  for (const { pid, env } of environments(scanFloor(origin))) if (env.includes(needle) && isLive(pid)) out.push(pid);
  return out;
}

/** Other processes (pid ≥ `floor`) with their environment, skipping those gone or not ours to read. */
function* environments(floor = 0): Generator<{ pid: number; env: string[] }> {
  for (const pid of procPids()) {
    if (pid === process.pid || pid < floor) continue;
    let env: string[];
    try {
      env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
    } catch {
      continue; // gone, or not ours to read
    }
    yield { pid, env };
  }
}

const isLive = (pid: number): boolean => procStat(pid)?.state !== 'Z';

/** Every agent process also carries its job's id (runner/agent-step.ts). */
export const JOB_MARKER_VAR = 'ORCH_JOB_ID';

/**
 * Run ids (their ${RUN_MARKER_VAR} values) of live processes whose environment holds exactly
 * `${JOB_MARKER_VAR}=<jobId>`: the runs of a job, whether or not anyone recorded them (Linux /proc).
 */
export function liveRunsOfJob(jobId: string): string[] {
  const jobVar = `${JOB_MARKER_VAR}=${jobId}`;
  const runVar = `${RUN_MARKER_VAR}=`;
  const runs = new Set<string>();
  for (const { pid, env } of environments()) {
    if (!env.includes(jobVar) || !isLive(pid)) continue;
    const run = env.find((e) => e.startsWith(runVar));
    if (run && run.length > runVar.length) runs.add(run.slice(runVar.length));
  }
  return [...runs];
}

function signal(pidOrNegGroup: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pidOrNegGroup, sig);
  } catch {
    // ESRCH: already gone
  }
}

/** Signal a process group and every process carrying the run marker. */
export function signalRun(pgid: number | undefined, runId: string | undefined, sig: NodeJS.Signals, origin?: RunOrigin): void {
  if (pgid && pgid > 1) signal(-pgid, sig);
  if (runId) for (const pid of pidsWithRunMarker(runId, origin)) signal(pid, sig);
}

/** Is anything of this run still alive? */
export function runAlive(pgid: number | undefined, runId: string | undefined, origin?: RunOrigin): boolean {
  if (pgid && pgid > 1) {
    try {
      process.kill(-pgid, 0);
      if (process.platform !== 'linux' || groupMembers(pgid).length > 0) return true;
    } catch {
      // group empty
    }
  }
  return runId ? pidsWithRunMarker(runId, origin).length > 0 : false;
}

/** Does the process group still have a live (non-zombie) member? */
function groupAlive(pgid: number | undefined): boolean {
  if (!pgid || pgid <= 1) return false;
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  return process.platform !== 'linux' || groupMembers(pgid).length > 0;
}

/**
 * TERM, wait up to `graceMs`, then KILL whatever is left. Resolves when nothing is left (or after KILL).
 * The usual case, after an agent exited cleanly, costs one /proc scan: when that scan finds no
 * marked process and the group is empty, nothing of the run is left to wait for. `origin` (the
 * executor's, from its own spawn) narrows the scans to pids allocated since; recovery has none.
 */
export async function killRun(pgid: number | undefined, runId: string | undefined, graceMs: number, origin?: RunOrigin): Promise<void> {
  const marked = runId ? pidsWithRunMarker(runId, origin) : [];
  if (pgid && pgid > 1) signal(-pgid, 'SIGTERM');
  for (const pid of marked) signal(pid, 'SIGTERM');
  if (marked.length === 0 && !groupAlive(pgid)) return;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!runAlive(pgid, runId, origin)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  signalRun(pgid, runId, 'SIGKILL', origin);
  // a KILL is not ignorable; give the kernel a moment to reap
  for (let i = 0; i < 20 && runAlive(pgid, runId, origin); i++) await new Promise((r) => setTimeout(r, 25));
}
