/**
 * Gemini CLI failures arrive out of band: stdout stays empty, stderr holds a JSON object
 * `{session_id?, error: {type, message, code}}` (pretty-printed over several lines), and the exit
 * code is the HTTP status mod 256 (401 → 145, 429 → 173, 500 → 244); 41 means bad auth config,
 * 42 a bad resume id. These helpers recover the facts from a bounded stderr tail and the exit code.
 */
import { at, num, obj, str } from './json-line.ts';

export interface GeminiErrorFacts {
  message: string;
  status: number | null;
}

/** The `error` of a JSON error object in the stderr tail (single- or multi-line). */
export function errorFromStderr(tail: string): GeminiErrorFacts | null {
  const end = tail.lastIndexOf('}');
  // Candidate starts: a `{` opening a line (how gemini prints it); a few dozen tries at most.
  const starts = [...tail.matchAll(/^\{/gm)].map((m) => m.index).slice(-50);
  for (const start of starts) {
    if (start >= end) break;
    const facts = errorFromValue(tryParse(tail.slice(start, end + 1)));
    if (facts) return facts;
  }
  return null;
}

/** `{error: {message, code}}` or a bare `{message, code}` → facts; anything else → null. */
export function errorFromValue(value: unknown): GeminiErrorFacts | null {
  const o = obj(value);
  if (!o) return null;
  const err = obj(o.error);
  if (!err) return null;
  const message = str(err.message) ?? str(at(err, 'error', 'message')) ?? JSON.stringify(err);
  const type = str(err.type);
  return { message: type && type !== 'Error' && !message.includes(type) ? `${type}: ${message}` : message, status: httpStatus(num(err.code)) };
}

/** What gemini's exit code says on its own. */
export function errorFromExitCode(code: number): GeminiErrorFacts | null {
  if (code === 41) return { message: 'gemini: authentication is not configured (exit 41)', status: 401 };
  if (code === 42) return { message: 'gemini: invalid input or resume id (exit 42)', status: null };
  if (code === 53) return { message: 'gemini: turn limit reached (exit 53)', status: null };
  if (code >= 144 && code <= 255) return { message: `gemini: API error, HTTP ${statusFromExit(code)} (exit ${code})`, status: statusFromExit(code) };
  return null;
}

/** HTTP 400-511 from `status mod 256` (144-243 → 4xx, 244-255 → 5xx). */
export function statusFromExit(code: number): number {
  return code + 256;
}

function httpStatus(code: number | null): number | null {
  return code !== null && code >= 400 && code <= 599 ? code : null;
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
