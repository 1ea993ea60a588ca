/**
 * Configuration: a pure function of the environment. Every path resolves under one root,
 * ORCHESTRATOR_HOME (default: the current directory), with the MVP's overrides honoured.
 */
import os from 'node:os';
import path from 'node:path';
import { OrchestratorError } from './errors.ts';
import { parseMinVersions } from '../workers/safety/versions.ts';

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
  /** RUNNER_WARM_LAUNCHERS (default on): steps start in a launcher spawned ahead of time (workers/launcher.ts). */
  warmLaunchers: boolean;
  /**
   * WORKSPACE_MODE: `git` (default) runs each job in its own git workspace (exact patches);
   * `plain` runs it in an empty per-job directory without git (no patches, change_status "unknown").
   */
  workspaceMode: 'git' | 'plain';
  /** Agent output lines forwarded as events per step (the rest stay in logs.txt only). */
  maxEventOutputLines: number;
  /** `orchestrator runner` serves its own /metrics on HOST:this port (0 = off; split deployments). */
  runnerMetricsPort: number;
  host: string;
  /** NODE_ENV=production: dev defaults (the dev webhook token) are refused. */
  production: boolean;
  /** HTTP gateway (`serve`, `gateway`). */
  http: HttpConfig;
  webhook: WebhookConfig;
  /** PROJECT_ALIASES: project_id → absolute workdir. A webhook job's workdir comes from here. */
  projectAliases: Record<string, string>;
  callbacks: CallbackConfig;
  budget: BudgetSettings;
  concurrency: ConcurrencySettings;
  secrets: SecretsSettings;
  retention: RetentionSettings;
  /** Real-agent safety switches (docs/SECURITY.md). */
  agents: AgentSafetySettings;
}

export interface AgentSafetySettings {
  /** ALLOWED_BINARIES: the binaries any step may start (by basename); null = unrestricted. */
  allowedBinaries: string[] | null;
  /** MIN_BINARY_VERSIONS="claude=2.0.0,codex=0.100.0": checked by a `--version` preflight (real mode). */
  minBinaryVersions: Record<string, string>;
  /** NON_GIT_WORKDIR_STATUS (real mode): a job whose workdir is not a git repository ends so; null = fresh repository. */
  nonGitWorkdirStatus: 'needs_human' | 'failed' | null;
  /** CONTAINER_RUNTIME=podman|docker: presets with an `image` run in a container; null = refused. */
  containerRuntime: 'podman' | 'docker' | null;
  /** RATE_LIMIT_DEFAULT_WAIT_SEC: how long a rate-limited job waits when the CLI names no reset time. */
  rateLimitDefaultWaitSec: number;
  /** WORKER_PRESETS_DIR: presets (default: workers/presets beside the code). */
  presetsDir: string | null;
}

/** A daily (or per-job) limit; 0 = off. */
export interface BudgetLimit {
  calls: number;
  usd: number;
}

export interface BudgetSettings {
  /** IANA zone of the budget day (BUDGET_TZ, default UTC). */
  tz: string;
  /** MAX_DAILY_API_CALLS / MAX_DAILY_COST_USD. */
  global: BudgetLimit;
  /** BUDGET_LIMITS `agent.<name>.<calls|usd>`; key `*` applies to every agent without its own entry. */
  agents: Record<string, BudgetLimit>;
  /** BUDGET_LIMITS `project.<id>.<calls|usd>`; key `*` as for agents. */
  projects: Record<string, BudgetLimit>;
  /** BUDGET_RESERVE_USD: USD held per call until its real cost is known; null = from the price table. */
  reserveUsd: number | null;
}

export interface ConcurrencySettings {
  /** AGENT_CONCURRENCY="claude=2,codex=1" (`*` = every other agent); machine-wide. */
  agents: Record<string, number>;
  /** PROJECT_CONCURRENCY="web=1,*=2"; machine-wide. */
  projects: Record<string, number>;
}

export interface SecretsSettings {
  /** SENSITIVE_ENV_VARS: names whose values are redacted from agent output (on top of the defaults). */
  sensitiveEnvVars: string[];
  /** SECRETS_ON_FINDING: what a secret found in a step's artifacts does to the step. */
  onFinding: 'fail' | 'needs_human';
}

