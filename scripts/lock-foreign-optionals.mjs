#!/usr/bin/env node
// The agent CLIs ship their binaries as per-platform optional packages. The registry reachable
// here only serves some platforms, so `npm install` skips the others and leaves them out of
// package-lock.json, and `npm ci` then refuses the lock ("Missing: ... from lock file").
// This adds a lock entry (version, os/cpu/libc, optional) for every such package, so that
// `npm ci` sees a complete lock and skips them by platform without fetching anything.
// Run after changing the agent CLI devDependencies: node scripts/lock-foreign-optionals.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
/** @typedef {{ version?: string; dev?: boolean; optional?: boolean; optionalDependencies?: Record<string, string>; [k: string]: unknown }} LockEntry */
/** @type {{ packages: Record<string, LockEntry>; [k: string]: unknown }} */
const lock = JSON.parse(readFileSync(file, 'utf8'));
const pkgs = lock.packages;

/** @param {string} name @returns {{ os: string; cpu: string; musl: boolean } | null} */
function platformOf(name) {
  const os = /darwin/.test(name) ? 'darwin' : /win32|windows/.test(name) ? 'win32' : /linux/.test(name) ? 'linux' : null;
  const cpu = /arm64|aarch64/.test(name) ? 'arm64' : /x64|x86_64/.test(name) ? 'x64' : null;
  return os && cpu ? { os, cpu, musl: /musl/.test(name) } : null;
}

let added = 0;
for (const [where, meta] of Object.entries(pkgs)) {
  for (const [dep, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (pkgs[key] || pkgs[`${where}/node_modules/${dep}`]) continue;
    const p = platformOf(dep);
    if (!p) continue;
    pkgs[key] = { version, dev: meta.dev ?? undefined, optional: true, os: [p.os], cpu: [p.cpu], ...(p.musl ? { libc: ['musl'] } : {}) };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
console.log(`added ${added} foreign-platform optional package entr${added === 1 ? 'y' : 'ies'} to package-lock.json`);
