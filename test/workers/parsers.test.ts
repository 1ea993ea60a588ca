/**
 * The five output parsers, fed lines in each CLI's recorded headless format (REAL_CLIS.md).
 * Specs for the routing facts the runner depends on: status, error class, reset time, session, usage.
 */
import { describe, expect, it } from 'vitest';
import { createClaudeParser } from '../../workers/adapters/claude-parser.ts';
import { createCodexParser } from '../../workers/adapters/codex-parser.ts';
import { createDroidParser } from '../../workers/adapters/droid-parser.ts';
import { createGeminiParser } from '../../workers/adapters/gemini-parser.ts';
import { createOpencodeParser } from '../../workers/adapters/opencode-parser.ts';
import { EXIT_OK, exitCode, feed, jsonl, killedBy } from '../helpers/workers-context.ts';

const NOW = Date.parse('2026-11-21T14:00:00.000Z');
const now = () => NOW;
const SID = '5b4f1c0e-3d2a-4c4b-9a53-0e3c1f6d7a10';

describe('claude parser', () => {
  const init = { type: 'system', subtype: 'init', cwd: '/w', session_id: SID, tools: ['Write', 'Bash'], model: 'claude-sonnet-4-5', permissionMode: 'acceptEdits' };
  const toolUse = {
    type: 'assistant',
    message: { id: 'msg_1', role: 'assistant', model: 'claude-sonnet-4-5', content: [{ type: 'tool_use', id: 'toolu_1', name: 'Write', input: { file_path: '/w/a.txt', content: 'hi' } }] },
    session_id: SID,
  };
  const toolResult = { type: 'user', message: { role: 'user', content: [{ tool_use_id: 'toolu_1', type: 'tool_result', content: 'File created successfully at: /w/a.txt' }] }, session_id: SID };
  const result = (fields: Record<string, unknown>) => ({
    type: 'result',
    subtype: 'success',
    is_error: false,
    duration_ms: 2100,
    num_turns: 2,
    result: 'Created a.txt.',
    session_id: SID,
    total_cost_usd: 0.0123,
    usage: { input_tokens: 40, cache_creation_input_tokens: 10, cache_read_input_tokens: 50, output_tokens: 30 },
    modelUsage: { 'claude-haiku-4-5': { outputTokens: 2 }, 'claude-sonnet-4-5': { outputTokens: 28, costUSD: 0.012 } },
    permission_denials: [],
    ...fields,
  });

  it('success: the final result text, session id, reported USD and summed tokens', () => {
    const out = feed(createClaudeParser({ now }), jsonl(init, toolUse, toolResult, result({})), EXIT_OK);
    expect(out).toMatchObject({ status: 'success', summary: 'Created a.txt.', session_id: SID, error: null });
    expect(out.usage).toEqual({ cost_usd: 0.0123, tokens_in: 100, tokens_out: 30, tokens_cached: 50, turns: 2, model: 'claude-sonnet-4-5' });
  });

  it('tolerates noise lines, unknown fields and reordered keys', () => {
    const reordered = { permission_denials: [], future_field: { x: 1 }, result: 'ok', is_error: false, session_id: SID, type: 'result', num_turns: 1 };
    const out = feed(createClaudeParser(), jsonl('Warning: something odd', '', '{not json', init, reordered), EXIT_OK);
    expect(out).toMatchObject({ status: 'success', summary: 'ok', session_id: SID });
  });

  it('needs_human: a final message starting with NEEDS_HUMAN: asks for a human', () => {
    const out = feed(createClaudeParser(), jsonl(init, result({ result: 'NEEDS_HUMAN: Which database should I use?' })), EXIT_OK);
    expect(out.status).toBe('needs_human');
    expect(out.error).toBeNull();
  });

  it('exit 0 with permission_denials is a failure (permission_denied), not a success', () => {
    const denied = result({ result: 'I could not write the file.', permission_denials: [{ tool_name: 'Write', tool_use_id: 'toolu_1', tool_input: {} }] });
    const out = feed(createClaudeParser(), jsonl(init, toolUse, denied), EXIT_OK);
    expect(out.status).toBe('failed');
    expect(out.error?.code).toBe('permission_denied');
    expect(out.error?.message).toContain('Write');
  });

  it('an API error keeps subtype "success": is_error + api_error_status 401 → auth', () => {
    const out = feed(createClaudeParser(), jsonl(init, result({ is_error: true, api_error_status: 401, result: 'Invalid API key · Please run /login', total_cost_usd: 0 })), exitCode(1));
    expect(out.status).toBe('failed');
    expect(out.error).toMatchObject({ code: 'auth', http_status: 401 });
  });

  it('429 → rate_limit with the reset time the message states', () => {
    const text = 'API Error: 429 {"type":"error","error":{"type":"rate_limit_error","message":"Rate limited; resets at 2026-11-21T15:00:00Z"}}';
    const out = feed(createClaudeParser({ now }), jsonl(result({ is_error: true, api_error_status: 429, result: text })), exitCode(1));
    expect(out.error).toMatchObject({ code: 'rate_limit', http_status: 429, reset_at: '2026-11-21T15:00:00.000Z' });
  });

  it('a subscription usage limit ("…|<epoch>") → rate_limit with reset_at from the epoch', () => {
    const out = feed(createClaudeParser({ now }), jsonl(result({ is_error: true, result: 'Claude AI usage limit reached|1795273200' })), exitCode(1));
    expect(out.error).toMatchObject({ code: 'rate_limit', reset_at: new Date(1795273200 * 1000).toISOString() });
  });

  it('5xx / overloaded → model_error', () => {
    const out = feed(createClaudeParser(), jsonl(result({ is_error: true, api_error_status: 529, result: 'API Error: 529 Overloaded' })), exitCode(1));
    expect(out.error?.code).toBe('model_error');
  });

  it('is_error without a better class → failed; the turn limit too', () => {
    expect(feed(createClaudeParser(), jsonl(result({ is_error: true, result: 'Something broke' })), exitCode(1)).error?.code).toBe('failed');
    const maxTurns = feed(createClaudeParser(), jsonl(result({ subtype: 'error_max_turns', is_error: true, result: undefined })), exitCode(1));
    expect(maxTurns.error).toMatchObject({ code: 'failed', message: expect.stringContaining('max_turns') });
  });

  it('killed by a signal after partial output → crash, keeping the session id', () => {
    const out = feed(createClaudeParser(), jsonl(init, toolUse), killedBy('SIGKILL'));
    expect(out).toMatchObject({ status: 'failed', session_id: SID, error: { code: 'crash' } });
  });

  it('a non-zero exit with only stderr → crash, unless stderr names a better class', () => {
    expect(feed(createClaudeParser(), [], exitCode(3), ['Error: something odd']).error?.code).toBe('crash');
    expect(feed(createClaudeParser(), [], exitCode(1), ['Error: Invalid API key']).error?.code).toBe('auth');
  });

  it('exit 0 without a result event is not a success', () => {
    expect(feed(createClaudeParser(), jsonl(init, toolUse), EXIT_OK).error?.code).toBe('failed');
  });

  it('keeps memory bounded: a huge final message is capped near 20k characters', () => {
    const out = feed(createClaudeParser(), jsonl(result({ result: 'x'.repeat(200_000) })), EXIT_OK);
    expect(out.summary.length).toBeLessThan(20_100);
  });
});