export interface RetentionSettings {
  /** ARTIFACTS_TTL_SEC (default 7 d). */
  artifactsTtlSec: number;
  /** WORKSPACES_TTL_SEC (default 2 d). */
  workspacesTtlSec: number;
  /** RETENTION_INTERVAL_SEC: how often `serve` runs the cleanup (default 1 h; 0 = never). */
  intervalSec: number;
}

export interface HttpConfig {
  /** HOST (default 127.0.0.1) and PORT (default 8080). */
  host: string;
  port: number;
  /** TRUST_PROXY=1: take the client address from X-Forwarded-For (behind nginx). */
  trustProxy: boolean;
  /** PUBLIC_URL: base of the status_url the webhook returns (default: a path relative to the gateway). */
  publicUrl: string | null;
}

/** A bearer token and the projects it may submit for ('*' = any, including jobs with no project). */
export interface ScopedToken {
  token: string;
  projects: string[] | '*';
}

export interface WebhookConfig {
  /** WEBHOOK_TOKEN: an unscoped bearer token; `dev-token` outside production when unset. */
  token: string | null;
  /** True when `token` is the built-in dev default (refused in production). */
  tokenIsDevDefault: boolean;
  /** WEBHOOK_TOKENS="tok=proj1|proj2,tok2=*" */
  scopedTokens: ScopedToken[];
  /** WEBHOOK_SECRET: HMAC-SHA256 key of GitHub-style signed deliveries (X-Hub-Signature-256). */
  secret: string | null;
  /** MAX_WEBHOOK_BODY_BYTES (default 256 KiB): larger bodies get a 413. */
  maxBodyBytes: number;
  /** WEBHOOK_RATE_LIMIT_PER_MIN (default 600; 0 = off): sustained requests per minute per client address. */
  rateLimitPerMin: number;
  /** WEBHOOK_RATE_LIMIT_BURST (default 60): requests a client may send at once before the rate applies. */
  rateLimitBurst: number;
}

