/**
 * The artifact tree of a job: the product's contract. All of these exist whatever happened
 * (placeholders are written once an agent has run a moment, and replaced as steps end; the job's
 * close writes whatever is missing); each file is written atomically; every result.json is
 * validated against result.schema.json before it is written.
 *
 *   artifacts/<job_id>/{job.json,state.json,result.json,context.json,report.md,patch.diff,logs.txt,events.jsonl}
 *   artifacts/<job_id>/steps/<step_id>/{result.json,report.md,patch.diff,logs.txt}
 */
import { appendFileSync, closeSync, constants, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ContextEntry, JobResult, NormalizedJob, StepResult } from '../contracts/index.ts';
import { lstatOrUndefined, openAsync, pathExists, readJsonIfExists, writeFileAtomic, writeJsonAtomic } from '../lib/fsutil.ts';
import type { JobEvent } from './events.ts';
import { renderJobReport, renderStepReport } from './report.ts';
import { buildJobResult, buildStepResult } from './results.ts';
import { redactText } from './secrets.ts';
import type { JobState } from './state.ts';

/** Ajv and the compiled schemas, loaded by the first result written (readers such as `status` never need them). */
async function assertValidResult(result: unknown, where: string): Promise<void> {
  (await import('../contracts/validate.ts')).assertValidResult(result, where);
}

export const JOB_FILES = ['job.json', 'state.json', 'result.json', 'context.json', 'report.md', 'patch.diff', 'logs.txt'] as const;
export const STEP_FILES = ['result.json', 'report.md', 'patch.diff', 'logs.txt'] as const;

export interface ContextFile {
  schema_version: '1.0';
  job_id: string;
  strategy: NormalizedJob['context_strategy'];
  updated_at: string;
  /** Agent name → last session id it reported (for resume). */
  sessions: Record<string, string>;
  window: ContextEntry[];
}

export class JobArtifacts {
  readonly dir: string;
  /** What this instance last wrote to job.json, and to state.json durably: an identical rewrite is skipped. */
  private writtenJob: string | undefined;
  private durableState: string | undefined;
  constructor(
    readonly root: string,
    readonly jobId: string,
  ) {
    this.dir = path.join(root, jobId);
  }

  file(name: string): string {
    return path.join(this.dir, name);
  }
  stepDir(stepId: string): string {
    return path.join(this.dir, 'steps', stepId);
  }
  stepFile(stepId: string, name: (typeof STEP_FILES)[number]): string {
    return path.join(this.stepDir(stepId), name);
  }

  /**
   * The placeholders of a deferred init (below), once started and until written. A write that may
   * replace one of them waits for them (`replacing`), and they wait for every such write already
   * under way, so a placeholder never lands over real content.
   */
  private placeholders: Promise<void> = Promise.resolve();
  private placeholderError: unknown;
  /** A deferred init's placeholders, not started yet. */
  private deferred: (() => Promise<void>) | null = null;
  /** Writes under way that may replace a placeholder (results, reports, context, patches). */
  private writes = new Set<Promise<unknown>>();
  /** Set once the directories, state.json and the append-only files exist (an init got that far). */
  private essentials = false;
  /** Set once this instance has seen every file of the tree on disk (written or found). */
  private complete = false;

  /**
   * Start writing a deferred init's placeholders, after the writes already under way that may
   * replace them. The runner calls this a moment after an agent is spawned (a step that ends first
   * never needs them: its real files are written instead, and the job's close writes whatever is
   * still missing). Idempotent.
   */
  startPlaceholders(): void {
    const run = this.deferred;
    if (!run) return;
    this.deferred = null;
    this.placeholders = Promise.allSettled([...this.writes])
      .then(run)
      .then(
        () => undefined,
        (err: unknown) => {
          this.placeholderError = err;
        },
      );
  }

  /** Resolves once a deferred init's placeholders are on disk (starting them if needed); rethrows their error. */
  async settled(): Promise<void> {
    this.startPlaceholders();
    await this.placeholdersWritten();
  }

  /** Placeholders already started are on disk (nothing is started); rethrows their error. */
  private async placeholdersWritten(): Promise<void> {
    await this.placeholders;
    if (this.placeholderError !== undefined) {
      const err = this.placeholderError;
      this.placeholderError = undefined;
      throw err;
    }
  }

  /** A write that may replace a placeholder: after the placeholders under way, and seen by those started later. */
  private replacing<T>(write: () => Promise<T>): Promise<T> {
    const done = this.placeholdersWritten().then(write);
    this.writes.add(done);
    const forget = (): void => void this.writes.delete(done);
    done.then(forget, forget);
    return done;
  }

