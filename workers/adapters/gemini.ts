/**
 * Gemini CLI, headless: `gemini -p PROMPT --output-format stream-json --yolo --skip-trust`, with its
 * home (settings.json selecting API-key auth; without it gemini exits 41) redirected into the job by
 * GEMINI_CLI_HOME. Passing -m also skips its model-router request.
 */
import type { AgentAdapter, AgentHomeSetup, AgentInvocation, InvocationContext, OperatorEnv } from '../types.ts';
import { createGeminiParser } from './gemini-parser.ts';
import { first, intVar, pick } from './pass-env.ts';

/** GEMINI_MAX_ATTEMPTS (1-10) becomes settings general.maxAttempts: gemini's own retries of a failing model call. */
export const GEMINI_PASS_ENV = ['GOOGLE_GEMINI_BASE_URL', 'GEMINI_API_KEY', 'GOOGLE_API_KEY', 'GEMINI_MODEL', 'GEMINI_MAX_ATTEMPTS'] as const;

/**
 * GEMINI_CLI_HOME/.gemini/settings.json: API-key auth (without it gemini exits 41), telemetry,
 * usage statistics and auto-update off; the step's allowed_tools, if any, as `tools.core`, the
 * allowlist of gemini's built-in tools (read_file, glob, run_shell_command, write_file...): the
 * others are never registered, so the model is not even offered them. The model (step.model or GEMINI_MODEL) goes on the command
 * line, which also skips the model-router request.
 */
export function prepareGeminiHome(ctx: InvocationContext, env: OperatorEnv): AgentHomeSetup {
  const maxAttempts = intVar(env, 'GEMINI_MAX_ATTEMPTS');
  const settings = {
    security: { auth: { selectedType: 'gemini-api-key' } },
    telemetry: { enabled: false },
    privacy: { usageStatisticsEnabled: false },
    general: { disableAutoUpdate: true, disableUpdateNag: true, ...(maxAttempts !== undefined ? { maxAttempts: Math.min(10, Math.max(1, maxAttempts)) } : {}) },
    ...(ctx.step.allowed_tools.length > 0 ? { tools: { core: [...ctx.step.allowed_tools] } } : {}),
  };
  const model = ctx.step.model ?? first(env, 'GEMINI_MODEL');
  return { files: [{ path: '.gemini/settings.json', content: JSON.stringify(settings, null, 2) + '\n' }], env: pick(env, ['GOOGLE_GEMINI_BASE_URL', 'GEMINI_API_KEY', 'GOOGLE_API_KEY']), ...(model ? { model } : {}) };
}

export function buildGeminiInvocation(ctx: InvocationContext): AgentInvocation {
  const args = ['-p', ctx.prompt, '--output-format', 'stream-json', '--yolo', '--skip-trust'];
  if (ctx.step.model) args.push('-m', ctx.step.model);
  if (ctx.resumeSessionId) args.push('--resume', ctx.resumeSessionId);
  return { file: 'gemini', args, env: { GEMINI_CLI_HOME: ctx.agentHome } };
}

export const geminiAdapter: AgentAdapter = {
  name: 'gemini',
  binary: 'gemini',
  passEnv: GEMINI_PASS_ENV,
  enforcesAllowedTools: true,
  buildInvocation: buildGeminiInvocation,
  prepareHome: prepareGeminiHome,
  modelEndpoint: (env: OperatorEnv) => first(env, 'GOOGLE_GEMINI_BASE_URL') ?? null,
  createParser: createGeminiParser,
};
