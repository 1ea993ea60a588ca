/**
 * Runs the real simulator program (workers/simulator/sim-agent.mjs) the way the runner will: the
 * registry's simulatedInvocation, detached in its own process group, stdin closed, stdout/stderr
 * streamed line by line into the adapter's parser. killSims() kills every group still alive.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Simulate, Step } from '../../contracts/index.ts';
import { getAdapter, simSpecJson, simulatedInvocation, type AdapterAgentName } from '../../workers/registry.ts';
import type { AgentOutcome, ProcessExit } from '../../workers/types.ts';
import { makeCtx } from './workers-context.ts';

const live = new Set<number>();
const dirs: string[] = [];

export function tempWorkspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'workers-sim-'));
  dirs.push(dir);
  return dir;
}

export interface SimOptions {
  agent: AdapterAgentName;
  simulate?: Simulate;
  step?: Partial<Step>;
  prompt?: string;
  attempt?: number;
  resumeSessionId?: string | null;
  workspace?: string;
  /** Resolve when the simulator itself exits, without waiting for its stdout to close. */
  untilExit?: boolean;
}

export interface SimRun {
  outcome: AgentOutcome;
  exit: ProcessExit;
  pid: number;
  workspace: string;
  stdoutBytes: number;
  /** The first 500 stdout lines (for assertions on small runs). */
  lines: string[];
  stderr: string;
}

/** Start a simulated run; `done` settles with the parsed outcome. */
export function startSim(opts: SimOptions): { pid: number; done: Promise<SimRun> } {
  const workspace = opts.workspace ?? tempWorkspace();
  const adapter = getAdapter(opts.agent);
  const ctx = makeCtx({
    step: { step_id: 'step_a', agent: opts.agent, simulate: opts.simulate ?? {}, ...opts.step },
    prompt: opts.prompt ?? 'Add a greeting function to the project.',
    attempt: opts.attempt ?? 1,
    resumeSessionId: opts.resumeSessionId ?? null,
    workspaceDir: workspace,
    agentHome: join(workspace, '.home'),
  });
  const inv = simulatedInvocation(adapter, ctx, simSpecJson(ctx));
  const child = spawn(inv.file, inv.args, {
    cwd: workspace,
    env: { ...process.env, ...inv.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pid = child.pid ?? -1;
  live.add(pid);
  const parser = adapter.createParser();
  const lines: string[] = [];
  let stdoutBytes = 0;
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdoutBytes += b.length));
  createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => {
    if (lines.length < 500) lines.push(line);
    parser.onLine(line, 'stdout');
  });
  createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (line) => {
    stderr += line + '\n';
    parser.onLine(line, 'stderr');
  });
  const done = new Promise<SimRun>((resolve, reject) => {
    child.on('error', reject);
    child.on(opts.untilExit ? 'exit' : 'close', (code, signal) => {
      if (!opts.untilExit) live.delete(pid);
      const exit: ProcessExit = { exitCode: code, signal };
      // Let readline deliver what is already buffered before finishing the parser.
      setImmediate(() => resolve({ outcome: parser.finish(exit), exit, pid, workspace, stdoutBytes, lines, stderr }));
    });
  });
  return { pid, done };
}

export function runSim(opts: SimOptions): Promise<SimRun> {
  return startSim(opts).done;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILL every simulator process group still alive (grandchildren included), remove temp dirs. */
export function killSims(): void {
  for (const pid of live) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
