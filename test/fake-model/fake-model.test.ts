/** The fake model server itself: scenario choice, tool mapping by schema, errors, stalls, usage. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandAction, nextReply, scenarioName, type Conversation } from './script.ts';
import { startFakeModel, type FakeModelServer } from './server.ts';

const conv = (tools: Conversation['tools'], results = 0): Conversation => ({ tools, lastPrompt: '', prompts: 1, toolResultsSincePrompt: results, cwd: '/w' });
const tool = (name: string, ...props: string[]): Conversation['tools'][number] => ({ name, properties: Object.fromEntries(props.map((p) => [p, { type: 'string' }])), required: [] });

describe('scenarios (pure)', () => {
  it('the first [fake:<name>] tag of the last prompt picks the scenario', () => {
    expect(scenarioName('[fake:a] do it\n## Context\n[fake:b]', 'default')).toBe('a');
    expect(scenarioName('no tag', 'default')).toBe('default');
  });
  it('actions map onto each CLI\'s own file tools by their parameter names; edits read first where a read tool exists', () => {
    const claude = conv([tool('Write', 'file_path', 'content'), tool('Edit', 'file_path', 'old_string', 'new_string'), tool('Read', 'file_path')]);
    expect(expandAction(claude, { kind: 'write', path: 'a.txt', content: 'x' })).toEqual([{ type: 'tool', name: 'Write', input: { file_path: '/w/a.txt', content: 'x' } }]);
    expect(expandAction(claude, { kind: 'edit', path: 'a.txt', old: 'x', new: 'y' }).map((r) => (r.type === 'tool' ? r.name : r.type))).toEqual(['Read', 'Edit']);
    const droid = conv([tool('Edit', 'file_path', 'old_str', 'new_str')]);
    expect(expandAction(droid, { kind: 'edit', path: 'a.txt', old: 'x', new: 'y' })).toEqual([{ type: 'tool', name: 'Edit', input: { file_path: '/w/a.txt', old_str: 'x', new_str: 'y' } }]);
  });
  it('without file tools, the shell does it (codex exec_command)', () => {
    const [reply] = expandAction(conv([tool('exec_command', 'cmd')]), { kind: 'write', path: 'd/a.txt', content: 'hi\n' });
    expect(reply).toEqual({ type: 'tool', name: 'exec_command', input: { cmd: `mkdir -p 'd' && echo ${Buffer.from('hi\n').toString('base64')} | base64 -d > 'd/a.txt'` } });
  });
  it('the number of tool results since the prompt is the position in the script; no tools → the final text', () => {
    const c = (n: number): Conversation => conv([tool('write', 'filePath', 'content')], n);
    const s = { actions: [{ kind: 'write' as const, path: 'a', content: '1' }], final: 'bye' };
    expect(nextReply(c(0), s).type).toBe('tool');
    expect(nextReply(c(1), s)).toEqual({ type: 'text', text: 'bye' });
    expect(nextReply(conv([]), s)).toEqual({ type: 'text', text: 'bye' });
  });
});

describe('the server', () => {
  let server: FakeModelServer;
  beforeAll(async () => {
    server = await startFakeModel({ scenarios: { default: { final: 'hello' }, rl: { error: { status: 429, times: 1 } }, stall: { stall: true } } });
  });
  afterAll(async () => {
    await server.close();
  });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  it('listens on 127.0.0.1 only', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('speaks Anthropic (SSE), Responses (SSE), Chat Completions and Gemini, and logs the key', async () => {
    const a = await (await post('/v1/messages?beta=true', { model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }, { 'x-api-key': 'k1' })).text();
    expect(a).toContain('event: message_start');
    expect(a).toContain('"text":"hello"');
    const r = await (await post('/v1/responses', { model: 'm', input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] }] }, { authorization: 'Bearer k2' })).text();
    expect(r).toContain('event: response.completed');
    const c = (await (await post('/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'hi' }] })).json()) as { choices: Array<{ message: { content: string } }> };
    expect(c.choices[0]?.message.content).toBe('hello');
    const g = await (await post('/v1beta/models/gemini-x:streamGenerateContent?alt=sse', { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] })).text();
    expect(g).toContain('"text":"hello"');
    expect(server.requests.slice(0, 2).map((q) => q.apiKey)).toEqual(['k1', 'k2']);
    expect(server.usage()).toEqual({ requests: 4, input: 4000, output: 200 });
  });

  it('errors: a 429 with Retry-After and a reset in the message, only `times` times', async () => {
    const first = await post('/v1/messages', { messages: [{ role: 'user', content: '[fake:rl] go' }] });
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('1');
    expect(await first.text()).toContain('try again in 120 seconds');
    expect((await post('/v1/messages', { messages: [{ role: 'user', content: '[fake:rl] go' }] })).status).toBe(200);
  });

  it('stall: headers, then nothing', async () => {
    const res = await post('/v1/chat/completions', { stream: true, tools: [{ type: 'function', function: { name: 'bash', parameters: { properties: { command: { type: 'string' } } } } }], messages: [{ role: 'user', content: '[fake:stall] go' }] });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();
    const next = await Promise.race([reader.read().then(() => 'data'), new Promise((r) => setTimeout(() => r('silence'), 300))]);
    expect(next).toBe('silence');
    await reader.cancel();
  });
});