describe('codex parser', () => {
  const started = { type: 'thread.started', thread_id: '0199a213-81c0-7800-8aa1-bbab2a035a53' };
  const cmd = (exit_code: number) => ({
    type: 'item.completed',
    item: { id: 'item_0', type: 'command_execution', command: 'bash -lc "npm test"', aggregated_output: 'FAIL test/a.test.ts', exit_code, status: exit_code === 0 ? 'completed' : 'failed' },
  });
  const message = (text: string) => ({ type: 'item.completed', item: { id: 'item_1', type: 'agent_message', text } });
  const completed = { type: 'turn.completed', usage: { input_tokens: 1200, cached_input_tokens: 1000, output_tokens: 80, reasoning_output_tokens: 16 } };

  it('success: last agent_message, thread_id as session, tokens only (no USD)', () => {
    const out = feed(createCodexParser(), jsonl(started, { type: 'turn.started' }, cmd(0), message('first'), message('All done.'), completed), EXIT_OK);
    expect(out).toMatchObject({ status: 'success', summary: 'All done.', session_id: started.thread_id });
    expect(out.usage).toEqual({ cost_usd: null, tokens_in: 1200, tokens_out: 80, tokens_cached: 1000, turns: 1, model: null });
  });

  it('a failed command inside an exit-0 run with no agent_message → tool_failed', () => {
    const out = feed(createCodexParser(), jsonl(started, { type: 'turn.started' }, cmd(2), completed), EXIT_OK);
    expect(out.status).toBe('failed');
    expect(out.error?.code).toBe('tool_failed');
    expect(out.error?.message).toContain('npm test');
  });

  it('a failed command the agent then explained is still a success', () => {
    expect(feed(createCodexParser(), jsonl(started, cmd(1), message('Tests fail upstream; left as is.'), completed), EXIT_OK).status).toBe('success');
  });

  it('turn.failed with "last status: 429" → rate_limit, reset resolved from "try again in 30 seconds"', () => {
    const failed = { type: 'turn.failed', error: { message: 'exceeded retry limit, last status: 429 Too Many Requests; try again in 30 seconds' } };
    const out = feed(createCodexParser({ now }), jsonl(started, { type: 'turn.started' }, failed), exitCode(1));
    expect(out.error).toMatchObject({ code: 'rate_limit', http_status: 429, reset_at: new Date(NOW + 30_000).toISOString() });
  });

  it('turn.failed with 401 → auth; with 500 → model_error; otherwise tool_failed', () => {
    const tf = (message: string) => feed(createCodexParser(), jsonl(started, { type: 'turn.failed', error: { message } }), exitCode(1)).error?.code;
    expect(tf('unexpected status 401 Unauthorized: Incorrect API key provided')).toBe('auth');
    expect(tf('exceeded retry limit, last status: 500 Internal Server Error')).toBe('model_error');
    expect(tf('sandbox denied the command')).toBe('tool_failed');
  });

  it('needs_human when the last agent message starts with the marker', () => {
    expect(feed(createCodexParser(), jsonl(started, message('NEEDS_HUMAN: Keep the v1 API?'), completed), EXIT_OK).status).toBe('needs_human');
  });
});

