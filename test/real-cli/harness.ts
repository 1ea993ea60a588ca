/**
 * The real agent CLIs (devDependencies, node_modules/.bin) run through OUR adapters and runner, with
 * ENABLE_REAL_CLI=1, against the fake model server on 127.0.0.1: no key, no internet. Each CLI is
 * pointed at the server through the operator variables its adapter documents (ANTHROPIC_BASE_URL,
 * CODEX_BASE_URL, OPENCODE_BASE_URL, GOOGLE_GEMINI_BASE_URL, DROID_BASE_URL...), set in this test
 * process's environment, which is what a runner reads.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import type { Job, NormalizedJob, StepResult } from '../../contracts/index.ts';
import type { QueueState } from '../../fsqueue/states.ts';
import { createRunner, type Runner } from '../../runner/runner.ts';
import type { JobState } from '../../runner/state.ts';
import { startFakeModel, type FakeModelServer } from '../fake-model/server.ts';
import { readJson, submit, tempHome, waitForState, type TempHome } from '../helpers/env.ts';

export const BIN_DIR = path.resolve(__dirname, '../../node_modules/.bin');

/** Fake credentials: long enough to be redacted, so a leak would show as a marker. */
export const FAKE_KEYS = {
  ANTHROPIC_API_KEY: 'sk-ant-fake-key-0123456789abcdef',
  CODEX_API_KEY: 'sk-fake-codex-key-0123456789abcdef',
  OPENCODE_API_KEY: 'sk-fake-opencode-key-0123456789abcdef',
  GEMINI_API_KEY: 'fake-gemini-key-0123456789abcdef',
  DROID_API_KEY: 'sk-fake-droid-key-0123456789abcdef',
};

/** `<bin> --version` from node_modules/.bin, or null when it cannot run here. */
export function cliVersion(bin: string): Promise<string | null> {
  return new Promise((resolve) => {
    const child = execFile(path.join(BIN_DIR, bin), ['--version'], { timeout: 30_000, encoding: 'utf8' }, (err, stdout) => resolve(err ? null : stdout.trim().split('\n')[0] ?? ''));
    child.stdin?.end();
  });
}

/** The operator environment that points every CLI at the fake server (what an operator would set). */
export function operatorEnv(server: FakeModelServer): Record<string, string> {
  return {
    PATH: `${BIN_DIR}${path.delimiter}${process.env.PATH ?? '/usr/bin:/bin'}`,
    ...FAKE_KEYS,
    ANTHROPIC_BASE_URL: server.url,
    CLAUDE_CODE_MAX_RETRIES: '1',
    CODEX_BASE_URL: server.url,
    CODEX_MODEL: 'gpt-5-codex',
    CODEX_MAX_RETRIES: '1',
    OPENCODE_BASE_URL: server.url,
    OPENCODE_MODEL: 'fake-model',
    OPENCODE_MODEL_COST: '3,15',
    GOOGLE_GEMINI_BASE_URL: server.url,
    GEMINI_MODEL: 'gemini-2.5-pro',
    GEMINI_MAX_ATTEMPTS: '1',
    DROID_BASE_URL: server.url,
    DROID_MODEL: 'fake-model',
  };
}

export interface RealCliRig {
  server: FakeModelServer;
  home: TempHome;
  runner: Runner;
  art(id: string, ...p: string[]): string;
  run(job: Job, states?: QueueState[], timeoutMs?: number): Promise<{ job: NormalizedJob; state: QueueState; jobState: JobState; step(id: string): StepResult }>;
  stop(): Promise<void>;
}

/** Start the fake server (once per file) and put the operator env into process.env. */
export async function startServer(): Promise<FakeModelServer> {
  const server = await startFakeModel();
  Object.assign(process.env, operatorEnv(server));
  return server;
}

/** A fresh ORCHESTRATOR_HOME and runner in real mode. */
export async function startRig(server: FakeModelServer, env: Record<string, string> = {}): Promise<RealCliRig> {
  const home = await tempHome({ ENABLE_REAL_CLI: '1', RUNNER_MAX_RETRY_BACKOFF_SEC: '0', ...env });
  const runner = createRunner({ config: home.config });
  await runner.start();
  const art = (id: string, ...p: string[]): string => path.join(home.config.paths.artifactsRoot, id, ...p);
  return {
    server,
    home,
    runner,
    art,
    async run(job, states = ['done', 'failed', 'awaiting_approval'], timeoutMs = 90_000) {
      const submitted = await submit(home, job);
      const state = await waitForState(home, submitted.job_id, states, timeoutMs);
      return {
        job: submitted,
        state,
        jobState: readJson<JobState>(art(submitted.job_id, 'state.json')),
        step: (id: string) => readJson<StepResult>(art(submitted.job_id, 'steps', id, 'result.json')),
      };
    },
    async stop() {
      await runner.stop({ force: true });
      await home.cleanup();
    },
  };
}
