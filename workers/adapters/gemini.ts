/**
 * Gemini CLI, headless: `gemini -p PROMPT --output-format stream-json --yolo --skip-trust`, with its
 * home (settings.json selecting API-key auth; without it gemini exits 41) redirected into the job by
 * GEMINI_CLI_HOME. Passing -m also skips its model-router request.
 */
import type { AgentAdapter, AgentInvocation, InvocationContext } from '../types.ts';
import { createGeminiParser } from './gemini-parser.ts';

export function buildGeminiInvocation(ctx: InvocationContext): AgentInvocation {
  const args = ['-p', ctx.prompt, '--output-format', 'stream-json', '--yolo', '--skip-trust'];
  if (ctx.step.model) args.push('-m', ctx.step.model);
  if (ctx.resumeSessionId) args.push('--resume', ctx.resumeSessionId);
  return { file: 'gemini', args, env: { GEMINI_CLI_HOME: ctx.agentHome } };
}

export const geminiAdapter: AgentAdapter = {
  name: 'gemini',
  binary: 'gemini',
  buildInvocation: buildGeminiInvocation,
  createParser: createGeminiParser,
};
