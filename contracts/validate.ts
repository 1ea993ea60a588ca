/**
 * Validation of jobs and results against the JSON Schemas. Strict: no coercion, no stripping of
 * unknown fields, no defaults applied by Ajv (that would mutate the input). Validators are compiled
 * once per process. Errors name every offending JSONPath (`$.steps[0].agent`).
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { OrchestratorError, type Issue } from '../lib/errors.ts';
import { jsonErrorOffset } from './json-locate.ts';
import { AGENTS, type Job, type NormalizedJob, type Result } from './index.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

function loadSchema(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`./${name}.schema.json`, import.meta.url), 'utf8')) as Record<string, unknown>;
}

let compiled: { job: ValidateFunction; result: ValidateFunction } | undefined;
function validators(): { job: ValidateFunction; result: ValidateFunction } {
  if (!compiled) {
    const ajv = new Ajv2020({ allErrors: true, strict: true, coerceTypes: false, useDefaults: false, removeAdditional: false, unicodeRegExp: true });
    addFormats(ajv);
    compiled = { job: ajv.compile(loadSchema('job')), result: ajv.compile(loadSchema('result')) };
  }
  return compiled;
}

export const jobSchema = (): Record<string, unknown> => loadSchema('job');
export const resultSchema = (): Record<string, unknown> => loadSchema('result');

/** `/steps/0/agent` → `$.steps[0].agent` */
export function pointerToPath(pointer: string): string {
  if (!pointer) return '$';
  return (
    '$' +
    pointer
      .split('/')
      .slice(1)
      .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(seg) ? `.${seg}` : `[${JSON.stringify(seg)}]`))
      .join('')
  );
}

function describeAjvError(e: ErrorObject, data: unknown): Issue {
  const at = pointerToPath(e.instancePath);
  switch (e.keyword) {
    case 'additionalProperties': {
      const extra = String((e.params as { additionalProperty: string }).additionalProperty);
      return { path: `${at === '$' ? '$' : at}${/^[A-Za-z_][A-Za-z0-9_]*$/.test(extra) ? '.' + extra : `[${JSON.stringify(extra)}]`}`, message: 'unknown field (not in the schema)' };
    }
    case 'required':
      return { path: `${at}.${(e.params as { missingProperty: string }).missingProperty}`, message: 'is required' };
    case 'enum': {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
      const value = valueAt(data, e.instancePath);
      if (/\/steps\/\d+\/agent$/.test(e.instancePath)) {
        return { path: at, message: `unknown agent ${JSON.stringify(value)}; supported agents: ${AGENTS.join(', ')}` };
      }
      return { path: at, message: `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')} (got ${JSON.stringify(value)})` };
    }
    case 'maxLength':
    case 'minLength':
      return { path: at, message: `${e.message ?? 'bad length'} (got ${String((valueAt(data, e.instancePath) as string | undefined)?.length ?? '?')})` };
    default:
      return { path: at, message: e.message ?? e.keyword };
  }
}

function valueAt(data: unknown, pointer: string): unknown {
  let cur: unknown = data;
  for (const seg of pointer.split('/').slice(1)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}

function schemaIssues(validate: ValidateFunction, data: unknown): Issue[] {
  if (validate(data)) return [];
  const seen = new Set<string>();
  const issues: Issue[] = [];
  for (const e of validate.errors ?? []) {
    const issue = describeAjvError(e, data);
    const key = issue.path + '|' + issue.message;
    if (!seen.has(key)) {
      seen.add(key);
      issues.push(issue);
    }
  }
  return issues;
}

const SAFE_REL_PATH = /^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._\-/]+$/;

