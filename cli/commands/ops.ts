/** `runner`, `doctor`, `demo`: running the system and checking the machine. */
import { promises as fsp, statSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import Database from 'better-sqlite3';
import type { Argv } from 'yargs';
import { createQueue } from '../../fsqueue/queue.ts';
import { QUEUE_STATES } from '../../fsqueue/states.ts';
import { loadConfig } from '../../lib/config.ts';
import { errorMessage } from '../../lib/errors.ts';
import { createLogger } from '../../lib/logger.ts';
import { createRunner } from '../../runner/runner.ts';
import { CallbackDispatcher } from '../../gateway/callbacks.ts';
import { createMetrics } from '../../gateway/metrics.ts';
import { startMetricsServer, type MetricsServer } from '../../gateway/metrics-server.ts';
import { Leases } from '../../fsqueue/lease.ts';
import { getAdapter } from '../../workers/registry.ts';
import { probeSandbox } from '../../workers/sandbox/probe.ts';
import { probeLauncher } from '../../workers/launcher.ts';
import { loadPresets } from '../../workers/presets.ts';
import { out } from '../context.ts';
import { runDemo } from '../demo.ts';

async function runRunner(): Promise<number> {
  const config = loadConfig();
  const log = createLogger({ name: 'runner' });
  const runner = createRunner({ config, logger: log });
  // completion callbacks of the jobs this runner finishes (delivered off the runner's path)
  const callbacks = new CallbackDispatcher({ config, log });
  const detach = callbacks.attach(runner.events);
  callbacks.startResuming();
  await runner.start();
  let metricsServer: MetricsServer | undefined;
  if (config.runnerMetricsPort > 0) {
    const metrics = createMetrics({ queue: runner.queue, leases: new Leases(config.paths.queueRoot), staleMs: config.leaseStaleMs });
    metrics.attach(runner.events);
    metricsServer = await startMetricsServer(metrics, config.http.host, config.runnerMetricsPort);
    log.info({ url: metricsServer.url }, 'runner metrics');
  }
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: string): void => {
      signals++;
      log.info({ signal: sig }, signals === 1 ? 'stopping: finishing running steps, then handing jobs back (signal again to force)' : 'forced stop');
      void runner.stop({ force: signals > 1 }).then(async () => {
        detach();
        await metricsServer?.close();
        await callbacks.close();
        resolve(0);
      });
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
  });
}

async function doctor(): Promise<number> {
  const config = loadConfig();
  let failed = 0;
  const check = async (name: string, fn: () => Promise<string>): Promise<void> => {
    try {
      out(`✔ ${name}: ${await fn()}`);
    } catch (err) {
      failed++;
      out(`✘ ${name}: ${errorMessage(err)}`);
    }
  };
  await check('node', async () => {
    const major = Number(process.versions.node.split('.')[0]);
    if (major < 20) throw new Error(`Node ${process.versions.node}; need >= 20`);
    return process.versions.node;
  });
  await check('queue directories', async () => {
    const q = createQueue(config.paths.queueRoot);
    await q.init();
    for (const s of QUEUE_STATES) await fsp.access(q.dir(s), fsp.constants.W_OK);
    return `${config.paths.queueRoot} (${QUEUE_STATES.join(', ')}) writable`;
  });
  await check('same filesystem', async () => {
    createQueue(config.paths.queueRoot).checkSameFilesystem();
    return 'temp and state directories share one filesystem (atomic rename)';
  });
  await check('artifacts and workspaces', async () => {
    for (const d of [config.paths.artifactsRoot, config.paths.workspacesRoot]) {
      await fsp.mkdir(d, { recursive: true });
      await fsp.access(d, fsp.constants.W_OK);
    }
    const dev = statSync(config.paths.workspacesRoot).dev === statSync(config.paths.artifactsRoot).dev ? 'same device' : 'different devices (fine)';
    return `${config.paths.artifactsRoot}, ${config.paths.workspacesRoot} writable; ${dev}`;
  });
  await check('SQLite', async () => {
    await fsp.mkdir(path.dirname(config.paths.stateDbPath), { recursive: true });
    const db = new Database(config.paths.stateDbPath);
    try {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      const v = db.prepare('select sqlite_version() as v').get() as { v: string };
      return `${config.paths.stateDbPath} (SQLite ${v.v}, journal ${String(mode)})`;
    } finally {
      db.close();
    }
  });
  await check('git', async () => (await execa('git', ['--version'])).stdout.trim());
  if (config.enableRealCli) {
    for (const name of ['claude', 'codex', 'opencode', 'droid', 'gemini'] as const) {
      const bin = getAdapter(name).binary;
      await check(`agent ${name}`, async () => {
        const r = await execa(bin, ['--version'], { reject: false, timeout: 15000, stdin: 'ignore' });
        if (r.exitCode !== 0) throw new Error(`\`${bin} --version\` failed (${r.exitCode ?? r.signal}); is it installed and on PATH?`);
        return `${bin} ${String(r.stdout).trim().split('\n')[0]}`;
      });
    }
  } else {
    out('· agents: simulated (ENABLE_REAL_CLI is not 1); real CLIs are not checked');
  }
  if (!config.warmLaunchers) out('· warm launchers: off (RUNNER_WARM_LAUNCHERS=0, or not Linux): every step is spawned at its start');
  else {
    const warm = await probeLauncher();
    if (warm.ok) out(`✔ warm launchers: steps start in ${config.runnerConcurrency} launcher(s) spawned ahead of time (perl; RUNNER_WARM_LAUNCHERS)`);
    else out(`· warm launchers: unavailable, every step is spawned at its start (slower, works): ${warm.reason}`);
  }
  // policy.sandbox / network deny need bubblewrap; without it such steps fail closed (E_PREFLIGHT)
  const sandbox = await probeSandbox();
  if (sandbox.ok) out(`✔ sandbox: ${sandbox.version} creates namespaces here (policy.sandbox, policy.network=deny)`);
  else out(`· sandbox: unavailable, steps with policy.sandbox or network=deny will not run: ${sandbox.reason}`);
  await check('worker presets', async () => {
    const presets = loadPresets(config.agents.presetsDir ?? undefined);
    return `${presets.size} valid (${[...presets.keys()].join(', ') || 'none'})`;
  });
  const runtime = config.agents.containerRuntime;
  if (runtime) {
    await check(`container runtime ${runtime}`, async () => {
      const r = await execa(runtime, ['--version'], { reject: false, timeout: 15000, stdin: 'ignore' });
      if (r.exitCode !== 0) throw new Error(`\`${runtime} --version\` failed; presets with an image will not run`);
      return String(r.stdout).trim();
    });
  } else out('· containers: CONTAINER_RUNTIME is not set; presets with an image will not run');
  out(failed ? `${failed} check(s) failed` : 'all checks passed');
  return failed ? 1 : 0;
}

export function registerOpsCommands(y: Argv, run: (fn: () => Promise<number>) => Promise<void>): Argv {
  return y
    .command('runner', 'run the always-on runner (SIGTERM: graceful; twice: forced)', (a) => a, () => run(runRunner))
    .command('doctor', 'check directories, filesystem layout, SQLite, git and (real mode) the agent CLIs', (a) => a, () => run(doctor))
    .command('demo', 'run the three-step example job end to end in-process and show its artifacts', (a) => a.option('file', { type: 'string', default: 'examples/jobs/simple_job.json' }), (argv) => run(() => runDemo(argv.file)));
}
