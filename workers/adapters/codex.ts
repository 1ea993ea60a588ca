/**
 * Codex CLI, headless: `codex exec --json ... PROMPT`. The flag set below is what stops all outside
 * traffic (update check, analytics, feedback, plugins) and lets it write without its own sandbox,
 * which fails under a per-job CODEX_HOME. Resume is `codex exec resume <thread_id> ... PROMPT`
 * with the same flags repeated (they are global in codex's clap definition).
 */
import type { AgentAdapter, AgentHomeSetup, AgentInvocation, InvocationContext, OperatorEnv } from '../types.ts';
import { createCodexParser } from './codex-parser.ts';
import { first, intVar, pick, tomlString, withV1 } from './pass-env.ts';

/** CODEX_BASE_URL (or OPENAI_BASE_URL) selects a custom provider; its key is CODEX_API_KEY or OPENAI_API_KEY. */
export const CODEX_PASS_ENV = ['CODEX_BASE_URL', 'OPENAI_BASE_URL', 'CODEX_API_KEY', 'OPENAI_API_KEY', 'CODEX_MODEL', 'CODEX_MAX_RETRIES'] as const;

/**
 * CODEX_HOME/config.toml: never ask for approval, no update check/analytics/feedback, and with a
 * base URL a provider `orchestrator` on the Responses API (the chat wire API is refused by codex),
 * its key read from the variable that is set, retries capped by CODEX_MAX_RETRIES.
 */
export function prepareCodexHome(ctx: InvocationContext, env: OperatorEnv): AgentHomeSetup {
  const base = first(env, 'CODEX_BASE_URL', 'OPENAI_BASE_URL');
  const keyVar = env.CODEX_API_KEY ? 'CODEX_API_KEY' : 'OPENAI_API_KEY';
  const model = ctx.step.model ?? first(env, 'CODEX_MODEL');
  const retries = intVar(env, 'CODEX_MAX_RETRIES');
  const lines = ['approval_policy = "never"', 'check_for_update_on_startup = false'];
  if (model) lines.push(`model = ${tomlString(model)}`);
  if (base) lines.push('model_provider = "orchestrator"');
  lines.push('', '[analytics]', 'enabled = false', '', '[feedback]', 'enabled = false');
  if (base) {
    lines.push('', '[model_providers.orchestrator]', 'name = "orchestrator"', `base_url = ${tomlString(withV1(base))}`, `env_key = ${tomlString(keyVar)}`, 'wire_api = "responses"');
    if (retries !== undefined) lines.push(`request_max_retries = ${retries}`, `stream_max_retries = ${retries}`);
  }
  return { files: [{ path: 'config.toml', content: lines.join('\n') + '\n' }], env: pick(env, ['CODEX_API_KEY', 'OPENAI_API_KEY', 'OPENAI_BASE_URL']), ...(model ? { model } : {}) };
}

const HEADLESS_FLAGS = [
  '--json',
  '--skip-git-repo-check',
  '--dangerously-bypass-approvals-and-sandbox',
  '--disable',
  'plugins',
  '-c',
  'check_for_update_on_startup=false',
  '-c',
  'analytics.enabled=false',
  '-c',
  'feedback.enabled=false',
];

export function buildCodexInvocation(ctx: InvocationContext): AgentInvocation {
  const head = ctx.resumeSessionId ? ['exec', 'resume', ctx.resumeSessionId] : ['exec'];
  const model = ctx.step.model ? ['-m', ctx.step.model] : [];
  return {
    file: 'codex',
    args: [...head, ...HEADLESS_FLAGS, ...model, ctx.prompt],
    env: { CODEX_HOME: ctx.agentHome },
  };
}

export const codexAdapter: AgentAdapter = {
  name: 'codex',
  binary: 'codex',
  passEnv: CODEX_PASS_ENV,
  enforcesAllowedTools: false,
  buildInvocation: buildCodexInvocation,
  prepareHome: prepareCodexHome,
  modelEndpoint: (env: OperatorEnv) => first(env, 'CODEX_BASE_URL', 'OPENAI_BASE_URL') ?? null,
  createParser: createCodexParser,
};
