/**
 * A step's inputs (input_artifacts, previous steps' context), bounded by MAX_INPUT_ARTIFACTS_FILES,
 * MAX_INPUT_ARTIFACT_CHARS and MAX_INPUT_ARTIFACTS_CHARS; every truncation is recorded.
 * `buildPrompt` is pure; `readInputs` does the reading.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { ContextEntry, NormalizedJob, NormalizedStep } from '../contracts/index.ts';
import { errnoCode } from '../lib/errors.ts';
import { isInside, readFileNoFollow } from '../lib/fsutil.ts';

export interface InputLimits {
  maxFiles: number;
  maxFileChars: number;
  maxTotalChars: number;
}

export interface InputFile {
  path: string;
  content: string;
}

export interface StepInputs {
  files: InputFile[];
  truncated: boolean;
  notes: string[];
}

export async function readInputs(artifactsDir: string, step: NormalizedStep, limits: InputLimits): Promise<StepInputs> {
  const out: StepInputs = { files: [], truncated: false, notes: [] };
  let total = 0;
  for (const [i, rel] of step.input_artifacts.entries()) {
    if (i >= limits.maxFiles) {
      out.truncated = true;
      out.notes.push(`${step.input_artifacts.length - limits.maxFiles} input file(s) dropped (MAX_INPUT_ARTIFACTS_FILES=${limits.maxFiles})`);
      break;
    }
    const abs = path.resolve(artifactsDir, rel);
    if (!isInside(artifactsDir, abs)) {
      out.notes.push(`${rel}: outside the job's artifacts, ignored`);
      continue;
    }
    let content: string;
    try {
      content = await readFileNoFollow(abs);
    } catch (err) {
      out.notes.push(`${rel}: ${errnoCode(err) === 'ENOENT' ? 'missing' : `unreadable (${errnoCode(err) ?? 'error'})`}`);
      continue;
    }
    if (content.length > limits.maxFileChars) {
      out.truncated = true;
      out.notes.push(`${rel}: cut from ${content.length} to ${limits.maxFileChars} chars (MAX_INPUT_ARTIFACT_CHARS)`);
      content = content.slice(0, limits.maxFileChars);
    }
    if (total + content.length > limits.maxTotalChars) {
      const room = Math.max(0, limits.maxTotalChars - total);
      out.truncated = true;
      out.notes.push(`${rel}: cut to ${room} chars (MAX_INPUT_ARTIFACTS_CHARS=${limits.maxTotalChars} reached)`);
      content = content.slice(0, room);
    }
    total += content.length;
    out.files.push({ path: rel, content });
  }
  return out;
}

/** Which context entries a step sees, per the job's context_strategy. */
export function selectContext(job: NormalizedJob, window: ContextEntry[]): ContextEntry[] {
  switch (job.context_strategy) {
    case 'sliding':
      return window.slice(-3);
    case 'summarize':
      return window.map((e) => ({ ...e, content: e.content.length > 500 ? e.content.slice(0, 500) + ' …' : e.content }));
    default:
      return window;
  }
}

export function buildPrompt(job: NormalizedJob, step: NormalizedStep, inputs: StepInputs, context: ContextEntry[]): string {
  const parts = [step.prompt];
  if (context.length) {
    parts.push('', '## Context so far', ...context.map((c) => `- [${c.step_id ? `${c.step_id} ` : ''}${c.role}${c.agent ? `/${c.agent}` : ''}] ${c.content}`));
  }
  for (const f of inputs.files) parts.push('', `## Input: ${f.path}`, '', f.content);
  if (job.goal && !step.prompt.includes(job.goal)) parts.push('', `## Job goal`, '', job.goal);
  return parts.join('\n');
}

export async function fileSize(p: string): Promise<number> {
  return (await fsp.stat(p).catch(() => ({ size: 0 }))).size;
}
