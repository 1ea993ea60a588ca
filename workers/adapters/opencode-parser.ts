/**
 * Streaming parser for `opencode run --format json` JSONL: `step_start`, `tool_use`, `text`,
 * `step_finish {part.tokens, part.cost}`, `error {error.name, error.data.statusCode}`, with
 * `sessionID` on every event. There is no summary event: usage is the sum of the step_finish parts
 * and the answer is the last text part. A cost that sums to 0 means the model has no price
 * configured in opencode, so it is reported as null (priced by workers/pricing.ts instead).
 */
import type { AgentError, AgentOutcome, OutputParser, ProcessExit } from '../types.ts';
import { HeadText, TailText } from './bounded-text.ts';
import { describeError } from './classify.ts';
import { at, count, num, obj, parseJsonObject, str, type JsonObject } from './json-line.ts';
import { clock, decideOutcome, type ParserOptions } from './outcome.ts';

export function createOpencodeParser(options?: ParserOptions): OutputParser {
  const now = clock(options);
  const stderr = new TailText();
  let sessionId: string | null = null;
  let model: string | null = null;
  let lastText = new HeadText();
  let failure: { message: string; status: number | null } | null = null;
  let steps = 0;
  let cost = 0;
  const tokens = { in: 0, out: 0, cached: 0 };

  function onStepFinish(part: unknown): void {
    steps += 1;
    cost += num(at(part, 'cost')) ?? 0;
    const t = at(part, 'tokens');
    const cacheRead = count(at(t, 'cache'), 'read');
    // opencode's tokens.input excludes cache hits; tokens_in counts every prompt token.
    tokens.in += count(t, 'input') + cacheRead + count(at(t, 'cache'), 'write');
    tokens.out += count(t, 'output');
    tokens.cached += cacheRead;
  }

  return {
    onLine(line, stream) {
      if (stream === 'stderr') return stderr.push(line);
      const ev = parseJsonObject(line);
      if (!ev) return;
      sessionId = str(ev.sessionID) ?? str(at(ev, 'part', 'sessionID')) ?? sessionId;
      model = str(at(ev, 'part', 'modelID')) ?? str(ev.modelID) ?? model;
      if (ev.type === 'text') {
        const text = str(at(ev, 'part', 'text'));
        if (text !== null) {
          lastText = new HeadText();
          lastText.append(text);
        }
      } else if (ev.type === 'step_finish') onStepFinish(ev.part);
      else if (ev.type === 'error') failure = errorFacts(ev);
    },
    finish(exit: ProcessExit): AgentOutcome {
      const t = now();
      const error: AgentError | null = failure ? describeError(failure.message, failure.status, 'failed', t) : null;
      const usage = {
        cost_usd: cost > 0 ? cost : null,
        tokens_in: tokens.in,
        tokens_out: tokens.out,
        tokens_cached: tokens.cached,
        turns: steps,
        model,
      };
      return decideOutcome({ summary: lastText.text, sessionId, usage, error, completed: steps > 0, stderrTail: stderr.text }, exit, t);
    },
  };
}

function errorFacts(ev: JsonObject): { message: string; status: number | null } {
  const err = obj(ev.error) ?? {};
  const name = str(err.name);
  const text = str(at(err, 'data', 'message')) ?? str(err.message) ?? str(ev.message) ?? 'opencode reported an error';
  return {
    message: name && !text.includes(name) ? `${name}: ${text}` : text,
    status: num(at(err, 'data', 'statusCode')) ?? num(err.statusCode),
  };
}
