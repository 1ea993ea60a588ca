/**
 * Configuration: a pure function of the environment. Every path resolves under one root,
 * ORCHESTRATOR_HOME (default: the current directory), with the MVP's overrides honoured.
 */
import os from 'node:os';
import path from 'node:path';
import { OrchestratorError } from './errors.ts';

export interface Paths {
  home: string;
  queueRoot: string;
  artifactsRoot: string;
  workspacesRoot: string;
  stateDbPath: string;
  varRoot: string;
  schedulesDir: string;
}

export interface Config {
  paths: Paths;
  runnerConcurrency: number;
  /** Periodic rescan of pending/ and awaiting_approval/: the safety net under the watcher. */
  scanIntervalMs: number;
  /** How often a runner refreshes its heartbeat and its leases. */
  heartbeatMs: number;
  /** A lease whose heartbeat is older than this is dead even if we cannot see its pid. */
  leaseStaleMs: number;
  /** TERM → KILL grace for agent process groups. */
  killGraceMs: number;
  /** Graceful shutdown: how long to let running jobs finish before handing them back. */
  shutdownGraceMs: number;
  maxInputArtifactsFiles: number;
  maxInputArtifactChars: number;
  maxInputArtifactsChars: number;
  maxSubprocessOutputChars: number;
  /** 0 = off. Kill a step whose agent has printed nothing for this long. */
  maxIdleSec: number;
  /** Cap on exponential retry backoff. */
  maxRetryBackoffSec: number;
  enableRealCli: boolean;
  /** Agent output lines forwarded as events per step (the rest stay in logs.txt only). */
  maxEventOutputLines: number;
  host: string;
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, def: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) {
    throw new OrchestratorError('E_CONFIG', `${name}=${JSON.stringify(raw)} is not a number >= ${min}`, { variable: name });
  }
  return n;
}

export function resolvePaths(env: Env = process.env, cwd: string = process.cwd()): Paths {
  const home = path.resolve(cwd, env.ORCHESTRATOR_HOME || '.');
  const under = (v: string | undefined, def: string): string => path.resolve(home, v || def);
  const varRoot = path.join(home, 'var');
  return {
    home,
    varRoot,
    queueRoot: under(env.QUEUE_ROOT, 'var/queue'),
    artifactsRoot: under(env.ARTIFACTS_ROOT, 'artifacts'),
    workspacesRoot: under(env.WORKSPACES_ROOT, 'workspaces'),
    stateDbPath: under(env.STATE_DB_PATH, 'var/state.db'),
    schedulesDir: under(env.SCHEDULES_DIR, 'schedules'),
  };
}

export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  return {
    paths: resolvePaths(env, cwd),
    runnerConcurrency: int(env, 'RUNNER_CONCURRENCY', 2, 1),
    scanIntervalMs: int(env, 'RUNNER_SCAN_INTERVAL_MS', 2000, 10),
    heartbeatMs: int(env, 'RUNNER_HEARTBEAT_MS', 2000, 10),
    leaseStaleMs: int(env, 'RUNNER_LEASE_STALE_MS', 30000, 100),
    killGraceMs: int(env, 'RUNNER_KILL_GRACE_MS', 3000, 0),
    shutdownGraceMs: int(env, 'RUNNER_SHUTDOWN_GRACE_MS', 30000, 0),
    maxInputArtifactsFiles: int(env, 'MAX_INPUT_ARTIFACTS_FILES', 20, 0),
    maxInputArtifactChars: int(env, 'MAX_INPUT_ARTIFACT_CHARS', 20000, 0),
    maxInputArtifactsChars: int(env, 'MAX_INPUT_ARTIFACTS_CHARS', 60000, 0),
    maxSubprocessOutputChars: int(env, 'MAX_SUBPROCESS_OUTPUT_CHARS', 5_000_000, 1000),
    maxIdleSec: int(env, 'RUNNER_MAX_IDLE_SEC', 0, 0),
    maxRetryBackoffSec: int(env, 'RUNNER_MAX_RETRY_BACKOFF_SEC', 300, 0),
    enableRealCli: env.ENABLE_REAL_CLI === '1',
    maxEventOutputLines: int(env, 'MAX_EVENT_OUTPUT_LINES', 500, 0),
    host: os.hostname(),
  };
}
