/**
 * The real simulator program, run through registry.simulatedInvocation exactly as the runner will,
 * its output fed to the matching adapter's parser. One spec per behaviour the runner's own tests
 * will lean on: files in the workspace, sessions, tokens, outcomes, resume, markers, big output.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { getAdapter, SIMULATOR_PATH, type AdapterAgentName } from '../../workers/registry.ts';
import { EXIT_OK, feed } from '../helpers/workers-context.ts';
import { isAlive, killSims, runSim, startSim, tempWorkspace } from '../helpers/workers-sim.ts';

afterEach(() => killSims());

const AGENTS: AdapterAgentName[] = ['claude', 'codex', 'opencode', 'droid', 'gemini'];
const PROMPT = 'Add a greeting function to the project.';
const TOKENS_IN = Math.ceil(PROMPT.length / 4) + 100;
const SESSION_RE: Record<AdapterAgentName, RegExp> = {
  claude: /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/,
  codex: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
  opencode: /^ses_[0-9a-f]{26}$/,
  droid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
  gemini: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
};
/** What a plain `fail` is classified as: codex fails the turn (turn.failed → tool_failed). */
const FAIL_CODE: Record<AdapterAgentName, string> = { claude: 'failed', codex: 'tool_failed', opencode: 'failed', droid: 'failed', gemini: 'failed' };
const REPORTS_USD: AdapterAgentName[] = ['claude', 'opencode'];

describe.each(AGENTS)('simulated %s', (agent) => {
  it('success: writes agent-notes/<step_id>.md into the workspace; session id and tokens are parsed', async () => {
    const run = await runSim({ agent, prompt: PROMPT, step: { role: 'planner' } });
    expect(run.outcome.status).toBe('success');
    expect(run.exit).toEqual({ exitCode: 0, signal: null });
    const note = readFileSync(join(run.workspace, 'agent-notes', 'step_a.md'), 'utf8');
    expect(note).toContain('# Plan: step_a');
    expect(note).toContain(PROMPT);
    expect(run.outcome.summary).toContain('agent-notes/step_a.md');
    expect(run.outcome.session_id).toMatch(SESSION_RE[agent]);
    expect(run.outcome.usage.tokens_in).toBe(TOKENS_IN);
    expect(run.outcome.usage.tokens_out).toBeGreaterThan(50);
    expect(run.outcome.usage.turns).toBeGreaterThanOrEqual(1);
    if (REPORTS_USD.includes(agent)) expect(run.outcome.usage.cost_usd).toBeGreaterThan(0);
    else expect(run.outcome.usage.cost_usd).toBeNull();
  });

  it('is deterministic: the same prompt gives the same session id and file content', async () => {
    const a = await runSim({ agent, prompt: PROMPT });
    const b = await runSim({ agent, prompt: PROMPT });
    expect(b.outcome.session_id).toBe(a.outcome.session_id);
    const read = (ws: string) => readFileSync(join(ws, 'agent-notes', 'step_a.md'), 'utf8');
    expect(read(b.workspace)).toBe(read(a.workspace));
  });

  it('fail: the CLI\'s error shape, exit 1, classified as a failure', async () => {
    const run = await runSim({ agent, simulate: { outcome: 'fail' } });
    expect(run.outcome.status).toBe('failed');
    expect(run.outcome.error?.code).toBe(FAIL_CODE[agent]);
    expect(run.exit.exitCode).toBe(1);
    expect(existsSync(join(run.workspace, 'agent-notes'))).toBe(false);
  });

  it('needs_human: exit 0, the final message starts with NEEDS_HUMAN:', async () => {
    const run = await runSim({ agent, simulate: { outcome: 'needs_human' } });
    expect(run.exit.exitCode).toBe(0);
    expect(run.outcome.status).toBe('needs_human');
    expect(run.outcome.summary).toMatch(/^NEEDS_HUMAN: /);
  });

  it('rate_limit: the 429 shape, reset about 60 s ahead', async () => {
    const before = Date.now();
    const run = await runSim({ agent, simulate: { outcome: 'rate_limit' } });
    expect(run.outcome.status).toBe('failed');
    expect(run.outcome.error?.code).toBe('rate_limit');
    const resetAt = Date.parse(run.outcome.error?.reset_at ?? '');
    expect(resetAt - before).toBeGreaterThan(50_000);
    expect(resetAt - before).toBeLessThan(70_000);
  });

  it('resume: the session id passed back is reused, and cached tokens show up', async () => {
    const first = await runSim({ agent, prompt: PROMPT });
    const sid = first.outcome.session_id ?? '';
    const again = await runSim({ agent, prompt: 'Now add tests for it.', resumeSessionId: sid, workspace: first.workspace });
    expect(again.outcome.status).toBe('success');
    expect(again.outcome.session_id).toBe(sid);
    expect(again.outcome.usage.tokens_cached).toBe(100);
  });

  it('crash: a partial event, then killed → crash', async () => {
    const run = await runSim({ agent, simulate: { outcome: 'crash' } });
    expect(run.exit.signal).toBe('SIGKILL');
    expect(run.lines.length).toBeGreaterThan(0);
    expect(run.outcome.error?.code).toBe('crash');
  });

  it('output_bytes: streams about that many extra bytes and still succeeds', async () => {
    const run = await runSim({ agent, simulate: { output_bytes: 300_000 } });
    expect(run.outcome.status).toBe('success');
    expect(run.stdoutBytes).toBeGreaterThanOrEqual(300_000);
    expect(run.stdoutBytes).toBeLessThan(300_000 + 16_000);
  });
});

