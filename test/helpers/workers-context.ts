/**
 * Test helpers for workers/: an InvocationContext built from a partial step (defaults filled by the
 * real normalizeStep), and a way to feed recorded lines through a parser.
 */
import { normalizeStep } from '../../contracts/normalize.ts';
import type { Step } from '../../contracts/index.ts';
import type { AgentOutcome, InvocationContext, OutputParser, ProcessExit } from '../../workers/types.ts';

export interface CtxOptions {
  step?: Partial<Step>;
  prompt?: string;
  attempt?: number;
  resumeSessionId?: string | null;
  workspaceDir?: string;
  agentHome?: string;
}

export function makeCtx(opts: CtxOptions = {}): InvocationContext {
  const step = normalizeStep({ step_id: 's1', agent: 'claude', ...opts.step }, 'the goal');
  return {
    jobId: 'job-0001',
    step,
    prompt: opts.prompt ?? step.prompt,
    workspaceDir: opts.workspaceDir ?? '/tmp/ws/work',
    agentHome: opts.agentHome ?? '/tmp/ws/home',
    attempt: opts.attempt ?? 1,
    resumeSessionId: opts.resumeSessionId ?? null,
  };
}

export const EXIT_OK: ProcessExit = { exitCode: 0, signal: null };
export const exitCode = (code: number): ProcessExit => ({ exitCode: code, signal: null });
export const killedBy = (signal: string): ProcessExit => ({ exitCode: null, signal });

/** Stringify objects into JSON lines; strings pass through as raw (noise) lines. */
export function jsonl(...events: unknown[]): string[] {
  return events.map((e) => (typeof e === 'string' ? e : JSON.stringify(e)));
}

export function feed(parser: OutputParser, stdout: string[], exit: ProcessExit, stderr: string[] = []): AgentOutcome {
  for (const line of stdout) parser.onLine(line, 'stdout');
  for (const line of stderr) parser.onLine(line, 'stderr');
  return parser.finish(exit);
}
