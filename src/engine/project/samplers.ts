/**
 * One ORT sampler per model folder, kept between requests: building the session costs far more
 * than a short completion, and the inline completion provider asks often. A folder whose
 * weights file changed (a retrained checkpoint written in place) gets a fresh sampler.
 */
import * as path from 'node:path';
import { loadCheckpoint } from '../../core/model/checkpoint';
import type { ModelConfig } from '../../core/model/modelConfig';
import { weightFileNames } from '../../core/model/shards';
import { OrtSampler } from '../../core/sample/ortSampler';
import type { Tokenizer } from '../../core/tokenizer/tokenizer';
import { UserError } from '../../core/errors';
import { fileStamp } from '../../core/store/fsx';

export interface CachedModel {
  readonly dir: string;
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  readonly sampler: OrtSampler;
}

interface Entry {
  readonly stamp: string;
  readonly model: Promise<CachedModel>;
}

/** Samplers kept at most; the least recently used is released first. */
const MAX_MODELS = 3;
const cache = new Map<string, Entry>();

/** The identity of a model folder's weights file (fileStamp), or 'missing'. */
function weightsStamp(dir: string): string {
  // model.safetensors, or the index and its shards.
  const files = weightFileNames(dir);
  return files.length > 0 ? files.map((f) => fileStamp(path.join(dir, f))).join('|') : 'missing';
}

export async function samplerFor(dir: string): Promise<CachedModel> {
  const key = path.resolve(dir);
  const stamp = weightsStamp(key);
  const hit = cache.get(key);
  if (hit && hit.stamp === stamp) {
    // Re-insert: the Map's order is the recency order.
    cache.delete(key);
    cache.set(key, hit);
    return hit.model;
  }
  if (hit) release(key, hit);
  const model = load(key);
  const entry = { stamp, model };
  cache.set(key, entry);
  model.catch(() => cache.get(key) === entry && cache.delete(key));
  while (cache.size > MAX_MODELS) {
    const [oldKey, old] = cache.entries().next().value as [string, Entry];
    release(oldKey, old);
  }
  return model;
}

async function load(dir: string): Promise<CachedModel> {
  const ckpt = loadCheckpoint(dir);
  if (ckpt.kind === 'reward') throw new UserError(`${dir}: is a reward model; completions are sampled from a language model (policy) folder.`);
  const sampler = await OrtSampler.create({ config: ckpt.config, weights: ckpt.weights });
  return { dir, config: ckpt.config, tokenizer: ckpt.tokenizer, sampler };
}

function release(key: string, entry: Entry): void {
  cache.delete(key);
  void entry.model.then((m) => m.sampler.dispose()).catch(() => undefined);
}
