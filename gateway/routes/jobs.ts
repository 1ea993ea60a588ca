/**
 * Reading and acting on jobs over HTTP: status, list (cursor paging), approve / reject / cancel,
 * the SSE feed. All of them go through runner/control.ts, like the CLI, and all need the same
 * credentials as the webhook; a scoped token only sees the jobs of its projects.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isQueueState, type QueueState } from '../../fsqueue/states.ts';
import { OrchestratorError, type Issue } from '../../lib/errors.ts';
import { readJsonIfExists } from '../../lib/fsutil.ts';
import { JobArtifacts } from '../../runner/artifacts.ts';
import { approveJob, cancelJob, jobStatus, listJobs, rejectJob, retryJob, type ListEntry } from '../../runner/control.ts';
import type { NormalizedJob } from '../../contracts/index.ts';
import type { Principal } from '../auth.ts';
import { decodeJsonBody } from '../body.ts';
import { summarizeEntries } from '../job-summary.ts';
import { json, loadJobFor, principalOf, requireAuth, statusUrl, verifySignature, type GatewayContext } from '../context.ts';
import { streamJobEvents } from '../sse.ts';

type FieldType = 'string' | 'boolean';

/** Strict body of a control request: an object with only these fields, of these types. */
export function controlBody(raw: unknown, fields: Record<string, FieldType>): Record<string, string | boolean> {
  if (raw === undefined) return {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new OrchestratorError('E_SCHEMA', 'the body must be a JSON object', { issues: [{ path: '$', message: 'must be object' }] });
  const issues: Issue[] = [];
  const out: Record<string, string | boolean> = {};
  for (const [k, v] of Object.entries(raw)) {
    const want = Object.hasOwn(fields, k) ? fields[k] : undefined;
    const at = /^[A-Za-z_]\w*$/.test(k) ? `$.${k}` : `$[${JSON.stringify(k)}]`;
    if (!want) issues.push({ path: at, message: 'unknown field (not in the schema)' });
    else if (typeof v !== want) issues.push({ path: at, message: `must be ${want}` });
    else if (typeof v === 'string' && v.length > 2000) issues.push({ path: at, message: 'must NOT have more than 2000 characters' });
    else out[k] = v as string | boolean;
  }
  if (issues.length) throw new OrchestratorError('E_SCHEMA', `invalid request body: ${issues.length} problem${issues.length > 1 ? 's' : ''}`, { issues });
  return out;
}

/** Who did it, as recorded in the job's history: the caller's words, tied to the credential. */
function actor(p: Principal, by: string | boolean | undefined): string {
  return typeof by === 'string' && by.trim() ? `${by.trim().slice(0, 100)} (via api ${p.id})` : `api ${p.id}`;
}

function queryParams(req: FastifyRequest): Record<string, string> {
  const q = (req.query ?? {}) as Record<string, unknown>;
  const out: Record<string, string> = {};
  const issues: Issue[] = [];
  for (const [k, v] of Object.entries(q)) {
    if (!['state', 'limit', 'cursor', 'view'].includes(k)) issues.push({ path: `query.${k}`, message: 'unknown parameter (state, limit, cursor, view)' });
    else if (typeof v !== 'string') issues.push({ path: `query.${k}`, message: 'must be given once' });
    else out[k] = v;
  }
  if (out.state !== undefined && !isQueueState(out.state)) issues.push({ path: 'query.state', message: 'must be one of pending, awaiting_approval, running, done, failed' });
  if (out.limit !== undefined && (!/^\d{1,3}$/.test(out.limit) || Number(out.limit) < 1 || Number(out.limit) > 500)) issues.push({ path: 'query.limit', message: 'must be an integer from 1 to 500' });
  if (out.cursor !== undefined && !/^\d{1,16}:[a-zA-Z0-9._-]{8,64}$/.test(out.cursor)) issues.push({ path: 'query.cursor', message: 'must be the next_cursor of a previous page' });
  if (out.view !== undefined && out.view !== 'summary') issues.push({ path: 'query.view', message: 'must be summary (or absent)' });
  if (issues.length) throw new OrchestratorError('E_BAD_INPUT', `invalid query: ${issues.length} problem${issues.length > 1 ? 's' : ''}`, { issues });
  return out;
}

export function registerJobRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  // the dashboard's session cookie is accepted here (gateway/ui/session-auth.ts); the webhook takes tokens and signatures only
  const auth = { onRequest: requireAuth(ctx, { session: true }), preHandler: verifySignature(ctx) };
  const control = { config: ctx.config, queue: ctx.queue, now: ctx.now };

  app.get<{ Params: { id: string } }>('/jobs/:id', auth, async (req, reply) => {
    await loadJobFor(ctx, req, req.params.id);
    const st = await jobStatus(control, req.params.id);
    return json(reply, 200, { ...st, status_url: statusUrl(ctx, st.job_id), events_url: `${statusUrl(ctx, st.job_id)}/events`, artifacts_url: `${statusUrl(ctx, st.job_id)}/artifacts/` });
  });

  /** One page of the list, filtered to the caller's projects. */
  const listPage = async (req: FastifyRequest, q: Record<string, string>): Promise<{ jobs: ListEntry[]; next_cursor: string | null }> => {
    const limit = q.limit ? Number(q.limit) : 50;
    const state = q.state as QueueState | undefined;
    const p = principalOf(req);
    if (p.projects === '*') return listJobs(control, { limit, ...(state ? { state } : {}), ...(q.cursor ? { cursor: q.cursor } : {}) });
    // A scoped token sees its projects' jobs only: filter while paging (reads one small job file per candidate).
    const all = await listJobs(control, { limit: Number.MAX_SAFE_INTEGER, ...(state ? { state } : {}), ...(q.cursor ? { cursor: q.cursor } : {}) });
    const jobs: ListEntry[] = [];
    let more = false;
    for (const e of all.jobs) {
      if (jobs.length === limit) {
        more = true;
        break;
      }
      const job = await readJsonIfExists<NormalizedJob>(ctx.queue.pathOf(e.queue_state, e.job_id)).catch(() => undefined);
      if (job?.project_id !== undefined && p.projects.includes(job.project_id)) jobs.push(e);
    }
    const last = jobs[jobs.length - 1];
    return { jobs, next_cursor: more && last ? `${last.mtime_ms}:${last.job_id}` : null };
  };

  app.get('/jobs', auth, async (req, reply) => {
    const q = queryParams(req);
    const page = await listPage(req, q);
    // view=summary: one line per job of the page (goal, agents, status, cost, waiting reason) for the dashboard
    if (q.view === 'summary') return json(reply, 200, { jobs: await summarizeEntries({ queue: ctx.queue, artifactsRoot: ctx.config.paths.artifactsRoot }, page.jobs), next_cursor: page.next_cursor });
    return json(reply, 200, page);
  });

  app.post<{ Params: { id: string } }>('/jobs/:id/approve', auth, async (req, reply) => {
    const body = controlBody(decodeJsonBody(req.body, { contentType: req.headers['content-type'], required: false }), { note: 'string', step: 'string', over_budget: 'boolean', by: 'string' });
    await loadJobFor(ctx, req, req.params.id);
    const r = await approveJob(control, req.params.id, {
      by: actor(principalOf(req), body.by),
      ...(typeof body.note === 'string' ? { note: body.note } : {}),
      ...(typeof body.step === 'string' ? { step: body.step } : {}),
      overBudget: body.over_budget === true,
    });
    if (r.queue_state === 'done' || r.queue_state === 'failed') ctx.callbacks?.notify({ event: 'job.finished', job_id: req.params.id, status: r.state.status, queue_state: r.queue_state });
    return json(reply, 200, { job_id: req.params.id, queue_state: r.queue_state, status: r.state.status, cursor: r.state.cursor });
  });

  app.post<{ Params: { id: string } }>('/jobs/:id/reject', auth, async (req, reply) => {
    const body = controlBody(decodeJsonBody(req.body, { contentType: req.headers['content-type'], required: false }), { reason: 'string', by: 'string' });
    await loadJobFor(ctx, req, req.params.id);
    const r = await rejectJob(control, req.params.id, { by: actor(principalOf(req), body.by), ...(typeof body.reason === 'string' && body.reason ? { note: body.reason } : {}) });
    ctx.callbacks?.notify({ event: 'job.finished', job_id: req.params.id, status: r.state.status, queue_state: r.queue_state });
    return json(reply, 200, { job_id: req.params.id, queue_state: r.queue_state, status: r.state.status });
  });

  app.post<{ Params: { id: string } }>('/jobs/:id/cancel', auth, async (req, reply) => {
    const body = controlBody(decodeJsonBody(req.body, { contentType: req.headers['content-type'], required: false }), { by: 'string' });
    await loadJobFor(ctx, req, req.params.id);
    const r = await cancelJob(control, req.params.id, actor(principalOf(req), body.by));
    if (!r.requested) ctx.callbacks?.notify({ event: 'job.finished', job_id: req.params.id, status: 'cancelled', queue_state: r.queue_state });
    return json(reply, 200, { job_id: req.params.id, queue_state: r.queue_state, requested: r.requested });
  });

  app.post<{ Params: { id: string } }>('/jobs/:id/retry', auth, async (req, reply) => {
    const body = controlBody(decodeJsonBody(req.body, { contentType: req.headers['content-type'], required: false }), { note: 'string', by: 'string' });
    await loadJobFor(ctx, req, req.params.id);
    const r = await retryJob(control, req.params.id, { by: actor(principalOf(req), body.by), ...(typeof body.note === 'string' && body.note ? { note: body.note } : {}) });
    return json(reply, 200, { job_id: req.params.id, queue_state: r.queue_state, status: r.state.status, cursor: r.state.cursor });
  });

  // no automatic HEAD route: it would hijack the reply and stream like GET
  app.get<{ Params: { id: string } }>('/jobs/:id/events', { ...auth, exposeHeadRoute: false }, async (req, reply) => {
    await loadJobFor(ctx, req, req.params.id);
    const last = req.headers['last-event-id'];
    const lastEventId = typeof last === 'string' && /^\d{1,12}$/.test(last) ? Number(last) : 0;
    reply.hijack();
    await streamJobEvents(reply.raw, {
      queue: ctx.queue,
      eventsFile: new JobArtifacts(ctx.config.paths.artifactsRoot, req.params.id).file('events.jsonl'),
      jobId: req.params.id,
      lastEventId,
      ...(ctx.events ? { events: ctx.events } : {}),
    }, ctx.sse);
  });
}
