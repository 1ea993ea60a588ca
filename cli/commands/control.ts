/** `approve`, `reject`, `cancel`, `retry`, `unlock`, `recover`: acting on jobs. */
import type { Argv } from 'yargs';
import { Leases } from '../../fsqueue/lease.ts';
import { createLogger } from '../../lib/logger.ts';
import { approveJob, cancelJob, rejectJob, retryJob, unlockJob } from '../../runner/control.ts';
import { RunnerEvents } from '../../runner/events.ts';
import { recoverDeadJobs } from '../../runner/recovery.ts';
import { cliContext, json, operator, out } from '../context.ts';

export function registerControlCommands(y: Argv, run: (fn: () => Promise<number>) => Promise<void>): Argv {
  return y
    .command('approve', 'approve a waiting job: it resumes at the gated step', (a) => a.option('job', { type: 'string', demandOption: true }).option('step', { type: 'string', describe: 'only if the job waits at this step' }).option('note', { type: 'string' }).option('over-budget', { type: 'boolean', default: false, describe: 'run it although the budget is exhausted' }), (argv) => run(async () => {
      const ctx = await cliContext();
      const r = await approveJob(ctx, argv.job, { by: operator(), ...(argv.note ? { note: argv.note } : {}), ...(argv.step ? { step: argv.step } : {}), overBudget: argv['over-budget'] });
      out(`approved ${argv.job} → ${r.queue_state}${r.state.cursor ? ` (resumes at ${r.state.cursor})` : ''}`);
      return 0;
    }))
    .command('reject', 'reject a waiting job: it fails with the reason', (a) => a.option('job', { type: 'string', demandOption: true }).option('reason', { type: 'string', default: '' }), (argv) => run(async () => {
      const ctx = await cliContext();
      await rejectJob(ctx, argv.job, { by: operator(), ...(argv.reason ? { note: argv.reason } : {}) });
      out(`rejected ${argv.job} → failed`);
      return 0;
    }))
    .command('cancel', 'cancel a job (a running one is stopped by its runner)', (a) => a.option('job', { type: 'string', demandOption: true }), (argv) => run(async () => {
      const ctx = await cliContext();
      const r = await cancelJob(ctx, argv.job, operator());
      out(r.requested ? `cancel requested for running job ${argv.job}; its runner stops it within a second` : `cancelled ${argv.job} → failed`);
      return 0;
    }))
    .command('retry', 'run a failed job again from the step it stopped at (steps that succeeded are kept)', (a) => a.option('job', { type: 'string', demandOption: true }).option('note', { type: 'string' }), (argv) => run(async () => {
      const ctx = await cliContext();
      const r = await retryJob(ctx, argv.job, { by: operator(), ...(argv.note ? { note: argv.note } : {}) });
      out(`retrying ${argv.job} from step ${r.state.cursor} → ${r.queue_state}`);
      return 0;
    }))
    .command('unlock', 'clear a stale lock (refused while its owner is alive)', (a) => a.option('job', { type: 'string', demandOption: true }).option('force', { type: 'boolean', default: false }), (argv) => run(async () => {
      const ctx = await cliContext();
      const r = await unlockJob(ctx, argv.job, { force: argv.force });
      out(r.removed_lock ? `lock of ${argv.job} removed${r.owner_alive ? ' (forced: its owner was alive)' : ''}; \`orchestrator recover\` moves the job on` : `job ${argv.job} had no lock`);
      return 0;
    }))
    .command('recover', 'take back jobs whose runner died (kills their orphaned agents first)', (a) => a.option('json', { type: 'boolean', default: false }), (argv) => run(async () => {
      const ctx = await cliContext();
      const leases = new Leases(ctx.queue.root);
      await leases.init();
      const res = await recoverDeadJobs({ config: ctx.config, queue: ctx.queue, leases, events: new RunnerEvents(), log: createLogger({ level: 'error' }), actor: `recover-${process.pid}`, now: () => new Date() });
      if (argv.json) json(res);
      else if (res.length === 0) out('nothing to recover');
      else for (const r of res) out(`${r.job_id} → ${r.to} (${r.reason}; ${r.killed_runs} agent run(s) killed)`);
      return 0;
    }));
}