describe('opencode parser', () => {
  const S = 'ses_5a1b2c3d4e5f6a7b8c9d0e1f2a';
  const part = (fields: Record<string, unknown>) => ({ id: 'prt_1', sessionID: S, messageID: 'msg_1', ...fields });
  const stepFinish = (input: number, output: number, read: number, cost: number) => ({
    type: 'step_finish', timestamp: 1, sessionID: S,
    part: part({ type: 'step-finish', reason: 'stop', cost, tokens: { input, output, reasoning: 0, cache: { read, write: 0 } } }),
  });
  const text = (t: string) => ({ type: 'text', timestamp: 1, sessionID: S, part: part({ type: 'text', text: t }) });
  const error = (name: string, data: Record<string, unknown>) => ({ type: 'error', timestamp: 1, sessionID: S, error: { name, data } });

  it('success: sums step_finish tokens and cost; the last text part is the answer', () => {
    const tool = { type: 'tool_use', timestamp: 1, sessionID: S, part: part({ type: 'tool', tool: 'write', state: { status: 'completed' } }) };
    const out = feed(createOpencodeParser(), jsonl({ type: 'step_start', sessionID: S, part: part({ type: 'step-start' }) }, tool, text('Writing it'), stepFinish(100, 20, 50, 0.001), text('Plan written.'), stepFinish(30, 10, 0, 0.0005)), EXIT_OK);
    expect(out).toMatchObject({ status: 'success', summary: 'Plan written.', session_id: S });
    expect(out.usage.tokens_in).toBe(180);
    expect(out.usage.tokens_cached).toBe(50);
    expect(out.usage.tokens_out).toBe(30);
    expect(out.usage.turns).toBe(2);
    expect(out.usage.cost_usd).toBeCloseTo(0.0015, 10);
  });

  it('a model without prices reports cost 0: returned as null so the runner estimates it', () => {
    expect(feed(createOpencodeParser(), jsonl(text('ok'), stepFinish(10, 5, 0, 0)), EXIT_OK).usage.cost_usd).toBeNull();
  });

  it('error events: statusCode 401 → auth, 429 → rate_limit with reset, 500 → model_error', () => {
    const run = (ev: unknown) => feed(createOpencodeParser({ now }), jsonl(ev), exitCode(1)).error;
    expect(run(error('ProviderAuthError', { message: 'Invalid API key', statusCode: 401 }))?.code).toBe('auth');
    expect(run(error('APIError', { message: 'Rate limit exceeded; resets at 2026-11-21T14:05:00Z', statusCode: 429, isRetryable: true }))).toMatchObject({
      code: 'rate_limit',
      reset_at: '2026-11-21T14:05:00.000Z',
    });
    expect(run(error('APIError', { message: 'Internal Server Error', statusCode: 500, isRetryable: true }))?.code).toBe('model_error');
  });

  it('an error event fails the run even when opencode exits 0', () => {
    expect(feed(createOpencodeParser(), jsonl(error('UnknownError', { message: 'boom' })), EXIT_OK).error?.code).toBe('failed');
  });
});

