/** Can this machine sandbox? `bwrap` is run once per runner process (cached) with the namespaces a step needs. */
import { execFile } from 'node:child_process';
import { BWRAP_PROBE_ARGS } from './bwrap.ts';

export type SandboxProbe = { ok: true; version: string } | { ok: false; reason: string };

let cached: Promise<SandboxProbe> | undefined;

export function probeSandbox(): Promise<SandboxProbe> {
  cached ??= new Promise((resolve) => {
    execFile('bwrap', ['--version'], { timeout: 10_000, encoding: 'utf8' }, (verr, vout) => {
      if (verr) return resolve({ ok: false, reason: `bwrap is not installed or not runnable (${(verr as NodeJS.ErrnoException).code ?? verr.message}); install the bubblewrap package` });
      execFile('bwrap', BWRAP_PROBE_ARGS, { timeout: 10_000, encoding: 'utf8' }, (err, _out, stderr) => {
        if (err) resolve({ ok: false, reason: `bwrap cannot create namespaces here: ${String(stderr || err.message).trim().slice(0, 300)}` });
        else resolve({ ok: true, version: vout.trim() });
      });
    });
  });
  return cached;
}
