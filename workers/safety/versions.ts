/**
 * MIN_BINARY_VERSIONS ("claude=2.0.0,codex=0.100.0"): parsing, reading a version out of a CLI's
 * `--version` text ("2.1.197 (Claude Code)", "codex-cli 0.169.0"), and comparing. Pure.
 */
import { OrchestratorError } from '../../lib/errors.ts';

export function parseMinVersions(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of (raw ?? '').split(/[\s,]+/).filter(Boolean)) {
    const m = /^([A-Za-z0-9._+-]+)=(\d+(?:\.\d+){0,3})$/.exec(item);
    if (!m) throw new OrchestratorError('E_CONFIG', `MIN_BINARY_VERSIONS: ${JSON.stringify(item)} is not <binary>=<version> (e.g. claude=2.0.0)`, { variable: 'MIN_BINARY_VERSIONS' });
    out[m[1]!] = m[2]!;
  }
  return out;
}

/** The first dotted version number in a `--version` output, or null. */
export function versionIn(text: string): string | null {
  return /(\d+\.\d+(?:\.\d+)?)/.exec(text)?.[1] ?? null;
}

/** -1, 0, 1 like a comparator; missing parts count as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export type VersionVerdict = { ok: true; version: string } | { ok: false; message: string };

/** Does the `--version` output of `binary` satisfy `min`? */
export function checkVersion(binary: string, min: string, output: string): VersionVerdict {
  const version = versionIn(output);
  if (!version) return { ok: false, message: `${binary} --version printed no version number (${JSON.stringify(output.trim().slice(0, 200))}); MIN_BINARY_VERSIONS requires ${binary} >= ${min}` };
  if (compareVersions(version, min) < 0) return { ok: false, message: `${binary} ${version} is older than the required ${min} (MIN_BINARY_VERSIONS); upgrade it` };
  return { ok: true, version };
}
