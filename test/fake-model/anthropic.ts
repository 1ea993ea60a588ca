/** Anthropic Messages API (`POST /v1/messages`, streaming or not): what Claude Code (and Droid's anthropic provider) speak. */
import type { ServerResponse } from 'node:http';
import type { Conversation, FakeError, Reply } from './script.ts';
import { USAGE } from './script.ts';
import { findCwd, id, list, obj, sendJson, sse, startSse, textOf, toolSpec, type Json } from './sse.ts';

export function parseAnthropic(body: Json): Conversation {
  const tools = list(body.tools).flatMap((t) => toolSpec(obj(t)?.name, obj(t)?.input_schema) ?? []);
  let lastPrompt = '';
  let results = 0;
  let prompts = 0;
  for (const m of list(body.messages).map(obj)) {
    if (m?.role !== 'user') continue;
    const blocks = list(m.content).map(obj);
    const n = blocks.filter((b) => b?.type === 'tool_result').length;
    if (n > 0) results += n;
    else {
      lastPrompt = textOf(m.content);
      results = 0;
      prompts++;
    }
  }
  return { tools, lastPrompt, prompts, toolResultsSincePrompt: results, cwd: findCwd(JSON.stringify(body.system ?? '')) ?? findCwd(JSON.stringify(body.messages ?? '')) };
}

function block(reply: Reply): Json {
  return reply.type === 'text' ? { type: 'text', text: reply.text } : { type: 'tool_use', id: id('toolu_'), name: reply.name, input: reply.input };
}

export function replyAnthropic(res: ServerResponse, body: Json, reply: Reply): void {
  const model = typeof body.model === 'string' ? body.model : 'claude-sonnet-4-5';
  const stop = reply.type === 'tool' ? 'tool_use' : 'end_turn';
  const usage = { input_tokens: USAGE.input, output_tokens: USAGE.output, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
  const msgId = id('msg_');
  if (body.stream !== true) {
    sendJson(res, 200, { id: msgId, type: 'message', role: 'assistant', model, content: [block(reply)], stop_reason: stop, stop_sequence: null, usage });
    return;
  }
  startSse(res);
  sse(res, { type: 'message_start', message: { id: msgId, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } }, 'message_start');
  if (reply.type === 'text') {
    sse(res, { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start');
    sse(res, { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: reply.text } }, 'content_block_delta');
  } else {
    sse(res, { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: id('toolu_'), name: reply.name, input: {} } }, 'content_block_start');
    sse(res, { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: JSON.stringify(reply.input) } }, 'content_block_delta');
  }
  sse(res, { type: 'content_block_stop', index: 0 }, 'content_block_stop');
  sse(res, { type: 'message_delta', delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: USAGE.output } }, 'message_delta');
  sse(res, { type: 'message_stop' }, 'message_stop');
  res.end();
}

const TYPES: Record<number, string> = { 401: 'authentication_error', 403: 'permission_error', 429: 'rate_limit_error', 500: 'api_error', 503: 'overloaded_error' };

export function errorAnthropic(res: ServerResponse, err: FakeError, message: string, headers: Record<string, string>): void {
  sendJson(res, err.status, { type: 'error', error: { type: TYPES[err.status] ?? 'api_error', message } }, headers);
}
