/**
 * GET /jobs/:id/artifacts/<path>: a file under that job's artifact directory, or a listing of a
 * directory. Refused: "..", ".", empty or backslash segments, NUL, absolute paths, and anything
 * whose real path (symlinks resolved) leaves the job's directory.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { OrchestratorError, errnoCode } from '../../lib/errors.ts';
import { isInside } from '../../lib/fsutil.ts';
import { JobArtifacts } from '../../runner/artifacts.ts';
import { json, loadJobFor, requireAuth, verifySignature, type GatewayContext } from '../context.ts';

const TYPES: Record<string, string> = {
  '.json': 'application/json; charset=utf-8',
  '.jsonl': 'application/x-ndjson; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.diff': 'text/x-diff; charset=utf-8',
  '.patch': 'text/x-diff; charset=utf-8',
  '.log': 'text/plain; charset=utf-8',
};

/** Pure: the relative path of a request, or a 400 naming the problem. Trailing "/" = directory. */
export function checkArtifactPath(rel: string): string {
  const bad = (message: string): OrchestratorError => new OrchestratorError('E_BAD_INPUT', `artifact path refused: ${message}`, { issues: [{ path: 'path', message }] });
  if (rel.length > 1024) throw bad('longer than 1024 characters');
  if (rel.startsWith('/')) throw bad('absolute paths are not allowed');
  if (/[\\\0]/.test(rel)) throw bad('backslashes and NUL are not allowed');
  const segs = rel.split('/');
  if (segs[segs.length - 1] === '') segs.pop();
  for (const s of segs) {
    if (s === '' || s === '.' || s === '..') throw bad('".", ".." and empty segments are not allowed');
  }
  return segs.join('/');
}

export function registerArtifactRoutes(app: FastifyInstance, ctx: GatewayContext): void {
  // the dashboard's session cookie is accepted here (gateway/ui/session-auth.ts); the webhook takes tokens and signatures only
  const auth = { onRequest: requireAuth(ctx, { session: true }), preHandler: verifySignature(ctx) };

  const serve = async (id: string, rel: string, reply: FastifyReply): Promise<unknown> => {
    const clean = checkArtifactPath(rel);
    const dir = new JobArtifacts(ctx.config.paths.artifactsRoot, id).dir;
    const target = path.resolve(dir, clean);
    if (!isInside(dir, target)) throw new OrchestratorError('E_BAD_INPUT', 'artifact path refused: outside the job directory', { issues: [{ path: 'path', message: 'outside the job directory' }] });
    let realDir: string;
    let real: string;
    try {
      realDir = await fsp.realpath(dir);
      real = await fsp.realpath(target);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') throw new OrchestratorError('E_NOT_FOUND', `no artifact ${JSON.stringify(clean || '/')} for job ${id}`, { job_id: id });
      throw err;
    }
    if (!isInside(realDir, real)) throw new OrchestratorError('E_BAD_INPUT', 'artifact path refused: it leads outside the job directory', { issues: [{ path: 'path', message: 'symbolic link outside the job directory' }] });
    const st = await fsp.stat(real);
    reply.header('x-content-type-options', 'nosniff').header('content-security-policy', "default-src 'none'; sandbox");
    if (st.isDirectory()) {
      const entries = await fsp.readdir(real, { withFileTypes: true });
      return json(reply, 200, {
        job_id: id,
        path: clean,
        entries: entries.filter((e) => !e.name.startsWith('.')).map((e) => ({ name: e.name, type: e.isDirectory() ? 'directory' : 'file' })).sort((a, b) => a.name.localeCompare(b.name)),
      });
    }
    if (!st.isFile()) throw new OrchestratorError('E_NOT_FOUND', `no artifact ${JSON.stringify(clean)} for job ${id}`, { job_id: id });
    return reply.code(200).type(TYPES[path.extname(real).toLowerCase()] ?? 'application/octet-stream').header('content-length', String(st.size)).send(createReadStream(real));
  };

  app.get<{ Params: { id: string } }>('/jobs/:id/artifacts', auth, async (req, reply) => {
    await loadJobFor(ctx, req, req.params.id);
    return serve(req.params.id, '', reply);
  });
  app.get<{ Params: { id: string; '*': string } }>('/jobs/:id/artifacts/*', auth, async (req, reply) => {
    await loadJobFor(ctx, req, req.params.id);
    return serve(req.params.id, req.params['*'] ?? '', reply);
  });
}
