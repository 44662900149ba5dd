/**
 * Moving a model between its checkpoint form (HF weights as Float32Arrays, what the ONNX Runtime
 * engine trains from) and the tfjs engine's training form (tf.Variables keyed by the same HF
 * names, made only when tfjs asks for them), plus the optimizer state saved beside it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import { tfjs } from '../compute/tfjs';
import type { GPT2Config } from '../model/config';
import type { ModelConfig } from '../model/modelConfig';
import { isLlama, modelParameterShapes, modelWidth } from '../model/modelConfig';
import { UserError } from '../errors';
import { configForKind, headShapes, loadCheckpoint, saveCheckpoint, writeMasterWeights } from '../model/checkpoint';
import type { Checkpoint, HeadKind, SourceConfigs, Weights } from '../model/checkpoint';
import type { WeightsLayout } from '../model/shards';
import { initHeadWeights, initWeights } from '../model/init';
import { readSafetensors, serializeSafetensors } from '../model/safetensors';
import type { NamedTensor } from '../model/safetensors';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { writeFileAtomic } from '../store/fsx';
import type { Optimizer } from './optim';
import { disposeParams } from './stage';
import type { TrainingSnapshot, TrainModel } from './stage';

/** A model in training with what is needed to save it as an HF folder. */
export interface LoadedModel extends TrainModel {
  readonly kind: HeadKind;
  readonly tokenizer: Tokenizer;
  /** A Llama-family model's source folder: its weights layout (dtype, shards) and configs, to save the same way. */
  readonly layout?: WeightsLayout;
  readonly source?: SourceConfigs;
}

/**
 * Trainable variables from a checkpoint, as `kind`: an LM checkpoint loaded as 'reward' gets a
 * fresh score head (the SFT → reward-model step); extra heads in the file are dropped.
 */
export function modelFromCheckpoint(ckpt: Checkpoint, kind: HeadKind, seed = 0): LoadedModel {
  const config = configForKind(ckpt.config, kind);
  // A Llama-family model saves as its source folder stored it (GPT-2 checkpoints keep today's one F32 file).
  const source = isLlama(config) ? { ...(ckpt.layout ? { layout: ckpt.layout } : {}), ...(ckpt.source ? { source: ckpt.source } : {}) } : {};
  return lazyModel(config, kind, ckpt.tokenizer, plainWeights(ckpt, config, kind, seed), source);
}

/**
 * The checkpoint's arrays for `kind` (a fresh head, model/init.ts's, when the file has none).
 * Its own function so that no closure of the model keeps the whole checkpoint alive.
 */
function plainWeights(ckpt: Checkpoint, config: ModelConfig, kind: HeadKind, seed: number): Weights {
  const plain: Weights = new Map();
  let missing = false;
  for (const name of [...modelParameterShapes(config).keys(), ...headShapes(kind, modelWidth(config)).keys()]) {
    const w = ckpt.weights.get(name);
    if (w) plain.set(name, w);
    else missing = true;
  }
  if (kind !== 'lm' && missing) for (const [name, w] of initHeadWeights(config, kind, seed)) plain.set(name, w);
  return plain;
}

/**
 * A model over plain arrays that become tfjs variables only when tfjs asks for them (the tfjs
 * engine, which loads tfjs then): the ONNX Runtime engine takes them from `plain`, so the model is
 * never copied into tfjs, and tfjs is never loaded.
 */
function lazyModel(config: ModelConfig, kind: HeadKind, tokenizer: Tokenizer, weights: Weights, source: Pick<LoadedModel, 'layout' | 'source'> = {}): LoadedModel {
  let plain: Weights | undefined = weights;
  let params: Record<string, tf.Variable> | undefined;
  return {
    config,
    kind,
    tokenizer,
    ...source,
    get params(): Record<string, tf.Variable> {
      if (!params) {
        const core = tfjs();
        const made: Record<string, tf.Variable> = {};
        for (const [name, w] of plain ?? []) {
          const t = core.tensor(w.data, [...w.shape], 'float32');
          made[name] = core.variable(t);
          t.dispose(); // the variable holds its own reference to the data
        }
        params = made;
        plain = undefined;
      }
      return params;
    },
    plain: () => plain,
  };
}

