// Is a compiled copy of the product at least as new as its sources? One walk shared by
// bin/orchestrator.js (run dist/ or the sources) and bench/lib.ts (rebuild bench/.dist or not).
// Plain JS with node:fs and node:path only: the command's start-up reads it on every run.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** The source folders a build compiles (tsconfig.build.json's `include`). */
export const SOURCES = ['cli', 'contracts', 'fsqueue', 'gateway', 'lib', 'runner', 'workers'];

/**
 * The newest mtime (ms) of a .ts, .mjs or .json file under `dir`, at most four folders down; 0 when
 * `dir` cannot be read.
 * @param {string} dir
 * @param {number} [depth]
 * @returns {number}
 */
export function newestSource(dir, depth = 0) {
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

/**
 * True when the build stamp `stamp` exists and no source file under `root` is newer than it.
 * @param {string} root the checkout
 * @param {string} stamp the build's stamp file (its mtime is when it was built)
 * @returns {boolean}
 */
export function builtAfterSources(root, stamp) {
  if (!existsSync(stamp)) return false;
  const built = statSync(stamp).mtimeMs;
  return SOURCES.every((d) => newestSource(path.join(root, d)) <= built);
}