describe('droid parser', () => {
  const D = '8d4b7a90-55e3-4b47-a0f3-1c2d3e4f5a6b';
  const init = { type: 'system', subtype: 'init', cwd: '/w', session_id: D, tools: ['Create'], model: 'custom:glm-4.6' };
  const completion = { type: 'completion', finalText: 'Created hello.txt', numTurns: 2, durationMs: 900, session_id: D, usage: { input_tokens: 300, output_tokens: 40, cache_read_input_tokens: 100, cache_creation_input_tokens: 0 } };

  it('stream-json success: completion.finalText, session_id, tokens, no USD', () => {
    const call = { type: 'tool_call', id: 'c1', toolName: 'Create', parameters: {}, session_id: D };
    const out = feed(createDroidParser(), jsonl(init, { type: 'message', role: 'assistant', text: 'On it', session_id: D }, call, completion), EXIT_OK);
    expect(out).toMatchObject({ status: 'success', summary: 'Created hello.txt', session_id: D });
    expect(out.usage).toEqual({ cost_usd: null, tokens_in: 400, tokens_out: 40, tokens_cached: 100, turns: 2, model: 'custom:glm-4.6' });
  });

  it('json mode: {type: result} success and failure', () => {
    const ok = { type: 'result', subtype: 'success', is_error: false, num_turns: 1, result: 'Done', session_id: D, usage: { input_tokens: 5, output_tokens: 6 } };
    expect(feed(createDroidParser(), jsonl(ok), EXIT_OK)).toMatchObject({ status: 'success', summary: 'Done', session_id: D });
    const bad = { ...ok, subtype: 'failure', is_error: true, result: '401 Unauthorized' };
    expect(feed(createDroidParser(), jsonl(bad), exitCode(1)).error?.code).toBe('auth');
  });

  it('an error event with 429 → rate_limit with its reset time', () => {
    const ev = { type: 'error', message: '429 Too Many Requests: rate limit exceeded; resets at 2026-11-21T14:01:00Z', session_id: D };
    expect(feed(createDroidParser({ now }), jsonl(init, ev), exitCode(1)).error).toMatchObject({ code: 'rate_limit', reset_at: '2026-11-21T14:01:00.000Z' });
  });

  it('needs_human from the final text', () => {
    expect(feed(createDroidParser(), jsonl(init, { ...completion, finalText: 'NEEDS_HUMAN: which branch?' }), EXIT_OK).status).toBe('needs_human');
  });
});