export interface CallbackConfig {
  /** CALLBACK_SECRET: HMAC-SHA256 key of X-Orchestrator-Signature (dev default outside production). */
  secret: string | null;
  /** CALLBACK_MAX_ATTEMPTS (default 5). */
  maxAttempts: number;
  /** CALLBACK_TIMEOUT_MS (default 10000): one attempt's time limit. */
  timeoutMs: number;
  /** CALLBACK_BACKOFF_MS (default 1000): first retry delay, doubled per attempt (capped at 5 min). */
  backoffMs: number;
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

/** Dev defaults: refused (token) or not used (secret) when NODE_ENV=production. */
export const DEV_WEBHOOK_TOKEN = 'dev-token';
export const DEV_CALLBACK_SECRET = 'dev-callback-secret';

const PROJECT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** PROJECT_ALIASES="proj1=/abs/path,proj2=/other/path" */
export function parseProjectAliases(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (raw ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const id = eq > 0 ? part.slice(0, eq).trim() : '';
    const dir = eq > 0 ? part.slice(eq + 1).trim() : '';
    if (!PROJECT_ID_RE.test(id) || !path.isAbsolute(dir)) {
      throw new OrchestratorError('E_CONFIG', `PROJECT_ALIASES entry ${JSON.stringify(part)} must be project_id=/absolute/path`, { variable: 'PROJECT_ALIASES' });
    }
    if (Object.hasOwn(out, id)) throw new OrchestratorError('E_CONFIG', `PROJECT_ALIASES names project ${JSON.stringify(id)} twice`, { variable: 'PROJECT_ALIASES' });
    out[id] = path.resolve(dir);
  }
  return out;
}

/** WEBHOOK_TOKENS="tok=proj1|proj2,tok2=*" (a token never contains "," or "="). */
export function parseScopedTokens(raw: string | undefined): ScopedToken[] {
  const out: ScopedToken[] = [];
  for (const part of (raw ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    const token = eq > 0 ? part.slice(0, eq).trim() : '';
    const scope = eq > 0 ? part.slice(eq + 1).trim() : '';
    // the message never repeats the token itself
    if (!token || !scope) throw new OrchestratorError('E_CONFIG', `WEBHOOK_TOKENS entry #${out.length + 1} must be token=proj1|proj2 or token=*`, { variable: 'WEBHOOK_TOKENS' });
    const projects = scope === '*' ? '*' : scope.split('|').map((p) => p.trim());
    if (projects !== '*' && projects.some((p) => !PROJECT_ID_RE.test(p))) {
      throw new OrchestratorError('E_CONFIG', `WEBHOOK_TOKENS entry #${out.length + 1}: ${JSON.stringify(scope)} is not a list of project ids separated by "|"`, { variable: 'WEBHOOK_TOKENS' });
    }
    out.push({ token, projects });
  }
  return out;
}

/** A non-integer number (USD). */
function num(env: Env, name: string, def: number, min = 0): number {
  return int(env, name, def, min);
}

function names(raw: string | undefined): string[] {
  return (raw ?? '').split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
}

/** `a=1,b=2` → {a: 1, b: 2}: positive integers, `*` allowed as a key. */
export function parseCountMap(raw: string | undefined, variable: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of names(raw)) {
    const eq = item.indexOf('=');
    const key = eq > 0 ? item.slice(0, eq).trim() : '';
    const n = Number(eq > 0 ? item.slice(eq + 1) : NaN);
    if (!key || !Number.isInteger(n) || n < 1) {
      throw new OrchestratorError('E_CONFIG', `${variable}: ${JSON.stringify(item)} is not <name>=<integer >= 1> (e.g. ${variable}="claude=2,codex=1")`, { variable });
    }
    out[key] = n;
  }
  return out;
}

/**
 * BUDGET_LIMITS: comma-separated `<agent|project>.<name>.<calls|usd>=<number>`, e.g.
 * `agent.claude.calls=200,agent.claude.usd=20,project.web.usd=5,agent.*.calls=100`. The name may
 * contain dots (project ids do); 0 = off.
 */
export function parseBudgetLimits(raw: string | undefined): Pick<BudgetSettings, 'agents' | 'projects'> {
  const agents: Record<string, BudgetLimit> = {};
  const projects: Record<string, BudgetLimit> = {};
  for (const item of names(raw)) {
    const m = /^(agent|project)\.(.+)\.(calls|usd)=([0-9]+(?:\.[0-9]+)?)$/.exec(item);
    const value = m ? Number(m[4]) : NaN;
    if (!m || !Number.isFinite(value) || (m[3] === 'calls' && !Number.isInteger(value))) {
      throw new OrchestratorError('E_CONFIG', `BUDGET_LIMITS: ${JSON.stringify(item)} is not <agent|project>.<name>.<calls|usd>=<number> (e.g. agent.claude.usd=5)`, { variable: 'BUDGET_LIMITS' });
    }
    const map = m[1] === 'agent' ? agents : projects;
    const key = m[2]!;
    const cur = map[key] ?? { calls: 0, usd: 0 };
    map[key] = m[3] === 'calls' ? { ...cur, calls: value } : { ...cur, usd: value };
  }
  return { agents, projects };
}

function timeZone(raw: string | undefined): string {
  const tz = raw || 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    throw new OrchestratorError('E_CONFIG', `BUDGET_TZ=${JSON.stringify(tz)} is not an IANA time zone (e.g. UTC, Europe/Berlin)`, { variable: 'BUDGET_TZ' });
  }
  return tz;
}

function oneOf<T extends string>(env: Env, name: string, values: readonly T[]): T | null {
  const raw = env[name];
  if (!raw) return null;
  if ((values as readonly string[]).includes(raw)) return raw as T;
  throw new OrchestratorError('E_CONFIG', `${name}=${JSON.stringify(raw)}: expected ${values.join(' or ')}`, { variable: name });
}

function workspaceMode(raw: string | undefined): 'git' | 'plain' {
  if (!raw || raw === 'git') return 'git';
  if (raw === 'plain') return 'plain';
  throw new OrchestratorError('E_CONFIG', `WORKSPACE_MODE=${JSON.stringify(raw)}: expected git or plain`, { variable: 'WORKSPACE_MODE' });
}

