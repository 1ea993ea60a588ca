/** Shared by the CLI commands: config, queue, output helpers. Commands stay thin. */
import { createQueue, type FsQueue } from '../fsqueue/queue.ts';
import { loadConfig, type Config } from '../lib/config.ts';
import { OrchestratorError } from '../lib/errors.ts';

export interface CliContext {
  config: Config;
  queue: FsQueue;
}

export async function cliContext(): Promise<CliContext> {
  const config = loadConfig();
  const queue = createQueue(config.paths.queueRoot);
  await queue.init();
  return { config, queue };
}

export function out(line = ''): void {
  process.stdout.write(line + '\n');
}

export function json(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function operator(): string {
  return process.env.ORCHESTRATOR_USER || process.env.USER || 'cli';
}

export function badInput(message: string, path = 'argv'): OrchestratorError {
  return new OrchestratorError('E_BAD_INPUT', message, { issues: [{ path, message }] });
}
