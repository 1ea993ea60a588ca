/**
 * `orchestrator`: a thin yargs shell over the library. Exit codes: 0 ok, 1 the job/operation
 * failed, 2 bad input. Errors are printed as what + where, never as a stack trace.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { isOrchestratorError } from '../lib/errors.ts';
import { registerAdminCommands } from './commands/admin.ts';
import { registerControlCommands } from './commands/control.ts';
import { registerJobCommands } from './commands/jobs.ts';
import { registerOpsCommands } from './commands/ops.ts';
import { registerServeCommands } from './commands/serve.ts';

async function run(fn: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await fn();
  } catch (err) {
    if (isOrchestratorError(err)) {
      process.stderr.write(`error [${err.code}]: ${err.describe()}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`internal error: ${err instanceof Error ? err.message : String(err)}\n`);
      if (process.env.DEBUG) process.stderr.write(`${err instanceof Error ? err.stack : ''}\n`);
      process.exitCode = 1;
    }
  }
}

export async function main(argv: string[]): Promise<void> {
  let y = yargs(argv).scriptName('orchestrator').usage('$0 <command> [options]');
  y = registerJobCommands(y, run);
  y = registerControlCommands(y, run);
  y = registerOpsCommands(y, run);
  y = registerServeCommands(y, run);
  y = registerAdminCommands(y, run);
  await y
    .demandCommand(1, 'name a command (see --help)')
    .strict()
    .fail((msg, err) => {
      if (err) throw err;
      process.stderr.write(`error [E_BAD_INPUT]: ${msg}\nrun \`orchestrator --help\` for usage\n`);
      process.exit(2);
    })
    .help()
    .parseAsync();
}

await main(hideBin(process.argv));
