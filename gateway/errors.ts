/**
 * HTTP rendering of errors. Every reply that is not a success goes through `sendError` with a code
 * from the one registry (lib/errors.ts): `{error: {code, message, issues}}`, never a stack.
 * Fastify's own errors (body too large, bad media type, bad content length...) are mapped onto
 * registry codes by their status; anything unexpected is a 500 E_INTERNAL with a generic message.
 */
import type { FastifyReply } from 'fastify';
import { OrchestratorError, isOrchestratorError, type ErrorCode } from '../lib/errors.ts';

const BY_STATUS: Record<number, ErrorCode> = {
  400: 'E_BAD_INPUT',
  401: 'E_UNAUTHORIZED',
  403: 'E_FORBIDDEN',
  404: 'E_NOT_FOUND',
  409: 'E_BAD_STATE',
  413: 'E_PAYLOAD_TOO_LARGE',
  415: 'E_UNSUPPORTED_MEDIA',
  429: 'E_RATE_LIMITED',
  503: 'E_QUEUE_UNAVAILABLE',
};

interface FastifyLikeError {
  statusCode?: unknown;
  code?: unknown;
  message?: unknown;
}

export function toOrchestratorError(err: unknown): OrchestratorError {
  if (isOrchestratorError(err)) return err;
  const e = (err && typeof err === 'object' ? err : {}) as FastifyLikeError;
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    const code = BY_STATUS[status] ?? 'E_BAD_INPUT';
    const msg = typeof e.message === 'string' && e.message ? e.message : 'bad request';
    return new OrchestratorError(code, msg, typeof e.code === 'string' ? { fastify_code: e.code } : {}, { cause: err });
  }
  return new OrchestratorError('E_INTERNAL', 'internal error; see the gateway log', {}, { cause: err });
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; issues: Array<{ path: string; message: string }> };
}

export function errorBody(e: OrchestratorError): ErrorBody {
  return { error: { code: e.code, message: e.message, issues: e.details.issues ?? [] } };
}

export function sendError(reply: FastifyReply, e: OrchestratorError): FastifyReply {
  reply.code(e.httpStatus);
  if (e.code === 'E_UNAUTHORIZED') reply.header('WWW-Authenticate', 'Bearer realm="orchestrator"');
  const retry = e.details.retry_after_sec;
  if (typeof retry === 'number') reply.header('Retry-After', String(retry));
  else if (e.httpStatus === 503) reply.header('Retry-After', '5');
  return reply.type('application/json; charset=utf-8').send(errorBody(e));
}
