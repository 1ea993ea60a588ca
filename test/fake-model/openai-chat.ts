/** OpenAI Chat Completions (`POST /v1/chat/completions`, streaming or not): what OpenCode and Droid's generic provider speak. */
import type { ServerResponse } from 'node:http';
import type { Conversation, Reply } from './script.ts';
import { USAGE } from './script.ts';
import { findCwd, id, list, obj, sendJson, sse, startSse, textOf, toolSpec, type Json } from './sse.ts';

export function parseChat(body: Json): Conversation {
  const tools = list(body.tools).flatMap((t) => toolSpec(obj(obj(t)?.function)?.name, obj(obj(t)?.function)?.parameters) ?? []);
  let lastPrompt = '';
  let results = 0;
  let prompts = 0;
  for (const m of list(body.messages).map(obj)) {
    if (m?.role === 'tool') results++;
    else if (m?.role === 'user') {
      lastPrompt = textOf(m.content);
      results = 0;
      prompts++;
    }
  }
  return { tools, lastPrompt, prompts, toolResultsSincePrompt: results, cwd: findCwd(JSON.stringify(body.messages ?? '')) };
}

export function replyChat(res: ServerResponse, body: Json, reply: Reply): void {
  const model = typeof body.model === 'string' ? body.model : 'fake-model';
  const base = { id: id('chatcmpl-'), object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model };
  const usage = { prompt_tokens: USAGE.input, completion_tokens: USAGE.output, total_tokens: USAGE.input + USAGE.output };
  const call = reply.type === 'tool' ? { id: id('call_'), type: 'function', function: { name: reply.name, arguments: JSON.stringify(reply.input) } } : null;
  const finish = call ? 'tool_calls' : 'stop';
  if (body.stream !== true) {
    const message = call ? { role: 'assistant', content: null, tool_calls: [call] } : { role: 'assistant', content: reply.type === 'text' ? reply.text : '' };
    sendJson(res, 200, { ...base, object: 'chat.completion', choices: [{ index: 0, message, finish_reason: finish }], usage });
    return;
  }
  startSse(res);
  const delta = call ? { role: 'assistant', tool_calls: [{ index: 0, ...call }] } : { role: 'assistant', content: reply.type === 'text' ? reply.text : '' };
  sse(res, { ...base, choices: [{ index: 0, delta, finish_reason: null }] });
  sse(res, { ...base, choices: [{ index: 0, delta: {}, finish_reason: finish }] });
  sse(res, { ...base, choices: [], usage });
  sse(res, '[DONE]');
  res.end();
}