describe('simulator knobs', () => {
  it('fail_attempts: attempts 1..N fail, later attempts follow outcome', async () => {
    const simulate = { fail_attempts: 2 };
    expect((await runSim({ agent: 'claude', simulate, attempt: 1 })).outcome.status).toBe('failed');
    expect((await runSim({ agent: 'claude', simulate, attempt: 2 })).outcome.status).toBe('failed');
    expect((await runSim({ agent: 'claude', simulate, attempt: 3 })).outcome.status).toBe('success');
  });

  it('marker_file: one line "<step_id> <attempt> <pid>" per run, appended', async () => {
    const marker = join(tempWorkspace(), 'marker.log');
    const a = await runSim({ agent: 'codex', simulate: { marker_file: marker }, attempt: 1 });
    const b = await runSim({ agent: 'gemini', simulate: { marker_file: marker, outcome: 'fail' }, attempt: 2 });
    expect(readFileSync(marker, 'utf8')).toBe(`step_a 1 ${a.pid}\nstep_a 2 ${b.pid}\n`);
  });

  it('files: writes exactly the given files, and summary overrides the final message', async () => {
    const run = await runSim({ agent: 'opencode', simulate: { files: { 'src/a.ts': 'export const a = 1;\n', 'README.md': '# hi\n' }, summary: 'Wrote two files.' } });
    expect(readFileSync(join(run.workspace, 'src/a.ts'), 'utf8')).toBe('export const a = 1;\n');
    expect(readFileSync(join(run.workspace, 'README.md'), 'utf8')).toBe('# hi\n');
    expect(existsSync(join(run.workspace, 'agent-notes'))).toBe(false);
    expect(run.outcome.summary).toBe('Wrote two files.');
  });

  it('files: refuses absolute paths and ".." (nothing written, the run fails)', async () => {
    const ws = tempWorkspace();
    for (const path of ['../escape.txt', '/tmp/workers-sim-abs.txt', 'a/../../b.txt']) {
      const run = await runSim({ agent: 'claude', workspace: ws, simulate: { files: { [path]: 'x' } } });
      expect(run.outcome.status).toBe('failed');
      expect(run.stderr).toContain('refusing to write outside the workspace');
    }
    expect(existsSync(join(ws, '..', 'escape.txt'))).toBe(false);
    expect(existsSync('/tmp/workers-sim-abs.txt')).toBe(false);
  });

  it('an implementer appends one line per run to agent-notes/CHANGELOG.md', async () => {
    const ws = tempWorkspace();
    await runSim({ agent: 'codex', workspace: ws, step: { step_id: 'impl_1', role: 'implementer' }, prompt: 'Add feature A' });
    await runSim({ agent: 'droid', workspace: ws, step: { step_id: 'impl_2', role: 'implementer' }, prompt: 'Add feature B' });
    const log = readFileSync(join(ws, 'agent-notes', 'CHANGELOG.md'), 'utf8');
    expect(log).toBe('# Changelog\n\n- impl_1: Add feature A\n- impl_2: Add feature B\n');
  });

  it('a reviewer writes a review', async () => {
    const run = await runSim({ agent: 'claude', step: { role: 'reviewer' } });
    expect(readFileSync(join(run.workspace, 'agent-notes', 'step_a.md'), 'utf8')).toContain('Verdict:');
  });

  it('claude without a write permission (allowed_tools lacks Write): exit 0, nothing written, permission_denied', async () => {
    const run = await runSim({ agent: 'claude', step: { allowed_tools: ['Read', 'Grep'] } });
    expect(run.exit.exitCode).toBe(0);
    expect(run.outcome.status).toBe('failed');
    expect(run.outcome.error?.code).toBe('permission_denied');
    expect(existsSync(join(run.workspace, 'agent-notes', 'step_a.md'))).toBe(false);
  });

  it('output_text appears inside an assistant message event', async () => {
    const run = await runSim({ agent: 'claude', simulate: { output_text: 'token=sk-test-1234' } });
    const say = run.lines.map((l) => JSON.parse(l) as { type: string; message?: { content?: { text?: string }[] } }).find((e) => e.type === 'assistant' && e.message?.content?.[0]?.text === 'token=sk-test-1234');
    expect(say).toBeDefined();
    expect(run.outcome.status).toBe('success');
  });

  it('delay_ms: prints a progress event about every 200 ms before finishing', async () => {
    const t0 = Date.now();
    const run = await runSim({ agent: 'codex', simulate: { delay_ms: 900 } });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    const progress = run.lines.filter((l) => l.includes('"reasoning"'));
    expect(progress.length).toBeGreaterThanOrEqual(4);
    expect(run.outcome.status).toBe('success');
  });

  it('timeout: prints nothing and never finishes on its own', async () => {
    const sim = startSim({ agent: 'droid', simulate: { outcome: 'timeout' } });
    let settled = false;
    void sim.done.then(() => (settled = true));
    await sleep(700);
    expect(settled).toBe(false);
    expect(isAlive(sim.pid)).toBe(true);
    process.kill(-sim.pid, 'SIGKILL');
    const run = await sim.done;
    expect(run.stdoutBytes).toBe(0);
    expect(run.outcome.error?.code).toBe('crash');
  });

  it('ignore_sigterm: SIGTERM does not stop it; SIGKILL does', async () => {
    const marker = join(tempWorkspace(), 'm');
    const sim = startSim({ agent: 'claude', simulate: { outcome: 'timeout', ignore_sigterm: true, marker_file: marker } });
    while (!existsSync(marker)) await sleep(20);
    await sleep(100);
    process.kill(sim.pid, 'SIGTERM');
    await sleep(300);
    expect(isAlive(sim.pid)).toBe(true);
    process.kill(-sim.pid, 'SIGKILL');
    expect((await sim.done).exit.signal).toBe('SIGKILL');
  });

  it('spawn_grandchild: the agent exits but a grandchild (ignoring SIGTERM) keeps stdout open', async () => {
    const sim = startSim({ agent: 'gemini', simulate: { spawn_grandchild: true }, untilExit: true });
    const run = await sim.done;
    expect(run.exit.exitCode).toBe(0);
    // The pipe is still held: the group still has a live member.
    let groupAlive = true;
    try {
      process.kill(-sim.pid, 0);
    } catch {
      groupAlive = false;
    }
    expect(groupAlive).toBe(true);
    process.kill(-sim.pid, 'SIGTERM');
    await sleep(200);
    process.kill(-sim.pid, 0); // still there: the grandchild ignores SIGTERM
    process.kill(-sim.pid, 'SIGKILL');
  });

  it('runs without ORCH_SIM_SPEC (defaults: step "sim", role "assistant", success)', () => {
    const ws = tempWorkspace();
    const env = { ...process.env };
    delete env.ORCH_SIM_SPEC;
    const res = spawnSync(process.execPath, [SIMULATOR_PATH, '--as', 'opencode', 'run', '--format', 'json', 'Say hi'], { cwd: ws, env, encoding: 'utf8' });
    expect(res.status).toBe(0);
    const outcome = feed(getAdapter('opencode').createParser(), res.stdout.split('\n'), EXIT_OK);
    expect(outcome.status).toBe('success');
    expect(existsSync(join(ws, 'agent-notes', 'sim.md'))).toBe(true);
  });

  it('rejects an argv the real CLI would reject (no prompt, wrong subcommand) with exit 2', () => {
    const run = (args: string[]) => spawnSync(process.execPath, [SIMULATOR_PATH, ...args], { cwd: tempWorkspace(), encoding: 'utf8' }).status;
    expect(run(['--as', 'codex', 'exec', '--json'])).toBe(2);
    expect(run(['--as', 'opencode', 'serve', 'hi'])).toBe(2);
    expect(run(['--as', 'aider', '-p', 'hi'])).toBe(2);
  });
});
