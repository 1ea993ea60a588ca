/**
 * One line per job for lists (`GET /jobs?view=summary`, the dashboard's queue and approvals):
 * goal, agents, status, progress, age, cost and why it waits. Built from the job file and
 * state.json only (two small reads per job of the page, never the whole queue), so a page costs
 * the same with 10 jobs or 10,000.
 */
import type { NormalizedJob } from '../contracts/index.ts';
import type { FsQueue } from '../fsqueue/queue.ts';
import { readJsonIfExists } from '../lib/fsutil.ts';
import { JobArtifacts } from '../runner/artifacts.ts';
import type { ListEntry } from '../runner/control.ts';
import type { JobState, Waiting } from '../runner/state.ts';

export interface JobSummary {
  /** The goal's first line, at most 200 characters. */
  goal: string;
  project_id: string | null;
  /** The agents of the steps, in step order, each once. */
  agents: string[];
  steps_total: number;
  steps_done: number;
  /** state.json's status ("pending" before the first claim). */
  status: string;
  /** The step that runs (or runs next); null when none is left. */
  cursor: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  cost_usd: number;
  tokens_in: number;
  tokens_out: number;
  waiting: Waiting | null;
  error_code: string | null;
}

/** Pure: the summary of a job and its state.json (absent before the first claim). */
export function summarizeJob(job: NormalizedJob, state: JobState | undefined): JobSummary {
  const steps = state?.steps ?? [];
  const sum = (f: (s: (typeof steps)[number]) => number): number => steps.reduce((a, s) => a + (Number.isFinite(f(s)) ? f(s) : 0), 0);
  const firstLine = job.goal.split('\n')[0] ?? '';
  return {
    goal: firstLine.length > 200 ? `${firstLine.slice(0, 199)}…` : firstLine,
    project_id: job.project_id ?? null,
    agents: [...new Set(job.steps.map((s) => s.agent))],
    steps_total: job.steps.length,
    steps_done: steps.filter((s) => s.status === 'success' || s.status === 'skipped' || s.tolerated).length,
    status: state?.status ?? 'pending',
    cursor: state ? state.cursor : (job.steps[0]?.step_id ?? null),
    created_at: job.created_at,
    started_at: state?.started_at ?? null,
    finished_at: state?.finished_at ?? null,
    cost_usd: Math.round(sum((s) => s.cost_usd) * 1e6) / 1e6,
    tokens_in: sum((s) => s.tokens_in),
    tokens_out: sum((s) => s.tokens_out),
    waiting: state?.waiting ?? null,
    error_code: state?.error?.code ?? null,
  };
}

/** The summaries of a page of jobs, read with bounded concurrency; null for a job that vanished meanwhile. */
export async function summarizeEntries(deps: { queue: FsQueue; artifactsRoot: string }, entries: ListEntry[], concurrency = 16): Promise<Array<ListEntry & { summary: JobSummary | null }>> {
  const out: Array<ListEntry & { summary: JobSummary | null }> = entries.map((e) => ({ ...e, summary: null }));
  let next = 0;
  const work = async (): Promise<void> => {
    while (next < entries.length) {
      const i = next++;
      const e = entries[i];
      if (!e) continue;
      const art = new JobArtifacts(deps.artifactsRoot, e.job_id);
      // the job file may have moved since the listing: artifacts/<id>/job.json has the same job
      const job = (await readJsonIfExists<NormalizedJob>(deps.queue.pathOf(e.queue_state, e.job_id)).catch(() => undefined)) ?? (await readJsonIfExists<NormalizedJob>(art.file('job.json')).catch(() => undefined));
      if (!job || typeof job.goal !== 'string' || !Array.isArray(job.steps)) continue;
      const state = await art.readState().catch(() => undefined);
      const row = out[i];
      if (row) row.summary = summarizeJob(job, state);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, entries.length) }, work));
  return out;
}
