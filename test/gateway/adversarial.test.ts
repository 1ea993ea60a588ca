/**
 * An adversarial corpus against a real gateway: malformed JSON, wrong types, extra fields,
 * `__proto__`, huge strings, deep nesting, traversal ids, wrong content types, empty bodies, bad
 * headers and paths. Every case gets a 4xx with a message (never a 5xx) and writes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, jsonHeaders, startGateway, TOKEN, written, type GatewayHarness } from '../helpers/gateway-env.ts';

interface Case {
  name: string;
  method?: string;
  path?: string;
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  /** Expected status when it matters (default: any 4xx). */
  status?: number;
}

const J = (v: unknown): string => JSON.stringify(v);
const job = (extra: Record<string, unknown>): string => J({ goal: 'adversarial', ...extra });
const step = (extra: Record<string, unknown>): string => J({ goal: 'adversarial', steps: [{ step_id: 's1', agent: 'claude', ...extra }] });
const nest = (depth: number, inner = '1'): string => '['.repeat(depth) + inner + ']'.repeat(depth);
const nestObj = (depth: number): string => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

const malformed: Case[] = [
  '{', '}', '{"goal":}', '{"goal":"x",}', "{'goal':'x'}", '{goal:"x"}', '{"goal":"x"', '{"goal":"x"}}', '{"goal":"x"} trailing', 'nul', 'undefined',
  '{"goal":NaN}', '{"goal":Infinity}', '{"goal":"x" /* c */}', '// c\n{"goal":"x"}', '{"goal":"\\x41"}', '{"goal":"line\nbreak"}', '{"goal":01}', '\uFEFF{"goal":"x"}extra',
  '{"goal":"x","goal"}', '[1,2', '"unterminated',
].map((body, i) => ({ name: `malformed JSON #${i}: ${body.slice(0, 30)}`, body, status: 400 }));

const notObjects: Case[] = ['[]', '[{"goal":"x"}]', '"a job"', '42', 'null', 'true', '{}'].map((body) => ({ name: `not a job: ${body}`, body, status: 400 }));

const wrongTypes: Case[] = [
  job({ goal: 1 }), job({ goal: null }), job({ goal: [] }), job({ goal: { text: 'x' } }), job({ goal: '' }), job({ goal: true }),
  job({ priority: '1' }), job({ priority: 1.5 }), job({ priority: 1000 }), job({ priority: null }),
  job({ tags: 'x' }), job({ tags: [1] }), job({ tags: [''] }), job({ metadata: [] }), job({ metadata: 'm' }),
  job({ steps: {} }), job({ steps: [] }), job({ steps: 'plan' }), job({ policy: 'strict' }), job({ policy: { sandbox: 'true' } }),
  job({ policy: { network: 'maybe' } }), job({ policy: { max_cost_usd: -1 } }), job({ callback_url: 123 }), job({ callback_url: 'ftp://example.com/x' }),
  job({ callback_url: 'not a url' }), job({ created_at: 'yesterday' }), job({ context_strategy: 'all' }), job({ idempotency_key: '' }),
  job({ schema_version: '2.0' }), job({ source: 'github' }), job({ source: { type: 'email' } }), job({ context_window: [{ role: 'user' }] }),
  step({ step_id: 1 }), step({ agent: 'kimi' }), step({ agent: 'CLAUDE' }), step({ timeout_sec: '60' }), step({ timeout_sec: 0 }), step({ max_retries: -1 }),
  step({ max_retries: 2.5 }), step({ on_failure: 'explode' }), step({ on_failure: 'goto:missing' }), step({ requires_approval: 'yes' }), step({ command: 'rm -rf /' }),
  step({ agent: 'command' }), step({ input_artifacts: ['../../etc/passwd'] }), step({ input_artifacts: ['/etc/passwd'] }), step({ apply_patches_from: ['s1'] }),
  step({ simulate: { outcome: 'explode' } }), step({ simulate: { delay_ms: -5 } }),
  J({ goal: 'dup', steps: [{ step_id: 'a', agent: 'claude' }, { step_id: 'a', agent: 'codex' }] }),
].map((body, i) => ({ name: `wrong type/value #${i}: ${body.slice(0, 60)}`, body, status: 400 }));

const extraFields: Case[] = [
  job({ unknown: 1 }), job({ Goal: 'x' }), job({ policy: { sandbox: true, root: true } }), job({ source: { type: 'webhook', extra: 1 } }),
  step({ shell: 'bash' }), step({ simulate: { rm: true } }), job({ context_window: [{ role: 'u', content: 'c', x: 1 }] }), job({ workdir: '/etc' }),
  job({ workdir: '../../' }), job({ project_id: 'unknown-project' }),
].map((body, i) => ({ name: `extra field #${i}: ${body.slice(0, 60)}`, body, status: 400 }));

