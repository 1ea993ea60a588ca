#!/usr/bin/env node
// @ts-check
/**
 * sim-agent: one small program that impersonates the five agent CLIs, headless, for tests and demos.
 *
 *   node sim-agent.mjs --as <claude|codex|opencode|droid|gemini> <the argv the real CLI would get>
 *
 * It reads the prompt and resume/session flags from that argv the way the real CLI does, writes
 * files into its cwd like the agent's file tool would, and prints that CLI's own headless output
 * (the event shapes in docs/REAL_CLIS.md), so the real adapters parse it unchanged. Knobs come from
 * ORCH_SIM_SPEC = {step_id, attempt, role, simulate} (the job schema's Simulate object).
 *
 * Invariants: deterministic for a given prompt and workspace (no randomness; the clock appears
 * only where a real format carries timestamps/durations); never writes outside its cwd; streams
 * large output with backpressure instead of building it; imports node: builtins only (fast start).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * @typedef {'success' | 'fail' | 'timeout' | 'needs_human' | 'crash' | 'rate_limit'} Outcome
 * @typedef {{
 *   outcome?: Outcome, fail_attempts?: number, delay_ms?: number, files?: Record<string, string | undefined>,
 *   output_bytes?: number, output_text?: string, ignore_sigterm?: boolean, spawn_grandchild?: boolean,
 *   marker_file?: string, summary?: string
 * }} Simulate
 * @typedef {{ step_id: string, attempt: number, role: string, simulate: Simulate }} Spec
 * @typedef {{ prompt: string, resumeId: string | null, model: string | null, flags: Map<string, string> }} Cli
 * @typedef {{ path: string, abs: string, content: string, existed: boolean }} Write
 * @typedef {{ in: number, out: number, cached: number }} Tokens
 * @typedef {{
 *   agent: string, spec: Spec, cli: Cli, cwd: string, sessionId: string, model: string,
 *   tokens: Tokens, costUsd: number, startedAt: number, digest: string
 * }} Run
 * @typedef {Record<string, unknown>} Ev
 * @typedef {{ stdout: Ev[], stderr: string, exitCode: number }} Failure
 * @typedef {{
 *   quietFailures: boolean,
 *   init(run: Run): Ev[],
 *   progress(run: Run, n: number, text: string): Ev[],
 *   filler(run: Run, n: number, pad: string): Ev[],
 *   say(run: Run, text: string): Ev[],
 *   toolStart(run: Run, w: Write, i: number): Ev[],
 *   toolEnd(run: Run, w: Write, i: number, denied: boolean): Ev[],
 *   final(run: Run, summary: string, writes: Write[], denied: Write[]): Ev[],
 *   crash(run: Run): Ev[],
 *   fail(run: Run, message: string): Failure,
 *   rateLimit(run: Run, resetAt: string): Failure
 * }} Persona
 */

const NEEDS_HUMAN = 'NEEDS_HUMAN: ';
/** Simulated list prices, USD per 1M tokens (only for CLIs that report a cost). */
const SIM_PRICE = { input: 3, output: 15, cached: 0.3 };
const DEFAULT_MODELS = /** @type {Record<string, string>} */ ({
  claude: 'claude-sonnet-4-5',
  codex: 'gpt-5-codex',
  opencode: 'sim/sim-model',
  droid: 'custom:sim-model',
  gemini: 'gemini-2.5-pro',
});

// ---------------------------------------------------------------------------------------------
// argv: which flags take a value, per CLI, so positionals (the prompt) are found like the CLI does.

/** @type {Record<string, string[]>} */
const VALUE_FLAGS = {
  claude: ['--output-format', '--input-format', '--allowedTools', '--allowed-tools', '--disallowedTools', '--disallowed-tools',
    '--permission-mode', '--max-turns', '--model', '--resume', '-r', '--session-id', '--append-system-prompt', '--system-prompt',
    '--settings', '--add-dir', '--mcp-config', '--fallback-model', '--setting-sources', '--permission-prompt-tool', '--agents'],
  codex: ['-c', '--config', '--enable', '--disable', '-m', '--model', '-s', '--sandbox', '-C', '--cd', '-p', '--profile',
    '-i', '--image', '--output-schema', '-o', '--output-last-message', '--color', '-a', '--ask-for-approval', '--local-provider'],
  opencode: ['--format', '-s', '--session', '-m', '--model', '--agent', '-f', '--file', '--title', '--port', '--attach',
    '--log-level', '--variant'],
  droid: ['-o', '--output-format', '-m', '--model', '-s', '--session-id', '-r', '--reasoning-effort', '--auto', '-f', '--file',
    '--cwd', '--input-format', '--enabled-tools', '--disabled-tools'],
  gemini: ['-p', '--prompt', '-o', '--output-format', '-m', '--model', '-r', '--resume', '--approval-mode',
    '--include-directories', '-e', '--extensions', '--allowed-tools', '--allowed-mcp-server-names', '-i', '--prompt-interactive'],
};

