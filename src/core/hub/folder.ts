/**
 * What a model folder on disk is, without loading its weights: its architecture (config.json),
 * its size, and whether the workbench can train it (a supported architecture — GPT-2, Llama,
 * Qwen2/2.5, Qwen3 — safetensors weights,
 * tokenizer.json), with the reason when it cannot.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors';
import { parseModelConfig } from '../model/architecture';
import type { ModelFolderView } from '../../protocol/engine';

/** A model folder's architecture and size, and whether the workbench can load it (`problem` says why not). */
export type ModelFolderInfo = Omit<ModelFolderView, 'setAsBase'>;

export function inspectModelFolder(dir: string): ModelFolderInfo {
  const configFile = path.join(dir, 'config.json');
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UserError(`${dir} is not a folder. Pick the folder that holds the model's config.json.`);
  if (!fs.existsSync(configFile)) {
    throw new UserError(
      `${dir} has no config.json, so it is not a Hugging Face model folder. Pick the folder that holds config.json, model.safetensors and tokenizer.json (for a pulled model: its snapshots/<commit> folder).`,
    );
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new UserError(`${configFile} is not valid JSON (${(err as Error).message}).`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UserError(`${configFile} is not a JSON object.`);
  let sizeBytes = 0;
  let files = 0;
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const s = fs.statSync(p, { throwIfNoEntry: false });
      if (s?.isDirectory()) walk(p);
      else if (s?.isFile()) {
        sizeBytes += s.size;
        files++;
      }
    }
  };
  walk(dir);
  let problem: string | undefined;
  try {
    parseModelConfig(raw, configFile);
  } catch (err) {
    problem = (err as Error).message;
  }
  const has = (f: string): boolean => fs.existsSync(path.join(dir, f));
  if (!problem && !has('model.safetensors') && !has('model.safetensors.index.json')) problem = `${dir} has no model.safetensors (only safetensors weights are read).`;
  if (!problem && !has('tokenizer.json')) problem = `${dir} has no tokenizer.json.`;
  const architectures = Array.isArray(raw.architectures) ? raw.architectures.filter((a): a is string => typeof a === 'string') : [];
  return { dir, ...(typeof raw.model_type === 'string' ? { modelType: raw.model_type } : {}), architectures, sizeBytes, files, supported: !problem, ...(problem ? { problem } : {}) };
}