const proto: Case[] = [
  '{"goal":"x","__proto__":{"polluted":true}}', '{"__proto__":{"goal":"x"}}', '{"goal":"x","metadata":{"__proto__":{"a":1}}}',
  '{"goal":"x","steps":[{"step_id":"s","agent":"claude","__proto__":{"command":["sh"]}}]}', '{"goal":"x","constructor":{"prototype":{"a":1}}}',
  '{"goal":"x","metadata":{"constructor":{"prototype":{"polluted":1}}}}', '{"goal":"x","__proto__":null}',
].map((body, i) => ({ name: `__proto__ #${i}`, body, status: 400 }));

const huge: Case[] = [
  { name: 'goal of 5001 characters', body: job({ goal: 'g'.repeat(5001) }), status: 400 },
  { name: 'prompt of 50001 characters', body: step({ prompt: 'p'.repeat(50001) }), status: 400 },
  { name: '51 tags', body: job({ tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }), status: 400 },
  { name: '51 steps', body: J({ goal: 'x', steps: Array.from({ length: 51 }, (_, i) => ({ step_id: `s${i}`, agent: 'claude' })) }), status: 400 },
  { name: 'body over MAX_WEBHOOK_BODY_BYTES (300 KB string)', body: job({ goal: 'g'.repeat(300_000) }), status: 413 },
  { name: 'body of 2 MB', body: job({ metadata: { blob: 'b'.repeat(2_000_000) } }), status: 413 },
  { name: 'idempotency_key of 201 characters', body: job({ idempotency_key: 'k'.repeat(201) }), status: 400 },
  { name: 'many unknown keys', body: J(Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, i]))), status: 400 },
];

const deep: Case[] = [
  { name: 'array nested 100 000 deep', body: nest(100_000), status: 400 },
  { name: 'array nested 65 deep in goal', body: job({}).replace('"adversarial"', nest(65)), status: 400 },
  { name: 'object nested 1000 deep in metadata', body: `{"goal":"x","metadata":${nestObj(1000)}}`, status: 400 },
  { name: 'object nested 65 deep in metadata', body: `{"goal":"x","metadata":${nestObj(65)}}`, status: 400 },
  { name: 'unbalanced deep nesting', body: '{"goal":' + '['.repeat(5000), status: 400 },
];

const traversalIds: Case[] = [
  '../../etc/passwd', '..', '...', '........', 'a/b/c/d/e', '..%2f..%2fetc', 'job\u0000id1234', 'short', 'x'.repeat(65), './abcdefgh', 'abc def gh', 'job_id\n123', '/abs/olute',
  'C:\\\\windows', '%2e%2e%2e%2e%2e%2e%2e%2e',
].map((id, i) => ({ name: `traversal job_id #${i}: ${JSON.stringify(id).slice(0, 30)}`, body: job({ job_id: id }), status: 400 }));