/**
 * @param {string} agent
 * @param {string[]} argv
 * @returns {{ flags: Map<string, string>, positionals: string[] }}
 */
function splitArgv(agent, argv) {
  const takesValue = new Set(VALUE_FLAGS[agent] ?? []);
  /** @type {Map<string, string>} */
  const flags = new Map();
  /** @type {string[]} */
  const positionals = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      const eq = arg.indexOf('=');
      if (arg.startsWith('--') && eq > 0) flags.set(arg.slice(0, eq), arg.slice(eq + 1));
      else if (takesValue.has(arg)) flags.set(arg, argv[++i] ?? '');
      else flags.set(arg, 'true');
    } else positionals.push(arg);
  }
  return { flags, positionals };
}

/**
 * The prompt, session to resume and model, read as the real CLI would.
 * @param {string} agent
 * @param {string[]} argv
 * @returns {Cli}
 */
function parseCli(agent, argv) {
  const { flags, positionals } = splitArgv(agent, argv);
  /** @param {...string} names */
  const flag = (...names) => names.map((n) => flags.get(n)).find((v) => v !== undefined) ?? null;
  /** @param {string} sub */
  const expectSub = (sub) => {
    if (positionals[0] !== sub) usage(`${agent}: expected the '${sub}' subcommand`);
    return positionals.slice(1);
  };
  switch (agent) {
    case 'claude':
      return { prompt: positionals.join(' '), resumeId: flag('--resume', '-r'), model: flag('--model'), flags };
    case 'codex': {
      const rest = expectSub('exec');
      if (rest[0] === 'resume') return { prompt: rest[2] ?? '', resumeId: rest[1] ?? null, model: flag('-m', '--model'), flags };
      return { prompt: rest[0] ?? '', resumeId: null, model: flag('-m', '--model'), flags };
    }
    case 'opencode':
      return { prompt: expectSub('run').join(' '), resumeId: flag('--session', '-s'), model: flag('--model', '-m'), flags };
    case 'droid':
      return { prompt: expectSub('exec').join(' '), resumeId: flag('--session-id', '-s'), model: flag('--model', '-m'), flags };
    default:
      return { prompt: flag('--prompt', '-p') ?? positionals.join(' '), resumeId: flag('--resume', '-r'), model: flag('--model', '-m'), flags };
  }
}

/** @param {string} message @returns {never} */
function usage(message) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Deterministic ids, tokens and file content.

/** @param {string} text */
const sha = (text) => createHash('sha256').update(text).digest('hex');

/** @param {string} hex */
const uuidFrom = (hex) => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;

/**
 * @param {string} agent
 * @param {string} digest
 * @param {string | null} resumeId
 */
function sessionIdFor(agent, digest, resumeId) {
  if (resumeId && resumeId !== 'latest') return resumeId;
  if (agent === 'opencode') return `ses_${sha(`opencode:${digest}`).slice(0, 26)}`;
  return uuidFrom(sha(`${agent}:${digest}`));
}

