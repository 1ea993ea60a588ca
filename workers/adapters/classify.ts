/**
 * One place that turns what a CLI said about a failure (an HTTP status when it gives one, else its
 * message) into the AgentErrorCode the runner routes on: auth fails fast, rate_limit parks the job
 * until reset_at, model_error retries later. A structured status beats words in the message.
 */
import type { AgentError, AgentErrorCode } from '../types.ts';
import { ERROR_MESSAGE_CAP, capHead } from './bounded-text.ts';
import { extractResetAt } from './reset-time.ts';

const AUTH_RE =
  /invalid[ _-]?api[ _-]?key|invalid x-api-key|api key not valid|incorrect api key|unauthori[sz]ed|authentication[ _]?(?:error|failed|required)|not logged in|please run \/login|ProviderAuthError|forbidden/i;
const RATE_RE = /rate[ _-]?limit|usage limit|too many requests|quota|resource[ _]?exhausted/i;
// codex words every 5xx as "We're currently experiencing high demand, which may cause temporary errors."
const MODEL_RE = /overloaded|internal server error|service unavailable|bad gateway|gateway timeout|server error|upstream|high demand/i;
const STATUS_RES = [
  /API Error:?\s*(\d{3})\b/i,
  /\bstatus(?:[ _]?code)?["':=\s]+(\d{3})\b/i,
  /"code"\s*:\s*(\d{3})\b/,
  /\b(\d{3})\s+(?:Unauthorized|Forbidden|Too Many Requests|Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout)/i,
];

/** An HTTP error status (400-599) mentioned in an error message, if any. */
export function statusFromText(text: string): number | null {
  for (const re of STATUS_RES) {
    const m = re.exec(text);
    const n = m?.[1] ? Number(m[1]) : NaN;
    if (n >= 400 && n <= 599) return n;
  }
  return null;
}

/** The error class a status and message point to, or null when neither says anything specific. */
export function classifyError(text: string, status: number | null): AgentErrorCode | null {
  if (status !== null) {
    if (status === 401 || status === 403) return 'auth';
    if (status === 429) return 'rate_limit';
    if (status >= 500) return 'model_error';
  }
  if (AUTH_RE.test(text)) return 'auth';
  if (RATE_RE.test(text)) return 'rate_limit';
  if (MODEL_RE.test(text)) return 'model_error';
  return null;
}

/** A complete AgentError: classified, with http_status and (for rate limits) reset_at when known. */
export function describeError(message: string, status: number | null, fallback: AgentErrorCode, now: number): AgentError {
  const httpStatus = status ?? statusFromText(message);
  const code = classifyError(message, httpStatus) ?? fallback;
  const error: AgentError = { code, message: capHead(message.trim() || code, ERROR_MESSAGE_CAP) };
  if (httpStatus !== null) error.http_status = httpStatus;
  if (code === 'rate_limit') {
    const resetAt = extractResetAt(message, now);
    if (resetAt !== undefined) error.reset_at = resetAt;
  }
  return error;
}
