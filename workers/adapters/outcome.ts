/**
 * The single decision from "what a parser gathered" + "how the process ended" to an AgentOutcome,
 * shared by every adapter so the precedence is the same for all five CLIs:
 *   1. an error the CLI reported itself (is_error, turn.failed, error event) → failed, that error;
 *   2. killed by a signal → crash;  3. non-zero exit → crash, unless stderr names a better class;
 *   4. exit 0 without the CLI's own end-of-run event → failed (the run is not known to be done);
 *   5. final message starting with NEEDS_HUMAN_MARKER → needs_human;  6. success.
 */
import { NEEDS_HUMAN_MARKER, type AgentError, type AgentOutcome, type AgentUsage, type ProcessExit } from '../types.ts';
import { capHead } from './bounded-text.ts';
import { describeError } from './classify.ts';

/** Options every adapter's createParser accepts; the clock resolves "try again in 30 seconds". */
export interface ParserOptions {
  now?: () => number;
}

export interface ParsedRun {
  summary: string;
  sessionId: string | null;
  usage: AgentUsage;
  /** An error the CLI itself reported. */
  error: AgentError | null;
  /** The CLI printed its own end-of-run event (claude `result`, codex `turn.completed`...). */
  completed: boolean;
  /** Last lines of stderr, to classify a bare non-zero exit. */
  stderrTail: string;
}

export function decideOutcome(run: ParsedRun, exit: ProcessExit, now: number): AgentOutcome {
  const base = { summary: capHead(run.summary), session_id: run.sessionId, usage: run.usage };
  if (run.error) return { ...base, status: 'failed', error: run.error };
  if (exit.signal !== null) {
    return { ...base, status: 'failed', error: { code: 'crash', message: withTail(`killed by ${exit.signal}`, run.stderrTail) } };
  }
  if (exit.exitCode !== 0) {
    const head = exit.exitCode === null ? 'exited without an exit code' : `exited with code ${exit.exitCode}`;
    return { ...base, status: 'failed', error: describeError(withTail(head, run.stderrTail), null, 'crash', now) };
  }
  if (!run.completed) {
    return { ...base, status: 'failed', error: { code: 'failed', message: withTail('exited 0 without a final result event', run.stderrTail) } };
  }
  if (run.summary.trimStart().startsWith(NEEDS_HUMAN_MARKER)) return { ...base, status: 'needs_human', error: null };
  return { ...base, status: 'success', error: null };
}

function withTail(head: string, stderrTail: string): string {
  const tail = stderrTail.trim();
  return tail ? `${head}: ${tail.slice(-1500)}` : head;
}

export function clock(options?: ParserOptions): () => number {
  return options?.now ?? Date.now;
}
