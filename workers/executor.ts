/**
 * The one executor for every agent and command step (execa; argv only, never a shell).
 *
 * - stdin is closed (codex waits on an open stdin);
 * - the child leads its own process group and carries a run marker in its environment; a timeout,
 *   idle stall or cancel kills the group and every marked process (TERM, then KILL after a grace),
 *   even one that ignores TERM or left a grandchild holding our stdout;
 * - output is streamed line by line to the parser and appended to the step's log as it arrives,
 *   up to `maxOutputChars`; the rest is counted, never buffered;
 * - the idle watchdog is fed by output, so a long but busy step is not killed.
 * - with `redactStream`, output is redacted before it is split into lines: the log, the parser and
 *   `onLine` never see what the redactor removes (known secret values);
 * - with `launcher`, the process starts in a warm launcher (workers/launcher.ts: the same pid,
 *   group, pipes and environment as a cold spawn, without a fork of the runner at that moment);
 *   without one, or when the launcher cannot serve, it is spawned here (execa);
 * - `ready` (the attempt's durable record) is awaited right before the start.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { killRun, RUN_MARKER_VAR, type RunOrigin } from '../lib/proc.ts';
import { spawnCold, type LaunchRequest, type LauncherPool, type Spawned } from './launcher.ts';
import { LineSplitter } from './line-splitter.ts';

export interface ExecRequest {
  file: string;
  args: string[];
  /** The complete environment of the child (no implicit inheritance). */
  env: Record<string, string>;
  cwd: string;
  runId: string;
  timeoutMs: number;
  /** 0 = off. */
  idleMs: number;
  killGraceMs: number;
  logFile: string;
  maxOutputChars: number;
  signal?: AbortSignal;
  /** Every output line, including those past the log cap (parsers see the final events). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  onSpawn?: (pid: number) => void;
  /** Applied to log text before it is written (redaction at the source). */
  transformLog?: (text: string) => string;
  /**
   * One transform per output stream, applied to the raw text BEFORE it is split into lines, so the
   * log, the parser and `onLine` all see its output (runner/secrets.ts StreamRedactor: a value split
   * across two chunks is still caught). `end()` returns what it held back.
   */
  redactStream?: () => { push(text: string): string; end(): string };
  /** Warm launchers (workers/launcher.ts): the process starts without a fork of ours; absent = spawn cold. */
  launcher?: LauncherPool | undefined;
  /** Awaited right before the process starts (the attempt's durable record); a rejection starts nothing. */
  ready?: Promise<void> | undefined;
}

export interface ExecResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  idleTimedOut: boolean;
  cancelled: boolean;
  /** The program could not be started (ENOENT, EACCES...). */
  spawnError: string | null;
  durationMs: number;
  outputBytes: number;
  outputTruncated: boolean;
  pid: number | null;
}

/** How long to wait for the pipes to close after the child exited, before killing what holds them. */
const DRAIN_MS = 1000;

