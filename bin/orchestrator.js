#!/usr/bin/env node
// Entry point of the `orchestrator` command. Runs the compiled dist/ (built by `npm install`)
// when it is at least as new as every source file; otherwise the TypeScript sources through
// tsx, so an edited checkout never runs stale code. ORCHESTRATOR_FROM_SOURCE=1 forces the sources.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtAfterSources } from './freshness.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = path.join(root, 'dist', '.build-stamp');

function distIsFresh() {
  return process.env.ORCHESTRATOR_FROM_SOURCE !== '1' && builtAfterSources(root, stamp);
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