const contentTypes: Case[] = [
  { name: 'text/plain', headers: { 'content-type': 'text/plain' } },
  { name: 'form-urlencoded', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
  { name: 'multipart', headers: { 'content-type': 'multipart/form-data; boundary=x' } },
  { name: 'xml', headers: { 'content-type': 'application/xml' } },
  { name: 'text/json', headers: { 'content-type': 'text/json' } },
  { name: 'application/jsonx', headers: { 'content-type': 'application/jsonx' } },
  { name: 'json-patch', headers: { 'content-type': 'application/json-patch+json' } },
  { name: 'charset utf-16', headers: { 'content-type': 'application/json; charset=utf-16' } },
  { name: 'charset latin1', headers: { 'content-type': 'application/json; charset=iso-8859-1' } },
  { name: 'empty content type', headers: { 'content-type': '' } },
].map((c) => ({ ...c, body: job({}), status: 415 }));

const emptyBodies: Case[] = [
  { name: 'empty body with JSON type', body: '', status: 400 },
  { name: 'whitespace body', body: '   \n\t ', status: 400 },
  { name: 'no body and no content type', headers: { 'content-type': '' }, status: 415 },
  { name: 'invalid UTF-8 bytes', body: new Uint8Array([0x7b, 0x22, 0x67, 0x6f, 0x61, 0x6c, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), status: 400 },
  { name: 'lone NUL', body: '\u0000', status: 400 },
];

const headers: Case[] = [
  { name: 'Idempotency-Key of 201 characters', body: job({}), headers: { 'idempotency-key': 'k'.repeat(201) }, status: 400 },
  { name: 'Idempotency-Key with spaces', body: job({}), headers: { 'idempotency-key': 'a b' }, status: 400 },
  { name: 'X-GitHub-Delivery with control-like characters', body: job({}), headers: { 'x-github-delivery': 'dé' }, status: 400 },
  { name: 'Authorization with another scheme', body: job({}), headers: { authorization: 'Token abc' }, status: 401 },
  { name: 'Authorization with a wrong token', body: job({}), headers: { authorization: 'Bearer nope' }, status: 401 },
  { name: 'no Authorization at all', body: job({}), headers: { authorization: '' }, status: 401 },
];

const paths: Case[] = [
  { name: 'GET a job by traversal id', method: 'GET', path: '/jobs/..%2F..%2Fetc%2Fpasswd' },
  { name: 'GET artifacts by traversal', method: 'GET', path: '/jobs/abcdefgh12/artifacts/..%2F..%2F..%2Fetc%2Fpasswd' },
  { name: 'GET artifacts of a missing job', method: 'GET', path: '/jobs/abcdefgh12/artifacts/result.json', status: 404 },
  { name: 'GET a missing job', method: 'GET', path: '/jobs/abcdefgh12', status: 404 },
  { name: 'approve a missing job', method: 'POST', path: '/jobs/abcdefgh12/approve', status: 404 },
  { name: 'approve with a non-object body', method: 'POST', path: '/jobs/abcdefgh12/approve', body: '[1]', status: 400 },
  { name: 'approve with an unknown field', method: 'POST', path: '/jobs/abcdefgh12/approve', body: '{"force":true}', status: 400 },
  { name: 'list with a bad state', method: 'GET', path: '/jobs?state=everything', status: 400 },
  { name: 'list with a bad limit', method: 'GET', path: '/jobs?limit=-1', status: 400 },
  { name: 'list with limit 0', method: 'GET', path: '/jobs?limit=0', status: 400 },
  { name: 'list with a huge limit', method: 'GET', path: '/jobs?limit=100000', status: 400 },
  { name: 'list with an unknown parameter', method: 'GET', path: '/jobs?sort=asc', status: 400 },
  { name: 'list with a bad cursor', method: 'GET', path: '/jobs?cursor=../../x', status: 400 },
  { name: 'list with a repeated parameter', method: 'GET', path: '/jobs?state=done&state=failed', status: 400 },
  { name: 'PUT /webhook', method: 'PUT', path: '/webhook', status: 404 },
  { name: 'DELETE a job', method: 'DELETE', path: '/jobs/abcdefgh12', status: 404 },
  { name: 'unknown route', method: 'GET', path: '/admin', status: 404 },
  { name: 'very long job id', method: 'GET', path: `/jobs/${'a'.repeat(5000)}` },
];

const CORPUS: Case[] = [...malformed, ...notObjects, ...wrongTypes, ...extraFields, ...proto, ...huge, ...deep, ...traversalIds, ...contentTypes, ...emptyBodies, ...headers, ...paths];

let h: GatewayHarness;
beforeAll(async () => {
  h = await startGateway({ env: { PROJECT_ALIASES: 'known=/srv/known' } });
});
afterAll(async () => h.close());

describe('adversarial corpus', () => {
  it(`has at least 100 cases (${CORPUS.length})`, () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(100);
  });

  it('every case gets a 4xx with a coded message, never a 5xx, and nothing is written', async () => {
    const before = written(h);
    const failures: string[] = [];
    for (const c of CORPUS) {
      const hdrs: Record<string, string> = { ...jsonHeaders(TOKEN), ...c.headers };
      for (const [k, v] of Object.entries(hdrs)) if (v === '') delete hdrs[k];
      const res = await http(h.url, c.method ?? 'POST', c.path ?? '/webhook', { ...(c.body !== undefined ? { body: c.body } : {}), headers: hdrs });
      const err = (res.body as { error?: { code?: string; message?: string } } | undefined)?.error;
      const ok = res.status >= 400 && res.status < 500 && (c.status === undefined || res.status === c.status) && typeof err?.code === 'string' && !!err.message && !res.text.includes('    at ');
      if (!ok) failures.push(`${c.name}: ${res.status} ${res.text.slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
    expect(written(h)).toEqual(before);
    // the server is still healthy afterwards
    const ok = await http(h.url, 'POST', '/webhook', { body: job({}), headers: jsonHeaders() });
    expect(ok.status).toBe(202);
  });

  it('a 400 names every offending JSON path', async () => {
    const res = await http(h.url, 'POST', '/webhook', {
      body: J({ goal: 5, priority: 'high', extra: true, steps: [{ step_id: 's', agent: 'kimi', bogus: 1 }] }),
      headers: jsonHeaders(),
    });
    expect(res.status).toBe(400);
    const paths = (res.body as { error: { issues: Array<{ path: string }> } }).error.issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['$.goal', '$.priority', '$.extra', '$.steps[0].agent', '$.steps[0].bogus']));
    const kimi = (res.body as { error: { issues: Array<{ path: string; message: string }> } }).error.issues.find((i) => i.path === '$.steps[0].agent');
    expect(kimi?.message).toMatch(/kimi.*claude/);
  });

  it('no type coercion and no silent stripping: the stored job is exactly what was sent plus defaults', async () => {
    const res = await http(h.url, 'POST', '/webhook', { body: J({ goal: 'exact', priority: 5, tags: ['a'], metadata: { n: '1' } }), headers: jsonHeaders() });
    expect(res.status).toBe(202);
    const got = await h.home.queue.get((res.body as { job_id: string }).job_id);
    expect(got?.job.priority).toBe(5);
    expect(got?.job.metadata).toEqual({ n: '1' });
  });
});
