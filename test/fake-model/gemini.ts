/** Gemini API (`:streamGenerateContent?alt=sse`, `:generateContent`): what Gemini CLI speaks. */
import type { ServerResponse } from 'node:http';
import type { Conversation, FakeError, Reply } from './script.ts';
import { USAGE } from './script.ts';
import { findCwd, list, obj, sendJson, sse, startSse, textOf, toolSpec, type Json } from './sse.ts';

export function parseGemini(body: Json): Conversation {
  const decls = list(body.tools).flatMap((t) => list(obj(t)?.functionDeclarations));
  const tools = decls.flatMap((d) => toolSpec(obj(d)?.name, obj(d)?.parametersJsonSchema ?? obj(d)?.parameters) ?? []);
  let lastPrompt = '';
  let results = 0;
  let prompts = 0;
  for (const c of list(body.contents).map(obj)) {
    if (c?.role !== 'user') continue;
    const parts = list(c.parts).map(obj);
    const n = parts.filter((p) => p?.functionResponse !== undefined).length;
    if (n > 0) results += n;
    else {
      lastPrompt = textOf(c.parts);
      results = 0;
      prompts++;
    }
  }
  return { tools, lastPrompt, prompts, toolResultsSincePrompt: results, cwd: findCwd(JSON.stringify(body.systemInstruction ?? '')) ?? findCwd(JSON.stringify(body.contents ?? '')) };
}

export function replyGemini(res: ServerResponse, model: string, stream: boolean, reply: Reply): void {
  const part = reply.type === 'text' ? { text: reply.text } : { functionCall: { name: reply.name, args: reply.input } };
  const chunk = {
    candidates: [{ content: { role: 'model', parts: [part] }, finishReason: 'STOP', index: 0 }],
    usageMetadata: { promptTokenCount: USAGE.input, candidatesTokenCount: USAGE.output, totalTokenCount: USAGE.input + USAGE.output },
    modelVersion: model,
  };
  if (!stream) return sendJson(res, 200, chunk);
  startSse(res);
  sse(res, chunk);
  res.end();
}

const STATUS: Record<number, string> = { 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE' };

export function errorGemini(res: ServerResponse, err: FakeError, message: string, headers: Record<string, string>): void {
  sendJson(res, err.status, { error: { code: err.status, message, status: STATUS[err.status] ?? 'INTERNAL' } }, headers);
}
