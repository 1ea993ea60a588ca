/**
 * Streaming parser for `claude -p --output-format stream-json --verbose`. Reads `system/init`
 * (session, model), `assistant` text (fallback summary) and the final `result`. Two traps from
 * REAL_CLIS.md: API errors keep `subtype: "success"` (trust `is_error`/`api_error_status`), and a
 * run whose writes were refused exits 0 with `is_error: false` — only `permission_denials` shows it,
 * so that is reported as failed/permission_denied, never as success.
 */
import type { AgentError, AgentOutcome, OutputParser, ProcessExit } from '../types.ts';
import { HeadText, TailText } from './bounded-text.ts';
import { describeError } from './classify.ts';
import { arr, at, count, num, obj, parseJsonObject, str, type JsonObject } from './json-line.ts';
import { clock, decideOutcome, type ParserOptions } from './outcome.ts';

export function createClaudeParser(options?: ParserOptions): OutputParser {
  const now = clock(options);
  const stderr = new TailText();
  let sessionId: string | null = null;
  let model: string | null = null;
  let lastText = new HeadText();
  let result: ResultFacts | null = null;

  return {
    onLine(line, stream) {
      if (stream === 'stderr') return stderr.push(line);
      const ev = parseJsonObject(line);
      if (!ev) return;
      sessionId = str(ev.session_id) ?? sessionId;
      if (ev.type === 'system' && ev.subtype === 'init') model = str(ev.model) ?? model;
      else if (ev.type === 'assistant') {
        model = str(at(ev, 'message', 'model')) ?? model;
        const text = assistantText(ev);
        if (text) {
          lastText = new HeadText();
          lastText.append(text);
        }
      } else if (ev.type === 'result') result = resultFacts(ev);
    },
    finish(exit: ProcessExit): AgentOutcome {
      const usage = {
        cost_usd: result?.costUsd ?? null,
        tokens_in: result?.tokensIn ?? 0,
        tokens_out: result?.tokensOut ?? 0,
        tokens_cached: result?.tokensCached ?? 0,
        turns: result?.turns ?? 0,
        model: result?.model ?? model,
      };
      return decideOutcome(
        {
          summary: result?.text ?? lastText.text,
          sessionId,
          usage,
          error: result ? resultError(result, now()) : null,
          completed: result !== null,
          stderrTail: stderr.text,
        },
        exit,
        now(),
      );
    },
  };
}

interface ResultFacts {
  isError: boolean;
  subtype: string | null;
  status: number | null;
  text: string | null;
  errors: string;
  costUsd: number | null;
  tokensIn: number;
  tokensOut: number;
  tokensCached: number;
  turns: number;
  model: string | null;
  denials: string[];
}

function resultFacts(ev: JsonObject): ResultFacts {
  const usage = ev.usage;
  const cacheRead = count(usage, 'cache_read_input_tokens');
  return {
    isError: ev.is_error === true,
    subtype: str(ev.subtype),
    status: num(ev.api_error_status),
    text: str(ev.result),
    errors: (arr(ev.errors) ?? []).map((e) => str(e) ?? JSON.stringify(e)).join('; '),
    costUsd: num(ev.total_cost_usd),
    // tokens_in counts every prompt token, cached ones included (see workers/pricing.ts).
    tokensIn: count(usage, 'input_tokens') + count(usage, 'cache_creation_input_tokens') + cacheRead,
    tokensOut: count(usage, 'output_tokens'),
    tokensCached: cacheRead,
    turns: num(ev.num_turns) ?? 0,
    model: mainModel(ev.modelUsage),
    denials: (arr(ev.permission_denials) ?? []).map((d) => str(at(d, 'tool_name')) ?? 'tool'),
  };
}

function resultError(r: ResultFacts, now: number): AgentError | null {
  if (r.isError || (r.subtype !== null && r.subtype.startsWith('error'))) {
    const fallbackText = r.subtype === 'error_max_turns' ? 'stopped at the turn limit (max_turns)' : `claude reported an error (${r.subtype ?? 'no subtype'})`;
    const message = [r.text, r.errors].filter((s) => s).join('; ') || fallbackText;
    return describeError(message, r.status, 'failed', now);
  }
  if (r.denials.length > 0) {
    const tools = [...new Set(r.denials)].join(', ');
    return { code: 'permission_denied', message: `${r.denials.length} tool call(s) denied without a permission flag: ${tools}` };
  }
  return null;
}

/** The text blocks of one assistant event, joined. */
function assistantText(ev: JsonObject): string {
  const blocks = arr(at(ev, 'message', 'content')) ?? [];
  return blocks
    .filter((b) => at(b, 'type') === 'text')
    .map((b) => str(at(b, 'text')) ?? '')
    .join('');
}

/** The model that produced the most output in `modelUsage` ({ "<model>": { outputTokens } }). */
function mainModel(modelUsage: unknown): string | null {
  const entries = Object.entries(obj(modelUsage) ?? {});
  let best: string | null = null;
  let bestOut = -1;
  for (const [name, u] of entries) {
    const out = count(u, 'outputTokens', 'output_tokens');
    if (out > bestOut) [best, bestOut] = [name, out];
  }
  return best;
}
