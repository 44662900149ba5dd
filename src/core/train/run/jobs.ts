/**
 * Builds the runner's StageJobs from validated configs: where each stage starts, what it
 * trains, and its loop over its data. The CLI, the engine and the demo all go through here.
 */
import * as path from 'node:path';
import { TINY_CONFIG } from '../../model/config';
import type { GPT2Config } from '../../model/config';
import { loadCheckpoint } from '../../model/checkpoint';
import type { Project } from '../../store/project';
import { byteLevelTokenizerJson } from '../../tokenizer/byteLevel';
import { tokenizerFromJson } from '../../tokenizer/tokenizer';
import type { Tokenizer } from '../../tokenizer/tokenizer';
import { UserError } from '../../errors';
import { splitHeldOut } from '../data/batches';
import { corpusText, loadSftJsonl, preferencePairs, rankedGroups } from '../data/datasets';
import { disposeModel, loadModel, writeFreshModel } from '../model';
import type { LoadedModel } from '../model';
import { dpo } from '../stages/dpo';
import type { DpoConfig } from '../stages/dpo';
import type { StageEvent } from '../stage';
import type { StageName } from '../../../protocol/stages';
import { fitPrompt, promptRoom } from '../../sample/types';
import { pretrain } from '../stages/pretrain';
import type { PretrainConfig } from '../stages/pretrain';
import { reward } from '../stages/reward';
import type { RewardConfig } from '../stages/reward';
import { sft } from '../stages/sft';
import type { SftConfig } from '../stages/sft';
import type { SftExample } from '../data/batches';
import type { StageJob } from './runner';
import { ppo } from '../stages/ppo';
import type { PpoConfig } from '../stages/ppo';
import { rloo } from '../stages/rloo';
import type { RlooConfig } from '../stages/rloo';
import { GRPO_ON_ORT_ONLY, grpo } from '../stages/grpo';
import type { GrpoConfig } from '../stages/grpo';
import { loadRewardFunctions } from '../../rewards/load';
import type { RewardModelSpec, RewardSpec } from '../../rewards/config';
import type { RewardFunction, RewardSample } from '../../rewards/types';
import { rewardModelFunction, textRewardFunction } from '../rewardModelFunction';
import type { RolloutData, RolloutSampler, Scorer } from '../rollout/rollout';
import { ortRolloutSampler, textScorer } from '../rollout/samplers';
import { ortRewardModelScorer } from '../rollout/ortPolicy';
import { trainingEngine } from '../engine';
import { afinnScore } from '../labeler';
import { contextLength } from '../../model/modelConfig';
import { promptInputText } from '../../tokenizer/chat';
import type { PromptLike } from '../../tokenizer/chat';

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
export function sftJob(config: SftConfig, data: string | readonly SftExample[] | ((tokenizer: Tokenizer) => SftExample[]), options: { model?: string; evalFraction?: number } = {}): StageJob {
  return {
    stage: 'sft',
    kind: 'lm',
    optim: config.optim,
    from: (previous) => required(options.model ?? previous, 'sft'),
    loop: (m, optimizer, signal) => {
      const examples = typeof data === 'string' ? loadSftJsonl(data, m.tokenizer) : typeof data === 'function' ? data(m.tokenizer) : data;
      const split = splitHeldOut(examples, options.evalFraction ?? 0.1, config.seed);
      const pad = m.tokenizer.eosTokenId ?? 0;
      const cut = examples.filter((e) => e.prompt.length + e.response.length > config.maxLen + 1).length;
      return withCutNote('sft', cut, examples.length, 'examples', config.maxLen, sft(m, optimizer, { train: split.train, eval: split.eval, pad }, config, signal));
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
      const all = [...groups.train, ...groups.eval];
      const cut = all.filter((g) => g.completions.some((c) => g.prompt.length + c.length > config.maxLen)).length;
      return withCutNote('reward', cut, all.length, 'rankings', config.maxLen, reward(m, optimizer, { train: groups.train, eval: groups.eval, pad: m.tokenizer.eosTokenId ?? 0 }, config, signal));
    },
  };
}

/**
 * A stage's loop, after a log line saying how many of its examples are longer than maxLen: those
 * keep their completion (as much as fits) and the end of their prompt (data/batches.ts, stages/dpo.ts).
 */
async function* withCutNote(stage: StageName, cut: number, total: number, what: string, maxLen: number, loop: AsyncGenerator<StageEvent>): AsyncGenerator<StageEvent> {
  if (cut > 0)
    yield { type: 'log', message: `${stage}: ${cut} of ${total} ${what} are longer than maxLen ${maxLen} tokens; their prompts are cut from the left, keeping the end next to the completion.` };
  yield* loop;
}