/** Checks the schema cannot express: cross-references between steps, safe relative paths. */
function semanticIssues(job: Job): Issue[] {
  const issues: Issue[] = [];
  const steps = job.steps ?? [];
  const ids = new Map<string, number>();
  steps.forEach((s, i) => {
    if (ids.has(s.step_id)) issues.push({ path: `$.steps[${i}].step_id`, message: `duplicate step_id ${JSON.stringify(s.step_id)} (also at $.steps[${ids.get(s.step_id)}])` });
    else ids.set(s.step_id, i);
  });
  steps.forEach((s, i) => {
    const target = s.on_failure?.startsWith('goto:') ? s.on_failure.slice(5) : undefined;
    if (target !== undefined && !ids.has(target)) issues.push({ path: `$.steps[${i}].on_failure`, message: `goto target ${JSON.stringify(target)} is not a step_id of this job` });
    if (target !== undefined && target === s.step_id) issues.push({ path: `$.steps[${i}].on_failure`, message: 'goto target is the step itself; use max_retries to retry a step' });
    (s.apply_patches_from ?? []).forEach((from, j) => {
      const idx = ids.get(from);
      if (idx === undefined || idx >= i) issues.push({ path: `$.steps[${i}].apply_patches_from[${j}]`, message: `${JSON.stringify(from)} is not an earlier step of this job` });
    });
    (s.input_artifacts ?? []).forEach((p, j) => {
      if (!SAFE_REL_PATH.test(p)) issues.push({ path: `$.steps[${i}].input_artifacts[${j}]`, message: 'must be a relative path inside the job\'s artifact directory (no "..", no leading "/")' });
    });
    if (s.agent === 'command' && !s.command) issues.push({ path: `$.steps[${i}].command`, message: 'is required for agent "command" (an argv array)' });
    if (s.agent !== 'command' && s.command) issues.push({ path: `$.steps[${i}].command`, message: `only "command" steps take an argv (agent is ${JSON.stringify(s.agent)})` });
  });
  return issues;
}

/** Validate an already-parsed value as a submitted job. Throws E_SCHEMA naming every offending path. */
/**
 * Validate a job payload; throws one E_SCHEMA naming every problem. `also` are problems the caller
 * found itself (the webhook's project alias), reported in the same error after the schema's.
 */
export function validateJob(data: unknown, where: { file?: string } = {}, also: readonly Issue[] = []): Job {
  const { job } = validators();
  const issues = schemaIssues(job, data);
  if (issues.length === 0) issues.push(...semanticIssues(data as Job));
  issues.push(...also);
  if (issues.length > 0) {
    const loc = where.file ? `${where.file}: ` : '';
    throw new OrchestratorError('E_SCHEMA', `${loc}invalid job: ${issues.length} problem${issues.length > 1 ? 's' : ''}`, { ...where, issues });
  }
  return data as Job;
}

export function isValidNormalizedJob(data: unknown): data is NormalizedJob {
  return validators().job(data) && semanticIssues(data as Job).length === 0;
}

export function resultIssues(data: unknown): Issue[] {
  return schemaIssues(validators().result, data);
}

export function assertValidResult(data: unknown, where: string): Result {
  const issues = resultIssues(data);
  if (issues.length) throw new OrchestratorError('E_INTERNAL', `${where}: result does not match result.schema.json`, { issues });
  return data as Result;
}

/**
 * Parse JSON text strictly: a syntax error names the line and column; `__proto__` keys are
 * refused (prototype pollution) rather than silently dropped.
 */
export function parseJsonText(text: string, where: { file?: string } = {}): unknown {
  const loc = where.file ? `${where.file}: ` : '';
  if (text.trim() === '') throw new OrchestratorError('E_INVALID_JSON', `${loc}empty input, expected a JSON object`, { ...where });
  try {
    // The reviver makes JSON.parse several times slower; a key can only decode to one of these names
    // if the text spells it out or uses a \u escape (the other escapes never produce a letter).
    if (!text.includes('__proto__') && !text.includes('prototype') && !text.includes('\\u')) return JSON.parse(text) as unknown;
    return JSON.parse(text, function (key, value: unknown) {
      if (key === '__proto__' || (key === 'prototype' && typeof value === 'object')) throw new ProtoKeyError(key);
      return value;
    });
  } catch (err) {
    if (err instanceof ProtoKeyError) {
      throw new OrchestratorError('E_INVALID_JSON', `${loc}forbidden key "${err.key}" in JSON`, { ...where });
    }
    const msg = err instanceof Error ? err.message : String(err);
    const pos = /position (\d+)/.exec(msg);
    let at = '';
    const details: Record<string, unknown> = { ...where };
    const offset = pos ? Number(pos[1]) : jsonErrorOffset(text);
    if (offset >= 0) {
      const before = text.slice(0, offset);
      const line = before.split('\n').length;
      const column = offset - before.lastIndexOf('\n');
      details.line = line;
      details.column = column;
      at = ` at line ${line}, column ${column}`;
    }
    // V8 sometimes quotes the whole input back: keep the message short
    const reason = msg.replace(/\s*\(line \d+ column \d+\)/, '').replace(/, ".*" is not valid JSON$/s, '').replace(/ in JSON at position \d+$/, '');
    throw new OrchestratorError('E_INVALID_JSON', `${loc}invalid JSON${at}: ${reason}`, details, { cause: err });
  }
}

class ProtoKeyError extends Error {
  constructor(readonly key: string) {
    super(key);
  }
}
