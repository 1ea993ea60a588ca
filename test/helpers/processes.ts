/** Real `orchestrator` processes for tests, killed for sure in afterEach. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';

export const BIN = path.resolve(__dirname, '../../bin/orchestrator.js');
const live = new Set<ChildProcess>();

export function spawnOrchestrator(args: string[], env: Record<string, string>): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  live.add(child);
  child.on('exit', () => live.delete(child));
  return Object.assign(child, { output: () => out });
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

export async function killAll(): Promise<void> {
  for (const c of live) c.kill('SIGKILL');
  await Promise.all([...live].map(exited));
}

/**
 * Live, non-zombie processes whose environment has ORCH_JOB_ID starting with `prefix`; with
 * `under` (a test's home), only those working in it (cwd, or HOME, below it): two test runs on
 * one machine use the same fixed job ids, and must not see each other's agents.
 */
export function agentProcessesOf(prefix: string, under?: string): number[] {
  const out: number[] = [];
  // /proc/<pid>/cwd is a resolved path; HOME is whatever the runner set
  const homes = under ? [realpathSync(under), under] : [];
  const inHome = (p: string): boolean => homes.some((h) => p.startsWith(h));
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const env = readFileSync(`/proc/${e}/environ`, 'latin1').split('\0');
      if (!env.some((v) => v.startsWith(`ORCH_JOB_ID=${prefix}`))) continue;
      if (under && !inHome(readlinkSync(`/proc/${e}/cwd`)) && !env.some((v) => v.startsWith('HOME=') && inHome(v.slice(5)))) continue;
      out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

/** A TCP server on 127.0.0.1 (ephemeral port) that counts the connections it gets and closes each at once. */
export interface ConnectionCounter {
  readonly port: number;
  readonly count: number;
  reset(): void;
  close(): Promise<void>;
}

export async function connectionCounter(): Promise<ConnectionCounter> {
  let count = 0;
  const server = createServer((s) => {
    count++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    get count() {
      return count;
    },
    reset: () => {
      count = 0;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * A process as a failure message can show it: state, parent, age, command line and its run
 * markers (so that a leftover agent says which job, run and attempt it belongs to).
 */
export function describeProcess(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[19]); // starttime (field 22), clock ticks after boot
    const uptime = Number(readFileSync('/proc/uptime', 'latin1').split(' ')[0]);
    const age = Number.isFinite(ticks) ? `${(uptime - ticks / 100).toFixed(2)} s old` : 'age ?';
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter(Boolean).join(' ');
    const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').filter((v) => v.startsWith('ORCH_'));
    return `pid ${pid} state ${f[0]} ppid ${f[1]} ${age} in ${readlinkSync(`/proc/${pid}/cwd`)}: ${cmd.slice(0, 200)} [${env.join(' ')}]`;
  } catch {
    return `pid ${pid} (gone)`;
  }
}
