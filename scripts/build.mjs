#!/usr/bin/env node
// Compile the sources to dist/ (run by `npm install` via `prepare`, and `npm run build`), copy the
// assets tsc does not emit (JSON Schemas, presets), and stamp the build so bin/orchestrator.js can
// tell a fresh dist/ from a stale one.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = path.join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
if (!existsSync(tsc)) {
  console.log('build: typescript is not installed (production install?); the CLI will run the sources through tsx');
  process.exit(0);
}
execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
for (const f of readdirSync(path.join(root, 'contracts'))) {
  if (f.endsWith('.schema.json')) cpSync(path.join(root, 'contracts', f), path.join(dist, 'contracts', f));
}
// ui/ is the dashboard's browser code, served as it is by gateway/routes/ui.ts (no compile step)
for (const dir of ['workers/simulator', 'workers/presets', 'workers/skills', 'ui']) {
  if (existsSync(path.join(root, dir))) cpSync(path.join(root, dir), path.join(dist, dir), { recursive: true });
}
mkdirSync(dist, { recursive: true });
writeFileSync(path.join(dist, '.build-stamp'), new Date().toISOString() + '\n');
console.log('build: dist/ ready');
