/**
 * The five agent adapters by name, and the switch to the simulator: a simulated run executes
 * `node sim-agent.mjs --as <agent> <the exact argv the real CLI would get>`, so the adapter's argv
 * building and output parsing are exercised unchanged. `command` steps have no adapter (the runner
 * runs their argv directly).
 */
import { fileURLToPath } from 'node:url';
import type { AgentName, Simulate } from '../contracts/index.ts';
import type { AgentAdapter, AgentInvocation, InvocationContext } from './types.ts';
import { claudeAdapter } from './adapters/claude.ts';
import { codexAdapter } from './adapters/codex.ts';
import { droidAdapter } from './adapters/droid.ts';
import { geminiAdapter } from './adapters/gemini.ts';
import { opencodeAdapter } from './adapters/opencode.ts';

export type AdapterAgentName = Exclude<AgentName, 'command'>;

export const ADAPTERS: Readonly<Record<AdapterAgentName, AgentAdapter>> = Object.freeze({
  claude: claudeAdapter,
  codex: codexAdapter,
  opencode: opencodeAdapter,
  droid: droidAdapter,
  gemini: geminiAdapter,
});

export function isAdapterAgent(name: string): name is AdapterAgentName {
  return Object.hasOwn(ADAPTERS, name);
}

export function getAdapter(name: AdapterAgentName): AgentAdapter;
export function getAdapter(name: string): AgentAdapter | undefined;
export function getAdapter(name: string): AgentAdapter | undefined {
  return isAdapterAgent(name) ? ADAPTERS[name] : undefined;
}

/** Absolute path of the simulator program. */
export const SIMULATOR_PATH: string = fileURLToPath(new URL('./simulator/sim-agent.mjs', import.meta.url));

/** What the simulator reads from ORCH_SIM_SPEC. */
export interface SimSpec {
  step_id: string;
  attempt: number;
  role: string;
  simulate: Simulate;
}

/** The ORCH_SIM_SPEC JSON for a step's attempt. */
export function simSpecJson(ctx: InvocationContext): string {
  const spec: SimSpec = { step_id: ctx.step.step_id, attempt: ctx.attempt, role: ctx.step.role, simulate: ctx.step.simulate ?? {} };
  return JSON.stringify(spec);
}

/** The adapter's real invocation, run through the simulator instead of the real binary. */
export function simulatedInvocation(adapter: AgentAdapter, ctx: InvocationContext, simSpec: string): AgentInvocation {
  const real = adapter.buildInvocation(ctx);
  return {
    file: process.execPath,
    args: [SIMULATOR_PATH, '--as', adapter.name, ...real.args],
    env: { ...real.env, ORCH_SIM_SPEC: simSpec },
  };
}
