/**
 * Warm launchers: a step's process starts without forking the runner at that moment.
 *
 * Node's spawn() forks the calling process and blocks until the child has exec'd. For the runner
 * (75-150 MB resident) that fork is the largest single cost between a claim and the step's process
 * running (3.7-9 ms; `npm run bench -- --only spawn`). A warm launcher is spawned AHEAD of time,
 * with exactly the executor's stdio (stdin ignored, stdout and stderr piped to the runner) and in
 * its own process group. When a step starts, the runner writes the step's cwd, environment and
 * argv to the launcher's fd 3; the launcher chdir()s, replaces its environment and exec()s the
 * program. Same pid, same process group, same pipes: the executor, the kill paths and the run
 * markers (read from /proc/<pid>/environ, which exec replaces) see the process exactly as if the
 * runner had spawned it then.
 *
 * The launcher is a few lines of perl (perl-base is Essential on Debian: always installed; Node
 * cannot exec in place). Its fd 4 is the report channel, as libuv's own spawn does it: "R" once the
 * request is read, then close-on-exec. So:
 *   "R" then EOF          the program runs;
 *   "R<errno> <what>"     chdir or exec failed (a spawn error, like ENOENT from Node);
 *   EOF without "R"       the launcher was gone before it read the request: spawn cold instead.
 * An idle launcher exits when fd 3 reaches EOF: when the pool is closed, or the runner dies (no
 * orphans). It carries no run or job marker until it execs, so no kill path mistakes it for a run.
 *
 * RUNNER_WARM_LAUNCHERS=0 turns this off (every step spawns cold, as before).
 */
import { execa, type ResultPromise } from 'execa';
import type { Readable, Writable } from 'node:stream';
import { getSystemErrorName } from 'node:util';
import { forkCounter } from '../lib/proc.ts';

/** The launcher program (perl -e). Field order: cwd, env count, env entries, argv; NUL-separated. */
const LAUNCHER = String.raw`
$0 = 'orchestrator-launcher';
open(my $req, '<&=', 3) or exit 0;
binmode $req;
my $m = do { local $/; <$req> };
close $req;
exit 0 if !defined $m || $m eq '';
open(my $rep, '>&=', 4) or exit 126;
fcntl($rep, 2, 1);
syswrite $rep, 'R';
my @f = split /\0/, $m, -1;
pop @f;
my $cwd = shift @f;
my $n = shift @f;
my @env = splice(@f, 0, $n);
if (!chdir $cwd) { syswrite $rep, (0 + $!) . ' chdir'; exit 127; }
%ENV = ();
for (@env) { my $i = index($_, '='); $ENV{substr($_, 0, $i)} = substr($_, $i + 1); }
{ exec { $f[0] } @f; }
syswrite $rep, (0 + $!) . ' exec';
exit 127;
`;

/** The name of an errno number (2 → ENOENT), as Node names spawn errors. */
function errnoName(n: number): string {
  try {
    return getSystemErrorName(-n);
  } catch {
    return `errno ${n}`;
  }
}

/** Pure: what the launcher's report channel said, once it closed. */
export function readReport(text: string): { kind: 'started' } | { kind: 'failed'; code: string; what: string } | { kind: 'gone' } {
  if (!text.startsWith('R')) return { kind: 'gone' };
  const rest = text.slice(1);
  if (rest === '') return { kind: 'started' };
  const m = /^(\d+) (chdir|exec)$/.exec(rest);
  return m ? { kind: 'failed', code: errnoName(Number(m[1])), what: m[2] ?? 'exec' } : { kind: 'failed', code: 'ERROR', what: rest };
}

export interface LaunchRequest {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
}

export type LaunchOutcome = { kind: 'started' } | { kind: 'failed'; error: string } | { kind: 'gone' };

/** Pure: the request as the launcher reads it, or undefined when it cannot carry it (a NUL byte, no program). */
export function encodeRequest(req: LaunchRequest): string | undefined {
  const env = Object.entries(req.env).map(([k, v]) => `${k}=${v}`);
  const fields = [req.cwd, String(env.length), ...env, req.file, ...req.args];
  if (req.file === '' || fields.some((f) => f.includes('\0')) || Object.keys(req.env).some((k) => k === '' || k.includes('='))) return undefined;
  return fields.join('\0') + '\0';
}

/** A spawned process the executor runs a step in: the launcher's own, or a cold spawn's. */
export interface Spawned {
  child: ResultPromise;
  pid: number | undefined;
  /** The kernel's task counter before the spawn (lib/proc.ts RunOrigin). */
  forksBefore: number | undefined;
  exited: Promise<{ code: number | null; signal: string | null; error: string | null }>;
}

/** The executor's spawn options: stdin closed, output piped, own process group, env complete. */
export function spawnCold(req: LaunchRequest, extraFds = 0): Spawned {
  const forksBefore = forkCounter();
  const child = execa(req.file, req.args, {
    cwd: req.cwd,
    env: req.env,
    extendEnv: false,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe', ...Array<'pipe'>(extraFds).fill('pipe')],
    buffer: false,
    reject: false,
    cleanup: false,
  });
  const exited = new Promise<{ code: number | null; signal: string | null; error: string | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, error: null }));
    child.once('error', (err: Error & { code?: string }) => resolve({ code: null, signal: null, error: `${err.code ?? 'ERROR'}: ${err.message}` }));
  });
  // the result promise rejects never (reject: false), but an unobserved one must not warn
  child.then(
    () => undefined,
    () => undefined,
  );
  return { child, pid: child.pid, forksBefore, exited };
}

