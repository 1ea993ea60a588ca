/**
 * argv/env of each adapter, exactly as REAL_CLIS.md prescribes for headless runs, and the registry
 * that swaps the real binary for the simulator without changing that argv.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ADAPTERS, getAdapter, isAdapterAgent, SIMULATOR_PATH, simSpecJson, simulatedInvocation } from '../../workers/registry.ts';
import { makeCtx } from '../helpers/workers-context.ts';

const HOME = '/jobs/j1/home';

describe('claude adapter', () => {
  it('runs -p PROMPT with stream-json + --verbose and acceptEdits when no tools are listed', () => {
    const inv = getAdapter('claude').buildInvocation(makeCtx({ prompt: 'Do it', agentHome: HOME }));
    expect(inv.file).toBe('claude');
    expect(inv.args).toEqual(['-p', 'Do it', '--output-format', 'stream-json', '--verbose', '--permission-mode', 'acceptEdits']);
    expect(inv.env).toEqual({ CLAUDE_CONFIG_DIR: HOME, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_TELEMETRY: '1', DISABLE_AUTOUPDATER: '1' });
  });

  it('passes allowed tools comma-joined (instead of acceptEdits), max turns, model and resume', () => {
    const ctx = makeCtx({ prompt: 'P', step: { allowed_tools: ['Read', 'Write', 'Bash(git diff:*)'], max_turns: 7, model: 'claude-opus-4-1' }, resumeSessionId: 'sid-1' });
    expect(getAdapter('claude').buildInvocation(ctx).args).toEqual([
      '-p', 'P', '--output-format', 'stream-json', '--verbose', '--allowedTools', 'Read,Write,Bash(git diff:*)', '--max-turns', '7', '--model', 'claude-opus-4-1', '--resume', 'sid-1',
    ]);
  });
});

describe('codex adapter', () => {
  const flags = ['--json', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox', '--disable', 'plugins',
    '-c', 'check_for_update_on_startup=false', '-c', 'analytics.enabled=false', '-c', 'feedback.enabled=false'];

  it('runs exec with the no-traffic flags and the prompt last; CODEX_HOME is the job home', () => {
    const inv = getAdapter('codex').buildInvocation(makeCtx({ prompt: 'Do it', agentHome: HOME }));
    expect(inv).toEqual({ file: 'codex', args: ['exec', ...flags, 'Do it'], env: { CODEX_HOME: HOME } });
  });

  it('resumes with exec resume <thread_id>, repeating the flags', () => {
    const inv = getAdapter('codex').buildInvocation(makeCtx({ prompt: 'More', resumeSessionId: 'th-1', step: { model: 'gpt-5' } }));
    expect(inv.args).toEqual(['exec', 'resume', 'th-1', ...flags, '-m', 'gpt-5', 'More']);
  });
});

describe('opencode adapter', () => {
  it('runs run --format json with its updaters off and every XDG dir inside the job home', () => {
    const inv = getAdapter('opencode').buildInvocation(makeCtx({ prompt: 'Plan', agentHome: HOME, resumeSessionId: 'ses_1', step: { model: 'p/m' } }));
    expect(inv.file).toBe('opencode');
    expect(inv.args).toEqual(['run', '--format', 'json', '--session', 'ses_1', '--model', 'p/m', 'Plan']);
    expect(inv.env).toMatchObject({ OPENCODE_DISABLE_AUTOUPDATE: '1', OPENCODE_DISABLE_MODELS_FETCH: '1', OPENCODE_DISABLE_LSP_DOWNLOAD: '1', OPENCODE_DISABLE_DEFAULT_PLUGINS: '1' });
    for (const key of ['XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_CACHE_HOME', 'XDG_STATE_HOME']) expect(inv.env[key]?.startsWith(`${HOME}/`)).toBe(true);
  });

  it('allowed_tools become its permission config: everything denied but those (write and patch are its `edit`)', () => {
    const permission = (tools: string[]): unknown => (JSON.parse(getAdapter('opencode').prepareHome(makeCtx({ step: { allowed_tools: tools } }), {}).env.OPENCODE_CONFIG_CONTENT!) as { permission: unknown }).permission;
    expect(permission([])).toEqual({ edit: 'allow', bash: 'allow', webfetch: 'deny' });
    expect(permission(['read', 'grep', 'glob'])).toEqual({ '*': 'deny', read: 'allow', grep: 'allow', glob: 'allow' });
    expect(permission(['read', 'write', 'patch'])).toEqual({ '*': 'deny', read: 'allow', edit: 'allow' });
  });
});

describe('droid adapter', () => {
  it('runs exec -o stream-json --skip-permissions-unsafe, -m and -s when given', () => {
    expect(getAdapter('droid').buildInvocation(makeCtx({ prompt: 'Go', agentHome: HOME }))).toEqual({
      file: 'droid', args: ['exec', '-o', 'stream-json', '--skip-permissions-unsafe', 'Go'], env: { FACTORY_HOME_OVERRIDE: HOME },
    });
    expect(getAdapter('droid').buildInvocation(makeCtx({ prompt: 'Go', resumeSessionId: 's1', step: { model: 'custom:glm' } })).args).toEqual([
      'exec', '-o', 'stream-json', '--skip-permissions-unsafe', '-m', 'custom:glm', '-s', 's1', 'Go',
    ]);
  });

  it('allowed_tools become --only-tools, comma-joined', () => {
    expect(getAdapter('droid').buildInvocation(makeCtx({ prompt: 'Go', step: { allowed_tools: ['Read', 'Grep'] } })).args).toEqual(['exec', '-o', 'stream-json', '--skip-permissions-unsafe', '--only-tools', 'Read,Grep', 'Go']);
  });
});

describe('gemini adapter', () => {
  it('runs -p PROMPT --output-format stream-json --yolo --skip-trust, -m and --resume when given', () => {
    const inv = getAdapter('gemini').buildInvocation(makeCtx({ prompt: 'Hi', agentHome: HOME, resumeSessionId: 'u1', step: { model: 'gemini-2.5-pro' } }));
    expect(inv).toEqual({
      file: 'gemini',
      args: ['-p', 'Hi', '--output-format', 'stream-json', '--yolo', '--skip-trust', '-m', 'gemini-2.5-pro', '--resume', 'u1'],
      env: { GEMINI_CLI_HOME: HOME },
    });
  });

  it('allowed_tools become settings tools.core (its built-in tool allowlist); none, no tools key', () => {
    const settings = (tools: string[]): { tools?: unknown } => JSON.parse(getAdapter('gemini').prepareHome(makeCtx({ step: { allowed_tools: tools } }), {}).files[0]!.content) as { tools?: unknown };
    expect(settings(['read_file', 'glob']).tools).toEqual({ core: ['read_file', 'glob'] });
    expect(settings([])).not.toHaveProperty('tools');
  });
});

describe('registry', () => {
  it('has the five agents; command has no adapter', () => {
    expect(Object.keys(ADAPTERS).sort()).toEqual(['claude', 'codex', 'droid', 'gemini', 'opencode']);
    for (const [name, adapter] of Object.entries(ADAPTERS)) expect(adapter.name).toBe(name);
    expect(getAdapter('command')).toBeUndefined();
    expect(isAdapterAgent('command')).toBe(false);
  });

  it('simulatedInvocation runs node SIMULATOR_PATH --as <agent> + the real argv, with ORCH_SIM_SPEC added', () => {
    expect(existsSync(SIMULATOR_PATH)).toBe(true);
    const ctx = makeCtx({ prompt: 'P', step: { step_id: 'x1', agent: 'codex', role: 'implementer', simulate: { outcome: 'fail' } }, attempt: 2 });
    const adapter = getAdapter('codex');
    const real = adapter.buildInvocation(ctx);
    const sim = simulatedInvocation(adapter, ctx, simSpecJson(ctx));
    expect(sim.file).toBe(process.execPath);
    expect(sim.args).toEqual([SIMULATOR_PATH, '--as', 'codex', ...real.args]);
    expect(sim.env).toEqual({ ...real.env, ORCH_SIM_SPEC: sim.env.ORCH_SIM_SPEC });
    expect(JSON.parse(sim.env.ORCH_SIM_SPEC ?? '')).toEqual({ step_id: 'x1', attempt: 2, role: 'implementer', simulate: { outcome: 'fail' } });
  });
});
