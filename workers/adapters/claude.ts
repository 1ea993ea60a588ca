/**
 * Claude Code, headless: `claude -p PROMPT --output-format stream-json --verbose` (stream-json
 * requires --verbose). Some permission flag is always passed: without one, writes are refused
 * silently (exit 0), and --dangerously-skip-permissions is refused as root.
 */
import type { AgentAdapter, AgentHomeSetup, AgentInvocation, InvocationContext, OperatorEnv } from '../types.ts';
import { createClaudeParser } from './claude-parser.ts';
import { first, pick } from './pass-env.ts';

/** Endpoint, credentials, model and retries Claude Code reads from its environment. */
export const CLAUDE_PASS_ENV = ['ANTHROPIC_BASE_URL', 'ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN', 'ANTHROPIC_MODEL', 'ANTHROPIC_SMALL_FAST_MODEL', 'CLAUDE_CODE_MAX_RETRIES'] as const;

/** Claude Code needs no config file: CLAUDE_CONFIG_DIR (in buildInvocation) keeps its state per job. */
export function prepareClaudeHome(ctx: InvocationContext, env: OperatorEnv): AgentHomeSetup {
  const model = ctx.step.model ?? first(env, 'ANTHROPIC_MODEL');
  return { files: [], env: pick(env, CLAUDE_PASS_ENV), ...(model ? { model } : {}) };
}

export function buildClaudeInvocation(ctx: InvocationContext): AgentInvocation {
  const { step } = ctx;
  // The prompt sits right after -p: --allowedTools is variadic and would swallow a trailing prompt.
  const args = ['-p', ctx.prompt, '--output-format', 'stream-json', '--verbose'];
  if (step.allowed_tools.length > 0) args.push('--allowedTools', step.allowed_tools.join(','));
  else args.push('--permission-mode', 'acceptEdits');
  if (step.max_turns !== undefined) args.push('--max-turns', String(step.max_turns));
  if (step.model) args.push('--model', step.model);
  if (ctx.resumeSessionId) args.push('--resume', ctx.resumeSessionId);
  return {
    file: 'claude',
    args,
    env: {
      CLAUDE_CONFIG_DIR: ctx.agentHome,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_TELEMETRY: '1',
      DISABLE_AUTOUPDATER: '1',
    },
  };
}

export const claudeAdapter: AgentAdapter = {
  name: 'claude',
  binary: 'claude',
  passEnv: CLAUDE_PASS_ENV,
  enforcesAllowedTools: true,
  buildInvocation: buildClaudeInvocation,
  prepareHome: prepareClaudeHome,
  modelEndpoint: (env: OperatorEnv) => first(env, 'ANTHROPIC_BASE_URL') ?? null,
  createParser: createClaudeParser,
};
