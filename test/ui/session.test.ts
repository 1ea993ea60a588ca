/**
 * The dashboard's session over plain HTTP (no browser): a login with a token gives an HttpOnly,
 * SameSite=Strict cookie and nothing secret in a URL; the cookie works on /jobs... and /budget
 * with the token's own scope; a change made with it needs the CSRF header; the webhook never takes
 * it; logout and expiry end it; every /ui response has the strict CSP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionStore, cookieValue, csrfMatches } from '../../gateway/ui/sessions.ts';
import { TOKEN, http, postJob, startGateway, type GatewayHarness, type HttpResult } from '../helpers/gateway-env.ts';

const SCOPED = 'scoped-token-proj1-abcdef';

let h: GatewayHarness;
beforeAll(async () => {
  h = await startGateway({ env: { WEBHOOK_TOKENS: `${SCOPED}=proj1`, PROJECT_ALIASES: 'proj1=/srv/repos/proj1,proj2=/srv/repos/proj2' } });
});
afterAll(async () => h.close());

interface Login {
  cookie: string;
  csrf: string;
  res: HttpResult;
}

async function login(token = TOKEN, extra: Record<string, string> = {}): Promise<Login> {
  const res = await http(h.url, 'POST', '/ui/login', { headers: { 'content-type': 'application/json', ...extra }, body: JSON.stringify({ token, name: 'alice' }) });
  const set = res.headers.get('set-cookie') ?? '';
  return { cookie: set.split(';')[0] ?? '', csrf: (res.body as { csrf?: string })?.csrf ?? '', res };
}

const withCookie = (l: Login, more: Record<string, string> = {}): Record<string, string> => ({ cookie: l.cookie, ...more });

describe('dashboard pages', () => {
  it('serves the page and its modules with a strict Content-Security-Policy (no inline script, Trusted Types)', async () => {
    for (const p of ['/ui', '/ui/', '/ui/js/app.js', '/ui/app.css']) {
      const r = await http(h.url, 'GET', p);
      expect(r.status, p).toBe(200);
      const csp = r.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("require-trusted-types-for 'script'");
      expect(csp).not.toContain('unsafe-inline');
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('x-frame-options')).toBe('DENY');
    }
    const page = await http(h.url, 'GET', '/ui');
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    // every script of the page is an external module: nothing inline for the policy to allow
    expect(page.text.match(/<script[^>]*>/g)).toEqual(['<script type="module" src="/ui/js/app.js">']);
    expect((await http(h.url, 'GET', '/ui/js/app.js')).headers.get('content-type')).toMatch(/^text\/javascript/);
  });

  it('serves only the files of ui/: no tsconfig, no path escapes; ETags revalidate', async () => {
    for (const p of ['/ui/tsconfig.json', '/ui/js/../../package.json', '/ui/%2e%2e/package.json', '/ui/nope.js']) expect((await http(h.url, 'GET', p)).status, p).toBe(404);
    const first = await http(h.url, 'GET', '/ui/js/app.js');
    const again = await http(h.url, 'GET', '/ui/js/app.js', { headers: { 'if-none-match': first.headers.get('etag') ?? '' } });
    expect(again.status).toBe(304);
  });
});

describe('login and the session cookie', () => {
  it('a wrong token is a 401 and sets no cookie', async () => {
    const l = await login('not-the-token');
    expect(l.res.status).toBe(401);
    expect(l.res.headers.get('set-cookie')).toBeNull();
  });

  it('a right token (JSON) gives an HttpOnly, SameSite=Strict cookie of 32 random bytes, never the token', async () => {
    const l = await login();
    expect(l.res.status).toBe(200);
    const set = l.res.headers.get('set-cookie') ?? '';
    expect(set).toMatch(/^orchestrator_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    expect(l.res.text).not.toContain(TOKEN);
    expect(set).not.toContain(TOKEN);
    expect(l.res.headers.get('cache-control')).toBe('no-store');
    const body = l.res.body as { principal: { id: string; projects: unknown }; name: string; csrf: string };
    expect(body.principal.projects).toBe('*');
    expect(body.name).toBe('alice');
    expect(body.csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const other = await login();
    expect(other.cookie).not.toBe(l.cookie);
    expect(other.csrf).not.toBe(l.csrf);
  });

  it('a form login redirects to the page; a failed one says so in the fragment, never the token', async () => {
    const ok = await fetch(`${h.url}/ui/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(TOKEN)}` });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/ui/');
    expect(ok.headers.get('set-cookie')).toMatch(/^orchestrator_session=/);
    const bad = await fetch(`${h.url}/ui/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=wrong' });
    expect(bad.status).toBe(303);
    expect(bad.headers.get('location')).toBe('/ui/#login-failed');
    expect(bad.headers.get('set-cookie')).toBeNull();
  });

  it('refuses a login posted from another site (Origin, Sec-Fetch-Site) and unknown fields', async () => {
    expect((await login(TOKEN, { origin: 'http://evil.example' })).res.status).toBe(403);
    expect((await login(TOKEN, { 'sec-fetch-site': 'cross-site' })).res.status).toBe(403);
    const extra = await http(h.url, 'POST', '/ui/login', { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: TOKEN, admin: true }) });
    expect(extra.status).toBe(400);
  });

  it('GET /ui/session says who is logged in and gives the CSRF token; without a cookie it is a 401', async () => {
    const l = await login();
    const s = await http(h.url, 'GET', '/ui/session', { headers: withCookie(l) });
    expect(s.status).toBe(200);
    expect((s.body as { csrf: string }).csrf).toBe(l.csrf);
    expect((await http(h.url, 'GET', '/ui/session')).status).toBe(401);
    expect((await http(h.url, 'GET', '/ui/session', { headers: { cookie: 'orchestrator_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } })).status).toBe(401);
  });
});

describe('the cookie on the API', () => {
  it('reads /jobs, /jobs/:id, artifacts and /budget with the cookie alone', async () => {
    const l = await login();
    // a job parked at submit has its artifacts at once (this harness runs no runner)
    const id = (await postJob(h, { goal: 'cookie reader', policy: { requires_approval: true } })).body as { job_id: string };
    for (const p of ['/jobs', '/jobs?view=summary', `/jobs/${id.job_id}`, `/jobs/${id.job_id}/artifacts/`, '/budget', '/ui/health']) {
      expect((await http(h.url, 'GET', p, { headers: withCookie(l) })).status, p).toBe(200);
    }
    expect((await http(h.url, 'GET', '/jobs')).status).toBe(401);
    expect((await http(h.url, 'GET', '/ui/health')).status).toBe(401);
    // /health's report, always 200 (this harness has no runner: ok false)
    const health = await http(h.url, 'GET', '/ui/health', { headers: withCookie(l) });
    expect(health.body).toMatchObject({ ok: false, runner_alive: false, queue: { awaiting_approval: expect.any(Number) } });
  });

  it('a change made with the cookie needs the X-Orchestrator-CSRF header of that session', async () => {
    const l = await login();
    const other = await login();
    const job = (await postJob(h, { goal: 'csrf', policy: { requires_approval: true } })).body as { job_id: string; status: string };
    expect(job.status).toBe('awaiting_approval');
    const approve = (headers: Record<string, string>): Promise<HttpResult> => http(h.url, 'POST', `/jobs/${job.job_id}/approve`, { headers: { ...withCookie(l), 'content-type': 'application/json', ...headers }, body: '{}' });
    const none = await approve({});
    expect(none.status).toBe(403);
    expect((none.body as { error: { message: string } }).error.message).toMatch(/X-Orchestrator-CSRF/);
    expect((await approve({ 'x-orchestrator-csrf': other.csrf })).status).toBe(403);
    expect((await approve({ 'x-orchestrator-csrf': 'x' })).status).toBe(403);
    expect((await approve({ 'x-orchestrator-csrf': l.csrf, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await http(h.url, 'GET', `/jobs/${job.job_id}`, { headers: withCookie(l) })).body).toMatchObject({ queue_state: 'awaiting_approval' });
    const ok = await approve({ 'x-orchestrator-csrf': l.csrf, 'sec-fetch-site': 'same-origin' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ queue_state: 'pending' });
  });

  it('the webhook never accepts the cookie', async () => {
    const l = await login();
    const r = await http(h.url, 'POST', '/webhook', { headers: withCookie(l, { 'content-type': 'application/json', 'x-orchestrator-csrf': l.csrf }), body: JSON.stringify({ goal: 'via cookie' }) });
    expect(r.status).toBe(401);
  });

  it("a scoped token's session sees its projects only, exactly like the token", async () => {
    const mine = (await postJob(h, { goal: 'proj1 job', project_id: 'proj1' })).body as { job_id: string };
    const theirs = (await postJob(h, { goal: 'proj2 job', project_id: 'proj2' })).body as { job_id: string };
    const l = await login(SCOPED);
    expect((l.res.body as { principal: { projects: string[] } }).principal.projects).toEqual(['proj1']);
    const list = await http(h.url, 'GET', '/jobs?view=summary&limit=500', { headers: withCookie(l) });
    const ids = (list.body as { jobs: Array<{ job_id: string }> }).jobs.map((j) => j.job_id);
    expect(ids).toContain(mine.job_id);
    expect(ids).not.toContain(theirs.job_id);
    expect((await http(h.url, 'GET', `/jobs/${theirs.job_id}`, { headers: withCookie(l) })).status).toBe(403);
    expect((await http(h.url, 'GET', `/jobs/${theirs.job_id}/events`, { headers: withCookie(l) })).status).toBe(403);
    expect((await http(h.url, 'GET', `/jobs/${theirs.job_id}/artifacts/report.md`, { headers: withCookie(l) })).status).toBe(403);
    const budget = (await http(h.url, 'GET', '/budget', { headers: withCookie(l) })).body as { scoped: boolean; global: unknown };
    expect(budget).toMatchObject({ scoped: true, global: null });
  });

  it('logout ends the session: the cookie is cleared and refused afterwards', async () => {
    const l = await login();
    expect((await http(h.url, 'POST', '/ui/logout', { headers: withCookie(l) })).status).toBe(403); // no CSRF header
    const out = await http(h.url, 'POST', '/ui/logout', { headers: withCookie(l, { 'x-orchestrator-csrf': l.csrf }) });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/^orchestrator_session=; .*Max-Age=0/);
    expect((await http(h.url, 'GET', '/jobs', { headers: withCookie(l) })).status).toBe(401);
  });
});

describe('SessionStore', () => {
  it('ends a session after the idle time and after the absolute lifetime, whatever the activity', () => {
    let now = 1_000_000;
    const store = new SessionStore({ idleMs: 1000, maxAgeMs: 5000, now: () => now });
    const p = { id: 'token:x', kind: 'token' as const, projects: '*' as const };
    const a = store.create(p);
    now += 900;
    expect(store.get(a.id)).toBeDefined(); // activity slides the idle window
    now += 900;
    expect(store.get(a.id)).toBeDefined();
    now += 1001;
    expect(store.get(a.id)).toBeUndefined();
    const b = store.create(p);
    for (let i = 0; i < 6; i++) {
      now += 900;
      if (i < 5) expect(store.get(b.id)).toBeDefined();
    }
    expect(store.get(b.id)).toBeUndefined(); // 5400 ms after login: past maxAgeMs
  });

  it('keeps at most maxSessions (the oldest go first) and refuses malformed ids', () => {
    const store = new SessionStore({ maxSessions: 3 });
    const p = { id: 'token:x', kind: 'token' as const, projects: '*' as const };
    const ids = Array.from({ length: 5 }, () => store.create(p).id);
    expect(store.size).toBe(3);
    expect(store.get(ids[0])).toBeUndefined();
    expect(store.get(ids[4])).toBeDefined();
    expect(store.get('short')).toBeUndefined();
    expect(store.get(`${ids[4]}x`)).toBeUndefined();
  });

  it('compares CSRF tokens whole, and reads one cookie out of a header', () => {
    const store = new SessionStore();
    const { session } = store.create({ id: 't', kind: 'token', projects: '*' });
    expect(csrfMatches(session, session.csrf)).toBe(true);
    expect(csrfMatches(session, session.csrf.slice(0, -1))).toBe(false);
    expect(csrfMatches(session, undefined)).toBe(false);
    expect(cookieValue('a=1; orchestrator_session=abc; b=2', 'orchestrator_session')).toBe('abc');
    expect(cookieValue('xorchestrator_session=abc', 'orchestrator_session')).toBeUndefined();
  });
});

describe('login rate limit', () => {
  it('refuses a burst of logins from one address with 429 and Retry-After', async () => {
    const g = await startGateway();
    try {
      let last: Response | undefined;
      for (let i = 0; i < 25; i++) last = await fetch(`${g.url}/ui/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'wrong' }) });
      expect(last?.status).toBe(429);
      expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await g.close();
    }
  });
});