/** @param {string} prompt */
function gistOf(prompt) {
  const line = prompt.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? '(empty prompt)';
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

/**
 * The files this run writes: the `files` knob verbatim, else one note derived from role + prompt
 * (an implementer also appends a line to agent-notes/CHANGELOG.md).
 * @param {Spec} spec
 * @param {string} prompt
 * @param {string} cwd
 * @param {string} digest
 * @returns {Write[]}
 */
function plannedWrites(spec, prompt, cwd, digest) {
  if (spec.simulate.files && Object.keys(spec.simulate.files).length > 0) {
    return Object.entries(spec.simulate.files).map(([path, content]) => makeWrite(cwd, path, content ?? ''));
  }
  const role = spec.role.toLowerCase();
  const gist = gistOf(prompt);
  const notePath = `agent-notes/${spec.step_id}.md`;
  const stamp = `(prompt ${digest.slice(0, 12)}, ${prompt.length} chars)`;
  if (role.includes('plan')) {
    const plan = [`# Plan: ${spec.step_id}`, '', `Goal: ${gist}`, '',
      `1. Read the code involved in: ${gist}`, '2. Make the smallest change that achieves it.',
      '3. Add or update tests that pin the behaviour.', '4. Run the checks and summarise the result.', '', stamp, ''];
    return [makeWrite(cwd, notePath, plan.join('\n'))];
  }
  if (role.includes('review')) {
    const review = [`# Review: ${spec.step_id}`, '', `Scope: ${gist}`, '', 'Verdict: ready', '',
      '- No blocking problems found.', '- The change matches the stated goal.', '', stamp, ''];
    return [makeWrite(cwd, notePath, review.join('\n'))];
  }
  const notes = [`# Notes: ${spec.step_id} (${spec.role})`, '', `Task: ${gist}`, '', '- Implemented the requested change.', '', stamp, ''];
  const writes = [makeWrite(cwd, notePath, notes.join('\n'))];
  if (role.includes('implement')) {
    const changelog = makeWrite(cwd, 'agent-notes/CHANGELOG.md', '');
    const before = changelog.existed ? readFileSync(changelog.abs, 'utf8') : '# Changelog\n\n';
    changelog.content = `${before}${before.endsWith('\n') || before === '' ? '' : '\n'}- ${spec.step_id}: ${gist}\n`;
    writes.push(changelog);
  }
  return writes;
}

/**
 * A write confined to the workspace: relative, no `..`, and not through a symlink leading out.
 * @param {string} cwd
 * @param {string} path
 * @param {string} content
 * @returns {Write}
 */
function makeWrite(cwd, path, content) {
  const parts = path.split(/[\\/]+/);
  if (path === '' || isAbsolute(path) || path.includes('\0') || parts.includes('..')) {
    usage(`refusing to write outside the workspace: ${JSON.stringify(path)}`);
  }
  const abs = resolve(cwd, path);
  const rel = relative(cwd, abs);
  if (rel === '' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) usage(`refusing to write outside the workspace: ${JSON.stringify(path)}`);
  return { path: rel, abs, content, existed: existsSync(abs) };
}

/** @param {string} cwd @param {Write} w */
function performWrite(cwd, w) {
  mkdirSync(dirname(w.abs), { recursive: true });
  const realDir = realpathSync(dirname(w.abs));
  const realCwd = realpathSync(cwd);
  if (realDir !== realCwd && !realDir.startsWith(realCwd + sep)) usage(`refusing to write through a link out of the workspace: ${w.path}`);
  writeFileSync(w.abs, w.content);
}

/**
 * Claude refuses writes silently unless a permission flag allows them (REAL_CLIS.md).
 * @param {Run} run
 */
function writesDenied(run) {
  if (run.agent !== 'claude') return false;
  const f = run.cli.flags;
  const mode = f.get('--permission-mode');
  if (mode === 'acceptEdits' || mode === 'bypassPermissions' || f.has('--dangerously-skip-permissions')) return false;
  const allowed = (f.get('--allowedTools') ?? f.get('--allowed-tools') ?? '').split(/[,\s]+/);
  return !allowed.some((t) => t === 'Write' || t.startsWith('Write('));
}

// ---------------------------------------------------------------------------------------------
// Output, streamed: one JSON object per line, waiting for the pipe to drain.

/** @param {NodeJS.WriteStream} stream @param {string} text @returns {Promise<void>} */
function write(stream, text) {
  return new Promise((done, fail) => stream.write(text, (err) => (err ? fail(err) : done())));
}

/** @param {Ev[]} events */
const emit = (events) => (events.length === 0 ? Promise.resolve() : write(process.stdout, events.map((e) => JSON.stringify(e)).join('\n') + '\n'));

const LOREM = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore ';

/** @param {number} n */
function padText(n) {
  return LOREM.repeat(Math.ceil(n / LOREM.length) + 1).slice(0, Math.max(0, n));
}

/**
 * About `total` extra bytes of the persona's filler events, in ~64 KB writes.
 * @param {Persona} persona @param {Run} run @param {number} total @param {boolean} quiet
 */
async function streamFiller(persona, run, total, quiet) {
  let sent = 0;
  let n = 0;
  while (sent < total) {
    let chunk = '';
    while (chunk.length < 65536 && sent + chunk.length < total) {
      const remaining = total - sent - chunk.length;
      const probe = quiet ? '' : persona.filler(run, n, '').map((e) => JSON.stringify(e)).join('\n');
      const pad = Math.max(1, Math.min(4096, remaining) - probe.length - 1);
      chunk += quiet ? `[sim] ${padText(pad)}\n` : persona.filler(run, n, padText(pad)).map((e) => JSON.stringify(e)).join('\n') + '\n';
      n++;
    }
    await write(quiet ? process.stderr : process.stdout, chunk);
    sent += Buffer.byteLength(chunk);
  }
}

// ---------------------------------------------------------------------------------------------
// Personas: each CLI's event shapes.

const nowMs = () => Date.now();
const nowIso = () => new Date().toISOString();
/** @param {Run} run @param {string} what */
const idOf = (run, what) => sha(`${run.sessionId}:${what}`);

/** @param {Run} run */
function claudeUsage(run) {
  return {
    input_tokens: run.tokens.in - run.tokens.cached,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: run.tokens.cached,
    output_tokens: run.tokens.out,
    server_tool_use: { web_search_requests: 0, web_fetch_requests: 0 },
    service_tier: 'standard',
  };
}

/** @param {Run} run @param {unknown[]} content @param {string} key */
function claudeAssistant(run, content, key) {
  return {
    type: 'assistant',
    message: { id: `msg_${idOf(run, key).slice(0, 24)}`, type: 'message', role: 'assistant', model: run.model, content,
      stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 1 } },
    parent_tool_use_id: null,
    session_id: run.sessionId,
    uuid: uuidFrom(idOf(run, `uuid:${key}`)),
  };
}

