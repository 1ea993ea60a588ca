/**
 * `orchestrator`: a thin yargs shell over the library. Exit codes: 0 ok, 1 the job/operation
 * failed, 2 bad input. Errors are printed as what + where, never as a stack trace.
 */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { isOrchestratorError } from '../lib/errors.ts';

type Register = (y: Argv, run: (fn: () => Promise<number>) => Promise<void>) => Argv;

/**
 * The command modules, loaded on demand: `orchestrator status <id>` loads the job commands only,
 * not the gateway (fastify), the runner or the agents (bench/README.md: CLI start-up). A command
 * name not listed here (or `--help`) loads them all, so a new command works before it is listed.
 */
const MODULES: Array<{ commands: string[]; load: () => Promise<Register> }> = [
  { commands: ['submit', 'status', 'list', 'logs'], load: async () => (await import('./commands/jobs.ts')).registerJobCommands },
  { commands: ['approve', 'reject', 'cancel', 'retry', 'unlock', 'recover'], load: async () => (await import('./commands/control.ts')).registerControlCommands },
  { commands: ['runner', 'doctor', 'demo'], load: async () => (await import('./commands/ops.ts')).registerOpsCommands },
  { commands: ['serve', 'gateway', 'scheduler'], load: async () => (await import('./commands/serve.ts')).registerServeCommands },
  { commands: ['budget', 'verify-artifacts', 'cleanup'], load: async () => (await import('./commands/admin.ts')).registerAdminCommands },
];

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
  const first = argv.find((a) => !a.startsWith('-'));
  const only = MODULES.find((m) => first !== undefined && m.commands.includes(first));
  const registers = await Promise.all((only ? [only] : MODULES).map((m) => m.load()));
  let y = yargs(argv).scriptName('orchestrator').usage('$0 <command> [options]');
  for (const register of registers) y = register(y, run);
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
