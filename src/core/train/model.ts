/**
 * Moving a model between its checkpoint form (HF weights as Float32Arrays) and its training
 * form (tf.Variables keyed by the same HF names), plus the optimizer state saved beside it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { parameterShapes } from '../model/config';
import type { GPT2Config } from '../model/config';
import { initParams } from '../model/gpt2';
import { UserError } from '../errors';
import { headShapes, loadCheckpoint, saveCheckpoint } from '../model/checkpoint';
import type { Checkpoint, HeadKind, Weights } from '../model/checkpoint';
import { initHead } from '../model/heads';
import { readSafetensors, serializeSafetensors } from '../model/safetensors';
import type { NamedTensor } from '../model/safetensors';
import type { Tokenizer } from '../tokenizer/tokenizer';
import { writeFileAtomic } from '../store/fsx';
import type { AdamW } from './optim';
import { disposeParams } from './stage';
import type { TrainingSnapshot, TrainModel } from './stage';

/** A model in training with what is needed to save it as an HF folder. */
export interface LoadedModel extends TrainModel {
  readonly kind: HeadKind;
  readonly tokenizer: Tokenizer;
}

/**
 * Trainable variables from a checkpoint, as `kind`: an LM checkpoint loaded as 'reward' gets a
 * fresh score head (the SFT → reward-model step); extra heads in the file are dropped.
 */
export function modelFromCheckpoint(ckpt: Checkpoint, kind: HeadKind, seed = 0): LoadedModel {
  return lazyModel(ckpt.config, kind, ckpt.tokenizer, plainWeights(ckpt, kind, seed));
}

/**
 * The checkpoint's arrays for `kind` (a fresh head, small and made in tfjs, when the file has none).
 * Its own function so that no closure of the model keeps the whole checkpoint alive.
 */
function plainWeights(ckpt: Checkpoint, kind: HeadKind, seed: number): Weights {
  const plain: Weights = new Map();
  let missing = false;
  for (const name of [...parameterShapes(ckpt.config).keys(), ...headShapes(kind, ckpt.config.n_embd).keys()]) {
    const w = ckpt.weights.get(name);
    if (w) plain.set(name, w);
    else missing = true;
  }
  if (kind !== 'lm' && missing) {
    for (const [name, v] of Object.entries(initHead(ckpt.config, kind === 'reward' ? 'reward' : 'value', seed))) {
      plain.set(name, { shape: [...v.shape], data: Float32Array.from(v.dataSync()) });
      v.dispose();
    }
  }
  return plain;
}

/**
 * A model over plain arrays that become tfjs variables only when tfjs asks for them (the tfjs
 * engine): the ONNX Runtime engine takes them from `plain`, so the model is never copied into tfjs.
 */
function lazyModel(config: GPT2Config, kind: HeadKind, tokenizer: Tokenizer, weights: Weights): LoadedModel {
  let plain: Weights | undefined = weights;
  let params: Record<string, tf.Variable> | undefined;
  return {
    config,
    kind,
    tokenizer,
    get params(): Record<string, tf.Variable> {
      if (!params) {
        const made: Record<string, tf.Variable> = {};
        for (const [name, w] of plain ?? []) {
          const t = tf.tensor(w.data, [...w.shape], 'float32');
          made[name] = tf.variable(t);
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
 * An HF model folder with fresh weights of `config` (GPT-2's initialisation, seeded) and
 * `tokenizer`: for pretraining from scratch (`rlhf model init`, the pretrain stage) and benchmarks.
 * The tokenizer must fit the vocabulary.
 */
export function writeFreshModel(dir: string, config: GPT2Config, tokenizer: Tokenizer, seed: number): string {
  if (tokenizer.vocabSize > config.vocab_size) {
    throw new UserError(`The tokenizer has ${tokenizer.vocabSize} tokens, more than the config's vocab_size ${config.vocab_size}; raise vocab_size.`);
  }
  const params = initParams(config, seed);
  try {
    saveCheckpoint(dir, { config, kind: 'lm', weights: weightsOf({ config, params }), tokenizer });
  } finally {
    tf.dispose(Object.values(params));
  }
  return dir;
}

export function disposeModel(model: TrainModel): void {
  disposeParams(model);
}

const OPTIMIZER_FILE = 'optimizer.safetensors';

/**
 * An HF folder plus `optimizer.safetensors` (AdamW moments and step), so training can resume.
 * The parameters and moments come from `snapshot` when the stage trained outside tfjs (the ONNX
 * Runtime engine), else from the tfjs model and `optimizer`. No optimizer: the folder alone.
 */
export async function saveTrainingCheckpoint(dir: string, model: LoadedModel, optimizer: AdamW | undefined, snapshot?: TrainingSnapshot): Promise<void> {
  const weights: Weights = snapshot ? new Map([...snapshot.weights].map(([k, v]) => [k, { shape: [...v.shape], data: v.data }])) : weightsOf(model);
  saveCheckpoint(dir, { config: model.config, kind: model.kind, weights, tokenizer: model.tokenizer });
  if (!optimizer) return;
  const { step, slots } = snapshot ? snapshot.optimizer : await optimizer.state();
  const tensors = new Map<string, NamedTensor>([...slots].map(([k, v]) => [k, { shape: [...v.shape], data: v.data }]));
  writeFileAtomic(path.join(dir, OPTIMIZER_FILE), serializeSafetensors(tensors, { step: String(step), format: 'rlhf-workbench-adamw' }));
}

/** Restore AdamW from a checkpoint folder; false when the folder has no optimizer state. */
export function restoreOptimizer(dir: string, optimizer: AdamW): boolean {
  const file = path.join(dir, OPTIMIZER_FILE);
  if (!fs.existsSync(file)) return false;
  const st = readSafetensors(file);
  const step = Number(st.metadata.step);
  if (!Number.isInteger(step) || step < 0) throw new Error(`${file}: metadata 'step' is missing or invalid`);
  optimizer.restore(step, new Map([...st.tensors].map(([k, v]) => [k, { shape: v.shape, data: v.data }])));
  return true;
}