/** @param {Run} run @param {Partial<Record<string, unknown>>} fields */
function claudeResult(run, fields) {
  return {
    type: 'result', subtype: 'success', is_error: false, duration_ms: nowMs() - run.startedAt, duration_api_ms: 0, num_turns: 2,
    result: '', session_id: run.sessionId, total_cost_usd: run.costUsd, usage: claudeUsage(run),
    modelUsage: { [run.model]: { inputTokens: run.tokens.in - run.tokens.cached, outputTokens: run.tokens.out, cacheReadInputTokens: run.tokens.cached,
      cacheCreationInputTokens: 0, webSearchRequests: 0, costUSD: run.costUsd, contextWindow: 200000 } },
    permission_denials: [], uuid: uuidFrom(idOf(run, 'result')), ...fields,
  };
}

/** @type {Persona} */
const claude = {
  quietFailures: false,
  init: (run) => [{
    type: 'system', subtype: 'init', cwd: run.cwd, session_id: run.sessionId,
    tools: ['Task', 'Bash', 'Glob', 'Grep', 'Read', 'Edit', 'Write', 'WebFetch', 'TodoWrite'], mcp_servers: [], model: run.model,
    permissionMode: run.cli.flags.get('--permission-mode') ?? 'default', slash_commands: [], apiKeySource: 'ANTHROPIC_API_KEY',
    claude_code_version: '2.1.197', output_style: 'default', uuid: uuidFrom(idOf(run, 'init')),
  }],
  progress: (run, n, text) => [claudeAssistant(run, [{ type: 'thinking', thinking: text, signature: '' }], `progress:${n}`)],
  filler: (run, n, pad) => [claudeAssistant(run, [{ type: 'thinking', thinking: pad, signature: '' }], `filler:${n}`)],
  say: (run, text) => [claudeAssistant(run, [{ type: 'text', text }], 'say')],
  toolStart: (run, w, i) => [claudeAssistant(run, [{ type: 'tool_use', id: `toolu_${idOf(run, `tool:${i}`).slice(0, 24)}`, name: 'Write',
    input: { file_path: w.abs, content: w.content } }], `tool:${i}`)],
  toolEnd: (run, w, i, denied) => [{
    type: 'user',
    message: { role: 'user', content: [{ tool_use_id: `toolu_${idOf(run, `tool:${i}`).slice(0, 24)}`, type: 'tool_result',
      content: denied ? `Claude requested permissions to write to ${w.abs}, but you haven't granted it yet.` : `File created successfully at: ${w.abs}`,
      ...(denied ? { is_error: true } : {}) }] },
    parent_tool_use_id: null, session_id: run.sessionId, uuid: uuidFrom(idOf(run, `tool-result:${i}`)),
  }],
  final: (run, summary, writes, denied) => [
    claudeAssistant(run, [{ type: 'text', text: summary }], 'final'),
    claudeResult(run, {
      result: summary,
      permission_denials: denied.map((w) => ({ tool_name: 'Write', tool_use_id: `toolu_${idOf(run, `tool:${writes.indexOf(w)}`).slice(0, 24)}`,
        tool_input: { file_path: w.abs, content: w.content } })),
    }),
  ],
  crash: (run) => [claudeAssistant(run, [{ type: 'tool_use', id: 'toolu_crash', name: 'Bash', input: { command: 'make test' } }], 'crash')],
  fail: (run, message) => ({
    stdout: [claudeResult(run, { subtype: 'error_during_execution', is_error: true, num_turns: 1, result: undefined, errors: [message], total_cost_usd: 0 })],
    stderr: '', exitCode: 1,
  }),
  rateLimit: (run, resetAt) => ({
    stdout: [claudeResult(run, {
      is_error: true, api_error_status: 429, num_turns: 1, total_cost_usd: 0,
      result: `API Error: 429 ${JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message: `Rate limit exceeded; your limit resets at ${resetAt}` } })}`,
    })],
    stderr: '', exitCode: 1,
  }),
};

