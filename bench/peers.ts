/**
 * The job runners we compare against, installed by the bench itself when missing and never by the
 * product's `npm install`:
 *
 * - BullMQ on a local Redis: apt `redis-server`, npm `bullmq` into bench/.peers (git-ignored);
 * - task-spooler (`tsp`) and nq: apt `task-spooler`, `nq`;
 * - wrk (the HTTP load generator of the ingest bench): apt `wrk`.
 *
 * A peer that cannot be installed (no root, no registry) is skipped and the bench says so.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';
import { benchEnv, run, sleep } from './lib.ts';

export const PEERS_DIR = path.resolve(import.meta.dirname, '.peers');

const APT: Record<string, string> = { 'redis-server': 'redis-server', tsp: 'task-spooler', nq: 'nq', wrk: 'wrk' };
const skipped = new Map<string, string>();
let aptUpdated = false;

export function skippedPeers(): Record<string, string> {
  return Object.fromEntries(skipped);
}

async function which(bin: string): Promise<string | null> {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = path.join(dir, bin);
    if (existsSync(p)) return p;
  }
  return null;
}

/** The path of `bin`, installing its apt package when missing; null (and a note) when impossible. */
export async function ensureBinary(bin: keyof typeof APT | string): Promise<string | null> {
  const found = await which(bin);
  if (found) return found;
  if (skipped.has(bin)) return null;
  const pkg = APT[bin];
  if (!pkg || process.getuid?.() !== 0) {
    skipped.set(bin, pkg ? `not installed and not root: apt-get install ${pkg}` : 'unknown peer');
    return null;
  }
  process.stdout.write(`bench: installing ${pkg} (apt-get)\n`);
  const env = benchEnv({ DEBIAN_FRONTEND: 'noninteractive' });
  const install = (): ReturnType<typeof run> => run('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '-qq', pkg], { env, timeoutMs: 600_000 });
  let r = await install();
  if (r.code !== 0 && !aptUpdated) {
    aptUpdated = true;
    await run('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update', '-qq'], { env, timeoutMs: 600_000 });
    r = await install();
  }
  const now = await which(bin);
  if (!now) skipped.set(bin, `apt-get install ${pkg} failed: ${r.stderr.trim().split('\n').slice(-1)[0] ?? r.code}`);
  return now;
}

export interface BullMQ {
  Queue: new (name: string, opts: { connection: { host: string; port: number } }) => BullQueue;
  /** Where bullmq is installed (bench/.peers): the worker process loads it from there. */
  peersDir: string;
}

export interface BullJob {
  id?: string;
  isCompleted(): Promise<boolean>;
  isFailed(): Promise<boolean>;
}

export interface BullQueue {
  add(name: string, data: unknown): Promise<BullJob>;
  addBulk(jobs: Array<{ name: string; data: unknown }>): Promise<BullJob[]>;
  getJobCounts(...types: string[]): Promise<Record<string, number>>;
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
}

/** bullmq (and ioredis, which it loads) from bench/.peers (npm-installed there on first use), or null. */
export async function ensureBullmq(): Promise<BullMQ | null> {
  const entry = path.join(PEERS_DIR, 'node_modules', 'bullmq', 'package.json');
  const client = path.join(PEERS_DIR, 'node_modules', 'ioredis', 'package.json');
  if (!existsSync(entry) || !existsSync(client)) {
    if (skipped.has('bullmq')) return null;
    mkdirSync(PEERS_DIR, { recursive: true });
    if (!existsSync(path.join(PEERS_DIR, 'package.json'))) writeFileSync(path.join(PEERS_DIR, 'package.json'), JSON.stringify({ name: 'bench-peers', private: true, description: 'peers of `npm run bench` (never a dependency of the product)' }, null, 2) + '\n');
    process.stdout.write('bench: installing bullmq and ioredis (its Redis client) into bench/.peers (npm)\n');
    const r = await run('npm', ['install', '--no-audit', '--no-fund', '--prefix', PEERS_DIR, 'bullmq', 'ioredis'], { timeoutMs: 600_000 });
    if (r.code !== 0 || !existsSync(entry) || !existsSync(client)) {
      skipped.set('bullmq', `npm install bullmq failed: ${r.stderr.trim().split('\n').slice(-1)[0] ?? r.code}`);
      return null;
    }
  }
  // the CommonJS build: bullmq's ESM build cannot load ioredis from connection options
  const mod = createRequire(path.join(PEERS_DIR, 'package.json'))('bullmq') as { Queue: BullMQ['Queue'] };
  return { Queue: mod.Queue, peersDir: PEERS_DIR };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = addr && typeof addr === 'object' ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface Redis {
  port: number;
  stop(): Promise<void>;
}

/**
 * A private redis-server on 127.0.0.1 and a free port, stopped by stop(). `durable`: AOF with
 * `appendfsync always` (every write fsynced, like our queue); otherwise Redis's defaults as BullMQ
 * users run it (no fsync per write).
 */
export async function startRedis(dir: string, opts: { durable?: boolean } = {}): Promise<Redis | null> {
  const bin = await ensureBinary('redis-server');
  if (!bin) return null;
  const port = await freePort();
  mkdirSync(dir, { recursive: true });
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no', '--protected-mode', 'yes', '--loglevel', 'warning',
    ...(opts.durable ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'])];
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'ignore', 'inherit'], env: benchEnv() });
  let exited = false;
  child.once('exit', () => (exited = true));
  // ready when it answers a TCP connection
  for (let i = 0; i < 200 && !exited; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.end();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) break;
    await sleep(25);
  }
  if (exited) {
    skipped.set('redis-server', 'redis-server exited at start');
    return null;
  }
  return {
    port,
    stop: () =>
      new Promise((resolve) => {
        if (exited) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}
