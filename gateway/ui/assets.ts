/**
 * The dashboard's static files (the top-level `ui/` folder: one HTML page, a stylesheet, a few
 * plain ES modules), read once into memory when the gateway starts. Served verbatim: no build
 * step, no network, no template; only these files exist under /ui (a fixed table, so no request
 * path ever reaches the file system).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

export interface UiAsset {
  body: Buffer;
  type: string;
  etag: string;
}

/**
 * The strict policy of every /ui response: scripts and styles from this origin only (no inline
 * script, no eval), data from this origin only, no frames, and Trusted Types with no policy, so
 * the browser itself refuses any HTML string sink (innerHTML, outerHTML, document.write...).
 */
export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

/** `ui/` beside the sources (gateway/ui/ → ../../ui), or beside dist/ when compiled. */
export function defaultUiDir(): string {
  return fileURLToPath(new URL('../../ui/', import.meta.url));
}

/** URL path (`/ui/js/app.js`) → file. `/ui` and `/ui/` are index.html. Other files (tsconfig.json...) are not served. */
export function loadUiAssets(dir = defaultUiDir()): Map<string, UiAsset> {
  const out = new Map<string, UiAsset>();
  if (!existsSync(dir)) return out;
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full, `${rel}${e.name}/`);
      else if (e.isFile() && TYPES[path.extname(e.name)]) {
        const body = readFileSync(full);
        out.set(`/ui/${rel}${e.name}`, { body, type: TYPES[path.extname(e.name)] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
      }
    }
  };
  walk(dir, '');
  const index = out.get('/ui/index.html');
  if (index) {
    out.set('/ui', index);
    out.set('/ui/', index);
  }
  return out;
}