/** @param {Write} w @param {number} i @param {string} status */
const codexFileChange = (w, i, status) => ({ id: `item_${i + 1}`, type: 'file_change', changes: [{ path: w.abs, kind: w.existed ? 'update' : 'add' }], status });

/** @type {Persona} */
const codex = {
  quietFailures: false,
  init: (run) => [{ type: 'thread.started', thread_id: run.sessionId }, { type: 'turn.started' }],
  progress: (_run, n, text) => [{ type: 'item.completed', item: { id: `item_p${n}`, type: 'reasoning', text } }],
  filler: (_run, n, pad) => [{ type: 'item.completed', item: { id: `item_f${n}`, type: 'reasoning', text: pad } }],
  say: (_run, text) => [{ type: 'item.completed', item: { id: 'item_say', type: 'reasoning', text } }],
  toolStart: (_run, w, i) => [{ type: 'item.started', item: codexFileChange(w, i, 'in_progress') }],
  toolEnd: (_run, w, i) => [{ type: 'item.completed', item: codexFileChange(w, i, 'completed') }],
  final: (run, summary) => [
    { type: 'item.completed', item: { id: 'item_final', type: 'agent_message', text: summary } },
    { type: 'turn.completed', usage: { input_tokens: run.tokens.in, cached_input_tokens: run.tokens.cached, output_tokens: run.tokens.out, reasoning_output_tokens: 0 } },
  ],
  crash: () => [{ type: 'item.started', item: { id: 'item_crash', type: 'command_execution', command: 'bash -lc "make test"', aggregated_output: '', exit_code: null, status: 'in_progress' } }],
  fail: (_run, message) => ({ stdout: [{ type: 'error', message }, { type: 'turn.failed', error: { message } }], stderr: '', exitCode: 1 }),
  rateLimit: (_run, resetAt) => {
    const message = `exceeded retry limit, last status: 429 Too Many Requests; rate limit resets at ${resetAt}`;
    return { stdout: [{ type: 'error', message }, { type: 'turn.failed', error: { message } }], stderr: '', exitCode: 1 };
  },
};

/** @param {Run} run @param {string} type @param {Record<string, unknown>} part @param {string} key */
function opencodeEvent(run, type, part, key) {
  return { type, timestamp: nowMs(), sessionID: run.sessionId,
    part: { id: `prt_${idOf(run, key).slice(0, 26)}`, sessionID: run.sessionId, messageID: `msg_${idOf(run, `msg:${key.split(':')[0]}`).slice(0, 26)}`, ...part } };
}

/**
 * opencode reports one step_finish per model step; the run's totals are split over `steps` of them.
 * @param {Run} run @param {number} step @param {number} steps
 */
function opencodeStepFinish(run, step, steps) {
  /** @param {number} v */
  const share = (v) => (step === steps - 1 ? v - Math.floor(v / steps) * (steps - 1) : Math.floor(v / steps));
  const t = { in: share(run.tokens.in - run.tokens.cached), out: share(run.tokens.out), cached: step === 0 ? run.tokens.cached : 0 };
  const cost = (t.in * SIM_PRICE.input + t.cached * SIM_PRICE.cached + t.out * SIM_PRICE.output) / 1e6;
  return opencodeEvent(run, 'step_finish', { type: 'step-finish', reason: step === steps - 1 ? 'stop' : 'tool-calls', snapshot: idOf(run, 'snap').slice(0, 40),
    cost, tokens: { input: t.in, output: t.out, reasoning: 0, cache: { read: t.cached, write: 0 } } }, `step${step}:finish`);
}

