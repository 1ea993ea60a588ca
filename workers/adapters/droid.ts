/**
 * Factory Droid, headless: `droid exec -o stream-json --skip-permissions-unsafe PROMPT`, with its
 * home (settings.json, customModels) redirected into the job by FACTORY_HOME_OVERRIDE. Custom
 * models are named `custom:<model>`; step.model is passed through as written. Note: resuming
 * (`-s <id>`) fetches the session from Factory's servers and fails offline.
 */
import type { AgentAdapter, AgentInvocation, InvocationContext } from '../types.ts';
import { createDroidParser } from './droid-parser.ts';

export function buildDroidInvocation(ctx: InvocationContext): AgentInvocation {
  const args = ['exec', '-o', 'stream-json', '--skip-permissions-unsafe'];
  if (ctx.step.model) args.push('-m', ctx.step.model);
  if (ctx.resumeSessionId) args.push('-s', ctx.resumeSessionId);
  args.push(ctx.prompt);
  return { file: 'droid', args, env: { FACTORY_HOME_OVERRIDE: ctx.agentHome } };
}

export const droidAdapter: AgentAdapter = {
  name: 'droid',
  binary: 'droid',
  buildInvocation: buildDroidInvocation,
  createParser: createDroidParser,
};
