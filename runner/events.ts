/**
 * Typed events of a job's life. The runner emits them; logs, metrics, the SSE feed and tests
 * subscribe. Each job's events are also appended to `artifacts/<job_id>/events.jsonl`, so a
 * process that did not run the job (the gateway in a split deployment, `logs --follow`) can
 * follow it too.
 */
import { EventEmitter } from 'node:events';
import type { ResultStatus } from '../contracts/index.ts';
import type { QueueState } from '../fsqueue/states.ts';
import type { WaitReason } from './state.ts';

export interface EventMap {
  'job:claimed': { job_id: string; runner_id: string; claim: number; queued_ms: number };
  'job:parked': { job_id: string; reason: WaitReason; step_id: string | null; resume_after: string | null; message: string };
  'job:finished': { job_id: string; status: ResultStatus; queue_state: QueueState; duration_ms: number; cost_usd: number };
  'job:handed_back': { job_id: string; reason: string };
  'job:recovered': { job_id: string; to: QueueState; reason: string };
  'job:quarantined': { file: string; reason: string };
  'lease:lost': { job_id: string; reason: string };
  'step:started': { job_id: string; step_id: string; agent: string; attempt: number };
  'step:finished': {
    job_id: string;
    step_id: string;
    agent: string;
    attempt: number;
    status: ResultStatus;
    duration_ms: number;
    agent_duration_ms: number;
    cost_usd: number;
    tokens_in: number;
    tokens_out: number;
    error_code: string | null;
  };
  'step:retry': { job_id: string; step_id: string; attempt: number; delay_ms: number; error_code: string | null };
  'agent:output': { job_id: string; step_id: string; stream: 'stdout' | 'stderr'; line: string };
}

export type EventName = keyof EventMap;
export interface JobEvent<K extends EventName = EventName> {
  type: K;
  at: string;
  data: EventMap[K];
}

export class RunnerEvents {
  private readonly emitter = new EventEmitter();
  constructor() {
    this.emitter.setMaxListeners(100);
  }
  on<K extends EventName>(name: K, fn: (data: EventMap[K]) => void): () => void {
    this.emitter.on(name, fn);
    return () => this.emitter.off(name, fn);
  }
  /** Every event, in emission order. */
  onAny(fn: (ev: JobEvent) => void): () => void {
    this.emitter.on('*', fn);
    return () => this.emitter.off('*', fn);
  }
  emit<K extends EventName>(name: K, data: EventMap[K]): JobEvent<K> {
    const ev: JobEvent<K> = { type: name, at: new Date().toISOString(), data };
    this.emitter.emit(name, data);
    this.emitter.emit('*', ev);
    return ev;
  }
}