function required(model: string | undefined, stage: string): string {
  if (!model) throw new UserError(`${stage}: no starting model. Set "model" in the config to an HF model folder.`);
  loadCheckpoint(model); // fail early, with the checkpoint's own clear error
  return model;
}

/** Fresh weights of `config` with the byte-level tokenizer, saved as the run's starting point. */
function freshInit(dir: string, config: GPT2Config, seed: number): string {
  return writeFreshModel(dir, config, tokenizerFromJson(byteLevelTokenizerJson(), 'byte-level'), seed);
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
      const all = [...pairs.train, ...pairs.eval];
      const cut = all.filter((p) => p.prompt.length + Math.max(p.chosen.length, p.rejected.length) > config.maxLen).length;
      return withCutNote(
        'dpo',
        cut,
        all.length,
        'pairs',
        config.maxLen,
        // A LoRA run's reference is its own base with the adapters off, unless one is named.
        m.lora && !options.reference
          ? dpo(m, undefined, optimizer, { train: pairs.train, eval: pairs.eval, pad: m.tokenizer.eosTokenId ?? 0 }, config, signal)
          : withReference(referenceDir, (reference) => dpo(m, reference, optimizer, { train: pairs.train, eval: pairs.eval, pad: m.tokenizer.eosTokenId ?? 0 }, config, signal)),
      );
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

/** Where PPO and RLOO get their reward: a reward-model folder, or a built-in scorer of the text. */
export type ScorerSpec = string;

export interface PolicyJobOptions {
  /** The SFT model the policy starts from (and the default frozen reference). */
  readonly model: string;
  readonly reference?: string;
  /** A reward-model folder, or `builtin:afinn` (the simulated labeler's sentiment score). */
  readonly scorer: ScorerSpec;
  /** Prompt texts; default: every prompt in the project. */
  readonly prompts?: readonly string[];
  /** PPO-ptx corpus (a text file or builtin:moby-dick). */
  readonly ptxCorpus?: string;
}

export function ppoJob(project: Project, config: PpoConfig, options: PolicyJobOptions): StageJob {
  return {
    stage: 'ppo',
    // Trains with a value head (saved in interval checkpoints for resume); ships a plain LM.
    kind: 'value',
    finalKind: 'lm',
    optim: config.optim,
    seed: config.seed,
    from: () => required(options.model, 'ppo'),
    loop: (m, optimizer, signal, resume) =>
      withPolicyContext(project, m, options, { stage: 'ppo', maxNewTokens: config.maxNewTokens }, (ctx) =>
        ppo(
          m,
          ctx.reference,
          optimizer,
          ctx.sampler,
          ctx.scorer,
          { ...ctx.data, ...(options.ptxCorpus ? { ptxCorpus: Int32Array.from(m.tokenizer.encode(corpusText(options.ptxCorpus))) } : {}) },
          config,
          signal,
          resume,
        ),
      ),
  };
}

export function rlooJob(project: Project, config: RlooConfig, options: PolicyJobOptions): StageJob {
  return {
    stage: 'rloo',
    kind: 'lm',
    optim: config.optim,
    seed: config.seed,
    from: () => required(options.model, 'rloo'),
    loop: (m, optimizer, signal, resume) =>
      withPolicyContext(project, m, options, { stage: 'rloo', maxNewTokens: config.maxNewTokens }, (ctx) =>
        rloo(m, ctx.reference, optimizer, ctx.sampler, ctx.scorer, ctx.data, config, signal, resume),
      ),
  };
}

interface PolicyContext {
  /** Absent for a LoRA policy without its own reference: the base with adapters off is the reference. */
  readonly reference: LoadedModel | undefined;
  readonly sampler: RolloutSampler;
  readonly scorer: Scorer;
  readonly data: RolloutData;
}

/**
 * Loads the frozen reference, the scorer and the ORT sampler for a policy stage; frees them when
 * it ends. Prompts are fitted to the smallest context of the models involved, leaving room for
 * `maxNewTokens` (and the EOS the reward model reads): a longer prompt keeps its end, and the
 * run's log says how many were cut.
 */
async function* withPolicyContext(
  project: Project,
  policy: LoadedModel,
  options: PolicyJobOptions,
  rollout: { readonly stage: StageName; readonly maxNewTokens: number },
  loop: (ctx: PolicyContext) => AsyncGenerator<StageEvent>,
): AsyncGenerator<StageEvent> {
  const texts = promptRecords(project, options.prompts);
  if (texts.length === 0) throw new UserError(`No prompts to train on in ${project.paths.dir}: import some with \`rlhf import prompts FILE\`.`);
  const tokenizer = policy.tokenizer;
  // A LoRA run's reference is its own base with the adapters off (no second copy), unless one is named.
  const reference = policy.lora && !options.reference ? undefined : loadModel(options.reference ?? options.model, 'lm');
  let rm: LoadedModel | undefined;
  let releaseScorer: (() => Promise<void>) | undefined;
  let sampler: (RolloutSampler & { dispose(): Promise<void> }) | undefined;
  try {
    const onTfjs = trainingEngine().name === 'tfjs';
    // Frozen: no gradients (the tfjs engine; ONNX Runtime takes the plain weights and makes no variables).
    if (onTfjs && reference) for (const v of Object.values(reference.params)) v.trainable = false;
    let scorer: Scorer;
    if (options.scorer === 'builtin:afinn') scorer = textScorer(afinnScore);
    else if (options.scorer.startsWith('builtin:')) throw new UserError(`Unknown built-in scorer '${options.scorer}': the one built in is builtin:afinn.`);
    else {
      rm = loadModel(required(options.scorer, 'reward model'), 'reward');
      if (onTfjs) for (const v of Object.values(rm.params)) v.trainable = false;
      if (!onTfjs) {
        // The reward model as an ONNX Runtime session (its tfjs tensors freed once it holds them).
        const ortScorer = await ortRewardModelScorer(rm, tokenizer.eosTokenId);
        releaseScorer = ortScorer.release;
        scorer = ortScorer;
      } else scorer = (await import('../tfjs/rollout')).rewardModelScorer(rm, tokenizer.eosTokenId);
    }
    // The reward model reads prompt + response + EOS.
    const context = Math.min(contextLength(policy.config), reference ? contextLength(reference.config) : Infinity, rm ? contextLength(rm.config) - 1 : Infinity);
    const fitted = fitPrompts(rollout.stage, texts, tokenizer, context, rollout.maxNewTokens);
    if (fitted.note) yield { type: 'log', message: fitted.note };
    const data = fitted.data;
    sampler = await ortRolloutSampler(policy, data.decode);
    yield* loop({ reference, sampler, scorer, data });
  } finally {
    await sampler?.dispose();
    await releaseScorer?.();
    if (rm) disposeModel(rm);
    if (reference) disposeModel(reference);
  }
}

/**
 * Prompts as a policy stage samples them: tokenized and fitted to `context` (the smallest of the
 * models involved), leaving room for `maxNewTokens`; a longer prompt keeps its end, and `note`
 * says how many were cut.
 */
/** The prompts a policy stage samples: the given texts, else every prompt of the project (chat prompts with their messages). */
function promptRecords(project: Project, texts: readonly string[] | undefined): PromptLike[] {
  return texts ? texts.map((text) => ({ text })) : project.prompts.list();
}

function fitPrompts(stage: StageName, prompts: readonly PromptLike[], tokenizer: Tokenizer, context: number, maxNewTokens: number): { data: RolloutData; note?: string } {
  if (maxNewTokens >= context) {
    throw new UserError(`${stage}: maxNewTokens ${maxNewTokens} leaves no room for a prompt in the model's context of ${context} tokens; lower maxNewTokens in the config.`);
  }
  const room = promptRoom(context, maxNewTokens);
  // What the model reads: a chat prompt through the template, as SFT and the reward model read it.
  // That text is also the prompt scorers and reward functions get (a reward model encodes it back).
  const encoded = prompts.map((p) => {
    const text = promptInputText(p, tokenizer);
    return { text, ids: tokenizer.encode(text) };
  });
  const cut = encoded.filter((p) => p.ids.length > room).length;
  const data: RolloutData = {
    prompts: encoded.map((p) => ({ text: p.text, ids: fitPrompt(p.ids, room) })),
    decode: (ids) => tokenizer.decode(ids),
    eos: tokenizer.eosTokenId,
    stops: tokenizer.stopTokenIds,
    pad: tokenizer.eosTokenId ?? 0,
  };
  if (cut === 0) return { data };
  return {
    data,
    note:
      `${stage}: ${cut} of ${encoded.length} prompt${encoded.length === 1 ? '' : 's'} ${cut === 1 ? 'is' : 'are'} longer than the ${room} tokens the context leaves ` +
      `(${context} − maxNewTokens ${maxNewTokens}); ${cut === 1 ? 'it is' : 'they are'} cut from the left, keeping ${cut === 1 ? 'its' : 'their'} last ${room} tokens.`,
  };
}

export interface GrpoJobOptions {
  /** The SFT model the policy starts from (and the reference when β > 0, unless `reference` is set). */
  readonly model: string;
  readonly reference?: string;
  /** A reward-model folder or `builtin:afinn`: the reward when `rewards` is absent, and the folder of `rewardModel` entries that name none. */
  readonly rewardModel?: string;
  /** The reward functions (paths resolved); absent: the reward model alone. */
  readonly rewards?: readonly RewardSpec[];
  /** Prompt texts; default: every prompt in the project. */
  readonly prompts?: readonly string[];
  /** The workspace folder (reward modules resolve against its .rlhf/, commands run in it). */
  readonly workspaceRoot: string;
  /** Whether the workspace is trusted: only then do module and command rewards run. */
  readonly trusted: boolean;
}

/** GRPO (ONNX Runtime only) from `model` against the config's reward functions, by default the reward model. */
export function grpoJob(project: Project, config: GrpoConfig, options: GrpoJobOptions): StageJob {
  return {
    stage: 'grpo',
    kind: 'lm',
    optim: config.optim,
    seed: config.seed,
    from: () => {
      if (trainingEngine().name !== 'ort') throw new UserError(GRPO_ON_ORT_ONLY);
      return required(options.model, 'grpo');
    },
    loop: (m, optimizer, signal, resume) => withGrpoContext(project, m, options, config, (ctx) => grpo(m, ctx.reference, optimizer, ctx.sampler, ctx.rewards, ctx.data, config, signal, resume)),
  };
}

interface GrpoContext {
  readonly reference: LoadedModel | undefined;
  readonly sampler: RolloutSampler;
  readonly rewards: readonly RewardFunction[];
  readonly data: RolloutData;
}

/**
 * GRPO's reward functions (each reward model a frozen ONNX Runtime session), the reference (only
 * when β > 0) and the ORT sampler; all freed when the loop ends. Prompts are fitted as for PPO,
 * to the smallest context of the policy, the reference and every reward model.
 */
async function* withGrpoContext(
  project: Project,
  policy: LoadedModel,
  options: GrpoJobOptions,
  config: GrpoConfig,
  loop: (ctx: GrpoContext) => AsyncGenerator<StageEvent>,
): AsyncGenerator<StageEvent> {
  const texts = promptRecords(project, options.prompts);
  if (texts.length === 0) throw new UserError(`No prompts to train on in ${project.paths.dir}: import some with \`rlhf import prompts FILE\`.`);
  const tokenizer = policy.tokenizer;
  const rewardModels: LoadedModel[] = [];
  let reference: LoadedModel | undefined;
  let rewards: RewardFunction[] = [];
  let sampler: (RolloutSampler & { dispose(): Promise<void> }) | undefined;
  // A `rewardModel` entry: its folder (or builtin:afinn) as a reward function; the loader names and weighs it.
  const rewardModel = async (spec: RewardModelSpec): Promise<RewardFunction> => {
    const folder = spec.path ?? options.rewardModel;
    if (!folder) throw new UserError('grpo: a "rewardModel" entry in "rewards" needs a folder: set its "path", or the config\'s "rewardModel".');
    if (folder === 'builtin:afinn') return textRewardFunction('afinn', 1, afinnScore);
    if (folder.startsWith('builtin:')) throw new UserError(`Unknown built-in scorer '${folder}': the one built in is builtin:afinn.`);
    const rm = loadModel(required(folder, 'reward model'), 'reward');
    rewardModels.push(rm);
    const sampleTokens = (s: RewardSample): { prompt: number[]; response: number[] } => ({ prompt: tokenizer.encode(s.prompt), response: tokenizer.encode(s.completion) });
    return rewardModelFunction(rm, sampleTokens, tokenizer.eosTokenId, { name: 'rewardModel', weight: 1 });
  };
  try {
    rewards = await loadRewardFunctions(options.rewards ?? [{ type: 'rewardModel' }], { workspaceRoot: options.workspaceRoot, trusted: options.trusted, rewardModel });
    // A LoRA run's reference is its own base with the adapters off, unless one is named.
    if (config.beta > 0 && (options.reference || !policy.lora)) reference = loadModel(options.reference ?? options.model, 'lm');
    // Each reward model reads prompt + response + EOS.
    const context = Math.min(contextLength(policy.config), reference ? contextLength(reference.config) : Infinity, ...rewardModels.map((rm) => contextLength(rm.config) - 1));
    const fitted = fitPrompts('grpo', texts, tokenizer, context, config.maxNewTokens);
    if (fitted.note) yield { type: 'log', message: fitted.note };
    sampler = await ortRolloutSampler(policy, fitted.data.decode);
    yield* loop({ reference, sampler, rewards, data: fitted.data });
  } finally {
    await sampler?.dispose();
    for (const f of rewards) await f.dispose();
    for (const rm of rewardModels) disposeModel(rm);
    if (reference) disposeModel(reference);
  }
}