describe('gemini parser', () => {
  const G = 'c0ffee00-1111-4222-a333-444455556666';
  const ts = '2026-11-21T14:00:00.000Z';
  const init = { type: 'init', timestamp: ts, session_id: G, model: 'gemini-2.5-pro' };
  const say = (content: string) => ({ type: 'message', timestamp: ts, role: 'assistant', content, delta: true });
  const result = { type: 'result', timestamp: ts, status: 'success', stats: { total_tokens: 530, input_tokens: 500, output_tokens: 30, cached: 200, input: 300, duration_ms: 1200, tool_calls: 1 } };
  const stderrJson = (code: number, message: string) => JSON.stringify({ session_id: G, error: { type: 'Error', message, code } }, null, 2).split('\n');

  it('stream-json success: the last model turn\'s deltas are the answer; tokens from result.stats', () => {
    const lines = jsonl(init, { type: 'message', timestamp: ts, role: 'user', content: 'do it' }, say('I will write the file.'),
      { type: 'tool_use', timestamp: ts, tool_name: 'write_file', tool_id: 't1', parameters: {} }, { type: 'tool_result', timestamp: ts, tool_id: 't1', status: 'success', output: 'ok' },
      say('Hello '), say('world.'), result);
    const out = feed(createGeminiParser(), lines, EXIT_OK);
    expect(out).toMatchObject({ status: 'success', summary: 'Hello world.', session_id: G });
    expect(out.usage).toEqual({ cost_usd: null, tokens_in: 500, tokens_out: 30, tokens_cached: 200, turns: 2, model: 'gemini-2.5-pro' });
  });

  it('exit 145 with the error JSON (pretty-printed) on stderr and empty stdout → auth', () => {
    const out = feed(createGeminiParser(), [], exitCode(145), ['[WARN] noise', ...stderrJson(401, 'API key not valid. Please pass a valid API key.')]);
    expect(out.status).toBe('failed');
    expect(out.error).toMatchObject({ code: 'auth', http_status: 401 });
  });

  it('exit 145 alone (stderr unreadable) → auth from the exit code; exit 41 (no auth config) → auth', () => {
    expect(feed(createGeminiParser(), [], exitCode(145)).error).toMatchObject({ code: 'auth', http_status: 401 });
    expect(feed(createGeminiParser(), [], exitCode(41), ['Please set an Auth method']).error?.code).toBe('auth');
  });

  it('exit 173 (429) → rate_limit, reset from "Please retry in 59.3s"', () => {
    const out = feed(createGeminiParser({ now }), [], exitCode(173), stderrJson(429, 'Resource exhausted. Please retry in 59.3s.'));
    expect(out.error).toMatchObject({ code: 'rate_limit', http_status: 429, reset_at: new Date(NOW + 59_300).toISOString() });
  });

  it('exit 244 (500) → model_error', () => {
    expect(feed(createGeminiParser(), [], exitCode(244), stderrJson(500, 'Internal error encountered.')).error?.code).toBe('model_error');
  });

  it('a stream-json result with status "error" fails the run', () => {
    const err = { type: 'result', timestamp: ts, status: 'error', error: { type: 'FatalTurnLimitedError', message: 'Reached max session turns' }, stats: result.stats };
    expect(feed(createGeminiParser(), jsonl(init, err), exitCode(53)).error?.code).toBe('failed');
  });

  it('a non-fatal error event followed by a successful result is still a success', () => {
    const warn = { type: 'error', timestamp: ts, severity: 'error', message: 'Loop detected, stopping tool repetition' };
    expect(feed(createGeminiParser(), jsonl(init, warn, say('Done.'), result), EXIT_OK).status).toBe('success');
  });

  it('json mode: {session_id, response, stats.models} on one line', () => {
    const obj = { session_id: G, response: 'NEEDS_HUMAN: proceed?', stats: { models: { 'gemini-2.5-flash': { tokens: { prompt: 90, candidates: 9, cached: 0, total: 99 } } }, tools: {}, files: {} } };
    const out = feed(createGeminiParser(), jsonl(obj), EXIT_OK);
    expect(out).toMatchObject({ status: 'needs_human', session_id: G, usage: { tokens_in: 90, tokens_out: 9, model: 'gemini-2.5-flash' } });
  });
});
