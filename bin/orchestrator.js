#!/usr/bin/env node
// Entry point of the `orchestrator` command. Runs the compiled dist/ (built by `npm install`)
// when it is at least as new as every source file; otherwise the TypeScript sources through
// tsx, so an edited checkout never runs stale code. ORCHESTRATOR_FROM_SOURCE=1 forces the sources.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = path.join(root, 'dist', '.build-stamp');
const SOURCES = ['cli', 'contracts', 'fsqueue', 'gateway', 'lib', 'runner', 'workers'];

/** @param {string} dir @param {number} [depth] @returns {number} */
function newestSource(dir, depth = 0) {
  let newest = 0;
  /** @type {import('node:fs').Dirent[]} */
  let entries = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (depth < 4) newest = Math.max(newest, newestSource(p, depth + 1));
    } else if (/\.(ts|mjs|json)$/.test(e.name)) {
      newest = Math.max(newest, statSync(p).mtimeMs);
    }
  }
  return newest;
}

function distIsFresh() {
  if (process.env.ORCHESTRATOR_FROM_SOURCE === '1' || !existsSync(stamp)) return false;
  const built = statSync(stamp).mtimeMs;
  return SOURCES.every((d) => newestSource(path.join(root, d)) <= built);
}

// (a computed specifier: the type checker must not follow it into the compiled output)
const compiled = ['..', 'dist', 'cli', 'main.js'].join('/');
if (distIsFresh()) {
  await import(compiled);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
