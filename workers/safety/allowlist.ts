/**
 * Which binaries a step may start: the machine's ALLOWED_BINARIES intersected with the job's
 * `policy.allowed_binaries`. An empty or unset list does not restrict; names compare by basename
 * (an allowlist of `claude` admits `/usr/local/bin/claude`). Pure.
 */
import path from 'node:path';

export type AllowVerdict = { ok: true } | { ok: false; message: string };

export function binaryAllowed(binary: string, machine: readonly string[] | null, job: readonly string[]): AllowVerdict {
  const name = path.basename(binary);
  if (machine && machine.length > 0 && !machine.includes(name)) {
    return { ok: false, message: `binary "${name}" is not in ALLOWED_BINARIES (${machine.join(', ')})` };
  }
  if (job.length > 0 && !job.includes(name)) {
    return { ok: false, message: `binary "${name}" is not in the job's policy.allowed_binaries (${job.join(', ')})` };
  }
  return { ok: true };
}