export function loadModel(dir: string, kind: HeadKind, seed = 0): LoadedModel {
  return modelFromCheckpoint(loadCheckpoint(dir), kind, seed);
}

/** The current values as checkpoint weights. */
export function weightsOf(model: TrainModel): Weights {
  const plain = model.plain?.();
  if (plain) return new Map([...plain].map(([k, v]) => [k, { shape: [...v.shape], data: v.data }]));
  const out: Weights = new Map();
  for (const [name, v] of Object.entries(model.params)) out.set(name, { shape: [...v.shape], data: v.dataSync() as Float32Array });
  return out;
}

/**
 * An HF model folder with fresh weights of `config` (GPT-2's initialisation, seeded: model/init.ts)
 * and `tokenizer`: for pretraining from scratch (`rlhf model init`, the pretrain stage) and
 * benchmarks. The tokenizer must fit the vocabulary.
 */
export function writeFreshModel(dir: string, config: GPT2Config, tokenizer: Tokenizer, seed: number): string {
  if (tokenizer.vocabSize > config.vocab_size) {
    throw new UserError(`The tokenizer has ${tokenizer.vocabSize} tokens, more than the config's vocab_size ${config.vocab_size}; raise vocab_size.`);
  }
  saveCheckpoint(dir, { config, kind: 'lm', weights: initWeights(config, seed), tokenizer });
  return dir;
}

export function disposeModel(model: TrainModel): void {
  disposeParams(model);
}

const OPTIMIZER_FILE = 'optimizer.safetensors';

/**
 * An HF folder plus `optimizer.safetensors` (AdamW moments and step), so training can resume.
 * The parameters and moments come from the engine's `snapshot` when there is one, else from the
 * model and `optimizer`. No optimizer: the folder alone. `kind`: what to save the model as, when
 * not its own (PPO trains with a value head and ships an LM).
 */
export async function saveTrainingCheckpoint(dir: string, model: LoadedModel, optimizer: Optimizer | undefined, snapshot?: TrainingSnapshot, kind: HeadKind = model.kind): Promise<void> {
  const weights: Weights = snapshot ? new Map([...snapshot.weights].map(([k, v]) => [k, { shape: [...v.shape], data: v.data }])) : weightsOf(model);
  saveCheckpoint(dir, { config: model.config, kind, weights, tokenizer: model.tokenizer, ...(model.layout ? { layout: model.layout } : {}), ...(model.source ? { source: model.source } : {}) });
  if (!optimizer) return;
  writeMasterWeights(dir, weights, model.layout);
  saveOptimizerState(dir, snapshot ? snapshot.optimizer : await optimizer.state());
}

/** `optimizer.safetensors` in `dir`: AdamW's step and moments (those of a LoRA run's adapter and heads only). */
export function saveOptimizerState(dir: string, { step, slots }: TrainingSnapshot['optimizer']): void {
  const tensors = new Map<string, NamedTensor>([...slots].map(([k, v]) => [k, { shape: [...v.shape], data: v.data }]));
  writeFileAtomic(path.join(dir, OPTIMIZER_FILE), serializeSafetensors(tensors, { step: String(step), format: 'rlhf-workbench-adamw' }));
}

/** Restore AdamW's state from a checkpoint folder; false when the folder has no optimizer state. */
export function restoreOptimizer(dir: string, optimizer: Optimizer): boolean {
  const file = path.join(dir, OPTIMIZER_FILE);
  if (!fs.existsSync(file)) return false;
  const st = readSafetensors(file);
  const step = Number(st.metadata.step);
  if (!Number.isInteger(step) || step < 0) throw new Error(`${file}: metadata 'step' is missing or invalid`);
  optimizer.restore(step, new Map([...st.tensors].map(([k, v]) => [k, { shape: v.shape, data: v.data }])));
  return true;
}
