/**
 * The job contract: MVP job files work unchanged, bad input is refused with the JSON path of every
 * problem, and defaults are filled in the same way for every door.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { normalizeJob } from '../../contracts/normalize.ts';
import { newJobId } from '../../lib/ids.ts';
import { isValidNormalizedJob, parseJsonText, validateJob } from '../../contracts/validate.ts';
import { OrchestratorError } from '../../lib/errors.ts';

const MVP = path.resolve(__dirname, '../../../shared/mvp-examples');
const ctx = { now: new Date('2026-11-21T12:00:00Z'), newId: () => '0123456789abcdef0123456789abcdef' };

function refusal(fn: () => unknown): OrchestratorError {
  try {
    fn();
  } catch (err) {
    if (err instanceof OrchestratorError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('contract: the Python MVP\'s job files', () => {
  it.skipIf(!existsSync(MVP))('accepts simple_job.json and webhook_payload_simple.json unchanged', () => {
    for (const f of ['simple_job.json', 'webhook_payload_simple.json']) {
      const raw = parseJsonText(readFileSync(path.join(MVP, f), 'utf8'), { file: f });
      const job = normalizeJob(validateJob(raw, { file: f }), ctx);
      expect(isValidNormalizedJob(job)).toBe(true);
      expect(job.steps.map((s) => s.step_id)).toEqual(['01_plan', '02_implement', '03_review']);
    }
  });

  it.skipIf(!existsSync(MVP))('refuses kimi_job.json, naming the field and the agents we support', () => {
    const raw = parseJsonText(readFileSync(path.join(MVP, 'kimi_job.json'), 'utf8'));
    const err = refusal(() => validateJob(raw, { file: 'kimi_job.json' }));
    expect(err.code).toBe('E_SCHEMA');
    expect(err.exitCode).toBe(2);
    expect(err.details.issues).toEqual([{ path: '$.steps[0].agent', message: 'unknown agent "kimi"; supported agents: claude, codex, opencode, droid, gemini, command' }]);
    expect(err.describe()).toContain('kimi_job.json');
  });

  it('our own examples validate', () => {
    const dir = path.resolve(__dirname, '../../examples');
    for (const sub of ['jobs', 'webhook_payloads']) {
      for (const f of readdirSync(path.join(dir, sub))) {
        expect(() => validateJob(parseJsonText(readFileSync(path.join(dir, sub, f), 'utf8')), { file: f })).not.toThrow();
      }
    }
  });
});

describe('contract: bad input names every offending path', () => {
  it('invalid JSON: line and column', () => {
    const err = refusal(() => parseJsonText('{\n  "goal": "x",\n  oops\n}', { file: 'bad.json' }));
    expect(err.code).toBe('E_INVALID_JSON');
    expect(err.message).toMatch(/bad\.json: invalid JSON at line 3, column 3/);
  });

  it('empty input and __proto__ keys are refused', () => {
    expect(refusal(() => parseJsonText('  ')).message).toContain('empty input');
    expect(refusal(() => parseJsonText('{"goal":"x","metadata":{"__proto__":{"polluted":1}}}')).message).toContain('__proto__');
    // spelled with \u escapes, the key only appears once decoded
    expect(refusal(() => parseJsonText('{"goal":"x","metadata":{"\\u005f_proto__":{"polluted":1}}}')).message).toContain('__proto__');
    expect(refusal(() => parseJsonText('{"goal":"x","constructor":{"proto\\u0074ype":{"polluted":1}}}')).message).toContain('prototype');
    expect(parseJsonText('{"goal":"caf\\u00e9 __proto__ prototype"}')).toEqual({ goal: 'café __proto__ prototype' });
  });

  it('several problems at once, each with its JSONPath', () => {
    const err = refusal(() => validateJob({ goal: '', extra: 1, steps: [{ step_id: 'a', agent: 'codex', timeout_sec: '10' }], policy: { network: 'maybe' } }));
    const paths = (err.details.issues ?? []).map((i) => i.path).sort();
    expect(paths).toEqual(['$.extra', '$.goal', '$.policy.network', '$.steps[0].timeout_sec'].sort());
  });

  it('traversal and malformed job ids', () => {
    for (const id of ['../x', '../../etc/passwd', 'a/b/c/d/e', '........', 'short', 'x'.repeat(65)]) {
      const err = refusal(() => validateJob({ goal: 'g', job_id: id }));
      expect(err.details.issues?.[0]?.path).toBe('$.job_id');
    }
  });

  it('oversized prompt and goal', () => {
    const err = refusal(() => validateJob({ goal: 'g'.repeat(5001), steps: [{ step_id: 's', agent: 'claude', prompt: 'p'.repeat(50_001) }] }));
    expect((err.details.issues ?? []).map((i) => i.path).sort()).toEqual(['$.goal', '$.steps[0].prompt']);
    expect(err.describe()).toMatch(/must NOT have more than 5000 characters \(got 5001\)/);
  });

  it('cross-step checks: duplicate ids, goto targets, patches from later steps, unsafe artifact paths, command argv', () => {
    const err = refusal(() => validateJob({ goal: 'g', steps: [
      { step_id: 'a', agent: 'codex', on_failure: 'goto:nowhere', apply_patches_from: ['b'] },
      { step_id: 'a', agent: 'claude', input_artifacts: ['../../etc/passwd'] },
      { step_id: 'b', agent: 'command' },
    ] }));
    expect(err.details.issues).toEqual(expect.arrayContaining([
      expect.objectContaining({ path: '$.steps[1].step_id' }),
      expect.objectContaining({ path: '$.steps[0].on_failure' }),
      expect.objectContaining({ path: '$.steps[0].apply_patches_from[0]' }),
      expect.objectContaining({ path: '$.steps[1].input_artifacts[0]' }),
      expect.objectContaining({ path: '$.steps[2].command' }),
    ]));
  });
});

describe('contract: defaults', () => {
  it('fills job_id, created_at, schema_version, source, policy and the default pipeline', () => {
    const job = normalizeJob(validateJob({ goal: 'Do it' }), ctx);
    expect(job).toMatchObject({ schema_version: '1.0', job_id: '0123456789abcdef0123456789abcdef', created_at: '2026-11-21T12:00:00.000Z', source: { type: 'manual' }, workdir: '.', priority: 0, context_strategy: 'full', artifact_handoff: 'workspace_first', policy: { sandbox: false, network: 'allow', requires_approval: false } });
    expect(job.steps[1]).toMatchObject({ step_id: '02_implement', agent: 'codex', role: 'implementer', input_artifacts: ['steps/01_plan/report.md'], timeout_sec: 600, on_failure: 'stop' });
    expect(job.steps[2]?.input_artifacts).toEqual(['steps/01_plan/report.md', 'steps/02_implement/report.md', 'steps/02_implement/patch.diff']);
  });

  it('generated job ids are 32 lowercase hex characters, distinct across refills of the random pool', () => {
    const ids = Array.from({ length: 1000 }, () => newJobId());
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(1000);
  });

  it('keeps what the submitter gave', () => {
    const job = normalizeJob(validateJob({ goal: 'g', job_id: 'my-job-0001', created_at: '2020-01-01T00:00:00Z', steps: [{ step_id: 'x', agent: 'gemini', max_retries: 0 }] }), ctx);
    expect(job.job_id).toBe('my-job-0001');
    expect(job.created_at).toBe('2020-01-01T00:00:00Z');
    expect(job.steps[0]).toMatchObject({ role: 'assistant', prompt: 'g', max_retries: 0 });
  });

  it('a key given as undefined keeps its default; what the runner decides is never taken from the payload', () => {
    // typed callers (scheduler, CLI) may pass an optional field as undefined
    const job = normalizeJob({ goal: 'g', workdir: undefined, policy: { network: 'deny', sandbox: undefined }, steps: [{ step_id: 'x', agent: 'codex', timeout_sec: undefined, command: undefined }] }, ctx);
    expect(job.workdir).toBe('.');
    expect(job.policy).toEqual({ sandbox: false, network: 'deny', allowed_binaries: [], requires_approval: false });
    expect(job.steps[0]).toMatchObject({ timeout_sec: 600, role: 'implementer', prompt: 'g' });
    const forced = normalizeJob({ goal: 'g', schema_version: '0.9', submitted_at: '2020-01-01T00:00:00Z' } as never, ctx);
    expect(forced).toMatchObject({ schema_version: '1.0', submitted_at: '2026-11-21T12:00:00.000Z' });
  });

  it('job files list their fields in one order, whatever order the payload used; unknown-to-defaults fields are kept', () => {
    const a = normalizeJob({ tags: ['t'], goal: 'g', callback_url: 'http://127.0.0.1:1/h', steps: [{ agent: 'command', command: ['true'], step_id: 's' }] }, ctx);
    const b = normalizeJob({ steps: [{ step_id: 's', command: ['true'], agent: 'command' }], callback_url: 'http://127.0.0.1:1/h', goal: 'g', tags: ['t'] }, ctx);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(Object.keys(a).slice(0, 6)).toEqual(['schema_version', 'job_id', 'created_at', 'submitted_at', 'source', 'goal']);
    expect(Object.keys(a.steps[0]!).slice(0, 3)).toEqual(['step_id', 'agent', 'role']);
    expect(a.callback_url).toBe('http://127.0.0.1:1/h');
    expect(a.steps[0]?.command).toEqual(['true']);
  });
});

describe('contract: TypeScript types are derived from the schemas', () => {
  it('contracts/types.generated.ts is up to date', () => {
    execFileSync(process.execPath, [path.resolve(__dirname, '../../scripts/gen-types.mjs'), '--check'], { stdio: 'pipe' });
  });
});
