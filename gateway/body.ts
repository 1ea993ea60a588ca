/**
 * Request bodies: every JSON body arrives as raw bytes (so the webhook can verify its HMAC over
 * exactly what was sent), then is decoded strictly here: UTF-8 only (invalid bytes refused, not
 * replaced), nesting depth bounded before parsing, then parseJsonText (which refuses `__proto__`).
 */
import { parseJsonText } from '../contracts/validate.ts';
import { OrchestratorError } from '../lib/errors.ts';

export const MAX_JSON_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The charset parameter of a JSON content type must be absent or UTF-8 (RFC 8259). */
export function assertJsonCharset(contentType: string | undefined): void {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '');
  if (m?.[1] && !/^utf-?8$/i.test(m[1])) {
    throw new OrchestratorError('E_UNSUPPORTED_MEDIA', `unsupported charset ${JSON.stringify(m[1])}: JSON bodies must be UTF-8`);
  }
}

/** Deepest nesting of arrays/objects in JSON text (strings skipped), stopping early past `limit`. */
export function jsonDepth(text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** Raw body bytes → a JSON value, or a coded 4xx error that says what is wrong. */
export function decodeJsonBody(body: unknown, opts: { contentType: string | undefined; required: boolean }): unknown {
  if (body === undefined || body === null || (Buffer.isBuffer(body) && body.length === 0)) {
    if (!opts.required) return undefined;
    if (!opts.contentType) throw new OrchestratorError('E_UNSUPPORTED_MEDIA', 'missing Content-Type: send the job as application/json');
    throw new OrchestratorError('E_INVALID_JSON', 'empty body, expected a JSON object');
  }
  if (!Buffer.isBuffer(body)) throw new OrchestratorError('E_UNSUPPORTED_MEDIA', 'the body must be application/json');
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new OrchestratorError('E_INVALID_JSON', 'the body is not valid UTF-8');
  }
  if (jsonDepth(text) > MAX_JSON_DEPTH) {
    throw new OrchestratorError('E_INVALID_JSON', `JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  return parseJsonText(text);
}