  /**
   * Create every file of the tree that does not exist yet (never overwrites real content).
   * `durableState: false` (the runner at claim time, which persists durably before any agent runs)
   * skips the fsyncs of state.json. `deferPlaceholders` (the runner at claim time) returns once the
   * directories, state.json and the append-only files exist, and leaves the rest (job.json,
   * context.json, empty patches, placeholder results and reports: a dozen inodes) to
   * startPlaceholders(). Without it, a deferred init's placeholders not started yet are dropped:
   * this init writes whatever is missing itself. `withoutSummary`: the caller writes the job's
   * result.json and report.md right after (writeFinalArtifacts), so no placeholder for them.
   */
  async init(job: NormalizedJob, state: JobState, opts: { durableState?: boolean; deferPlaceholders?: boolean; withoutSummary?: boolean } = {}): Promise<void> {
    if (!opts.deferPlaceholders) this.deferred = null;
    await Promise.allSettled([...this.writes]);
    await this.settled();
    const durable = opts.durableState ?? true;
    if (this.complete) {
      // this instance made (or found) the whole tree already: only state.json can be behind
      await this.writeState(state, { durable });
      return;
    }
    // the files are independent: created side by side on the thread pool (each creation can block
    // for a millisecond; lib/fsutil.ts), the directories first (each step's with its parents)
    let essentials: Promise<unknown>;
    if (this.essentials) essentials = this.writeState(state, { durable });
    else {
      await Promise.all(job.steps.length ? job.steps.map((s) => this.makeStepDir(s.step_id)) : [fsp.mkdir(this.dir, { recursive: true })]);
      essentials = Promise.all([
        this.writeState(state, { durable }),
        ...['logs.txt', 'events.jsonl'].map((name) => ensureFile(this.file(name))),
        ...job.steps.map((s) => ensureFile(this.stepFile(s.step_id, 'logs.txt'))),
      ]).then(() => (this.essentials = true));
    }
    if (opts.deferPlaceholders) {
      this.deferred = () => this.writePlaceholders(job, state, {});
      await essentials;
      return;
    }
    await Promise.all([essentials, this.writePlaceholders(job, state, { withoutSummary: opts.withoutSummary ?? false })]);
  }

  private async writePlaceholders(job: NormalizedJob, state: JobState, opts: { withoutSummary?: boolean }): Promise<void> {
    const jobText = JSON.stringify(job, null, 2) + '\n';
    const writes: Array<Promise<unknown>> = [ensureFile(this.file('patch.diff'))];
    if (jobText !== this.writtenJob) {
      writes.push(writeFileAtomic(this.file('job.json'), jobText, { durable: false }).then(() => (this.writtenJob = jobText)));
    }
    const unlessExists = (file: string, write: () => Promise<unknown>): Promise<unknown> => pathExists(file).then((e) => (e ? undefined : write()));
    writes.push(unlessExists(this.file('context.json'), () => writeJsonAtomic(this.file('context.json'), initialContext(job, state.updated_at), { durable: false })));
    for (const s of job.steps) {
      writes.push(ensureFile(this.stepFile(s.step_id, 'patch.diff')));
      writes.push(unlessExists(this.stepFile(s.step_id, 'result.json'), () => this.putStepResult(buildStepResult(job, s.step_id, state, {}), job.goal)));
    }
    await Promise.all(writes);
    // the job's summary reads the step results just written
    if (!opts.withoutSummary && !(await pathExists(this.file('result.json')))) await this.putJobSummary(job, state, '');
    this.complete = true;
  }

  /** Step directories this instance has made (or found): each mkdir is a thread-pool round trip. */
  private stepDirs = new Set<string>();

  private async makeStepDir(stepId: string): Promise<void> {
    if (this.stepDirs.has(stepId)) return;
    await fsp.mkdir(this.stepDir(stepId), { recursive: true });
    this.stepDirs.add(stepId);
  }

  readState(): Promise<JobState | undefined> {
    return readJsonIfExists<JobState>(this.file('state.json'));
  }

  /**
   * state.json is the truth for finished steps: durable unless the caller says otherwise (a later
   * durable write supersedes it before anything depends on it). Rewriting what this instance has
   * already made durable is skipped (closing a job writes the same state twice).
   */
  async writeState(state: JobState, opts: { durable?: boolean } = {}): Promise<void> {
    const text = JSON.stringify(state, null, 2) + '\n';
    const durable = opts.durable ?? true;
    if (durable && text === this.durableState) return;
    this.durableState = undefined;
    await writeFileAtomic(this.file('state.json'), text, { durable });
    if (durable) this.durableState = text;
  }

  /** context.json; before a deferred init has written it, the job's initial context. */
  async readContext(job: NormalizedJob, nowIso: string): Promise<ContextFile> {
    return (await readJsonIfExists<ContextFile>(this.file('context.json'))) ?? initialContext(job, nowIso);
  }

