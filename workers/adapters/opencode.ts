/**
 * OpenCode, headless: `opencode run --format json PROMPT`. Every config/data/cache/state directory
 * is pointed into the job's private home (XDG_*), and the updater, model-list fetch, LSP downloads
 * and default plugins are off so a run touches nothing outside the job.
 */
import { join } from 'node:path';
import type { AgentAdapter, AgentHomeSetup, AgentInvocation, InvocationContext, OperatorEnv } from '../types.ts';
import { createOpencodeParser } from './opencode-parser.ts';
import { first, pick, withV1 } from './pass-env.ts';

/** OPENCODE_BASE_URL (or OPENAI_BASE_URL) with OPENCODE_API_KEY (or OPENAI_API_KEY); OPENCODE_MODEL; OPENCODE_MODEL_COST="in,out" USD per 1M tokens. */
export const OPENCODE_PASS_ENV = ['OPENCODE_BASE_URL', 'OPENAI_BASE_URL', 'OPENCODE_API_KEY', 'OPENAI_API_KEY', 'OPENCODE_MODEL', 'OPENCODE_MODEL_COST'] as const;

/** OpenCode tools whose permission key is another's: write, patch and multiedit are all `edit`. */
const OPENCODE_PERMISSION_OF: Record<string, string> = { write: 'edit', patch: 'edit', multiedit: 'edit' };

/**
 * Pure: OpenCode's `permission` config for a step. No allowed_tools: edits and shell allowed
 * (headless: nobody to ask), web fetches denied. With allowed_tools (a preset's, e.g. the planner's
 * read, grep, glob): every tool denied but those, so the restriction is OpenCode's to enforce,
 * not advice in AGENTS.md.
 */
export function opencodePermission(allowedTools: readonly string[]): Record<string, string> {
  if (allowedTools.length === 0) return { edit: 'allow', bash: 'allow', webfetch: 'deny' };
  const permission: Record<string, string> = { '*': 'deny' };
  for (const tool of allowedTools) permission[OPENCODE_PERMISSION_OF[tool] ?? tool] = 'allow';
  return permission;
}

/**
 * OPENCODE_CONFIG_CONTENT: the step's permissions (opencodePermission), no sharing or
 * autoupdate, and with a base URL a provider `orchestrator` (bundled @ai-sdk/openai-compatible)
 * whose key is read by opencode from the environment ({env:VAR}), never written to a file.
 */
export function prepareOpencodeHome(ctx: InvocationContext, env: OperatorEnv): AgentHomeSetup {
  const base = first(env, 'OPENCODE_BASE_URL', 'OPENAI_BASE_URL');
  const keyVar = env.OPENCODE_API_KEY ? 'OPENCODE_API_KEY' : 'OPENAI_API_KEY';
  const config: Record<string, unknown> = { $schema: 'https://opencode.ai/config.json', permission: opencodePermission(ctx.step.allowed_tools), autoupdate: false, share: 'disabled' };
  let model = ctx.step.model ?? first(env, 'OPENCODE_MODEL');
  if (base) {
    const id = (model ?? 'default').replace(/^orchestrator\//, '');
    const [input, output] = (env.OPENCODE_MODEL_COST ?? '').split(',').map(Number);
    const cost = Number.isFinite(input) && Number.isFinite(output) && env.OPENCODE_MODEL_COST ? { cost: { input, output } } : {};
    config.provider = { orchestrator: { npm: '@ai-sdk/openai-compatible', name: 'orchestrator', options: { baseURL: withV1(base), apiKey: `{env:${keyVar}}` }, models: { [id]: { name: id, tool_call: true, ...cost } } } };
    model = `orchestrator/${id}`;
    config.model = model;
  }
  return { files: [], env: { ...pick(env, ['OPENCODE_API_KEY', 'OPENAI_API_KEY']), OPENCODE_CONFIG_CONTENT: JSON.stringify(config) }, ...(model ? { model } : {}) };
}

export function buildOpencodeInvocation(ctx: InvocationContext): AgentInvocation {
  const args = ['run', '--format', 'json'];
  if (ctx.resumeSessionId) args.push('--session', ctx.resumeSessionId);
  if (ctx.step.model) args.push('--model', ctx.step.model);
  args.push(ctx.prompt);
  return {
    file: 'opencode',
    args,
    env: {
      OPENCODE_DISABLE_AUTOUPDATE: '1',
      OPENCODE_DISABLE_MODELS_FETCH: '1',
      OPENCODE_DISABLE_LSP_DOWNLOAD: '1',
      OPENCODE_DISABLE_DEFAULT_PLUGINS: '1',
      XDG_CONFIG_HOME: join(ctx.agentHome, 'xdg', 'config'),
      XDG_DATA_HOME: join(ctx.agentHome, 'xdg', 'data'),
      XDG_CACHE_HOME: join(ctx.agentHome, 'xdg', 'cache'),
      XDG_STATE_HOME: join(ctx.agentHome, 'xdg', 'state'),
    },
  };
}

export const opencodeAdapter: AgentAdapter = {
  name: 'opencode',
  binary: 'opencode',
  passEnv: OPENCODE_PASS_ENV,
  enforcesAllowedTools: true,
  buildInvocation: buildOpencodeInvocation,
  prepareHome: prepareOpencodeHome,
  modelEndpoint: (env: OperatorEnv) => first(env, 'OPENCODE_BASE_URL', 'OPENAI_BASE_URL') ?? null,
  createParser: createOpencodeParser,
};
