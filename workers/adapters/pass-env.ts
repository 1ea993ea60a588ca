/** Pure helpers the adapters' prepareHome share: picking operator variables, TOML/JSON strings. */
import type { OperatorEnv } from '../types.ts';

/** The first set (non-empty) variable of `names`. */
export function first(env: OperatorEnv, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = env[n];
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
}

/** The variables of `names` that are set, copied. */
export function pick(env: OperatorEnv, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = env[n];
    if (v !== undefined && v !== '') out[n] = v;
  }
  return out;
}

/** A TOML basic string. */
export function tomlString(s: string): string {
  return JSON.stringify(s);
}

/** A non-negative integer from a variable, or undefined. */
export function intVar(env: OperatorEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '' || !/^\d+$/.test(v)) return undefined;
  return Number(v);
}

/** `base/v1` without doubling the suffix when the operator already wrote it. */
export function withV1(base: string): string {
  const b = base.replace(/\/+$/, '');
  return /\/v1$/.test(b) ? b : `${b}/v1`;
}