  async writeContext(ctx: ContextFile): Promise<void> {
    await this.replacing(() => writeJsonAtomic(this.file('context.json'), ctx, { durable: false }));
  }

  async writeStepResult(result: StepResult, goal: string): Promise<void> {
    await this.replacing(() => this.putStepResult(result, goal));
  }

  private async putStepResult(result: StepResult, goal: string): Promise<void> {
    await assertValidResult(result, `steps/${result.step_id}/result.json`);
    await this.makeStepDir(result.step_id);
    await writeJsonAtomic(this.stepFile(result.step_id, 'result.json'), result, { durable: false });
    await writeFileAtomic(this.stepFile(result.step_id, 'report.md'), renderStepReport(result, goal), { durable: false });
  }

  async writeStepPatch(stepId: string, patch: string): Promise<void> {
    await this.replacing(() => writeUnlessSameEmpty(this.stepFile(stepId, 'patch.diff'), patch));
  }

  async readStepResult(stepId: string): Promise<StepResult | undefined> {
    return readJsonIfExists<StepResult>(this.stepFile(stepId, 'result.json'));
  }

  /** Job-level result.json, report.md and patch.diff, from state + the step results on disk. */
  async writeJobSummary(job: NormalizedJob, state: JobState, jobPatch: string | null): Promise<JobResult> {
    return this.replacing(() => this.putJobSummary(job, state, jobPatch));
  }

  private async putJobSummary(job: NormalizedJob, state: JobState, jobPatch: string | null): Promise<JobResult> {
    const stepResults: StepResult[] = [];
    for (const s of job.steps) {
      const r = await this.readStepResult(s.step_id).catch(() => undefined);
      if (r) stepResults.push(r);
    }
    // the job patch is recomputed from git at every write: secrets a step's check redacted in its own
    // patch would come back here, so it is redacted on the way out (runner/secrets.ts)
    if (jobPatch !== null) await writeUnlessSameEmpty(this.file('patch.diff'), redactText(jobPatch).text);
    const patch = jobPatch ?? (await fsp.readFile(this.file('patch.diff'), 'utf8').catch(() => ''));
    const result = buildJobResult(job, state, stepResults, patch);
    await assertValidResult(result, 'result.json');
    await writeJsonAtomic(this.file('result.json'), result, { durable: state.finished_at !== null });
    await writeFileAtomic(this.file('report.md'), renderJobReport(job, state, result), { durable: false });
    return result;
  }

  // appends are a line or two: synchronous (one open/write/close on the event loop, tens of
  // microseconds) costs less than three thread-pool round trips (lib/fsutil.ts SMALL_FILE_BYTES)
  async appendLog(line: string): Promise<void> {
    appendSmall(this.file('logs.txt'), line.endsWith('\n') ? line : line + '\n');
  }

  async appendStepLog(stepId: string, text: string): Promise<void> {
    appendSmall(this.stepFile(stepId, 'logs.txt'), text);
  }

  async appendEvent(ev: JobEvent): Promise<void> {
    appendSmall(this.file('events.jsonl'), JSON.stringify(ev) + '\n');
  }

  /** Last `maxChars` characters of a step's log (for the job's aggregated logs). */
  async stepLogTail(stepId: string, maxChars = 8000): Promise<string> {
    const file = this.stepFile(stepId, 'logs.txt');
    const fh = await fsp.open(file, 'r').catch(() => undefined);
    if (!fh) return '';
    try {
      const { size } = await fh.stat();
      const len = Math.min(size, maxChars);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      return buf.toString('utf8');
    } finally {
      await fh.close();
    }
  }
}

/**
 * Replace `file` with `text` (not fsynced), except when both are empty: an unchanged step's patch
 * stays the empty file made earlier, or is made empty in place (a replace costs an inode; lib/fsutil.ts).
 */
async function writeUnlessSameEmpty(file: string, text: string): Promise<void> {
  const st = text === '' ? lstatOrUndefined(file) : undefined;
  if (st?.isFile() && st.size === 0) return;
  if (text === '' && !st) return ensureFile(file);
  await writeFileAtomic(file, text, { durable: false });
}

/** Create `file` empty unless it exists (never truncates), off the event loop. */
async function ensureFile(file: string): Promise<void> {
  closeSync(await openAsync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND));
}

function appendSmall(file: string, text: string): void {
  appendFileSync(file, text);
}

export function initialContext(job: NormalizedJob, nowIso: string): ContextFile {
  return { schema_version: '1.0', job_id: job.job_id, strategy: job.context_strategy, updated_at: nowIso, sessions: {}, window: [...job.context_window] };
}
