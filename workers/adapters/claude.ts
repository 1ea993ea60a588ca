/**
 * Claude Code, headless: `claude -p PROMPT --output-format stream-json --verbose` (stream-json
 * requires --verbose). Some permission flag is always passed: without one, writes are refused
 * silently (exit 0), and --dangerously-skip-permissions is refused as root.
 */
import type { AgentAdapter, AgentInvocation, InvocationContext } from '../types.ts';
import { createClaudeParser } from './claude-parser.ts';

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
  buildInvocation: buildClaudeInvocation,
  createParser: createClaudeParser,
};
