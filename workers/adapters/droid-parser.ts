/**
 * Streaming parser for `droid exec -o stream-json` (and the single object of `-o json`):
 * `system/init` (session_id, model), `message`, `tool_call`, `tool_result`, and the closing
 * `completion {finalText, numTurns, usage}` — or `{type: "result", subtype, is_error, result,
 * num_turns, usage}` in json mode. Droid reports tokens only, no USD.
 */
import type { AgentError, AgentOutcome, OutputParser, ProcessExit } from '../types.ts';
import { HeadText, TailText } from './bounded-text.ts';
import { describeError } from './classify.ts';
import { at, count, num, parseJsonObject, str, type JsonObject } from './json-line.ts';
import { clock, decideOutcome, type ParserOptions } from './outcome.ts';

export function createDroidParser(options?: ParserOptions): OutputParser {
  const now = clock(options);
  const stderr = new TailText();
  let sessionId: string | null = null;
  let model: string | null = null;
  let lastAssistant = new HeadText();
  let finalText: string | null = null;
  let failure: { message: string; status: number | null } | null = null;
  let completed = false;
  const usage = { tokens_in: 0, tokens_out: 0, tokens_cached: 0, turns: 0 };

  function onEnd(ev: JsonObject, text: string | null, turns: unknown): void {
    completed = true;
    finalText = text;
    usage.turns = num(turns) ?? usage.turns;
    const u = ev.usage;
    const cacheRead = count(u, 'cache_read_input_tokens', 'cacheReadInputTokens', 'cached_tokens');
    // Anthropic-style counts: input excludes cache reads/writes; tokens_in counts every prompt token.
    usage.tokens_in = count(u, 'input_tokens', 'inputTokens') + count(u, 'cache_creation_input_tokens', 'cacheCreationInputTokens') + cacheRead;
    usage.tokens_out = count(u, 'output_tokens', 'outputTokens');
    usage.tokens_cached = cacheRead;
  }

  return {
    onLine(line, stream) {
      if (stream === 'stderr') return stderr.push(line);
      const ev = parseJsonObject(line);
      if (!ev) return;
      sessionId = str(ev.session_id) ?? str(ev.sessionId) ?? sessionId;
      if (ev.type === 'system' || ev.type === 'completion' || ev.type === 'result') model = str(ev.model) ?? model;
      if (ev.type === 'message' && ev.role === 'assistant') {
        const text = str(ev.text) ?? str(ev.content);
        if (text !== null) {
          lastAssistant = new HeadText();
          lastAssistant.append(text);
        }
      } else if (ev.type === 'completion') onEnd(ev, str(ev.finalText), ev.numTurns);
      else if (ev.type === 'result') {
        onEnd(ev, str(ev.result), ev.num_turns);
        if (ev.is_error === true || ev.subtype === 'failure') failure = { message: str(ev.result) ?? 'droid reported a failure', status: null };
      } else if (ev.type === 'error') {
        // droid prints the cause (source agent_loop: "401 invalid x-api-key...") and then a generic
        // "Exec failed" (source cli): keep both, cause first
        const message = str(ev.message) ?? str(at(ev, 'error', 'message')) ?? 'droid reported an error';
        const status = num(ev.status) ?? num(ev.statusCode) ?? (/^([45]\d\d)\s/.exec(message) ? Number(message.slice(0, 3)) : null);
        failure = failure && failure.message.length < 2000 ? { message: `${failure.message}; ${message}`, status: failure.status ?? status } : { message, status };
      }
    },
    finish(exit: ProcessExit): AgentOutcome {
      const t = now();
      const error: AgentError | null = failure ? describeError(failure.message, failure.status, 'failed', t) : null;
      return decideOutcome(
        {
          summary: finalText ?? lastAssistant.text,
          sessionId,
          usage: { ...usage, cost_usd: null, model },
          error,
          completed,
          stderrTail: stderr.text,
        },
        exit,
        t,
      );
    },
  };
}
