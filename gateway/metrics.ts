/**
 * Prometheus metrics (prom-client, one registry per gateway so tests can run several).
 *
 * - Counters and histograms are fed by RunnerEvents when a runner runs in the same process
 *   (`orchestrator serve`); in a split deployment the gateway still reports queue depth, runner
 *   heartbeats and its own webhook counters.
 * - Gauges are computed at scrape time from cheap sources only: five readdir() calls for queue
 *   depth and the runners' heartbeat files. A scrape never reads artifacts.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FsQueue } from '../fsqueue/queue.ts';
import type { Leases } from '../fsqueue/lease.ts';
import { QUEUE_STATES } from '../fsqueue/states.ts';
import type { RunnerEvents } from '../runner/events.ts';

const DURATION_BUCKETS = [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600];
const WAIT_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600];

export interface GatewayMetrics {
  readonly registry: Registry;
  /** Subscribe to a runner's events; returns the unsubscribe function. */
  attach(events: RunnerEvents): () => void;
  webhookRequest(statusCode: number): void;
  callbackAttempt(outcome: 'delivered' | 'retry' | 'failed' | 'skipped'): void;
  scheduleFired(scheduleId: string, outcome: 'queued' | 'duplicate' | 'already_fired' | 'error'): void;
  render(): Promise<string>;
  readonly contentType: string;
}

export function createMetrics(opts: { queue: FsQueue; leases: Leases; staleMs: number; now?: () => number }): GatewayMetrics {
  const registry = new Registry();
  const registers = [registry];
  const now = opts.now ?? Date.now;

  new Gauge({
    name: 'orchestrator_jobs',
    help: 'Jobs in each queue state (one readdir per state at scrape time).',
    labelNames: ['state'],
    registers,
    async collect() {
      const counts = await opts.queue.counts().catch(() => undefined);
      for (const s of QUEUE_STATES) this.set({ state: s }, counts ? counts[s] : 0);
    },
  });
  new Gauge({
    name: 'orchestrator_runners_alive',
    help: 'Runners whose heartbeat is fresher than RUNNER_LEASE_STALE_MS.',
    registers,
    async collect() {
      const hbs = await opts.leases.listHeartbeats().catch(() => []);
      this.set(hbs.filter((h) => now() - Date.parse(h.heartbeat_at) <= opts.staleMs).length);
    },
  });
  new Gauge({
    name: 'orchestrator_runner_heartbeat_age_seconds',
    help: 'Seconds since each runner last wrote its heartbeat.',
    labelNames: ['runner_id'],
    registers,
    async collect() {
      this.reset();
      for (const h of await opts.leases.listHeartbeats().catch(() => [])) this.set({ runner_id: h.runner_id }, Math.max(0, (now() - Date.parse(h.heartbeat_at)) / 1000));
    },
  });

  const jobsFinished = new Counter({ name: 'orchestrator_jobs_finished_total', help: 'Jobs that reached a terminal state, by result status.', labelNames: ['status'], registers });
  const jobsParked = new Counter({ name: 'orchestrator_jobs_parked_total', help: 'Jobs parked in awaiting_approval, by reason.', labelNames: ['reason'], registers });
  const jobsClaimed = new Counter({ name: 'orchestrator_jobs_claimed_total', help: 'Job claims by a runner.', registers });
  const stepsFinished = new Counter({ name: 'orchestrator_steps_finished_total', help: 'Step attempts finished, by status and agent.', labelNames: ['status', 'agent'], registers });
  const stepDuration = new Histogram({ name: 'orchestrator_step_duration_seconds', help: 'Wall time of a step attempt, by agent.', labelNames: ['agent'], buckets: DURATION_BUCKETS, registers });
  const queueWait = new Histogram({ name: 'orchestrator_queue_wait_seconds', help: 'Time from submission (or hand-back) to claim.', buckets: WAIT_BUCKETS, registers });
  const cost = new Counter({ name: 'orchestrator_cost_usd_total', help: 'Reported agent cost in USD, by agent.', labelNames: ['agent'], registers });
  const tokens = new Counter({ name: 'orchestrator_tokens_total', help: 'Tokens reported by agents, by agent and direction.', labelNames: ['agent', 'direction'], registers });
  const retries = new Counter({ name: 'orchestrator_step_retries_total', help: 'Step retries scheduled.', registers });
  const reclaims = new Counter({ name: 'orchestrator_reclaims_total', help: 'Jobs taken back from dead runners (recovery), by destination state.', labelNames: ['to'], registers });
  const handedBack = new Counter({ name: 'orchestrator_jobs_handed_back_total', help: 'Jobs handed back to pending by a stopping runner.', registers });
  const webhook = new Counter({ name: 'orchestrator_webhook_requests_total', help: 'POST /webhook requests, by HTTP status code.', labelNames: ['code'], registers });
  const callbacks = new Counter({ name: 'orchestrator_callback_attempts_total', help: 'Completion callback attempts, by outcome.', labelNames: ['outcome'], registers });
  const schedules = new Counter({ name: 'orchestrator_schedule_fires_total', help: 'Schedule slots fired, by schedule and outcome.', labelNames: ['schedule', 'outcome'], registers });

  return {
    registry,
    contentType: registry.contentType,
    attach(events) {
      const offs = [
        events.on('job:claimed', (d) => {
          jobsClaimed.inc();
          queueWait.observe(d.queued_ms / 1000);
        }),
        events.on('job:finished', (d) => jobsFinished.inc({ status: d.status })),
        events.on('job:parked', (d) => jobsParked.inc({ reason: d.reason })),
        events.on('job:recovered', (d) => reclaims.inc({ to: d.to })),
        events.on('job:handed_back', () => handedBack.inc()),
        events.on('step:retry', () => retries.inc()),
        events.on('step:finished', (d) => {
          stepsFinished.inc({ status: d.status, agent: d.agent });
          stepDuration.observe({ agent: d.agent }, d.duration_ms / 1000);
          if (d.cost_usd > 0) cost.inc({ agent: d.agent }, d.cost_usd);
          if (d.tokens_in > 0) tokens.inc({ agent: d.agent, direction: 'in' }, d.tokens_in);
          if (d.tokens_out > 0) tokens.inc({ agent: d.agent, direction: 'out' }, d.tokens_out);
        }),
      ];
      return () => {
        for (const off of offs) off();
      };
    },
    webhookRequest: (code) => webhook.inc({ code: String(code) }),
    callbackAttempt: (outcome) => callbacks.inc({ outcome }),
    scheduleFired: (id, outcome) => schedules.inc({ schedule: id, outcome }),
    render: () => registry.metrics(),
  };
}
