/**
 * Builds the runner's StageJobs from validated configs: where each stage starts, what it
 * trains, and its loop over its data. The CLI, the engine and the demo all go through here.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { TINY_CONFIG } from '../model/config';
import type { GPT2Config } from '../model/config';
import { loadCheckpoint, saveCheckpoint } from '../model/checkpoint';
import { initParams } from '../model/gpt2';
import type { Project } from '../store/project';
import { byteLevelTokenizerJson } from '../tokenizer/byteLevel';
import { tokenizerFromJson } from '../tokenizer/tokenizer';
import { UserError } from '../errors';
import { splitHeldOut } from './data';
import { corpusText, loadSftJsonl, preferencePairs, rankedGroups } from './datasets';
import { disposeModel, loadModel, weightsOf } from './model';
import type { LoadedModel } from './model';
import { dpo } from './dpo';
import type { DpoConfig } from './dpo';
import type { StageEvent } from './stage';
import { pretrain } from './pretrain';
import type { PretrainConfig } from './pretrain';
import { reward } from './reward';
import type { RewardConfig } from './reward';
import { sft } from './sft';
import type { SftConfig } from './sft';
import type { SftExample } from './data';
import type { StageJob } from './runner';

/** Pretraining from `model` (or from fresh weights of `architecture`) on a corpus. */
export function pretrainJob(project: Project, runId: string, config: PretrainConfig, corpus: string, model?: string, architecture: GPT2Config = TINY_CONFIG): StageJob {
  return {
    stage: 'pretrain',
    kind: 'lm',
    optim: config.optim,
    from: () => model ?? freshInit(path.join(project.runs.dir(runId), 'checkpoints', 'pretrain', 'init'), architecture, config.seed),
    loop: (m, optimizer, signal) => {
      const ids = Int32Array.from(m.tokenizer.encode(corpusText(corpus)));
      if (ids.length < config.blockSize * 2) throw new UserError(`${corpus}: the corpus has ${ids.length} tokens; it needs at least ${config.blockSize * 2}.`);
      const split = Math.floor(ids.length * 0.95);
      return pretrain(m, optimizer, { train: ids.subarray(0, split), eval: ids.subarray(split) }, config, signal);
    },
  };
}

/** SFT from `model` (or the previous stage's result) on examples or a JSONL file. */
export function sftJob(config: SftConfig, data: string | readonly SftExample[] | ((tokenize: (s: string) => number[]) => SftExample[]), options: { model?: string; evalFraction?: number } = {}): StageJob {
  return {
    stage: 'sft',
    kind: 'lm',
    optim: config.optim,
    from: (previous) => required(options.model ?? previous, 'sft'),
    loop: (m, optimizer, signal) => {
      const examples = typeof data === 'string' ? loadSftJsonl(data, m.tokenizer) : typeof data === 'function' ? data((s) => m.tokenizer.encode(s)) : data;
      const split = splitHeldOut(examples, options.evalFraction ?? 0.1, config.seed);
      const pad = m.tokenizer.eosTokenId ?? 0;
      return sft(m, optimizer, { train: split.train, eval: split.eval, pad }, config, signal);
    },
  };
}

/** Reward model from `model` (or the previous stage's result) on the project's rankings. */
export function rewardJob(project: Project, config: RewardConfig, options: { model?: string; evalFraction?: number; includeSimulated?: boolean } = {}): StageJob {
  return {
    stage: 'reward',
    kind: 'reward',
    optim: config.optim,
    seed: config.seed,
    from: (previous) => required(options.model ?? previous, 'reward'),
    loop: (m, optimizer, signal) => {
      const groups = rankedGroups(project, m.tokenizer, {
        evalFraction: options.evalFraction ?? 0.2,
        seed: config.seed,
        ...(options.includeSimulated === undefined ? {} : { includeSimulated: options.includeSimulated }),
      });
      if (groups.train.length === 0) {
        throw new UserError(`reward: no ranked pairs to train on in ${project.paths.dir} (rank some completions first; ties, skips and all-bad give no pairs).`);
      }
      return reward(m, optimizer, { train: groups.train, eval: groups.eval, pad: m.tokenizer.eosTokenId ?? 0 }, config, signal);
    },
  };
}

function required(model: string | undefined, stage: string): string {
  if (!model) throw new UserError(`${stage}: no starting model. Set "model" in the config to an HF model folder.`);
  loadCheckpoint(model); // fail early, with the checkpoint's own clear error
  return model;
}

/** Fresh weights of `config` with the byte-level tokenizer, saved as the run's starting point. */
function freshInit(dir: string, config: GPT2Config, seed: number): string {
  const params = initParams(config, seed);
  try {
    saveCheckpoint(dir, { config, kind: 'lm', weights: weightsOf({ config, params }), tokenizer: tokenizerFromJson(byteLevelTokenizerJson(), 'byte-level') });
  } finally {
    tf.dispose(Object.values(params));
  }
  return dir;
}

/**
 * DPO on the project's preference pairs. The policy starts from `model` (an SFT folder); the
 * frozen reference is loaded from `reference` (default: the same folder) each time the loop
 * starts, also on resume, and disposed when the loop ends, however it ends.
 */
export function dpoJob(project: Project, config: DpoConfig, options: { model: string; reference?: string; evalFraction?: number; includeSimulated?: boolean }): StageJob {
  const referenceDir = options.reference ?? options.model;
  return {
    stage: 'dpo',
    kind: 'lm',
    optim: config.optim,
    from: () => {
      if (options.reference) required(options.reference, 'dpo');
      return required(options.model, 'dpo');
    },
    loop: (m, optimizer, signal) => {
      const pairs = preferencePairs(project, m.tokenizer, {
        evalFraction: options.evalFraction ?? 0.2,
        seed: config.seed,
        ...(options.includeSimulated === undefined ? {} : { includeSimulated: options.includeSimulated }),
      });
      if (pairs.train.length === 0) {
        throw new UserError(`dpo: no preference pairs to train on in ${project.paths.dir} (rank some completions first; ties, skips and all-bad give no pairs).`);
      }
      return withReference(referenceDir, (reference) => dpo(m, reference, optimizer, { train: pairs.train, eval: pairs.eval, pad: m.tokenizer.eosTokenId ?? 0 }, config, signal));
    },
  };
}

/** Runs `loop` with a reference model loaded from `dir`, disposed when the loop ends (done, error or cancel). */
async function* withReference(dir: string, loop: (reference: LoadedModel) => AsyncGenerator<StageEvent>): AsyncGenerator<StageEvent> {
  const reference = loadModel(dir, 'lm');
  try {
    yield* loop(reference);
  } finally {
    disposeModel(reference);
  }
}
