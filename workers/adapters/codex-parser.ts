/**
 * Streaming parser for `codex exec --json` JSONL: `thread.started {thread_id}`, `turn.started`,
 * `item.*` (`agent_message`, `command_execution` with exit_code, `error`), `turn.completed {usage}`,
 * `turn.failed {error}`. Codex reports tokens only (no USD). A run can exit 0 although its shell
 * commands failed: if a command failed and the agent never said anything, that is tool_failed.
 */
import type { AgentError, AgentOutcome, OutputParser, ProcessExit } from '../types.ts';
import { HeadText, TailText, capHead, ERROR_MESSAGE_CAP } from './bounded-text.ts';
import { describeError } from './classify.ts';
import { at, count, num, obj, parseJsonObject, str, type JsonObject } from './json-line.ts';
import { clock, decideOutcome, type ParserOptions } from './outcome.ts';

export function createCodexParser(options?: ParserOptions): OutputParser {
  const now = clock(options);
  const stderr = new TailText();
  let threadId: string | null = null;
  let lastMessage: HeadText | null = null;
  let failedCommand: string | null = null;
  const failedCommands: string[] = [];
  let turnFailure: string | null = null;
  let lastErrorEvent: string | null = null;
  let completed = false;
  const usage = { tokens_in: 0, tokens_out: 0, tokens_cached: 0, turns: 0 };

  function onItem(item: JsonObject): void {
    if (item.type === 'agent_message') {
      lastMessage = new HeadText();
      lastMessage.append(str(item.text) ?? '');
    } else if (item.type === 'command_execution') {
      const code = num(item.exit_code);
      if (code !== null && code !== 0) {
        failedCommand = describeCommand(item, code);
        if (failedCommands.length < 3) failedCommands.push(capHead(failedCommand, 300));
      }
    }
  }

  return {
    onLine(line, stream) {
      if (stream === 'stderr') return stderr.push(line);
      const ev = parseJsonObject(line);
      if (!ev) return;
      switch (ev.type) {
        case 'thread.started':
          threadId = str(ev.thread_id) ?? threadId;
          break;
        case 'turn.started':
          usage.turns += 1;
          break;
        case 'item.completed': {
          const item = obj(ev.item);
          if (item) onItem(item);
          break;
        }
        case 'turn.completed':
          completed = true;
          // Codex's input_tokens already include cached_input_tokens (OpenAI convention).
          usage.tokens_in += count(ev.usage, 'input_tokens');
          usage.tokens_cached += count(ev.usage, 'cached_input_tokens');
          usage.tokens_out += count(ev.usage, 'output_tokens');
          break;
        case 'turn.failed':
          turnFailure = str(at(ev, 'error', 'message')) ?? 'turn failed';
          break;
        case 'error':
          lastErrorEvent = str(ev.message) ?? lastErrorEvent;
          break;
      }
    },
    finish(exit: ProcessExit): AgentOutcome {
      const t = now();
      const summary = lastMessage?.text ?? '';
      let error: AgentError | null = null;
      if (turnFailure !== null) error = describeError(turnFailure, null, 'tool_failed', t);
      else if (exit.signal === null && exit.exitCode !== 0 && lastErrorEvent !== null) error = describeError(lastErrorEvent, null, 'failed', t);
      else if (exit.signal === null && exit.exitCode === 0 && lastMessage === null && failedCommand !== null) {
        error = { code: 'tool_failed', message: capHead(failedCommand, ERROR_MESSAGE_CAP) };
      }
      const outcome = decideOutcome(
        { summary, sessionId: threadId, usage: { ...usage, cost_usd: null, model: null }, error, completed, stderrTail: stderr.text },
        exit,
        t,
      );
      return failedCommands.length > 0 ? { ...outcome, warnings: failedCommands } : outcome;
    },
  };
}

function describeCommand(item: JsonObject, code: number): string {
  const command = str(item.command) ?? 'command';
  const output = (str(item.aggregated_output) ?? '').trim().slice(-500);
  return `command failed with exit code ${code}: ${command}${output ? `\n${output}` : ''}`;
}
