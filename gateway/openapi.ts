/**
 * The OpenAPI 3.1 description of the HTTP API, written by hand (no @fastify/swagger: our routes
 * deliberately carry no fastify body schemas, since validation is ours and strict), with the job
 * contract taken from contracts/job.schema.json so the two can never disagree. Served at
 * /docs/json; /docs is a small self-contained HTML page generated from it (works offline).
 */
import { jobSchema } from '../contracts/validate.ts';
import { QUEUE_STATES } from '../fsqueue/states.ts';

type Json = Record<string, unknown>;

/** Move the job schema's $defs into components and point its $refs there. */
function jobComponents(): Record<string, Json> {
  const schema = jobSchema();
  const defs = (schema.$defs ?? {}) as Record<string, Json>;
  const rewrite = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (v && typeof v === 'object') {
      const out: Json = {};
      for (const [k, x] of Object.entries(v)) {
        if (k === '$ref' && typeof x === 'string' && x.startsWith('#/$defs/')) out[k] = `#/components/schemas/Job_${x.slice(8)}`;
        else out[k] = rewrite(x);
      }
      return out;
    }
    return v;
  };
  const { $schema: _s, $id: _i, $defs: _d, ...job } = schema;
  const out: Record<string, Json> = { Job: rewrite(job) as Json };
  for (const [name, def] of Object.entries(defs)) out[`Job_${name}`] = rewrite(def) as Json;
  return out;
}

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json, description: string): Json => ({ description, content: { 'application/json': { schema } } });
const err = (description: string): Json => json(ref('Error'), description);
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^(?!\\.+$)[a-zA-Z0-9._-]{8,64}$' } };
const webhookSecured = [{ bearer: [] }, { hubSignature: [] }];
const secured = [...webhookSecured, { uiSession: [] }];
const common = { '401': err('missing or wrong credentials'), '403': err('the token is scoped to other projects'), '404': err('no such job') };

/** A POST on one job (approve, reject, retry): an optional JSON body of these string/boolean fields, 200 or 409. */
const jobAction = (summary: string, fields: Record<string, 'string' | 'boolean'>, done: string, conflict: string): Json => ({
  post: {
    summary,
    security: secured,
    parameters: [idParam],
    requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', additionalProperties: false, properties: Object.fromEntries(Object.entries(fields).map(([k, t]) => [k, { type: t }])) } } } },
    responses: { '200': json({ type: 'object' }, done), '409': err(conflict), ...common },
  },
});

