/** `budget`, `verify-artifacts`, `cleanup`: the operator's view of spend, secrets and disk. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { isSafeJobId } from '../../fsqueue/states.ts';
import { OrchestratorError } from '../../lib/errors.ts';
import { createLogger } from '../../lib/logger.ts';
import { fmtMicros, reserveEstimateMicros } from '../../runner/budget.ts';
import { budgetReport, type BudgetLine } from '../../runner/budget-report.ts';
import { describeRetention, parseDuration, runRetention } from '../../runner/retention.ts';
import { describeFindings, scanJobArtifacts } from '../../runner/secrets-check.ts';
import { sensitiveValues } from '../../runner/secrets.ts';
import { badInput, cliContext, json, out } from '../context.ts';

function fmtLine(l: BudgetLine): string {
  const calls = `${l.calls}${l.limit_calls !== null ? ` / ${l.limit_calls}` : ''} calls`;
  const cost = `${fmtMicros(Math.round(l.cost_usd * 1e6))}${l.limit_usd !== null ? ` / $${l.limit_usd.toFixed(2)}` : ''}`;
  const full = (l.limit_calls !== null && l.calls >= l.limit_calls) || (l.limit_usd !== null && l.cost_usd >= l.limit_usd) ? '  EXHAUSTED' : '';
  return `  ${l.name.padEnd(16)} ${calls.padEnd(22)} ${cost.padEnd(24)}${full}`;
}

async function budget(asJson: boolean): Promise<number> {
  const { config } = await cliContext();
  const rep = budgetReport(config, new Date());
  if (asJson) {
    json(rep);
    return 0;
  }
  out(`budget day ${String(rep.day)} (${config.budget.tz}); resets at ${String(rep.resets_at)}`);
  out(fmtLine(rep.global));
  out('by agent:');
  for (const l of rep.agents) out(fmtLine(l));
  if (rep.agents.length === 0) out('  (no calls today)');
  out('by project:');
  for (const l of rep.projects) out(fmtLine(l));
  if (rep.projects.length === 0) out('  (no calls today)');
  const est = config.budget.reserveUsd !== null ? `$${config.budget.reserveUsd} (BUDGET_RESERVE_USD)` : `from the price table (e.g. claude ${fmtMicros(reserveEstimateMicros(config.budget, 'claude'))})`;
  out(`cost counts each settled call at its reported cost and each unsettled one (${String(rep.unsettled_calls)} now) at its reservation: ${est}`);
  return 0;
}

async function verifyArtifacts(jobId: string, fix: boolean, asJson: boolean): Promise<number> {
  const { config } = await cliContext();
  if (!isSafeJobId(jobId)) throw badInput(`invalid job id ${JSON.stringify(jobId)}`, 'job_id');
  const dir = path.join(config.paths.artifactsRoot, jobId);
  if (!existsSync(dir)) throw new OrchestratorError('E_JOB_NOT_FOUND', `no artifacts for job ${jobId} in ${config.paths.artifactsRoot}`, { job_id: jobId });
  const report = await scanJobArtifacts(dir, { redact: fix, known: sensitiveValues(config.secrets.sensitiveEnvVars, process.env) });
  if (asJson) json({ job_id: jobId, ...report, passed: report.findings.length === 0 });
  else {
    for (const f of report.findings) out(`${f.file}:${f.line}:${f.column}: ${f.rule}${fix ? ' (redacted)' : ''}`);
    for (const s of report.skipped) out(`skipped ${s.file}: ${s.reason}`);
    out(report.findings.length === 0
      ? `secrets check passed: ${report.files_scanned} file(s) of job ${jobId} scanned`
      : `secrets check FAILED: ${report.findings.length} finding(s) in ${new Set(report.findings.map((f) => f.file)).size} file(s)${fix ? `; ${report.redacted_files.length} file(s) rewritten with [REDACTED:<rule>] markers` : '; run with --fix to redact them'}`);
  }
  if (report.findings.length > 0 && !asJson) process.stderr.write(`error [E_SECRETS]: ${describeFindings(report.findings, 5)}\n`);
  return report.findings.length > 0 ? 1 : 0;
}

async function cleanup(dryRun: boolean, olderThan: string | undefined, asJson: boolean): Promise<number> {
  const { config, queue } = await cliContext();
  const report = await runRetention({ config, queue, dryRun, ...(olderThan !== undefined ? { olderThanSec: parseDuration(olderThan) } : {}), log: createLogger({ level: 'warn' }) });
  if (asJson) json(report);
  else for (const l of describeRetention(report)) out(l);
  return report.errors.length > 0 ? 1 : 0;
}

export function registerAdminCommands(y: Argv, run: (fn: () => Promise<number>) => Promise<void>): Argv {
  return y
    .command('budget', "today's agent calls and cost, by agent and project, against the limits", (a) => a.option('json', { type: 'boolean', default: false }), (argv) => run(() => budget(argv.json)))
    .command('verify-artifacts <job_id>', "scan a job's artifacts for secrets (exit 1 on a finding)", (a) => a.positional('job_id', { type: 'string', demandOption: true }).option('fix', { type: 'boolean', default: false, describe: 'rewrite the files with [REDACTED:<rule>] markers' }).option('json', { type: 'boolean', default: false }), (argv) => run(() => verifyArtifacts(argv.job_id, argv.fix, argv.json)))
    .command('cleanup', 'remove old artifacts and workspaces of finished jobs (ARTIFACTS_TTL_SEC, WORKSPACES_TTL_SEC)', (a) => a.option('dry-run', { type: 'boolean', default: false, describe: 'only print what would be removed' }).option('older-than', { type: 'string', describe: 'override both TTLs, e.g. 7d, 12h, 3600' }).option('json', { type: 'boolean', default: false }), (argv) => run(() => cleanup(argv['dry-run'], argv['older-than'], argv.json)));
}
