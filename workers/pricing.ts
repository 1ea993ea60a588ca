/**
 * What a run cost. A CLI-reported USD figure (claude, priced opencode models) is authoritative and
 * returned as is; otherwise the tokens are priced from prices.json — an ESTIMATE from list prices.
 *
 * Token convention shared by every parser: `tokens_in` counts all prompt tokens, cached ones
 * included; `tokens_cached` is the part read from cache; `tokens_out` the generated tokens. So the
 * estimate is (in − cached)·input + cached·cached_rate + out·output, per million tokens.
 */
import type { AgentUsage } from './types.ts';
import pricesJson from './prices.json' with { type: 'json' };

/** USD per 1M tokens. */
export interface Price {
  input: number;
  output: number;
  cached: number;
}

export interface PriceTable {
  models: Record<string, Price>;
  agents: Record<string, Price>;
}

export const PRICES: PriceTable = pricesJson;

const FREE: Price = { input: 0, output: 0, cached: 0 };

/** The price for a model, else the agent's default, else zero (e.g. `command` steps). */
export function lookupPrice(agent: string, model: string | null, table: PriceTable = PRICES): Price {
  return (model !== null ? modelPrice(model, table) : null) ?? table.agents[agent] ?? FREE;
}

/** USD for one run: the CLI's own figure when it reported one, else an estimate from the table. */
export function priceUsage(agent: string, usage: AgentUsage, table: PriceTable = PRICES): number {
  if (usage.cost_usd !== null) return usage.cost_usd;
  return estimateCost(usage, lookupPrice(agent, usage.model, table));
}

export function estimateCost(usage: Pick<AgentUsage, 'tokens_in' | 'tokens_out' | 'tokens_cached'>, price: Price): number {
  const cached = Math.min(usage.tokens_cached, usage.tokens_in);
  const usd = ((usage.tokens_in - cached) * price.input + cached * price.cached + usage.tokens_out * price.output) / 1_000_000;
  return Math.round(usd * 1e6) / 1e6;
}

/**
 * Exact name, else the longest table name it starts with ("claude-sonnet-4-5-20250929"), after
 * dropping a provider prefix ("anthropic/…", "custom:…").
 */
function modelPrice(model: string, table: PriceTable): Price | null {
  const bare = model.slice(Math.max(model.lastIndexOf('/'), model.lastIndexOf(':')) + 1).toLowerCase();
  const exact = table.models[bare];
  if (exact) return exact;
  let best: string | null = null;
  for (const name of Object.keys(table.models)) {
    if (bare.startsWith(name) && (best === null || name.length > best.length)) best = name;
  }
  return best === null ? null : (table.models[best] ?? null);
}
