/**
 * Worker presets (workers/presets/<id>.json, contracts/worker-preset.schema.json): chosen by a
 * step's `worker` field, they say which agent runs, with which tools, environment, network and
 * limits, and optionally in which container image. Loaded and validated once per directory (a bad
 * file is reported with its path and JSON path, never half-used); a new worker needs no code.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OrchestratorError, errorMessage } from '../lib/errors.ts';

export interface WorkerPreset {
  id: string;
  name: string;
  description?: string;
  agent: { type: 'claude' | 'codex' | 'opencode' | 'droid' | 'gemini'; command?: string | string[] };
  allowed_tools?: string[];
  env?: Record<string, string>;
  network?: 'deny' | 'allow';
  limits?: { cpu?: number; memory?: string; timeout_sec?: number };
  image?: string;
}

export const DEFAULT_PRESETS_DIR: string = fileURLToPath(new URL('./presets/', import.meta.url));
export const SKILLS_DIR: string = fileURLToPath(new URL('./skills/', import.meta.url));

let validator: ValidateFunction | undefined;
function validate(): ValidateFunction {
  if (!validator) {
    const schema = JSON.parse(readFileSync(new URL('../contracts/worker-preset.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    validator = new Ajv2020({ allErrors: true, strict: true, coerceTypes: false, useDefaults: false, removeAdditional: false }).compile(schema);
  }
  return validator;
}

/** Parse and validate one preset file's text (pure but for the compiled schema). */
export function parsePreset(text: string, file: string): WorkerPreset {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new OrchestratorError('E_INVALID_JSON', `worker preset ${file}: ${errorMessage(err)}`, { file });
  }
  const v = validate();
  if (!v(value)) {
    const issues = (v.errors ?? []).map((e) => ({ path: '$' + e.instancePath.replace(/\//g, '.'), message: e.message ?? 'invalid' }));
    throw new OrchestratorError('E_SCHEMA', `worker preset ${file} does not follow contracts/worker-preset.schema.json`, { file, issues });
  }
  const preset = value as WorkerPreset;
  const expected = path.basename(file, '.json');
  if (preset.id !== expected) throw new OrchestratorError('E_SCHEMA', `worker preset ${file}: id "${preset.id}" must equal the file name ("${expected}")`, { file });
  return preset;
}

const cache = new Map<string, Map<string, WorkerPreset>>();

/** Every preset of a directory, validated (cached per directory for the process). */
export function loadPresets(dir: string = DEFAULT_PRESETS_DIR): Map<string, WorkerPreset> {
  let presets = cache.get(dir);
  if (!presets) {
    presets = new Map();
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
    } catch {
      names = [];
    }
    for (const f of names) {
      const file = path.join(dir, f);
      const preset = parsePreset(readFileSync(file, 'utf8'), file);
      presets.set(preset.id, preset);
    }
    cache.set(dir, presets);
  }
  return presets;
}

export function clearPresetCache(): void {
  cache.clear();
}

/** The preset a step names, or an E_PREFLIGHT error saying which ones exist. */
export function findPreset(id: string, dir?: string | null): WorkerPreset {
  const presets = loadPresets(dir ?? DEFAULT_PRESETS_DIR);
  const preset = presets.get(id);
  if (!preset) throw new OrchestratorError('E_PREFLIGHT', `unknown worker preset "${id}" (known: ${[...presets.keys()].join(', ') || 'none'}; directory ${dir ?? DEFAULT_PRESETS_DIR})`);
  return preset;
}