/** @type {Persona} */
const opencode = {
  quietFailures: false,
  init: (run) => [opencodeEvent(run, 'step_start', { type: 'step-start', snapshot: idOf(run, 'snap').slice(0, 40) }, 'step0:start')],
  progress: (run, n, text) => [opencodeEvent(run, 'reasoning', { type: 'reasoning', text, time: { start: nowMs(), end: nowMs() } }, `step0:progress${n}`)],
  filler: (run, n, pad) => [opencodeEvent(run, 'reasoning', { type: 'reasoning', text: pad, time: { start: 0, end: 0 } }, `step0:filler${n}`)],
  say: (run, text) => [opencodeEvent(run, 'reasoning', { type: 'reasoning', text, time: { start: nowMs(), end: nowMs() } }, 'step0:say')],
  toolStart: () => [],
  toolEnd: (run, w, i) => [opencodeEvent(run, 'tool_use', { type: 'tool', callID: `call_${idOf(run, `call:${i}`).slice(0, 20)}`, tool: 'write',
    state: { status: 'completed', input: { filePath: w.abs, content: w.content }, output: '', title: w.path, metadata: {}, time: { start: nowMs(), end: nowMs() } } }, `step0:tool${i}`)],
  final: (run, summary, writes) => {
    const steps = writes.length > 0 ? 2 : 1;
    const last = steps - 1;
    const text = opencodeEvent(run, 'text', { type: 'text', text: summary, time: { start: nowMs(), end: nowMs() } }, `step${last}:text`);
    if (steps === 1) return [text, opencodeStepFinish(run, 0, 1)];
    return [opencodeStepFinish(run, 0, 2), opencodeEvent(run, 'step_start', { type: 'step-start', snapshot: idOf(run, 'snap').slice(0, 40) }, 'step1:start'),
      text, opencodeStepFinish(run, 1, 2)];
  },
  crash: (run) => [opencodeEvent(run, 'tool_use', { type: 'tool', callID: 'call_crash', tool: 'bash',
    state: { status: 'running', input: { command: 'make test' }, time: { start: nowMs() } } }, 'step0:crash')],
  fail: (run, message) => ({
    stdout: [{ type: 'error', timestamp: nowMs(), sessionID: run.sessionId, error: { name: 'UnknownError', data: { message } } }], stderr: '', exitCode: 1,
  }),
  rateLimit: (run, resetAt) => ({
    stdout: [{ type: 'error', timestamp: nowMs(), sessionID: run.sessionId, error: { name: 'APIError', data: {
      message: `Rate limit exceeded; resets at ${resetAt}`, statusCode: 429, isRetryable: true, responseHeaders: { 'retry-after': '60' },
      responseBody: JSON.stringify({ error: { message: 'Rate limit exceeded', type: 'rate_limit_error' } }) } } }],
    stderr: '', exitCode: 1,
  }),
};

/** @param {Run} run @param {Record<string, unknown>} fields */
const droidEvent = (run, fields) => ({ ...fields, timestamp: nowMs(), session_id: run.sessionId });

/** @type {Persona} */
const droid = {
  quietFailures: false,
  init: (run) => [
    { type: 'system', subtype: 'init', cwd: run.cwd, session_id: run.sessionId, tools: ['Read', 'LS', 'Execute', 'Edit', 'Create', 'Grep', 'Glob', 'TodoWrite'], model: run.model },
    droidEvent(run, { type: 'message', role: 'user', id: idOf(run, 'user').slice(0, 32), text: run.cli.prompt }),
  ],
  progress: (run, n, text) => [droidEvent(run, { type: 'message', role: 'assistant', id: idOf(run, `p${n}`).slice(0, 32), text })],
  filler: (run, n, pad) => [droidEvent(run, { type: 'message', role: 'assistant', id: idOf(run, `f${n}`).slice(0, 32), text: pad })],
  say: (run, text) => [droidEvent(run, { type: 'message', role: 'assistant', id: idOf(run, 'say').slice(0, 32), text })],
  toolStart: (run, w, i) => [droidEvent(run, { type: 'tool_call', id: `call_${i}`, messageId: idOf(run, `m${i}`).slice(0, 32), toolId: 'Create', toolName: 'Create',
    parameters: { file_path: w.abs, content: w.content } })],
  toolEnd: (run, w, i) => [droidEvent(run, { type: 'tool_result', id: `call_${i}`, messageId: idOf(run, `m${i}`).slice(0, 32), toolId: 'Create', isError: false,
    value: `File created at ${w.abs}` })],
  final: (run, summary) => [
    droidEvent(run, { type: 'message', role: 'assistant', id: idOf(run, 'final').slice(0, 32), text: summary }),
    droidEvent(run, { type: 'completion', finalText: summary, numTurns: 2, durationMs: nowMs() - run.startedAt,
      usage: { input_tokens: run.tokens.in - run.tokens.cached, output_tokens: run.tokens.out, cache_read_input_tokens: run.tokens.cached, cache_creation_input_tokens: 0 } }),
  ],
  crash: (run) => [droidEvent(run, { type: 'tool_call', id: 'call_crash', messageId: 'crash', toolId: 'Execute', toolName: 'Execute', parameters: { command: 'make test' } })],
  fail: (run, message) => ({ stdout: [droidEvent(run, { type: 'error', source: 'agent', message })], stderr: '', exitCode: 1 }),
  rateLimit: (run, resetAt) => ({
    stdout: [droidEvent(run, { type: 'error', source: 'model', status: 429, message: `429 Too Many Requests: rate limit exceeded; resets at ${resetAt}` })],
    stderr: '', exitCode: 1,
  }),
};

