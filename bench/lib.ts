/**
 * Small helpers shared by the bench scripts: percentiles, tables, temp homes, results files, the
 * environment of the processes a bench starts, the compiled runner, process RSS, machine load.
 *
 * Every process a bench starts gets `benchEnv()`: the caller's environment WITHOUT NODE_OPTIONS and
 * NODE_EXTRA_CA_CERTS (it adds ~50 ms to every node start on this machine and has nothing to do
 * with what is measured).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { builtAfterSources } from '../bin/freshness.js';

export const ROOT = path.resolve(import.meta.dirname, '..');
export const BIN = path.join(ROOT, 'bin', 'orchestrator.js');
/**
 * The bench's own compiled copy of the product (bench/.dist, git-ignored), built by ensureDist()
 * with the same tsconfig as `npm run build`: what bin/orchestrator.js runs from dist/ when that is
 * fresh, kept apart so a bench neither depends on nor rewrites the shared dist/.
 */
export const BUILD_DIR = path.join(ROOT, 'bench', '.dist');
export const DIST_MAIN = path.join(BUILD_DIR, 'cli', 'main.js');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export interface Stats {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function stats(values: number[]): Stats {
  const n = values.length;
  return {
    n,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: n ? Math.max(...values) : NaN,
    mean: n ? values.reduce((a, b) => a + b, 0) / n : NaN,
  };
}

export function table(rows: Array<Record<string, string | number>>): string {
  if (rows.length === 0) return '';
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const w = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (vals: string[]): string => vals.map((v, i) => v.padEnd(w[i]!)).join('  ').trimEnd();
  return [line(cols), line(w.map((n) => '-'.repeat(n))), ...rows.map((r) => line(cols.map((c) => String(r[c] ?? ''))))].join('\n');
}

export async function benchHome(name: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `orch-bench-${name}-`));
}

// ---------------------------------------------------------------- the disk between parts

/**
 * A bench's temp directories are removed when the bench process exits, not between parts or
 * contenders: on this machine's ext4 (mounted without a journal) creating an inode in the 30-60 s
 * after many deletions costs 10-40 times more (the allocator skips recently deleted inodes: perf
 * shows find_inode_bit -> recently_deleted), so removing one contender's 10,000 files would slow
 * whichever writes files next. inodeProbeMs() shows the state the disk is in.
 */
const leftovers: string[] = [];
export function discardLater(dir: string): void {
  leftovers.push(dir);
}
process.once('exit', () => {
  for (const dir of leftovers.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * What creating a small file in a fresh directory costs right now (median ms of 60, in 6 new
 * directories; the files stay until exit): ~0.02-0.06 on a settled disk here, 0.3-0.8 after a
 * test run or a bench's clean-up deleted many files.
 */
export function inodeProbeMs(): number {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'orch-bench-probe-'));
  discardLater(dir);
  const times: number[] = [];
  for (let d = 0; d < 6; d++) {
    mkdirSync(path.join(dir, String(d)));
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      closeSync(openSync(path.join(dir, String(d), String(i)), 'wx'));
      times.push(performance.now() - t);
    }
  }
  return Math.round(percentile(times, 50) * 1000) / 1000;
}

/** Load and disk state, for table headers and results: "load 0.42 0.61 0.70, inode 0.04 ms". */
export function machineState(): string {
  return `load ${loadavg()}, inode ${inodeProbeMs().toFixed(2)} ms`;
}

/** `/proc/loadavg`'s 1, 5 and 15 minute averages, e.g. "0.42 0.61 0.70". */
export function loadavg(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return os.loadavg().map((n) => n.toFixed(2)).join(' ');
  }
}

export function writeResults(name: string, data: unknown): string {
  const dir = path.resolve(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), node: process.version, cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? null, loadavg_at_end: loadavg(), env_note: ENV_NOTE, ...(data as object) }, null, 2) + '\n');
  return file;
}

export const fmt = (n: number | undefined, digits = 1): string => (n !== undefined && Number.isFinite(n) ? n.toFixed(digits) : '—');

export const ENV_NOTE = 'NODE_EXTRA_CA_CERTS and NODE_OPTIONS are unset for every process the bench starts';

/** The environment of every process a bench starts (see the file comment). */
export function benchEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.NODE_OPTIONS;
  return { ...env, ...extra };
}

export function argNum(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i > 0 ? Number(process.argv[i + 1]) : def;
  return Number.isFinite(v) && v >= 0 ? v : def;
}

export const quickMode = (): boolean => process.argv.includes('--quick');

// ---------------------------------------------------------------- the compiled product

/**
 * Compile the sources into bench/.dist unless that is newer than every source (tsc with
 * tsconfig.build.json, then the assets scripts/build.mjs copies). Type errors do not stop the emit
 * (the bench measures what the sources do); they are reported.
 */
