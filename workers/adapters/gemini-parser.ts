/**
 * Streaming parser for `gemini -p --output-format stream-json`: `init` (session_id, model),
 * `message` (assistant deltas), `tool_use`, `tool_result`, `error`, `result {status, stats}`; also
 * the one-line object of `--output-format json` ({session_id, response, stats.models}). The answer
 * is the assistant text of the last model turn (deltas after the last tool call). Failures come as
 * JSON on stderr with an exit code of HTTP status mod 256 (see gemini-errors.ts). Tokens only.
 */
import type { AgentError, AgentOutcome, OutputParser, ProcessExit } from '../types.ts';
import { HeadText, TailText } from './bounded-text.ts';
import { describeError } from './classify.ts';
import { errorFromExitCode, errorFromStderr, errorFromValue, type GeminiErrorFacts } from './gemini-errors.ts';
import { at, count, obj, parseJsonObject, str, type JsonObject } from './json-line.ts';
import { clock, decideOutcome, type ParserOptions } from './outcome.ts';

export function createGeminiParser(options?: ParserOptions): OutputParser {
  const now = clock(options);
  const stderr = new TailText();
  const answer = new HeadText();
  let sessionId: string | null = null;
  let model: string | null = null;
  let inModelTurn = false;
  let turns = 0;
  let completed = false;
  let failure: GeminiErrorFacts | null = null;
  /** `error` events can be non-fatal (the run may still end in success): only a fallback. */
  let errorEvent: GeminiErrorFacts | null = null;
  let stderrFailure: GeminiErrorFacts | null = null;
  const usage = { tokens_in: 0, tokens_out: 0, tokens_cached: 0 };

  function modelSpeaks(): void {
    if (!inModelTurn) {
      inModelTurn = true;
      turns += 1;
      answer.reset();
    }
  }

  function onStats(stats: unknown): void {
    const models = obj(at(stats, 'models'));
    if (at(stats, 'input_tokens') === undefined && models) {
      // json mode: per-model SessionMetrics ({tokens: {prompt, candidates, cached}}).
      for (const [name, m] of Object.entries(models)) {
        model = model ?? name;
        usage.tokens_in += count(at(m, 'tokens'), 'prompt');
        usage.tokens_out += count(at(m, 'tokens'), 'candidates');
        usage.tokens_cached += count(at(m, 'tokens'), 'cached');
      }
      return;
    }
    // stream-json: input_tokens is the whole prompt, cached its cache-hit part.
    usage.tokens_in = count(stats, 'input_tokens');
    usage.tokens_out = count(stats, 'output_tokens');
    usage.tokens_cached = count(stats, 'cached');
  }

  function onEvent(ev: JsonObject): void {
    sessionId = str(ev.session_id) ?? sessionId;
    switch (ev.type) {
      case 'init':
        model = str(ev.model) ?? model;
        break;
      case 'message':
        if (ev.role === 'assistant') {
          modelSpeaks();
          answer.append(str(ev.content) ?? '');
        }
        break;
      case 'tool_use':
        modelSpeaks();
        break;
      case 'tool_result':
        inModelTurn = false;
        break;
      case 'error':
        if (ev.severity !== 'warning') errorEvent = { message: str(ev.message) ?? 'gemini reported an error', status: null };
        break;
      case 'result':
        completed = true;
        onStats(ev.stats);
        if (ev.status === 'error') failure = errorFromValue(ev) ?? { message: 'gemini reported an error', status: null };
        break;
      default:
        if (typeof ev.response === 'string') {
          // json mode's single object.
          completed = true;
          answer.reset();
          answer.append(ev.response);
          turns = Math.max(turns, 1);
          onStats(ev.stats);
        }
        if (ev.error !== undefined) failure = errorFromValue(ev) ?? failure;
    }
  }

  return {
    onLine(line, stream) {
      const ev = parseJsonObject(line);
      if (stream === 'stderr') {
        stderr.push(line);
        if (ev) stderrFailure = errorFromValue(ev) ?? stderrFailure;
        return;
      }
      if (ev) onEvent(ev);
    },
    finish(exit: ProcessExit): AgentOutcome {
      const t = now();
      let facts = failure;
      const code = exit.signal === null ? exit.exitCode : null;
      if (!facts && code !== null && code !== 0) facts = stderrFailure ?? errorFromStderr(stderr.text) ?? errorEvent ?? errorFromExitCode(code);
      // The exit code carries the HTTP status when the message does not.
      if (facts && facts.status === null && code !== null) facts = { ...facts, status: errorFromExitCode(code)?.status ?? null };
      const error: AgentError | null = facts ? describeError(facts.message, facts.status, 'failed', t) : null;
      return decideOutcome(
        { summary: answer.text, sessionId, usage: { ...usage, turns, cost_usd: null, model }, error, completed, stderrTail: stderr.text },
        exit,
        t,
      );
    },
  };
}
