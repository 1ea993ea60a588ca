/**
 * report.md rendering (pure): what a person wants to read first: status, duration, what changed,
 * cost, errors, and where to look next.
 */
import type { JobResult, NormalizedJob, StepResult } from '../contracts/index.ts';
import type { JobState } from './state.ts';

const ICON: Record<string, string> = {
  success: '✅', failed: '❌', timeout: '⏱️', cancelled: '🚫', needs_human: '🙋', running: '⏳', pending: '⏸️', skipped: '⏭️', retryable: '🔁',
};

export function fmtDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

export const fmtUsd = (n: number): string => `$${n.toFixed(4)}`;

function fence(text: string, lang = ''): string {
  const ticks = text.includes('```') ? '````' : '```';
  return `${ticks}${lang}\n${text}\n${ticks}`;
}

export function renderStepReport(r: StepResult, goal: string): string {
  const m = r.metrics;
  const lines = [
    `# Step ${r.step_id} — ${ICON[r.status] ?? ''} ${r.status}`,
    '',
    `| | |`,
    `|---|---|`,
    `| Job | \`${r.job_id}\` |`,
    `| Agent / role | ${r.agent} / ${r.role} |`,
    `| Attempts | ${r.attempts} |`,
    `| Duration | ${fmtDuration(m.duration_ms)} (agent ${fmtDuration(m.agent_duration_ms ?? 0)}) |`,
    `| Cost | ${fmtUsd(m.cost_usd)} (tokens in ${m.tokens_in}, out ${m.tokens_out}${m.tokens_cached ? `, cached ${m.tokens_cached}` : ''}) |`,
    `| Changes | ${r.change_status}: ${m.files_changed ?? 0} file(s), +${m.lines_added ?? 0} −${m.lines_removed ?? 0} |`,
    `| Secrets check | ${r.secrets_check} |`,
    r.session_id ? `| Session | \`${r.session_id}\` |` : '',
    '',
    `**Goal:** ${goal.split('\n')[0] ?? ''}`,
    '',
    '## Summary',
    '',
    r.summary ? fence(r.summary) : '_(no summary)_',
  ].filter((l) => l !== '');
  if (r.error) lines.push('', '## Error', '', `\`${r.error.code}\`: ${r.error.message}`);
  if (r.files_changed?.length) lines.push('', '## Files changed', '', ...r.files_changed.map((f) => `- \`${f}\``));
  if (r.inputs && (r.inputs.files.length || r.inputs.truncated)) {
    lines.push('', '## Inputs', '', ...r.inputs.files.map((f) => `- \`${f}\``));
    if (r.inputs.truncated) lines.push('', `Inputs were truncated: ${(r.inputs.notes ?? []).join('; ')}`);
  }
  if (m.output_truncated) lines.push('', `Output was truncated in logs.txt at ${m.output_bytes ?? '?'} bytes.`);
  lines.push('', '## Artifacts', '', '- `result.json` · `patch.diff` · `logs.txt`', '');
  return lines.join('\n');
}

export function renderJobReport(job: NormalizedJob, state: JobState, r: JobResult): string {
  const m = r.metrics;
  const lines = [
    `# Job \`${job.job_id}\` — ${ICON[r.status] ?? ''} ${r.status}`,
    '',
    `**Goal:** ${job.goal}`,
    '',
    `| | |`,
    `|---|---|`,
    `| Queue state | ${state.queue_state} |`,
    `| Source | ${job.source.type}${job.project_id ? ` · project ${job.project_id}` : ''} |`,
    `| Started / finished | ${r.started_at ?? '—'} / ${r.finished_at ?? '—'} |`,
    `| Duration | ${fmtDuration(m.duration_ms)} |`,
    `| Cost | ${fmtUsd(m.cost_usd)} (tokens in ${m.tokens_in}, out ${m.tokens_out}) |`,
    `| Changes | ${r.change_status}: ${m.files_changed ?? 0} file(s), +${m.lines_added ?? 0} −${m.lines_removed ?? 0} |`,
    `| Secrets check | ${r.secrets_check} |`,
    '',
    '## Steps',
    '',
    '| Step | Agent | Role | Status | Attempts | Duration | Cost |',
    '|---|---|---|---|---|---|---|',
    ...r.steps.map((s) => `| ${s.step_id} | ${s.agent} | ${s.role ?? ''} | ${ICON[s.status] ?? ''} ${s.status} | ${s.attempts} | ${fmtDuration(s.duration_ms ?? 0)} | ${fmtUsd(s.cost_usd ?? 0)} |`),
  ];
  if (state.waiting) {
    lines.push('', '## Waiting', '', `Reason: **${state.waiting.reason}**${state.waiting.step_id ? ` at step \`${state.waiting.step_id}\`` : ''} since ${state.waiting.since}.`, '', state.waiting.message);
    if (state.waiting.resume_after) lines.push('', `Resumes by itself after ${state.waiting.resume_after}.`);
    lines.push('', `Approve: \`orchestrator approve --job ${job.job_id}\` · Reject: \`orchestrator reject --job ${job.job_id} --reason "..."\``);
  }
  if (r.error) lines.push('', '## Error', '', `\`${r.error.code}\`: ${r.error.message}`);
  if (r.files_changed?.length) lines.push('', '## Files changed', '', ...r.files_changed.map((f) => `- \`${f}\``));
  if (r.summary) lines.push('', '## Summary', '', fence(r.summary));
  if (state.approvals.length) lines.push('', '## Approvals', '', ...state.approvals.map((a) => `- ${a.at}: ${a.decision} (${a.reason}${a.step_id ? ` @ ${a.step_id}` : ''}) by ${a.by}${a.note ? `: ${a.note}` : ''}`));
  lines.push('', '## Artifacts', '', '- `job.json` · `state.json` · `result.json` · `context.json` · `patch.diff` · `logs.txt` · `events.jsonl`', '- `steps/<step_id>/{result.json,report.md,patch.diff,logs.txt}`', '');
  return lines.join('\n');
}