export function openApiDocument(opts: { publicUrl?: string | null } = {}): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'agent-orchestrator gateway',
      version: '1.0.0',
      description:
        'Submit jobs for headless CLI coding agents, follow them, approve or cancel them. Errors are `{error: {code, message, issues}}` where each issue names a JSONPath. See docs/API.md.',
    },
    ...(opts.publicUrl ? { servers: [{ url: opts.publicUrl }] } : {}),
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'WEBHOOK_TOKEN, or a token of WEBHOOK_TOKENS (scoped to projects).' },
        hubSignature: { type: 'apiKey', in: 'header', name: 'X-Hub-Signature-256', description: '`sha256=<hex HMAC-SHA256 of the raw body with WEBHOOK_SECRET>` (GitHub style).' },
        uiSession: { type: 'apiKey', in: 'cookie', name: 'orchestrator_session', description: 'The dashboard\'s session (POST /ui/login). Accepted by /jobs..., /budget (not /webhook); a POST made with it also needs `X-Orchestrator-CSRF: <csrf of GET /ui/session>`.' },
      },
      schemas: {
        ...jobComponents(),
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message', 'issues'],
              properties: {
                code: { type: 'string', examples: ['E_SCHEMA'] },
                message: { type: 'string' },
                issues: { type: 'array', items: { type: 'object', required: ['path', 'message'], properties: { path: { type: 'string', examples: ['$.steps[0].agent'] }, message: { type: 'string' } } } },
              },
            },
          },
        },
        Accepted: {
          type: 'object',
          required: ['status', 'job_id', 'artifacts_dir', 'status_url'],
          properties: {
            status: { type: 'string', enum: ['queued', 'awaiting_approval'] },
            job_id: { type: 'string' },
            artifacts_dir: { type: 'string' },
            status_url: { type: 'string' },
            duplicate: { type: 'boolean', description: 'true (with HTTP 200) when the idempotency key was seen before: job_id is the first job.' },
          },
        },
        QueueState: { type: 'string', enum: [...QUEUE_STATES] },
      },
    },
    paths: {
      '/webhook': {
        post: {
          summary: 'Submit a job',
          description:
            'The body is a job (contracts/job.schema.json), validated strictly: unknown fields and wrong types are refused, every offending path is named. `project_id` must be a key of PROJECT_ALIASES; the workdir comes from the alias. 202 only once the job file is durable.',
          security: webhookSecured,
          parameters: [
            { name: 'Idempotency-Key', in: 'header', schema: { type: 'string', maxLength: 200 }, description: 'A repeat returns the first job with 200.' },
            { name: 'X-GitHub-Delivery', in: 'header', schema: { type: 'string', maxLength: 200 }, description: 'Idempotency key of a GitHub-style delivery.' },
          ],
          requestBody: { required: true, content: { 'application/json': { schema: ref('Job') } } },
          responses: {
            '202': json(ref('Accepted'), 'queued durably'),
            '200': json(ref('Accepted'), 'duplicate delivery: the first job'),
            '400': err('invalid JSON or job (issues name each path)'),
            '401': err('missing or wrong bearer token / signature'),
            '403': err('the token may not submit for this project'),
            '409': err('a job with this job_id exists'),
            '413': err('body larger than MAX_WEBHOOK_BODY_BYTES'),
            '415': err('not application/json'),
            '429': err('rate limited; see Retry-After'),
            '503': err('the queue cannot be written (disk full...): nothing was written, retry'),
          },
        },
      },
      '/jobs': {
        get: {
          summary: 'List jobs, newest first',
          security: secured,
          parameters: [
            { name: 'state', in: 'query', schema: ref('QueueState') },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
            { name: 'cursor', in: 'query', schema: { type: 'string' }, description: 'next_cursor of the previous page' },
            { name: 'view', in: 'query', schema: { type: 'string', enum: ['summary'] }, description: 'summary: each entry also has `summary` {goal, project_id, agents, steps_total, steps_done, status, cursor, created_at, started_at, finished_at, cost_usd, tokens_in, tokens_out, waiting, error_code}' },
          ],
          responses: {
            '200': json({ type: 'object', properties: { jobs: { type: 'array', items: { type: 'object', properties: { job_id: { type: 'string' }, queue_state: ref('QueueState'), mtime_ms: { type: 'integer' } } } }, next_cursor: { type: ['string', 'null'] } } }, 'a page of jobs'),
            '400': err('bad query'),
            '401': err('missing or wrong credentials'),
          },
        },
      },
      '/jobs/{id}': {
        get: { summary: 'Job status: queue state, job, state.json, result.json', security: secured, parameters: [idParam], responses: { '200': json({ type: 'object' }, 'the job'), ...common } },
      },
      '/jobs/{id}/approve': jobAction('Approve a job waiting in awaiting_approval', { note: 'string', step: 'string', over_budget: 'boolean', by: 'string' }, 'approved', 'not awaiting approval'),
      '/jobs/{id}/reject': jobAction('Reject a waiting job (it fails)', { reason: 'string', by: 'string' }, 'rejected', 'not awaiting approval'),
      '/jobs/{id}/cancel': {
        post: { summary: 'Cancel a job (a running one is stopped by its runner)', security: secured, parameters: [idParam], responses: { '200': json({ type: 'object' }, 'cancelled or requested'), '409': err('already finished'), ...common } },
      },
      '/jobs/{id}/retry': jobAction('Run a failed job again from the step it stopped at (steps that succeeded are kept)', { note: 'string', by: 'string' }, 'back in pending', 'not failed, rejected, or its workspace is gone'),
      '/jobs/{id}/events': {
        get: {
          summary: 'Server-Sent Events of the job, until it is done or failed',
          description: 'Each message: `id` (line of events.jsonl; send Last-Event-ID to resume), `event` (job:claimed, step:started, agent:output, step:finished, job:parked, job:finished...; plus `state` and a final `end`), `data` (JSON).',
          security: secured,
          parameters: [idParam, { name: 'Last-Event-ID', in: 'header', schema: { type: 'string' } }],
          responses: { '200': { description: 'event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...common },
        },
      },
      '/jobs/{id}/artifacts/{path}': {
        get: {
          summary: "A file (or a directory listing) under the job's artifact directory",
          security: secured,
          parameters: [idParam, { name: 'path', in: 'path', required: true, schema: { type: 'string' }, description: 'e.g. result.json, steps/01_plan/report.md; ".." is refused' }],
          responses: { '200': { description: 'the file' }, '400': err('path outside the artifact directory'), ...common },
        },
      },
      '/budget': {
        get: {
          summary: "Today's agent calls and cost against the limits (the report of `orchestrator budget --json`)",
          description: 'A token scoped to projects gets its projects only: `global` is null and `agents` empty.',
          security: secured,
          responses: { '200': json({ type: 'object', properties: { day: { type: 'string' }, tz: { type: 'string' }, resets_at: { type: 'string' }, scoped: { type: 'boolean' }, global: { type: ['object', 'null'] }, agents: { type: 'array' }, projects: { type: 'array' } } }, 'the report'), '401': err('missing or wrong credentials') },
        },
      },
      '/ui/login': {
        post: {
          summary: 'Open a dashboard session with a token',
          description: 'Body `{token, name?}` as JSON (200 with the session) or a form (303 to /ui/). Sets the `orchestrator_session` cookie (HttpOnly, SameSite=Strict). Refused from another origin; rate limited per client address.',
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['token'], additionalProperties: false, properties: { token: { type: 'string' }, name: { type: 'string' } } } }, 'application/x-www-form-urlencoded': { schema: { type: 'object' } } } },
          responses: { '200': json({ type: 'object', properties: { principal: { type: 'object' }, name: { type: ['string', 'null'] }, csrf: { type: 'string' }, expires_at: { type: 'string' } } }, 'logged in'), '303': { description: 'form login: to /ui/ (or /ui/#login-failed)' }, '401': err('wrong token'), '403': err('cross-origin login'), '429': err('too many attempts') },
        },
      },
      '/ui/session': { get: { summary: 'The session of the cookie: who, its scope, its CSRF token, when it ends', security: [{ uiSession: [] }], responses: { '200': json({ type: 'object' }, 'logged in'), '401': err('no live session') } } },
      '/ui/health': { get: { summary: "/health's report behind credentials (always 200; `ok` says whether a runner is alive), for the dashboard when a proxy keeps /health for monitoring", security: secured, responses: { '200': json({ type: 'object' }, 'the report'), '401': err('missing or wrong credentials') } } },
      '/ui/logout': { post: { summary: 'End the session (needs X-Orchestrator-CSRF)', security: [{ uiSession: [] }], responses: { '200': json({ type: 'object' }, 'logged out, cookie cleared'), '403': err('missing CSRF header') } } },
      '/ui': { get: { summary: 'The dashboard (static page; see docs/UI.md)', responses: { '200': { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } } } },
      '/health': {
        get: { summary: 'Queue depth per state and runner liveness', responses: { '200': json({ type: 'object' }, 'a runner has a fresh heartbeat'), '503': json({ type: 'object' }, 'no live runner, or the queue is unreadable') } },
      },
      '/metrics': { get: { summary: 'Prometheus text exposition', responses: { '200': { description: 'metrics', content: { 'text/plain': { schema: { type: 'string' } } } } } } },
      '/docs/json': { get: { summary: 'This document', responses: { '200': json({ type: 'object' }, 'OpenAPI 3.1') } } },
    },
  };
}