/** @param {Run} run @param {number} code @param {string} message */
const geminiFailure = (run, code, message) => ({
  stdout: [],
  stderr: JSON.stringify({ session_id: run.sessionId, error: { type: 'Error', message, code } }, null, 2) + '\n',
  exitCode: code % 256,
});

/** @param {string} name @param {number} n @param {string} output @returns {Ev[]} */
const geminiToolPair = (name, n, output) => [
  { type: 'tool_use', timestamp: nowIso(), tool_name: name, tool_id: `${name}-${n}`, parameters: { dir_path: '.' } },
  { type: 'tool_result', timestamp: nowIso(), tool_id: `${name}-${n}`, status: 'success', output },
];

/** @type {Persona} */
const gemini = {
  // REAL_CLIS.md: on errors gemini prints JSON to stderr, nothing to stdout.
  quietFailures: true,
  init: (run) => [
    { type: 'init', timestamp: nowIso(), session_id: run.sessionId, model: run.model },
    { type: 'message', timestamp: nowIso(), role: 'user', content: run.cli.prompt },
  ],
  // Its answer is every assistant delta of the last model turn, so activity is shown as tool calls.
  progress: (_run, n, text) => geminiToolPair('list_directory', n, text),
  filler: (_run, n, pad) => geminiToolPair('read_file', n, pad),
  say: (_run, text) => [{ type: 'message', timestamp: nowIso(), role: 'assistant', content: text, delta: true }],
  toolStart: (_run, w, i) => [{ type: 'tool_use', timestamp: nowIso(), tool_name: 'write_file', tool_id: `write_file-${i}`, parameters: { file_path: w.abs, content: w.content } }],
  toolEnd: (_run, w, i) => [{ type: 'tool_result', timestamp: nowIso(), tool_id: `write_file-${i}`, status: 'success',
    output: `Successfully ${w.existed ? 'overwrote file' : 'created and wrote to new file'}: ${w.abs}.` }],
  final: (run, summary, writes) => [
    { type: 'message', timestamp: nowIso(), role: 'assistant', content: summary, delta: true },
    { type: 'result', timestamp: nowIso(), status: 'success', stats: { total_tokens: run.tokens.in + run.tokens.out, input_tokens: run.tokens.in,
      output_tokens: run.tokens.out, cached: run.tokens.cached, input: run.tokens.in - run.tokens.cached, duration_ms: nowMs() - run.startedAt, tool_calls: writes.length } },
  ],
  crash: () => [{ type: 'tool_use', timestamp: nowIso(), tool_name: 'run_shell_command', tool_id: 'run_shell_command-crash', parameters: { command: 'make test' } }],
  fail: (run, message) => geminiFailure(run, 1, message),
  rateLimit: (run, resetAt) => geminiFailure(run, 429, `[API Error: Resource has been exhausted (e.g. check quota). Rate limit exceeded; quota resets at ${resetAt}]`),
};

/** @type {Record<string, Persona>} */
const PERSONAS = { claude, codex, opencode, droid, gemini };

// ---------------------------------------------------------------------------------------------
// The run.

/** @returns {Spec} */
function readSpec() {
  const raw = process.env.ORCH_SIM_SPEC;
  /** @type {Partial<Spec>} */
  let spec = {};
  if (raw) {
    try {
      spec = JSON.parse(raw);
    } catch {
      usage('ORCH_SIM_SPEC is not valid JSON');
    }
  }
  return {
    step_id: typeof spec.step_id === 'string' ? spec.step_id : 'sim',
    attempt: typeof spec.attempt === 'number' ? spec.attempt : 1,
    role: typeof spec.role === 'string' ? spec.role : 'assistant',
    simulate: spec.simulate && typeof spec.simulate === 'object' ? spec.simulate : {},
  };
}

/** @param {Simulate} sim @param {number} attempt @returns {Outcome} */
function outcomeFor(sim, attempt) {
  if (attempt <= (sim.fail_attempts ?? 0)) return 'fail';
  return sim.outcome ?? 'success';
}

function spawnGrandchild() {
  const child = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setTimeout(() => {}, 3600000);"], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.unref();
}

