/** OpenAI Responses API (`POST /v1/responses`, streaming): what Codex speaks. */
import type { ServerResponse } from 'node:http';
import type { Conversation, FakeError, Reply } from './script.ts';
import { USAGE } from './script.ts';
import { findCwd, id, list, obj, sendJson, sse, startSse, textOf, toolSpec, type Json } from './sse.ts';

export function parseResponses(body: Json): Conversation {
  const tools = list(body.tools).flatMap((t) => toolSpec(obj(t)?.name, obj(t)?.parameters) ?? []);
  let lastPrompt = '';
  let results = 0;
  let prompts = 0;
  for (const item of list(body.input).map(obj)) {
    if (!item) continue;
    if (item.type === 'function_call_output' || item.type === 'custom_tool_call_output' || item.type === 'local_shell_call_output') results++;
    else if ((item.type === 'message' || item.type === undefined) && item.role === 'user') {
      const text = textOf(item.content);
      // codex sends its environment context and AGENTS.md as user messages too: they are not prompts
      if (/^\s*<(environment_context|user_instructions)/.test(text) || text.startsWith('# AGENTS.md')) continue;
      lastPrompt = text;
      results = 0;
      prompts++;
    }
  }
  return { tools, lastPrompt, prompts, toolResultsSincePrompt: results, cwd: findCwd(JSON.stringify(body.input ?? '')) ?? findCwd(String(body.instructions ?? '')) };
}

export function replyResponses(res: ServerResponse, body: Json, reply: Reply): void {
  const model = typeof body.model === 'string' ? body.model : 'gpt-5-codex';
  const respId = id('resp_');
  const item: Json =
    reply.type === 'text'
      ? { type: 'message', id: id('msg_'), role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: reply.text, annotations: [] }] }
      : { type: 'function_call', id: id('fc_'), call_id: id('call_'), name: reply.name, arguments: JSON.stringify(reply.input), status: 'completed' };
  const usage = { input_tokens: USAGE.input, input_tokens_details: { cached_tokens: 0 }, output_tokens: USAGE.output, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: USAGE.input + USAGE.output };
  startSse(res);
  sse(res, { type: 'response.created', response: { id: respId, object: 'response', status: 'in_progress', model, output: [] } }, 'response.created');
  sse(res, { type: 'response.output_item.added', output_index: 0, item: { ...item, status: 'in_progress' } }, 'response.output_item.added');
  if (reply.type === 'text') sse(res, { type: 'response.output_text.delta', item_id: item.id, output_index: 0, content_index: 0, delta: reply.text }, 'response.output_text.delta');
  sse(res, { type: 'response.output_item.done', output_index: 0, item }, 'response.output_item.done');
  sse(res, { type: 'response.completed', response: { id: respId, object: 'response', status: 'completed', model, output: [item], usage } }, 'response.completed');
  res.end();
}

export function errorOpenAi(res: ServerResponse, err: FakeError, message: string, headers: Record<string, string>): void {
  const type = err.status === 429 ? 'rate_limit_exceeded' : err.status === 401 ? 'invalid_api_key' : 'server_error';
  sendJson(res, err.status, { error: { message, type, code: type, param: null } }, headers);
}