const AUTH_NAMES: Record<string, string> = { bearer: 'bearer token', hubSignature: 'X-Hub-Signature-256', uiSession: 'dashboard session cookie' };

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A readable page listing the endpoints, generated from the document (no external assets). */
export function docsPage(doc: Json): string {
  const rows: string[] = [];
  for (const [p, ops] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
    for (const [method, op] of Object.entries(ops)) {
      const codes = Object.entries((op.responses ?? {}) as Record<string, Json>).map(([c, r]) => `<li><code>${esc(c)}</code> ${esc(String(r.description ?? ''))}</li>`).join('');
      rows.push(`<section><h2><code>${esc(method.toUpperCase())} ${esc(p)}</code></h2><p>${esc(String(op.summary ?? ''))}</p>${op.description ? `<p>${esc(String(op.description))}</p>` : ''}${Array.isArray(op.security) ? `<p><em>auth: ${esc((op.security as Json[]).map((x) => AUTH_NAMES[Object.keys(x)[0] ?? ''] ?? '?').join(' or '))}</em></p>` : ''}<ul>${codes}</ul></section>`);
    }
  }
  const info = doc.info as { title: string; description: string };
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(info.title)}</title><style>body{font:15px/1.45 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}code{background:#f3f3f3;padding:0 .2em}section{border-top:1px solid #ddd}</style></head><body><h1>${esc(info.title)}</h1><p>${esc(info.description)}</p><p>Machine-readable: <a href="/docs/json">/docs/json</a> (OpenAPI 3.1).</p>${rows.join('')}</body></html>`;
}
