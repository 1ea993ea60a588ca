// @ts-check
/* global fetch, TextDecoder -- browser globals (eslint) */
/**
 * The page's calls to the gateway. Credentials are the session cookie (HttpOnly: this code never
 * sees it); every change also sends the session's CSRF token in X-Orchestrator-CSRF. A 401 means
 * the session is gone: the app shows the login form.
 */

export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** @type {string | null} */
let csrf = null;
/** @type {() => void} */
let onUnauthorized = () => undefined;

/** @param {string | null} token */
export function setCsrf(token) {
  csrf = token;
}

/** @param {() => void} fn */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/**
 * @param {Response} res
 * @returns {Promise<never>}
 */
async function fail(res) {
  let code = `HTTP_${res.status}`;
  let message = res.statusText || 'request failed';
  try {
    const body = /** @type {{error?: {code?: string, message?: string}}} */ (await res.json());
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
  } catch {
    // not JSON
  }
  if (res.status === 401) onUnauthorized();
  throw new ApiError(res.status, code, message);
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 */
async function request(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  if (method !== 'GET') {
    if (csrf) headers['x-orchestrator-csrf'] = csrf;
    if (body !== undefined) headers['content-type'] = 'application/json';
  }
  /** @type {RequestInit} */
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) init.body = JSON.stringify(body);
  return fetch(path, init);
}

/**
 * JSON from the API; an error reply throws an ApiError with its code and message.
 * @param {string} path
 * @param {{method?: string, body?: unknown}} [opts]
 * @returns {Promise<any>}
 */
export async function getJson(path, opts = {}) {
  const res = await request(opts.method ?? 'GET', path, opts.body);
  if (!res.ok) return fail(res);
  return res.json();
}

/** @param {string} path @param {unknown} [body] */
export function postJson(path, body) {
  return getJson(path, { method: 'POST', body: body ?? {} });
}

/**
 * Text of an artifact, at most `maxBytes` of it (the rest is cut, and said so).
 * @param {string} path
 * @param {number} [maxBytes]
 * @returns {Promise<{text: string, truncated: boolean, size: number}>}
 */
export async function getText(path, maxBytes = 2_000_000) {
  const res = await request('GET', path);
  if (!res.ok) return fail(res);
  const size = Number(res.headers.get('content-length') ?? '0');
  if (size > maxBytes && res.body) {
    const reader = res.body.getReader();
    /** @type {Uint8Array[]} */
    const chunks = [];
    let got = 0;
    while (got < maxBytes) {
      const { value, done } = await reader.read();
      if (done || !value) break;
      chunks.push(value);
      got += value.length;
    }
    await reader.cancel();
    const all = new Uint8Array(got);
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
    }
    return { text: new TextDecoder().decode(all.subarray(0, maxBytes)), truncated: true, size };
  }
  return { text: await res.text(), truncated: false, size };
}

/** The path of a job's API resource. @param {string} id @param {...string} rest */
export function jobPath(id, ...rest) {
  return `/jobs/${encodeURIComponent(id)}${rest.length ? '/' + rest.join('/') : ''}`;
}

/** The URL of an artifact (each path segment encoded). @param {string} id @param {string} rel */
export function artifactPath(id, rel) {
  return jobPath(id, 'artifacts', ...rel.split('/').filter(Boolean).map((s) => encodeURIComponent(s)));
}
