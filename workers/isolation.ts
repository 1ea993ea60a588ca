/**
 * Wraps a step's argv in its isolation, per the effective policy: a container (preset with an
 * image), else bubblewrap (policy.sandbox, or network "deny"), else nothing. Network "deny" fails
 * closed: in real mode the agent's model endpoint must be loopback and is relayed into the
 * sandbox's empty network namespace (workers/sandbox/relay.ts); otherwise the step does not run.
 * Returns what to execute and a cleanup, or the reason the step must not run (E_PREFLIGHT).
 */
import { execFile } from 'node:child_process';
import { chown, existsSync, lstatSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bwrapArgs } from './sandbox/bwrap.ts';
import { loopbackEndpoint, type Endpoint } from './sandbox/endpoint.ts';
import { probeSandbox } from './sandbox/probe.ts';
import { relayWrap, startRelay, type Relay } from './sandbox/relay.ts';
import { containerArgs } from './container/container-args.ts';

export interface IsolationRequest {
  file: string;
  args: string[];
  env: Record<string, string>;
  workDir: string;
  agentHome: string;
  tmpDir: string;
  runId: string;
  sandbox: boolean;
  network: 'allow' | 'deny';
  /** Real agent step: its model endpoint URL (null = vendor default) and the variable naming it. */
  endpoint: { url: string | null; variable: string } | null;
  hide: string[];
  container: { runtime: 'podman' | 'docker' | null; image: string; cpu?: number; memory?: string; user: string; readOnly: string[] } | null;
}

export interface Isolated {
  file: string;
  args: string[];
  env: Record<string, string>;
  /** How the step was isolated, for the log. */
  mode: 'none' | 'bwrap' | 'container';
  notes: string[];
  cleanup(): Promise<void>;
}

export type IsolationResult = { ok: true; run: Isolated } | { ok: false; message: string };

const noop = async (): Promise<void> => undefined;

/** chown -R without following symlinks (container mode as root: the non-root user must write the workspace). */
function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  const walk = async (p: string): Promise<void> => {
    await promisify(chown)(p, uid, gid).catch(() => undefined);
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (st?.isDirectory()) for (const e of readdirSync(p)) await walk(path.join(p, e));
  };
  return walk(dir);
}

export async function isolate(req: IsolationRequest): Promise<IsolationResult> {
  const notes: string[] = [];
  let argv = [req.file, ...req.args];
  let relay: Relay | null = null;
  let target: Endpoint | null = null;
  const isolated = req.container !== null || req.sandbox || req.network === 'deny';
  if (!isolated) return { ok: true, run: { file: req.file, args: req.args, env: req.env, mode: 'none', notes, cleanup: noop } };

  if (req.network === 'deny' && req.endpoint) {
    const v = loopbackEndpoint(req.endpoint.url, req.endpoint.variable);
    if (!v.ok) return { ok: false, message: v.message };
    target = v.endpoint;
  }

  if (req.container) {
    const c = req.container;
    if (!c.runtime) return { ok: false, message: `worker preset runs in image ${c.image}, but CONTAINER_RUNTIME is not set (podman or docker); the step did not run` };
    if (argv[0] === process.execPath) argv = ['node', ...argv.slice(1)];
    const name = `orch-${req.runId.replace(/[^A-Za-z0-9_.-]/g, '-')}`.slice(0, 120);
    const node = 'node';
    if (target) {
      relay = await startRelay(path.join(req.tmpDir, 'relay.sock'), target);
      argv = relayWrap(node, relay.socketPath, target, argv);
      notes.push(`network denied (--network none); model endpoint ${target.host}:${target.port} relayed through ${relay.socketPath}`);
    }
    const [uid, gid] = c.user.split(':').map(Number) as [number, number];
    const asRoot = process.getuid?.() === 0;
    if (asRoot) for (const d of [req.workDir, req.agentHome, req.tmpDir]) await chownTree(d, uid, gid);
    const args = containerArgs({ runtime: c.runtime, name, image: c.image, workDir: req.workDir, agentHome: req.agentHome, tmpDir: req.tmpDir, readOnly: c.readOnly, network: req.network, ...(c.cpu !== undefined ? { cpu: c.cpu } : {}), ...(c.memory !== undefined ? { memory: c.memory } : {}), user: c.user, envNames: Object.keys(req.env) }, argv);
    notes.push(`container ${c.runtime} ${c.image} as ${c.user}${c.cpu ? `, cpus ${c.cpu}` : ''}${c.memory ? `, memory ${c.memory}` : ''}${req.network === 'deny' ? ', --network none' : ''}`);
    return {
      ok: true,
      run: {
        file: c.runtime,
        args,
        env: req.env,
        mode: 'container',
        notes,
        cleanup: async () => {
          await relay?.close();
          const rmArgs = c.runtime === 'podman' ? ['--runtime', 'runc', '--events-backend', 'none', 'rm', '-f', '-i', name] : ['rm', '-f', name];
          await new Promise<void>((resolve) => execFile(c.runtime as string, rmArgs, { timeout: 30_000 }, () => resolve()));
          if (asRoot) for (const d of [req.workDir, req.agentHome, req.tmpDir]) await chownTree(d, 0, 0);
        },
      },
    };
  }

  const probe = await probeSandbox();
  if (!probe.ok) {
    const why = req.sandbox ? 'policy.sandbox is set' : 'policy.network=deny needs a network namespace';
    return { ok: false, message: `${why}, but the sandbox is not available on this machine: ${probe.reason}; the step did not run` };
  }
  if (target) {
    relay = await startRelay(path.join(req.tmpDir, 'relay.sock'), target);
    argv = relayWrap(process.execPath, relay.socketPath, target, argv);
    notes.push(`network denied (own network namespace); model endpoint ${target.host}:${target.port} relayed`);
  } else if (req.network === 'deny') notes.push('network denied (own network namespace, no relay)');
  const hide = [...new Set(req.hide)].filter((d) => existsSync(d));
  notes.push(`bubblewrap: writable ${req.workDir}, ${req.agentHome}, ${req.tmpDir}; hidden ${hide.join(', ') || 'nothing'}`);
  return {
    ok: true,
    run: {
      file: 'bwrap',
      args: bwrapArgs({ workDir: req.workDir, agentHome: req.agentHome, tmpDir: req.tmpDir, hide, readable: readableUnderTmp(req.env.PATH), network: req.network }, argv),
      env: { ...req.env, HOME: req.agentHome },
      mode: 'bwrap',
      notes,
      cleanup: async () => {
        await relay?.close();
      },
    },
  };
}

/** The project root holding this module (the directory with package.json above it). */
function installRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/**
 * What the sandbox's private /tmp would hide but the agent needs: the install root (simulator,
 * node_modules), node itself, and every PATH entry (a `.../node_modules/.bin` entry brings its
 * whole project: the bin links point into node_modules). Only directories under /tmp.
 */
export function readableUnderTmp(pathVar: string | undefined): string[] {
  const underTmp = (d: string): boolean => d === '/tmp' || d.startsWith('/tmp/');
  const dirs = [installRoot(), path.dirname(process.execPath)];
  for (const entry of (pathVar ?? '').split(':')) {
    if (!path.isAbsolute(entry)) continue;
    const m = /^(.*)\/node_modules\/\.bin$/.exec(entry);
    dirs.push(m?.[1] ? m[1] : entry);
  }
  return [...new Set(dirs.filter((d) => underTmp(d) && d !== '/tmp' && existsSync(d)))];
}

