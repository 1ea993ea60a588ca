/**
 * The artifact side of secret scanning: read files, find secrets (runner/secrets.ts), rewrite the
 * files atomically with `[REDACTED:<rule>]` markers, and report file, line, column and rule (never
 * the value). Used after every step (that step's files plus the job's logs, events and context)
 * and by `orchestrator verify-artifacts` (the whole job tree).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../lib/config.ts';
import { errnoCode, errorMessage } from '../lib/errors.ts';
import { lstatOrUndefined, readFileNoFollow, writeFileAtomic } from '../lib/fsutil.ts';
import type { JobArtifacts } from './artifacts.ts';
import { redactJsonlOutput, redactText, sensitiveValues, type KnownSecret } from './secrets.ts';
import type { StepError } from './state.ts';

export interface FileFinding {
  /** Relative to the job's artifact directory, `/`-separated. */
  file: string;
  line: number;
  column: number;
  rule: string;
}

export interface ScanReport {
  files_scanned: number;
  findings: FileFinding[];
  /** Files rewritten with markers. */
  redacted_files: string[];
  /** Files not scanned, with the reason (too large, not a regular file). */
  skipped: Array<{ file: string; reason: string }>;
}

/** Larger files are reported as skipped rather than read whole (logs are capped far below this). */
export const MAX_SCAN_BYTES = 64 * 1024 * 1024;

/** Job-level files a step's output can reach (besides its own steps/<step_id>/ directory). */
export const JOB_LEVEL_SCAN_FILES = ['logs.txt', 'events.jsonl', 'context.json', 'report.md', 'result.json', 'patch.diff'] as const;

/** Regular files under `dir`, relative, sorted; symlinks are never followed. */
export async function listFiles(dir: string, rel = ''): Promise<string[]> {
  let entries;
  try {
    // a step's artifact directory holds a handful of names: listed on the event loop
    entries = readdirSync(path.join(dir, rel), { withFileTypes: true });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  const out: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, r)));
    else if (e.isFile() && !(e.name.startsWith('.') && e.name.endsWith('.tmp'))) out.push(r);
  }
  return out;
}

/** Scan `files` (relative to `root`); with `redact`, rewrite each file that had a finding. */
export async function scanFiles(root: string, files: readonly string[], opts: { redact: boolean; known?: readonly KnownSecret[] }): Promise<ScanReport> {
  const report: ScanReport = { files_scanned: 0, findings: [], redacted_files: [], skipped: [] };
  for (const rel of files) {
    const abs = path.join(root, rel);
    // metadata on the event loop (lib/fsutil.ts pathExists); an unreadable path counts as absent
    let st;
    try {
      st = lstatOrUndefined(abs);
    } catch {
      continue;
    }
    if (!st) continue;
    if (!st.isFile()) {
      report.skipped.push({ file: rel, reason: 'not a regular file' });
      continue;
    }
    if (st.size > MAX_SCAN_BYTES) {
      report.skipped.push({ file: rel, reason: `larger than ${MAX_SCAN_BYTES} bytes` });
      continue;
    }
    let text: string;
    try {
      text = await readFileNoFollow(abs);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') continue;
      report.skipped.push({ file: rel, reason: `unreadable: ${errnoCode(err) ?? 'error'}` });
      continue;
    }
    report.files_scanned++;
    // JSON lines of agent output: multi-line secrets spread over events first, then the plain pass
    const spread = rel.endsWith('.jsonl') ? redactJsonlOutput(text, opts.known ?? []) : { text, findings: [] };
    const plain = redactText(spread.text, opts.known ?? []);
    const redacted = plain.text;
    const findings = [...spread.findings, ...plain.findings];
    if (findings.length === 0) continue;
    for (const f of findings) report.findings.push({ file: rel, line: f.line, column: f.column, rule: f.rule });
    if (opts.redact) {
      await writeFileAtomic(abs, redacted, { durable: false });
      report.redacted_files.push(rel);
    }
  }
  report.findings.sort((a, b) => (a.file === b.file ? a.line - b.line || a.column - b.column : a.file < b.file ? -1 : 1));
  return report;
}

/** After a step: its own directory plus the job-level files its output reaches. */
export async function scanStepArtifacts(jobDir: string, stepId: string, opts: { redact: boolean; known?: readonly KnownSecret[] }): Promise<ScanReport> {
  const stepFiles = (await listFiles(path.join(jobDir, 'steps', stepId))).map((f) => `steps/${stepId}/${f}`);
  return scanFiles(jobDir, [...stepFiles, ...JOB_LEVEL_SCAN_FILES], opts);
}

/** `orchestrator verify-artifacts`: every file of the job's tree. */
export async function scanJobArtifacts(jobDir: string, opts: { redact: boolean; known?: readonly KnownSecret[] }): Promise<ScanReport> {
  return scanFiles(jobDir, await listFiles(jobDir), opts);
}

/**
 * `steps/a/logs.txt:3:12 github-token, steps/a/logs.txt:9:1 jwt (+4 more); events.jsonl:...`:
 * grouped by file (a step's own files first), at most `perFile` locations each.
 */
export function describeFindings(findings: readonly FileFinding[], perFile = 3): string {
  const byFile = new Map<string, FileFinding[]>();
  for (const f of findings) byFile.set(f.file, [...(byFile.get(f.file) ?? []), f]);
  const files = [...byFile.keys()].sort((a, b) => Number(!a.startsWith('steps/')) - Number(!b.startsWith('steps/')) || (a < b ? -1 : 1));
  return files.map((file) => {
    const list = byFile.get(file)!;
    const head = list.slice(0, perFile).map((f) => `${f.file}:${f.line}:${f.column} ${f.rule}`).join(', ');
    return head + (list.length > perFile ? ` (+${list.length - perFile} more)` : '');
  }).join('; ');
}

export interface StepSecretsCheck {
  check: 'passed' | 'failed';
  /** What the step becomes when the check failed (SECRETS_ON_FINDING). */
  status: 'failed' | 'needs_human';
  /** E_SECRETS with the findings (file, line, column, rule) in details; null when it passed. */
  error: StepError | null;
}

/**
 * After a step attempt: scan and redact its artifacts. A finding fails the check (fail closed: so
 * does a scan that cannot run). `redactions` (known values replaced in the stream) is only noted.
 */
export async function checkStepSecrets(req: { art: JobArtifacts; stepId: string; config: Config; redactions: number; env?: Record<string, string | undefined> }): Promise<StepSecretsCheck> {
  const status = req.config.secrets.onFinding === 'needs_human' ? 'needs_human' : 'failed';
  if (req.redactions > 0) await req.art.appendStepLog(req.stepId, `[orchestrator] ${req.redactions} occurrence(s) of sensitive environment values redacted from the output\n`);
  try {
    const known = sensitiveValues(req.config.secrets.sensitiveEnvVars, req.env ?? process.env);
    const report = await scanStepArtifacts(req.art.dir, req.stepId, { redact: true, known });
    if (report.findings.length === 0) return { check: 'passed', status, error: null };
    const message = `${report.findings.length} secret(s) found in the artifacts and redacted: ${describeFindings(report.findings)}`;
    return { check: 'failed', status, error: { code: 'E_SECRETS', message, details: { findings: report.findings.slice(0, 100) } } };
  } catch (err) {
    return { check: 'failed', status, error: { code: 'E_SECRETS', message: `the secrets scan could not run: ${errorMessage(err)}` } };
  }
}