function secretsOnFinding(raw: string | undefined): 'fail' | 'needs_human' {
  if (!raw || raw === 'fail') return 'fail';
  if (raw === 'needs_human') return 'needs_human';
  throw new OrchestratorError('E_CONFIG', `SECRETS_ON_FINDING=${JSON.stringify(raw)}: expected fail or needs_human`, { variable: 'SECRETS_ON_FINDING' });
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
  const production = env.NODE_ENV === 'production';
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
    warmLaunchers: env.RUNNER_WARM_LAUNCHERS !== '0' && process.platform === 'linux',
    workspaceMode: workspaceMode(env.WORKSPACE_MODE),
    maxEventOutputLines: int(env, 'MAX_EVENT_OUTPUT_LINES', 500, 0),
    runnerMetricsPort: int(env, 'RUNNER_METRICS_PORT', 0, 0),
    host: os.hostname(),
    production,
    http: {
      host: env.HOST || '127.0.0.1',
      port: int(env, 'PORT', 8080, 0),
      trustProxy: env.TRUST_PROXY === '1' || env.TRUST_PROXY === 'true',
      publicUrl: env.PUBLIC_URL ? env.PUBLIC_URL.replace(/\/+$/, '') : null,
    },
    webhook: {
      token: env.WEBHOOK_TOKEN || (production ? null : DEV_WEBHOOK_TOKEN),
      tokenIsDevDefault: (env.WEBHOOK_TOKEN || (production ? '' : DEV_WEBHOOK_TOKEN)) === DEV_WEBHOOK_TOKEN,
      scopedTokens: parseScopedTokens(env.WEBHOOK_TOKENS),
      secret: env.WEBHOOK_SECRET || null,
      maxBodyBytes: int(env, 'MAX_WEBHOOK_BODY_BYTES', 256 * 1024, 1),
      rateLimitPerMin: int(env, 'WEBHOOK_RATE_LIMIT_PER_MIN', 600, 0),
      rateLimitBurst: int(env, 'WEBHOOK_RATE_LIMIT_BURST', 60, 1),
    },
    projectAliases: parseProjectAliases(env.PROJECT_ALIASES),
    callbacks: {
      secret: env.CALLBACK_SECRET || (production ? null : DEV_CALLBACK_SECRET),
      maxAttempts: int(env, 'CALLBACK_MAX_ATTEMPTS', 5, 1),
      timeoutMs: int(env, 'CALLBACK_TIMEOUT_MS', 10_000, 1),
      backoffMs: int(env, 'CALLBACK_BACKOFF_MS', 1000, 0),
    },
    budget: {
      tz: timeZone(env.BUDGET_TZ),
      global: { calls: int(env, 'MAX_DAILY_API_CALLS', 0, 0), usd: num(env, 'MAX_DAILY_COST_USD', 0, 0) },
      ...parseBudgetLimits(env.BUDGET_LIMITS),
      reserveUsd: env.BUDGET_RESERVE_USD ? num(env, 'BUDGET_RESERVE_USD', 0, 0) : null,
    },
    concurrency: {
      agents: parseCountMap(env.AGENT_CONCURRENCY, 'AGENT_CONCURRENCY'),
      projects: parseCountMap(env.PROJECT_CONCURRENCY, 'PROJECT_CONCURRENCY'),
    },
    secrets: {
      sensitiveEnvVars: names(env.SENSITIVE_ENV_VARS),
      onFinding: secretsOnFinding(env.SECRETS_ON_FINDING),
    },
    agents: {
      allowedBinaries: names(env.ALLOWED_BINARIES).length > 0 ? names(env.ALLOWED_BINARIES) : null,
      minBinaryVersions: parseMinVersions(env.MIN_BINARY_VERSIONS),
      nonGitWorkdirStatus: oneOf(env, 'NON_GIT_WORKDIR_STATUS', ['needs_human', 'failed'] as const),
      containerRuntime: oneOf(env, 'CONTAINER_RUNTIME', ['podman', 'docker'] as const),
      rateLimitDefaultWaitSec: int(env, 'RATE_LIMIT_DEFAULT_WAIT_SEC', 300, 1),
      presetsDir: env.WORKER_PRESETS_DIR ? path.resolve(cwd, env.WORKER_PRESETS_DIR) : null,
    },
    retention: {
      artifactsTtlSec: int(env, 'ARTIFACTS_TTL_SEC', 7 * 86400, 0),
      workspacesTtlSec: int(env, 'WORKSPACES_TTL_SEC', 2 * 86400, 0),
      intervalSec: int(env, 'RETENTION_INTERVAL_SEC', 3600, 0),
    },
  };
}