/** @param {Simulate} sim @param {Spec} spec @param {string} prompt */
function needsHumanMessage(sim, spec, prompt) {
  if (sim.summary?.startsWith(NEEDS_HUMAN.trim())) return sim.summary;
  return NEEDS_HUMAN + (sim.summary ?? `Before I change anything for step ${spec.step_id}: which approach do you want for "${gistOf(prompt)}"?`);
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv[0] !== '--as' || !argv[1] || !PERSONAS[argv[1]]) usage('usage: sim-agent.mjs --as <claude|codex|opencode|droid|gemini> <real CLI argv>');
  const agent = argv[1];
  const persona = /** @type {Persona} */ (PERSONAS[agent]);
  const cli = parseCli(agent, argv.slice(2));
  const spec = readSpec();
  const sim = spec.simulate;

  if (sim.marker_file) appendFileSync(resolve(sim.marker_file), `${spec.step_id} ${spec.attempt} ${process.pid}\n`, { flag: 'a' });
  if (sim.ignore_sigterm) process.on('SIGTERM', () => {});
  if (sim.spawn_grandchild) spawnGrandchild();
  process.stdout.on('error', () => process.exit(1));
  if (cli.prompt === '') usage(`${agent}: no prompt given`);

  const outcome = outcomeFor(sim, spec.attempt);
  if (outcome === 'timeout') {
    setInterval(() => {}, 2 ** 30);
    return;
  }

  const cwd = process.cwd();
  const digest = sha(`${spec.step_id}\0${cli.prompt}`);
  const resumed = cli.resumeId !== null;
  const tokensIn = Math.ceil(cli.prompt.length / 4) + 100;
  /** @type {Run} */
  const run = {
    agent, spec, cli, cwd, digest, startedAt: nowMs(),
    sessionId: cli.flags.get('--session-id') && agent === 'claude' ? String(cli.flags.get('--session-id')) : sessionIdFor(agent, digest, cli.resumeId),
    model: cli.model ?? DEFAULT_MODELS[agent] ?? 'sim-model',
    tokens: { in: tokensIn, out: 0, cached: resumed ? 100 : 0 },
    costUsd: 0,
  };
  const failing = outcome === 'fail' || outcome === 'rate_limit';
  const quiet = failing && persona.quietFailures;

  if (!quiet) await emit(persona.init(run));
  const delay = Math.max(0, sim.delay_ms ?? 0);
  for (let waited = 0, n = 0; waited < delay; n++) {
    const step = Math.min(200, delay - waited);
    await sleep(step);
    waited += step;
    const text = `Working on ${spec.step_id}… (${waited} ms)`;
    if (quiet) await write(process.stderr, `[sim] ${text}\n`);
    else await emit(persona.progress(run, n, text));
  }
  if (sim.output_bytes && sim.output_bytes > 0) await streamFiller(persona, run, sim.output_bytes, quiet);
  if (sim.output_text && !quiet) await emit(persona.say(run, sim.output_text));

  if (outcome === 'crash') {
    await emit(persona.crash(run));
    process.kill(process.pid, 'SIGKILL');
    return;
  }
  if (failing) {
    const failure = outcome === 'rate_limit'
      ? persona.rateLimit(run, new Date(nowMs() + 60_000).toISOString())
      : persona.fail(run, `simulated failure of step ${spec.step_id} (attempt ${spec.attempt})`);
    await emit(failure.stdout);
    if (failure.stderr) await write(process.stderr, failure.stderr);
    process.exitCode = failure.exitCode;
    return;
  }

  const writes = outcome === 'needs_human' ? [] : plannedWrites(spec, cli.prompt, cwd, digest);
  const deniedAll = writesDenied(run);
  /** @type {Write[]} */
  const denied = [];
  for (const [i, w] of writes.entries()) {
    await emit(persona.toolStart(run, w, i));
    if (deniedAll) denied.push(w);
    else performWrite(cwd, w);
    await emit(persona.toolEnd(run, w, i, deniedAll));
  }
  const written = writes.filter((w) => !denied.includes(w)).map((w) => w.path);
  const summary = outcome === 'needs_human'
    ? needsHumanMessage(sim, spec, cli.prompt)
    : (sim.summary ?? `Done: ${spec.role} step ${spec.step_id} ${written.length > 0 ? `wrote ${written.join(', ')}` : 'changed no files'}.`);
  run.tokens.out = 50 + Math.ceil(summary.length / 4);
  run.costUsd = ((run.tokens.in - run.tokens.cached) * SIM_PRICE.input + run.tokens.cached * SIM_PRICE.cached + run.tokens.out * SIM_PRICE.output) / 1e6;
  await emit(persona.final(run, summary, writes, denied));
  process.exitCode = 0;
}

main().catch((err) => {
  process.stderr.write(`sim-agent: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(70);
});
