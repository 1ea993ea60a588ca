/**
 * Closing a job's artifacts (runner, recovery, cancel and reject all end here): steps that never
 * ran get their result.json rewritten from state (skipped/cancelled), then the job's result.json,
 * report.md and logs.txt. After this every file of the tree exists and validates.
 */
import type { NormalizedJob } from '../contracts/index.ts';
import { JobArtifacts } from './artifacts.ts';
import { buildStepResult } from './results.ts';
import type { JobState } from './state.ts';

export async function writeFinalArtifacts(art: JobArtifacts, job: NormalizedJob, state: JobState, jobPatch: string | null): Promise<void> {
  await art.init(job, state, { withoutSummary: true });
  for (const s of job.steps) {
    const st = state.steps.find((x) => x.step_id === s.step_id);
    const onDisk = await art.readStepResult(s.step_id).catch(() => undefined);
    if (!st) continue;
    if (!onDisk || onDisk.status !== st.status || onDisk.attempts !== st.attempts) {
      // keep the metrics an attempt measured; refresh status fields from state
      await art.writeStepResult(
        buildStepResult(job, s.step_id, state, {
          metrics: onDisk?.metrics ?? {},
          files_changed: onDisk?.files_changed ?? [],
          ...(onDisk?.inputs ? { inputs: onDisk.inputs } : {}),
          secrets_check: onDisk?.secrets_check ?? 'skipped',
          change_status: onDisk?.change_status ?? 'unknown',
        }),
        job.goal,
      );
    }
  }
  await art.writeJobSummary(job, state, jobPatch);
  await art.appendLog(`${state.finished_at ?? state.updated_at} job ${state.status} (queue: ${state.queue_state})${state.error ? ` ${state.error.code}: ${state.error.message}` : ''}`);
}
