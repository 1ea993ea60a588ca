/**
 * The preflight of a step before anything runs: is its binary allowed, and (real mode) is it new
 * enough? `--version` is run once per binary and environment PATH per runner process (cached), with
 * stdin closed and a short timeout.
 */
import { execFile } from 'node:child_process';
import { binaryAllowed } from './allowlist.ts';
import { checkVersion } from './versions.ts';

export interface PreflightInput {
  binary: string;
  /** The program actually started (the same, or a path). */
  file: string;
  env: Record<string, string>;
  allowedBinaries: readonly string[] | null;
  jobAllowedBinaries: readonly string[];
  /** MIN_BINARY_VERSIONS; checked only when `checkVersions`. */
  minVersions: Readonly<Record<string, string>>;
  checkVersions: boolean;
}

export type PreflightVerdict = { ok: true; version?: string } | { ok: false; code: 'E_NOT_ALLOWED' | 'E_PREFLIGHT'; message: string };

const versionCache = new Map<string, Promise<string>>();

function runVersion(file: string, env: Record<string, string>): Promise<string> {
  const key = `${file}\0${env.PATH ?? ''}`;
  let p = versionCache.get(key);
  if (!p) {
    p = new Promise((resolve) => {
      const child = execFile(file, ['--version'], { env, timeout: 20_000, encoding: 'utf8' }, (err, stdout, stderr) => {
        resolve(err && !stdout ? `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message} ${stderr}` : `${stdout}${stderr}`);
      });
      child.stdin?.end();
    });
    versionCache.set(key, p);
  }
  return p;
}

/** Forget cached versions (tests; an operator upgraded a CLI under a running runner). */
export function clearVersionCache(): void {
  versionCache.clear();
}

export async function preflight(input: PreflightInput): Promise<PreflightVerdict> {
  const allowed = binaryAllowed(input.binary, input.allowedBinaries, input.jobAllowedBinaries);
  if (!allowed.ok) return { ok: false, code: 'E_NOT_ALLOWED', message: allowed.message };
  const min = input.checkVersions ? input.minVersions[input.binary] : undefined;
  if (!min) return { ok: true };
  const verdict = checkVersion(input.binary, min, await runVersion(input.file, input.env));
  return verdict.ok ? { ok: true, version: verdict.version } : { ok: false, code: 'E_PREFLIGHT', message: verdict.message };
}
