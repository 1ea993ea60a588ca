/**
 * Pricing: a CLI-reported USD figure wins; tokens-only runs are estimated from prices.json.
 * Also the reset-time reader the rate-limit classification relies on.
 */
import { describe, expect, it } from 'vitest';
import { extractResetAt } from '../../workers/adapters/reset-time.ts';
import { estimateCost, lookupPrice, PRICES, priceUsage } from '../../workers/pricing.ts';
import { EMPTY_USAGE } from '../../workers/types.ts';

describe('priceUsage', () => {
  it('returns the cost the CLI reported, untouched', () => {
    expect(priceUsage('claude', { ...EMPTY_USAGE, cost_usd: 0.42, tokens_in: 1e6 })).toBe(0.42);
  });

  it('estimates tokens-only runs from the model price: uncached input, cached input and output', () => {
    const usage = { ...EMPTY_USAGE, tokens_in: 1_000_000, tokens_cached: 400_000, tokens_out: 100_000, model: 'gpt-5-codex' };
    // 600k × 1.25 + 400k × 0.125 + 100k × 10, per 1M
    expect(priceUsage('codex', usage)).toBeCloseTo(0.75 + 0.05 + 1.0, 6);
  });

  it('matches dated or provider-prefixed model names, else falls back to the agent default', () => {
    expect(lookupPrice('claude', 'claude-sonnet-4-5-20250929')).toEqual(PRICES.models['claude-sonnet-4-5']);
    expect(lookupPrice('gemini', 'google/gemini-2.5-flash')).toEqual(PRICES.models['gemini-2.5-flash']);
    expect(lookupPrice('droid', 'custom:my-local-model')).toEqual(PRICES.agents.droid);
    expect(lookupPrice('codex', null)).toEqual(PRICES.agents.codex);
    expect(priceUsage('command', { ...EMPTY_USAGE, tokens_in: 1000 })).toBe(0);
  });

  it('never prices more cached tokens than input tokens', () => {
    expect(estimateCost({ tokens_in: 10, tokens_cached: 50, tokens_out: 0 }, { input: 1e6, output: 0, cached: 0 })).toBe(0);
  });
});

describe('extractResetAt', () => {
  const now = Date.parse('2026-11-21T14:00:00Z');
  it.each([
    ['Rate limit exceeded; resets at 2026-11-21T15:00:00Z', '2026-11-21T15:00:00.000Z'],
    ['limit resets 2026-11-21T16:30:00+01:00', '2026-11-21T15:30:00.000Z'],
    ['Claude AI usage limit reached|1795273200', new Date(1795273200 * 1000).toISOString()],
    ['Too many requests, try again in 30 seconds', '2026-11-21T14:00:30.000Z'],
    ['Please retry in 59.3s.', '2026-11-21T14:00:59.300Z'],
    ['usage limit: try again in 2 hours 5 minutes', '2026-11-21T16:05:00.000Z'],
    ['429; retry-after: 45', '2026-11-21T14:00:45.000Z'],
  ])('%s', (text, expected) => {
    expect(extractResetAt(text, now)).toBe(expected);
  });

  it('says nothing when the text does not', () => {
    expect(extractResetAt('rate limit exceeded', now)).toBeUndefined();
  });
});