export async function runProcess(req: ExecRequest): Promise<ExecResult> {
  const started = performance.now();
  const log: WriteStream = createWriteStream(req.logFile, { flags: 'a' });
  let logged = 0;
  let outputBytes = 0;
  let truncated = false;
  let timedOut = false;
  let idleTimedOut = false;
  let cancelled = false;

  const writeLog = (text: string): void => {
    if (truncated) return;
    const out = req.transformLog ? req.transformLog(text) : text;
    if (logged + out.length > req.maxOutputChars) {
      log.write(out.slice(0, Math.max(0, req.maxOutputChars - logged)));
      log.write(`\n[orchestrator] output truncated at MAX_SUBPROCESS_OUTPUT_CHARS=${req.maxOutputChars}\n`);
      truncated = true;
      return;
    }
    logged += out.length;
    log.write(out);
  };

  let idleTimer: NodeJS.Timeout | undefined;
  const armIdle = (): void => {
    if (req.idleMs <= 0) return;
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      idleTimedOut = true;
      void kill();
    }, req.idleMs);
  };

  /** Output is read from the moment there is a process to read it from (a warm one may write at once). */
  const readOutput = (child: Spawned['child']): Array<{ splitter: LineSplitter; stream: Readable | null; flush: () => void }> =>
    (['stdout', 'stderr'] as const).map((name) => {
      const splitter = new LineSplitter((line) => {
        writeLog(name === 'stderr' ? `[stderr] ${line}\n` : `${line}\n`);
        req.onLine?.(line, name);
      });
      const stream = child[name];
      const redactor = req.redactStream?.();
      const decoder = new StringDecoder('utf8');
      stream?.on('data', (chunk: Buffer) => {
        outputBytes += chunk.length;
        armIdle();
        splitter.push(redactor ? redactor.push(decoder.write(chunk)) : chunk);
      });
      stream?.on('error', () => undefined);
      const flush = (): void => {
        if (redactor) splitter.push(redactor.push(decoder.end()) + redactor.end());
      };
      return { splitter, stream, flush };
    });

  const launchReq: LaunchRequest = { file: req.file, args: req.args, env: { ...req.env, [RUN_MARKER_VAR]: req.runId }, cwd: req.cwd };
  let spawned: Spawned | undefined;
  let splitters: ReturnType<typeof readOutput> = [];
  let launchError: string | null = null;
  try {
    await req.ready;
  } catch (err) {
    log.end();
    throw err;
  }
  const warm = req.launcher?.take();
  if (warm) {
    splitters = readOutput(warm.spawned.child);
    const out = await warm.launch(launchReq, Math.min(30_000, req.timeoutMs));
    if (out.kind === 'gone') void warm.close();
    else spawned = warm.spawned;
    if (out.kind === 'failed') launchError = out.error;
  }
  if (!spawned) {
    spawned = spawnCold(launchReq);
    splitters = readOutput(spawned.child);
  }
  const { child, forksBefore } = spawned;
  const pid = launchError === null ? (spawned.pid ?? null) : null;
  const origin: RunOrigin | undefined = pid && forksBefore !== undefined ? { pid, forksBefore } : undefined;
  let killing: Promise<void> | undefined;
  const kill = (): Promise<void> => (killing ??= pid ? killRun(pid, req.runId, req.killGraceMs, origin) : Promise.resolve());
  if (pid) req.onSpawn?.(pid);
  armIdle();
  req.launcher?.refill();

  const timeout = setTimeout(() => {
    timedOut = true;
    void kill();
  }, req.timeoutMs);
  const onAbort = (): void => {
    cancelled = true;
    void kill();
  };
  if (req.signal?.aborted) onAbort();
  else req.signal?.addEventListener('abort', onAbort, { once: true });

  const exited = await spawned.exited;
  const exit = launchError === null ? exited : { code: null, signal: null, error: launchError };
  clearTimeout(timeout);
  if (idleTimer) clearTimeout(idleTimer);
  req.signal?.removeEventListener('abort', onAbort);

  // The leader is gone; whatever it left behind in its group (or marked) goes too, and the pipes
  // are drained briefly, then closed whoever holds them.
  const drained = Promise.all(splitters.map(({ stream }) => (stream && !stream.readableEnded ? new Promise((r) => stream.once('close', r)) : Promise.resolve())));
  await Promise.race([drained, new Promise((r) => setTimeout(r, DRAIN_MS))]);
  await kill();
  await Promise.race([drained, new Promise((r) => setTimeout(r, 200))]);
  for (const { stream, splitter, flush } of splitters) {
    stream?.destroy();
    flush();
    splitter.end();
  }
  await Promise.race([child, new Promise((r) => setTimeout(r, 200))]);
  await new Promise<void>((resolve) => log.end(resolve));

  return {
    exitCode: exit.code,
    signal: exit.signal,
    timedOut,
    idleTimedOut,
    cancelled,
    spawnError: exit.error,
    durationMs: Math.round(performance.now() - started),
    outputBytes,
    outputTruncated: truncated,
    pid,
  };
}
