/**
 * Gateway authentication and authorisation, on a real server: bearer tokens, scoped tokens and
 * project aliases, GitHub-style HMAC signatures, rate limiting, production refusals. Every
 * rejected request leaves var/ and artifacts/ exactly as they were.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NormalizedJob } from '../../contracts/index.ts';
import { Authenticator, mayAccessProject, parseBearer } from '../../gateway/auth.ts';
import { RateLimiter } from '../../gateway/rate-limit.ts';
import { createGateway } from '../../gateway/server.ts';
import { loadConfig } from '../../lib/config.ts';
import { OrchestratorError } from '../../lib/errors.ts';
import { SECRET, TOKEN, auth, http, hubSignature, jsonHeaders, postJob, startGateway, written, type GatewayHarness } from '../helpers/gateway-env.ts';

const SCOPED = 'scoped-token-proj1-abcdef';
const WILD = 'wildcard-token-abcdef012';
const PROJ1 = '/srv/repos/proj1';
const PROJ2 = '/srv/repos/proj2';

let h: GatewayHarness;
beforeAll(async () => {
  h = await startGateway({ env: { WEBHOOK_TOKENS: `${SCOPED}=proj1,${WILD}=*`, PROJECT_ALIASES: `proj1=${PROJ1},proj2=${PROJ2}` } });
});
afterAll(async () => h.close());

const jobFile = (id: string): NormalizedJob => JSON.parse(readFileSync(h.home.queue.pathOf('pending', id), 'utf8')) as NormalizedJob;

async function expectRejected(status: number, req: () => Promise<{ status: number; body: unknown }>): Promise<void> {
  const before = written(h);
  const res = await req();
  expect(res.status).toBe(status);
  expect((res.body as { error: { message: string } }).error.message).toBeTruthy();
  expect(written(h)).toEqual(before);
}

describe('auth: pure checks', () => {
  it('parses only "Bearer <token>"', () => {
    expect(parseBearer('Bearer abc')).toBe('abc');
    expect(parseBearer('bearer abc')).toBe('abc');
    expect(parseBearer('Basic abc')).toBeUndefined();
    expect(parseBearer('Bearer')).toBeUndefined();
    expect(parseBearer('Bearer a b')).toBeUndefined();
  });
  it('matches tokens of any length without throwing, and signatures of any shape', () => {
    const a = new Authenticator({ token: 'one', scopedTokens: [{ token: 'two', projects: ['p'] }], secret: 's' });
    expect(a.matchToken('one')?.projects).toBe('*');
    expect(a.matchToken('two')?.projects).toEqual(['p']);
    expect(a.matchToken('x'.repeat(10_000))).toBeUndefined();
    expect(a.matchToken('')).toBeUndefined();
    const body = Buffer.from('{"goal":"x"}');
    expect(a.verifySignature(body, hubSignature(body, 's'))?.kind).toBe('hmac');
    for (const bad of ['sha256=00', 'sha1=abc', '', 'sha256=' + 'g'.repeat(64), hubSignature(body, 'other'), hubSignature('{"goal":"y"}', 's')]) {
      expect(a.verifySignature(body, bad)).toBeUndefined();
    }
    expect(a.matchToken('one')?.id).not.toContain('one');
  });
  it('scopes: * sees everything, a list only its projects (never a job without one)', () => {
    expect(mayAccessProject({ id: 'a', kind: 'token', projects: '*' }, undefined)).toBe(true);
    expect(mayAccessProject({ id: 'a', kind: 'token', projects: ['p'] }, 'p')).toBe(true);
    expect(mayAccessProject({ id: 'a', kind: 'token', projects: ['p'] }, 'q')).toBe(false);
    expect(mayAccessProject({ id: 'a', kind: 'token', projects: ['p'] }, undefined)).toBe(false);
  });
  it('rate limiter: a burst, then one request per refill interval, with a Retry-After', () => {
    let t = 0;
    const rl = new RateLimiter({ perMin: 60, burst: 3, now: () => t });
    expect([rl.take('a').ok, rl.take('a').ok, rl.take('a').ok]).toEqual([true, true, true]);
    const r = rl.take('a');
    expect(r).toEqual({ ok: false, retryAfterSec: 1 });
    expect(rl.take('b').ok).toBe(true);
    t += 1000;
    expect(rl.take('a').ok).toBe(true);
    expect(rl.take('a').ok).toBe(false);
  });
});

describe('auth: bearer tokens', () => {
  it('refuses a missing, wrong or malformed bearer with 401 and writes nothing', async () => {
    await expectRejected(401, () => http(h.url, 'POST', '/webhook', { body: '{"goal":"x"}', headers: { 'content-type': 'application/json' } }));
    await expectRejected(401, () => postJob(h, { goal: 'x' }, auth('wrong-token')));
    await expectRejected(401, () => postJob(h, { goal: 'x' }, { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }));
    await expectRejected(401, () => postJob(h, { goal: 'x' }, { authorization: 'Bearer' }));
    await expectRejected(401, () => postJob(h, { goal: 'x' }, { authorization: `Bearer ${TOKEN}x` }));
    const res = await postJob(h, { goal: 'x' }, auth('nope'));
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });
  it('refuses the other routes without credentials too', async () => {
    for (const [m, p] of [['GET', '/jobs'], ['GET', '/jobs/abcdefgh12'], ['POST', '/jobs/abcdefgh12/cancel'], ['GET', '/jobs/abcdefgh12/events'], ['GET', '/jobs/abcdefgh12/artifacts/result.json']] as const) {
      await expectRejected(401, () => http(h.url, m, p));
    }
  });
  it('accepts WEBHOOK_TOKEN: 202 with status, job_id, artifacts_dir, status_url, once the job file exists', async () => {
    const res = await postJob(h, { goal: 'hello' });
    expect(res.status).toBe(202);
    const b = res.body as { status: string; job_id: string; artifacts_dir: string; status_url: string };
    expect(b.status).toBe('queued');
    expect(b.artifacts_dir).toBe(path.join(h.home.config.paths.artifactsRoot, b.job_id));
    expect(b.status_url).toBe(`/jobs/${b.job_id}`);
    const job = jobFile(b.job_id);
    expect(job.source.type).toBe('webhook');
    expect(job.workdir).toBe('.');
    expect(job.steps).toHaveLength(3); // defaults filled in like `orchestrator submit`
  });
});

describe('auth: scoped tokens and project aliases', () => {
  it('a scoped token submits for its project; the workdir comes from the alias', async () => {
    const res = await postJob(h, { goal: 'scoped', project_id: 'proj1', workdir: '.' }, auth(SCOPED));
    expect(res.status).toBe(202);
    const job = jobFile((res.body as { job_id: string }).job_id);
    expect(job.workdir).toBe(PROJ1);
    expect(job.project_id).toBe('proj1');
  });
  it('refuses a scoped token for another project (403) or without a project (403)', async () => {
    await expectRejected(403, () => postJob(h, { goal: 'x', project_id: 'proj2' }, auth(SCOPED)));
    await expectRejected(403, () => postJob(h, { goal: 'x' }, auth(SCOPED)));
  });
  it('refuses an unknown project and a payload workdir (400, naming the paths)', async () => {
    const before = written(h);
    const res = await postJob(h, { goal: 'x', project_id: 'nope', workdir: '/etc' }, auth(WILD));
    expect(res.status).toBe(400);
    const paths = (res.body as { error: { issues: Array<{ path: string }> } }).error.issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['$.project_id', '$.workdir']));
    expect(written(h)).toEqual(before);
  });
  it('a wildcard token may submit for any aliased project', async () => {
    const res = await postJob(h, { goal: 'x', project_id: 'proj2' }, auth(WILD));
    expect(res.status).toBe(202);
    expect(jobFile((res.body as { job_id: string }).job_id).workdir).toBe(PROJ2);
  });
  it('a scoped token cannot read or cancel another project\'s job', async () => {
    const res = await postJob(h, { goal: 'other', project_id: 'proj2' });
    const id = (res.body as { job_id: string }).job_id;
    expect((await http(h.url, 'GET', `/jobs/${id}`, { headers: auth(SCOPED) })).status).toBe(403);
    await expectRejected(403, () => http(h.url, 'POST', `/jobs/${id}/cancel`, { headers: auth(SCOPED) }));
    const list = await http(h.url, 'GET', '/jobs?limit=500', { headers: auth(SCOPED) });
    const ids = (list.body as { jobs: Array<{ job_id: string }> }).jobs.map((j) => j.job_id);
    expect(ids).not.toContain(id);
    for (const jid of ids) expect(jobFile(jid).project_id).toBe('proj1');
  });
});

describe('auth: GitHub-style signed deliveries', () => {
  const body = JSON.stringify({ goal: 'A push landed on main', tags: ['github'] });
  const signed = (sig: string, extra: Record<string, string> = {}): Promise<{ status: number; body: unknown }> =>
    http(h.url, 'POST', '/webhook', { body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': sig, 'x-github-event': 'push', ...extra } });

  it('accepts a correct signature over the raw bytes; X-GitHub-Delivery is the idempotency key', async () => {
    const first = await signed(hubSignature(body), { 'x-github-delivery': 'delivery-0001' });
    expect(first.status).toBe(202);
    const id = (first.body as { job_id: string }).job_id;
    expect(jobFile(id).source.meta).toMatchObject({ delivery_id: 'delivery-0001', event: 'push', via: 'hmac' });
    const again = await signed(hubSignature(body), { 'x-github-delivery': 'delivery-0001' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ job_id: id, duplicate: true });
  });
  it('refuses a wrong, malformed or missing signature with 401 (never 500) and writes nothing', async () => {
    for (const sig of ['sha256=' + '0'.repeat(64), 'sha256=00', 'sha256=', 'md5=abc', hubSignature(body, 'wrong-secret'), hubSignature(body + ' '), 'sha256=' + 'z'.repeat(64)]) {
      await expectRejected(401, () => signed(sig, { 'x-github-delivery': 'delivery-bad' }));
    }
    await expectRejected(401, () => http(h.url, 'POST', '/webhook', { body, headers: { 'content-type': 'application/json', 'x-github-delivery': 'delivery-none' } }));
  });
  it('a signature must cover the exact bytes: re-serialised JSON does not verify', async () => {
    const pretty = JSON.stringify(JSON.parse(body), null, 2);
    await expectRejected(401, () => http(h.url, 'POST', '/webhook', { body: pretty, headers: { 'content-type': 'application/json', 'x-hub-signature-256': hubSignature(body) } }));
    const ok = await http(h.url, 'POST', '/webhook', { body: pretty, headers: { 'content-type': 'application/json', 'x-hub-signature-256': hubSignature(pretty) } });
    expect(ok.status).toBe(202);
  });
  it('a bearer token and a bad signature together are refused', async () => {
    await expectRejected(401, () => http(h.url, 'POST', '/webhook', { body, headers: { ...jsonHeaders(), 'x-hub-signature-256': hubSignature(body, 'nope') } }));
  });
});

describe('auth: configuration and limits', () => {
  it('refuses the dev token, missing credentials and short tokens with NODE_ENV=production', () => {
    const cfg = (env: Record<string, string>) => loadConfig({ ORCHESTRATOR_HOME: h.home.dir, ...env }, h.home.dir);
    const start = (env: Record<string, string>) => () => createGateway({ config: cfg(env) });
    expect(start({ NODE_ENV: 'production', WEBHOOK_TOKEN: 'dev-token' })).toThrow(OrchestratorError);
    expect(start({ NODE_ENV: 'production' })).toThrow(/no webhook credentials/);
    expect(start({ NODE_ENV: 'production', WEBHOOK_TOKEN: 'short' })).toThrow(/16 characters/);
    expect(start({ WEBHOOK_TOKENS: 'tok=ghost', PROJECT_ALIASES: 'p=/x' })).toThrow(/not in PROJECT_ALIASES/);
    expect(() => cfg({ PROJECT_ALIASES: 'p=relative/path' })).toThrow(/absolute/);
    expect(cfg({}).webhook.token).toBe('dev-token');
    expect(cfg({ NODE_ENV: 'production', WEBHOOK_TOKENS: `${'a'.repeat(20)}=*` }).webhook.token).toBeNull();
    expect(start({ NODE_ENV: 'production', WEBHOOK_TOKENS: `${'a'.repeat(20)}=*` })).not.toThrow();
  });

  it('answers 429 with Retry-After past the rate limit, and writes nothing for it', async () => {
    const rl = await startGateway({ env: { WEBHOOK_RATE_LIMIT_PER_MIN: '60', WEBHOOK_RATE_LIMIT_BURST: '3' } });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 3; i++) codes.push((await postJob(rl, { goal: `r${i}` })).status);
      expect(codes).toEqual([202, 202, 202]);
      const before = written(rl);
      const res = await postJob(rl, { goal: 'too many' });
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((res.body as { error: { code: string } }).error.code).toBe('E_RATE_LIMITED');
      expect(written(rl)).toEqual(before);
      // other routes are not limited
      expect((await http(rl.url, 'GET', '/jobs', { headers: auth() })).status).toBe(200);
    } finally {
      await rl.close();
    }
  });

  it('SECRET is never echoed in errors', async () => {
    const res = await postJob(h, { goal: 'x' }, auth(SECRET));
    expect(res.status).toBe(401);
    expect(JSON.stringify(res.body)).not.toContain(SECRET);
  });
});
