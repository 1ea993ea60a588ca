/**
 * `serve` (gateway + runner + scheduler + periodic retention in one process: `npm run dev`), and `gateway` and
 * `scheduler` alone for split deployments. Thin shells over createGateway(), createRunner() and
 * createScheduler(). SIGTERM/SIGINT: stop accepting requests, stop the scheduler, let running
 * steps finish (a second signal forces), then exit.
 */
import type { Argv } from 'yargs';
import { createGateway, type Gateway } from '../../gateway/server.ts';
import { loadConfig, type Config } from '../../lib/config.ts';
import { OrchestratorError, errnoCode, errorMessage } from '../../lib/errors.ts';
import { createLogger, type Logger } from '../../lib/logger.ts';
import { startRetention } from '../../runner/retention.ts';
import { createRunner } from '../../runner/runner.ts';
import { createScheduler, type Scheduler } from '../../runner/scheduler.ts';
import { out } from '../context.ts';

interface ListenArgs {
  host: string | undefined;
  port: number | undefined;
}

async function listen(gw: Gateway, config: Config, args: ListenArgs): Promise<string> {
  const host = args.host ?? config.http.host;
  const port = args.port ?? config.http.port;
  try {
    return (await gw.listen({ host, port })).url;
  } catch (err) {
    throw new OrchestratorError('E_CONFIG', `cannot listen on ${host}:${port} (${errnoCode(err) ?? errorMessage(err)}); set HOST/PORT or --host/--port`, { variable: 'PORT' }, { cause: err });
  }
}

/** Resolve with 0 once `shutdown` has run after SIGTERM/SIGINT (a second signal passes force=true). */
function untilSignal(log: Logger, shutdown: (force: boolean) => Promise<void>): Promise<number> {
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: string): void => {
      signals++;
      log.info({ signal: sig }, signals === 1 ? 'stopping: no new requests, running steps finish (signal again to force)' : 'forced stop');
      if (signals > 2) process.exit(1);
      void shutdown(signals > 1).then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err: errorMessage(err) }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
  });
}

async function serve(args: ListenArgs & { scheduler: boolean }): Promise<number> {
  const config = loadConfig();
  const log = createLogger({ name: 'orchestrator' });
  const runner = createRunner({ config, logger: log.child({ component: 'runner' }) });
  let scheduler: Scheduler | undefined;
  // the gateway first: it refuses bad credentials config before anything starts
  const gw = createGateway({ config, logger: log.child({ component: 'gateway' }), runner, health: args.scheduler ? { scheduler: { health: () => scheduler?.health() ?? {} } } : {} });
  if (args.scheduler) scheduler = createScheduler({ config, logger: log.child({ component: 'scheduler' }), queue: runner.queue, onFire: (id, o) => gw.metrics.scheduleFired(id, o) });
  await runner.start();
  await scheduler?.start();
  const url = await listen(gw, config, args).catch(async (err: unknown) => {
    await scheduler?.stop();
    await runner.stop({ force: true });
    throw err;
  });
  // retention every RETENTION_INTERVAL_SEC (split deployments use deploy/retention.cron instead)
  const retention = startRetention({ config, queue: runner.queue, log: log.child({ component: 'retention' }) });
  out(`orchestrator: gateway ${url}, runner ${runner.id} (concurrency ${config.runnerConcurrency})${scheduler ? `, scheduler (${config.paths.schedulesDir})` : ''}`);
  out(`  submit: curl -X POST ${url}/webhook -H 'Authorization: Bearer <WEBHOOK_TOKEN>' -H 'Content-Type: application/json' -d @examples/webhook_payloads/simple.json`);
  return untilSignal(log, async (force) => {
    await gw.close();
    await scheduler?.stop();
    await retention.stop();
    await runner.stop({ force });
  });
}

async function gatewayOnly(args: ListenArgs): Promise<number> {
  const config = loadConfig();
  const log = createLogger({ name: 'gateway' });
  const gw = createGateway({ config, logger: log });
  const url = await listen(gw, config, args);
  out(`orchestrator gateway on ${url} (queue ${config.paths.queueRoot}); run runners with \`orchestrator runner\``);
  return untilSignal(log, () => gw.close());
}

async function schedulerOnly(): Promise<number> {
  const config = loadConfig();
  const log = createLogger({ name: 'scheduler' });
  const scheduler = createScheduler({ config, logger: log });
  await scheduler.start();
  const st = scheduler.status();
  out(`orchestrator scheduler: ${st.schedules.length} schedule(s) from ${config.paths.schedulesDir}${st.errors.length ? `, ${st.errors.length} skipped (see the log)` : ''}`);
  return untilSignal(log, () => scheduler.stop());
}

export function registerServeCommands(y: Argv, run: (fn: () => Promise<number>) => Promise<void>): Argv {
  const listenOpts = (a: Argv) => a.option('host', { type: 'string', describe: 'listen address (HOST, default 127.0.0.1)' }).option('port', { type: 'number', describe: 'listen port (PORT, default 8080)' });
  return y
    .command('serve', 'gateway + runner + scheduler in one process (the always-on stack; `npm run dev`)', (a) => listenOpts(a).option('scheduler', { type: 'boolean', default: true, describe: 'also run schedules/*.json (--no-scheduler to skip)' }), (argv) =>
      run(() => serve({ host: argv.host as string | undefined, port: argv.port as number | undefined, scheduler: argv.scheduler as boolean })),
    )
    .command('gateway', 'the HTTP gateway alone (split deployment: runners and the scheduler run as their own services)', (a) => listenOpts(a), (argv) => run(() => gatewayOnly({ host: argv.host as string | undefined, port: argv.port as number | undefined })))
    .command('scheduler', 'the scheduler alone: enqueue schedules/*.json on their cron', (a) => a, () => run(schedulerOnly));
}