export function ensureDist(): void {
  const stamp = path.join(BUILD_DIR, '.build-stamp');
  if (existsSync(DIST_MAIN) && builtAfterSources(ROOT, stamp)) return;
  process.stdout.write('bench: compiling the product into bench/.dist (tsc -p tsconfig.build.json)\n');
  const started = Date.now();
  rmSync(BUILD_DIR, { recursive: true, force: true });
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', BUILD_DIR], { stdio: ['ignore', 'pipe', 'pipe'], env: benchEnv() });
  } catch (err) {
    const out = String((err as { stdout?: Buffer }).stdout ?? '');
    if (!existsSync(DIST_MAIN)) throw new Error(`bench: compiling failed:\n${out}`);
    process.stdout.write(`bench: warning: tsc reported type errors (emitted anyway):\n${out.split('\n').slice(0, 5).join('\n')}\n`);
  }
  for (const f of readdirSync(path.join(ROOT, 'contracts'))) {
    if (f.endsWith('.schema.json')) cpSync(path.join(ROOT, 'contracts', f), path.join(BUILD_DIR, 'contracts', f));
  }
  for (const dir of ['workers/simulator', 'workers/presets', 'workers/skills']) {
    if (existsSync(path.join(ROOT, dir))) cpSync(path.join(ROOT, dir), path.join(BUILD_DIR, dir), { recursive: true });
  }
  writeFileSync(stamp, new Date(started).toISOString() + '\n');
  utimesSync(stamp, new Date(started), new Date(started));
}

// ---------------------------------------------------------------- processes

/**
 * CPU time (user + system, ms) a process has used so far, all its threads, and its main thread
 * alone (Linux /proc; undefined elsewhere or once it is gone). Steadier than wall-clock rates on
 * a shared host: the main thread's CPU per request is what bounds a Node server.
 */
export function procCpuMs(pid: number): { total: number; main: number } | undefined {
  const ticks = (file: string): number => {
    const f = readFileSync(file, 'latin1');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]); // utime, stime (fields 14, 15)
  };
  try {
    return { total: ticks(`/proc/${pid}/stat`) * 10, main: ticks(`/proc/${pid}/task/${pid}/stat`) * 10 };
  } catch {
    return undefined;
  }
}

/** Resident set (VmRSS) and its peak (VmHWM) of a live process, in MB. */
export function procMem(pid: number): { rssMb: number; hwmMb: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
  } catch {
    return undefined;
  }
}

export interface RunnerProc {
  child: ChildProcess;
  pid: number;
  /** Highest VmHWM seen (sampled every 100 ms and at stop). */
  peakRssMb(): number;
  rssMb(): number;
  stop(): Promise<void>;
}

/**
 * Start `orchestrator runner` from dist/ (call ensureDist() first) and wait until it has written
 * its heartbeat, i.e. it is up and scanning.
 */
export async function startRunner(home: string, env: Record<string, string>, opts: { waitReady?: boolean } = {}): Promise<RunnerProc> {
  const child = spawn(process.execPath, [DIST_MAIN, 'runner'], { cwd: home, env: benchEnv({ ORCHESTRATOR_HOME: home, LOG_LEVEL: 'warn', ...env }), stdio: ['ignore', 'ignore', 'inherit'] });
  const pid = child.pid ?? 0;
  let peak = 0;
  const sample = (): void => {
    const m = procMem(pid);
    if (m) peak = Math.max(peak, m.hwmMb);
  };
  const timer = setInterval(sample, 100);
  let exited = false;
  child.once('exit', () => {
    exited = true;
    clearInterval(timer);
  });
  if (opts.waitReady ?? true) {
    const runners = path.join(env.QUEUE_ROOT ?? path.join(home, 'var', 'queue'), 'runners');
    const deadline = Date.now() + 60_000;
    while (!exited && Date.now() < deadline) {
      try {
        if (readdirSync(runners).some((n) => n.endsWith('.json'))) break;
      } catch {
        // not created yet
      }
      await sleep(10);
    }
  }
  return {
    child,
    pid,
    peakRssMb: () => {
      sample();
      return peak;
    },
    rssMb: () => procMem(pid)?.rssMb ?? NaN,
    stop: () =>
      new Promise((resolve) => {
        sample();
        clearInterval(timer);
        if (exited) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
      }),
  };
}

/** Run a program to completion; never throws (exit code -1 when it could not start). */
export function run(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(file, args, { env: opts.env ?? benchEnv(), cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: stderr + String(err), ms: performance.now() - t0 });
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

/** Wall clock in ms with sub-ms resolution (comparable with `date +%s%N` / 1e6 in another process). */
export const wallMs = (): number => performance.timeOrigin + performance.now();

/** Lines `date +%s%N` appended to a file, as wall-clock ms. */
export function readStamps(file: string): number[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => /^\d{16,}$/.test(l.trim())).map((l) => Number(BigInt(l.trim()) / 1000n) / 1000);
}

/** Count of lines in a file (0 when missing). */
export function lineCount(file: string): number {
  try {
    const t = readFileSync(file, 'utf8');
    let n = 0;
    for (let i = 0; i < t.length; i++) if (t.charCodeAt(i) === 10) n++;
    return n;
  } catch {
    return 0;
  }
}

/** A verdict cell: "✔" when `ok`, else "✘". */
export const verdict = (ok: boolean | undefined): string => (ok === undefined ? '—' : ok ? '✔ met' : '✘ missed');