export class WarmLauncher {
  readonly spawned: Spawned;

  constructor() {
    // only PATH (to find perl): no PERL5LIB / PERL5OPT from the runner's environment reaches it
    this.spawned = spawnCold({ file: 'perl', args: ['-e', LAUNCHER], env: process.env.PATH ? { PATH: process.env.PATH } : {}, cwd: '/' }, 2);
    this.request().on('error', () => undefined);
    this.report().on('error', () => undefined);
  }

  get alive(): boolean {
    return this.spawned.pid !== undefined && this.spawned.child.exitCode === null && this.spawned.child.signalCode === null;
  }

  private request(): Writable {
    return this.spawned.child.stdio[3] as Writable;
  }

  private report(): Readable {
    return this.spawned.child.stdio[4] as Readable;
  }

  /**
   * Hand the launcher its program; resolves once it runs, or failed to, or the launcher was gone.
   * A launcher that has not answered within `deadlineMs` (stopped, or a machine at a standstill)
   * is killed with its group: its report channel closes, and the outcome says what it had done
   * (never read the request: "gone", a cold start; read it: the program was killed).
   */
  launch(req: LaunchRequest, deadlineMs = 30_000): Promise<LaunchOutcome> {
    const text = encodeRequest(req);
    const report = this.report();
    // dead, its report channel closed before the pool saw its exit: its close event is gone too
    if (text === undefined || !this.alive || report.closed || report.destroyed) return Promise.resolve({ kind: 'gone' });
    return new Promise((resolve) => {
      let got = '';
      report.setEncoding('utf8');
      report.on('data', (d: string) => (got += d));
      const deadline = setTimeout(() => {
        try {
          process.kill(-(this.spawned.pid ?? 0), 'SIGKILL');
        } catch {
          // gone already
        }
      }, deadlineMs);
      report.once('close', () => {
        clearTimeout(deadline);
        const r = readReport(got);
        resolve(r.kind === 'failed' ? { kind: 'failed', error: `${r.code}: ${r.what === 'chdir' ? `chdir ${req.cwd}` : `spawn ${req.file}`} ${r.code}` } : r);
      });
      this.request().end(text);
    });
  }

  /** Let an unused launcher go: it reads EOF and exits. */
  close(): Promise<void> {
    this.request().end();
    return this.spawned.exited.then(() => undefined);
  }
}

/**
 * Keeps `target` launchers ready. take() hands one over (or undefined: spawn cold); refill()
 * replaces what was taken, unless `busy()` says there is a backlog: a launcher costs a fork of the
 * runner plus perl's start-up, ~1-2 ms of CPU more than a cold spawn, which only pays while jobs
 * wait for the runner, not while the runner works through a queue (there, each start waits for a
 * slot anyway, and a drain of short jobs would lose ~15% of its rate). The runner refills again
 * once its backlog is gone.
 */
export class LauncherPool {
  private readonly ready: WarmLauncher[] = [];
  private closed = false;
  private broken = false;
  private adding = 0;
  /** Launchers handed out so far. */
  taken = 0;

  constructor(
    private readonly target: number,
    private readonly busy: () => boolean = () => false,
  ) {
    this.refill();
  }

  /**
   * Top the pool up to `target`, one launcher per turn of the event loop. Each is a fork of the
   * runner, which blocks its event loop: the executor calls this once its step's process runs (not
   * between take() and the launch), and the runner after each pass over its pending jobs.
   */
  refill(): void {
    if (this.closed || this.broken || this.adding > 0 || this.ready.length >= this.target || this.busy()) return;
    this.adding++;
    setImmediate(() => {
      this.adding--;
      this.add();
      this.refill();
    });
  }

  private add(): void {
    if (this.closed || this.broken) return;
    const l = new WarmLauncher();
    if (l.spawned.pid === undefined) {
      // perl could not be started at all: stay cold from now on
      this.broken = true;
      return;
    }
    this.ready.push(l);
  }

  take(): WarmLauncher | undefined {
    while (this.ready.length > 0) {
      const l = this.ready.shift();
      if (l?.alive) {
        this.taken++;
        return l;
      }
    }
    return undefined;
  }

  /** Launchers ready now. */
  get size(): number {
    return this.ready.length;
  }

  /** The launcher take() would try first (tests). */
  peek(): WarmLauncher | undefined {
    return this.ready[0];
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.ready.splice(0).map((l) => l.close()));
  }
}

/**
 * `orchestrator doctor`: can this machine start a step in a warm launcher? Starts one and hands it
 * `true`; resolves to what it found (no perl: every step starts cold, which works, only slower).
 */
export async function probeLauncher(): Promise<{ ok: true } | { ok: false; reason: string }> {
  const l = new WarmLauncher();
  if (l.spawned.pid === undefined) {
    const exit = await l.spawned.exited;
    return { ok: false, reason: exit.error ?? 'perl could not be started' };
  }
  const out = await l.launch({ file: 'true', args: [], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, cwd: '/' });
  const exit = await l.spawned.exited;
  if (out.kind === 'started' && exit.code === 0) return { ok: true };
  return { ok: false, reason: out.kind === 'failed' ? out.error : `the launcher ${out.kind === 'gone' ? 'exited before it read the request' : `ran true, which exited ${exit.code ?? exit.signal}`}` };
}
