/**
 * Training configs as users write them (JSON files for `rlhf train <stage> --config FILE`),
 * validated with zod so every error names the file and the field. Each stage's defaults come
 * from its DEFAULT_* object; a file only states what it changes. Relative paths resolve
 * against the config file's folder.
 */
import { errorMessage, SAFE_ID } from '../../../protocol/guards';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { UserError } from '../../errors';
import { describeIssue } from '../../store/jsonl';
import { DEFAULT_OPTIM } from '../optim';
import type { OptimConfig } from '../optim';
import { DEFAULT_PRETRAIN } from '../stages/pretrain';
import type { PretrainConfig } from '../stages/pretrain';
import { DEFAULT_SFT } from '../stages/sft';
import type { SftConfig } from '../stages/sft';
import { DEFAULT_REWARD } from '../stages/reward';
import type { RewardConfig } from '../stages/reward';
import { DEFAULT_DPO } from '../stages/dpo';
import { DEFAULT_PPO } from '../stages/ppo';
import type { PpoConfig } from '../stages/ppo';
import { DEFAULT_RLOO } from '../stages/rloo';
import type { RlooConfig } from '../stages/rloo';
import { DEFAULT_GRPO } from '../stages/grpo';
import type { GrpoConfig } from '../stages/grpo';
import { GRPO_LOSS_AGGREGATIONS } from '../../onnx/grpoGraph';
import { rewardsSchema } from '../../rewards/config';
import type { DpoConfig } from '../stages/dpo';
import type { LoraSettings } from '../../onnx/lora';

const positiveInt = z.int().min(1);
const optimSchema = z.strictObject({
  lr: z.number().gt(0).max(1).optional(),
  minLrRatio: z.number().min(0).max(1).optional(),
  warmupSteps: z.int().min(0).optional(),
  totalSteps: positiveInt.optional(),
  beta1: z.number().min(0).lt(1).optional(),
  beta2: z.number().min(0).lt(1).optional(),
  eps: z.number().gt(0).optional(),
  weightDecay: z.number().min(0).max(1).optional(),
  maxGradNorm: z.number().min(0).optional(),
});

const loraSchema = z
  .strictObject({
    r: positiveInt.max(4096).describe('Rank of the adapter: A is [r, in], B is [out, r].'),
    alpha: z.number().gt(0).max(1e6).describe('Scale: the adapter adds (alpha / r)·B·A to each targeted weight.'),
    dropout: z.number().min(0).lt(1).optional().describe("Dropout on the adapter's input while training (default 0)."),
    targetModules: z
      .array(z.string().min(1))
      .min(1)
      .describe('Linear modules to adapt, as PEFT names them: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] (Llama, Qwen) or ["c_attn", "c_proj", "c_fc"] (GPT-2).'),
  })
  .describe("LoRA: train a low-rank adapter (and the reward or value head) while the model's weights stay frozen. Checkpoints are PEFT adapter folders; the stage's final folder is the merged model.");

export type LoraFile = z.infer<typeof loraSchema>;

/** A config file's `lora` as the engine takes it (dropout defaults to 0). */
export const loraSettings = (f: LoraFile): LoraSettings => ({ r: f.r, alpha: f.alpha, dropout: f.dropout ?? 0, targetModules: f.targetModules });

const loopFields = {
  /** Run id to create (or resume, when it exists). Default: a fresh `<stage>-<time>` id. */
  runId: z.string().regex(SAFE_ID, 'letters, digits, _ . - only (starting with a letter or digit, no ..)').optional(),
  steps: positiveInt.max(10_000_000).optional(),
  batchSize: positiveInt.max(4096).optional(),
  evalEvery: z.int().min(0).optional(),
  checkpointEvery: z.int().min(0).optional(),
  seed: z.int().optional(),
  optim: optimSchema.optional(),
  lora: loraSchema.optional(),
};

export const pretrainFileSchema = z.strictObject({
  ...loopFields,
  model: z.string().min(1).optional().describe("The model to continue pretraining (an HF folder). Default: the shipped tiny default's architecture, fresh weights."),
  corpus: z.string().min(1).describe('A UTF-8 text file, or "builtin:moby-dick".'),
  blockSize: positiveInt.max(8192).optional(),
  evalBatches: z.int().min(0).max(1000).optional(),
});

export const sftFileSchema = z.strictObject({
  ...loopFields,
  model: z.string().min(1).describe('The base model folder.'),
  data: z.string().min(1).describe('JSONL of {"prompt": …, "completion": …} (TRL\'s prompt-completion format), or "builtin:best-ranked" (the project\'s first-ranked completions).'),
  maxLen: positiveInt.max(8192).optional(),
  evalFraction: z.number().min(0).max(0.5).optional().describe('Fraction of examples held out for eval loss.'),
});

export const rewardFileSchema = z.strictObject({
  ...loopFields,
  model: z.string().min(1).describe('The SFT model the reward model starts from (its LM head is replaced by a scalar head).'),
  maxLen: positiveInt.max(8192).optional(),
  margin: z.number().min(0).max(100).optional(),
  evalFraction: z.number().min(0).max(0.5).optional().describe('Fraction of ranked prompts held out for accuracy.'),
  includeSimulated: z.boolean().optional().describe("Also train on simulated rankings (default: the project's setting)."),
});

export type PretrainFile = z.infer<typeof pretrainFileSchema>;
export type SftFile = z.infer<typeof sftFileSchema>;
export type RewardFile = z.infer<typeof rewardFileSchema>;

/** Read and validate a JSON config file; errors name the file and the field. */
export function readConfigFile<T>(file: string, schema: z.ZodType<T>): T {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`${file}: cannot read the config (${(err as NodeJS.ErrnoException).code ?? String(err)}).`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new UserError(`${file}: not valid JSON (${errorMessage(err)}).`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new UserError(`${file}: ${describeIssue(parsed.error)}`);
  return parsed.data;
}

/** A path from a config file, resolved against the file's folder (builtin: names kept). */
export function configPath(configFile: string, p: string): string {
  return p.startsWith('builtin:') ? p : path.resolve(path.dirname(configFile), p);
}

function optim(base: OptimConfig, over: z.infer<typeof optimSchema> | undefined, steps: number): OptimConfig {
  return { ...DEFAULT_OPTIM, ...base, totalSteps: steps, ...stripUndefined(over ?? {}) };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function pretrainConfig(f: Partial<PretrainFile>): PretrainConfig {
  const steps = f.steps ?? DEFAULT_PRETRAIN.steps;
  const { runId: _r, lora: _lora, model: _m, corpus: _c, optim: o, ...rest } = f;
  return { ...DEFAULT_PRETRAIN, ...stripUndefined(rest), steps, optim: optim(DEFAULT_PRETRAIN.optim, o, steps) };
}

export function sftConfig(f: Partial<SftFile>): SftConfig {
  const steps = f.steps ?? DEFAULT_SFT.steps;
  const { runId: _r, lora: _lora, model: _m, data: _d, evalFraction: _e, optim: o, ...rest } = f;
  return { ...DEFAULT_SFT, ...stripUndefined(rest), steps, optim: optim(DEFAULT_SFT.optim, o, steps) };
}

export function rewardConfig(f: Partial<RewardFile>): RewardConfig {
  const steps = f.steps ?? DEFAULT_REWARD.steps;
  const { runId: _r, lora: _lora, model: _m, evalFraction: _e, includeSimulated: _s, optim: o, ...rest } = f;
  return { ...DEFAULT_REWARD, ...stripUndefined(rest), steps, optim: optim(DEFAULT_REWARD.optim, o, steps) };
}

export const dpoFileSchema = z.strictObject({
  ...loopFields,
  model: z.string().min(1).describe('The SFT model the policy starts from.'),
  reference: z.string().min(1).optional().describe('The frozen reference model. Default: the same folder as "model".'),
  maxLen: positiveInt.max(8192).optional(),
  beta: z.number().gt(0).max(100).optional(),
  labelSmoothing: z.number().min(0).lt(0.5).optional().describe('Conservative DPO: the assumed chance a label is flipped.'),
  evalFraction: z.number().min(0).max(0.5).optional().describe('Fraction of ranked prompts held out for accuracy.'),
  includeSimulated: z.boolean().optional().describe("Also train on simulated rankings (default: the project's setting)."),
});

export type DpoFile = z.infer<typeof dpoFileSchema>;

export function dpoConfig(f: Partial<DpoFile>): DpoConfig {
  const steps = f.steps ?? DEFAULT_DPO.steps;
  const { runId: _r, lora: _lora, model: _m, reference: _ref, evalFraction: _e, includeSimulated: _s, optim: o, ...rest } = f;
  return { ...DEFAULT_DPO, ...stripUndefined(rest), steps, optim: optim(DEFAULT_DPO.optim, o, steps) };
}

const policyFields = {
  runId: loopFields.runId,
  model: z.string().min(1).describe('The SFT model the policy starts from; also the frozen reference unless "reference" is set.'),
  reference: z.string().min(1).optional(),
  rewardModel: z.string().min(1).describe('A reward-model folder, or "builtin:afinn" (sentiment of the text, as the demo\'s labeler).'),
  prompts: z.string().min(1).optional().describe("A prompts file (one per line); default: the project's prompts."),
  iterations: positiveInt.max(1_000_000).optional(),
  temperature: z.number().gt(0).max(10).optional(),
  maxNewTokens: positiveInt.max(4096).optional(),
  klCoef: z.number().min(0).max(100).optional(),
  klEstimator: z.enum(['k1', 'k3']).optional(),
  clipRange: z.number().gt(0).max(10).optional(),
  sampleEvery: z.int().min(0).optional(),
  checkpointEvery: z.int().min(0).optional(),
  seed: z.int().optional(),
  optim: optimSchema.optional(),
  lora: loraSchema.optional(),
};

export const ppoFileSchema = z.strictObject({
  ...policyFields,
  rolloutBatch: positiveInt.max(4096).optional(),
  miniBatches: positiveInt.max(4096).optional(),
  ppoEpochs: positiveInt.max(100).optional(),
  topP: z.number().gt(0).max(1).optional(),
  gamma: z.number().min(0).max(1).optional(),
  lam: z.number().min(0).max(1).optional(),
  clipRangeValue: z.number().gt(0).max(100).optional(),
  vfCoef: z.number().min(0).max(100).optional(),
  entCoef: z.number().min(0).max(10).optional(),
  adaptiveKl: z
    .strictObject({ target: z.number().gt(0), horizon: z.number().gt(0) })
    .nullable()
    .optional(),
  scoreNorm: z.enum(['running', 'none']).optional(),
  scoreClip: z.number().gt(0).optional(),
  missingEosPenalty: z.number().optional(),
  whitenAdvantages: z.boolean().optional(),
  targetApproxKl: z.number().min(0).optional(),
  ptxCoef: z.number().min(0).max(100).optional(),
  ptxBatch: positiveInt.max(1024).optional(),
  ptxBlockSize: positiveInt.max(8192).optional(),
  ptxCorpus: z.string().min(1).optional().describe('PPO-ptx corpus: a text file or "builtin:moby-dick" (required when ptxCoef > 0).'),
});

export const rlooFileSchema = z.strictObject({
  ...policyFields,
  promptsPerIteration: positiveInt.max(4096).optional(),
  k: z.int().min(2).max(64).optional(),
  miniBatches: positiveInt.max(4096).optional(),
  epochs: positiveInt.max(100).optional(),
  normalizeAdvantages: z.boolean().optional(),
});

export type PpoFile = z.infer<typeof ppoFileSchema>;
export type RlooFile = z.infer<typeof rlooFileSchema>;

export function ppoConfig(f: Partial<PpoFile>): PpoConfig {
  const { runId: _r, lora: _lora, model: _m, reference: _ref, rewardModel: _rm, prompts: _p, ptxCorpus: _c, optim: o, ...rest } = f;
  const c = { ...DEFAULT_PPO, ...stripUndefined(rest) } as PpoConfig;
  if (c.ptxCoef > 0 && !f.ptxCorpus) throw new UserError('ptxCoef > 0 needs "ptxCorpus" (a text file or "builtin:moby-dick").');
  return { ...c, optim: optim(DEFAULT_PPO.optim, o, c.iterations * c.ppoEpochs * c.miniBatches) };
}

export function rlooConfig(f: Partial<RlooFile>): RlooConfig {
  const { runId: _r, lora: _lora, model: _m, reference: _ref, rewardModel: _rm, prompts: _p, optim: o, ...rest } = f;
  const c = { ...DEFAULT_RLOO, ...stripUndefined(rest) } as RlooConfig;
  return { ...c, optim: optim(DEFAULT_RLOO.optim, o, c.iterations * c.epochs * c.miniBatches) };
}

export const grpoFileSchema = z.strictObject({
  runId: loopFields.runId,
  model: z.string().min(1).describe('The SFT model the policy starts from; also the frozen reference (when beta > 0) unless "reference" is set.'),
  reference: z.string().min(1).optional(),
  rewardModel: z
    .string()
    .min(1)
    .optional()
    .describe('A reward-model folder, or "builtin:afinn". Without "rewards" it is the whole reward (required then); with them, the folder of their "rewardModel" entries.'),
  rewards: rewardsSchema.optional(),
  prompts: policyFields.prompts,
  iterations: positiveInt.max(1_000_000).optional(),
  promptsPerIteration: positiveInt.max(4096).optional(),
  numGenerations: z.int().min(2).max(256).optional().describe('G: completions sampled per prompt; advantages are relative to the group.'),
  miniBatches: positiveInt.max(4096).optional(),
  numIterations: positiveInt.max(100).optional().describe("Passes over each iteration's completions (TRL's num_iterations); past the first, importance ratios against the old log-probs apply."),
  temperature: z.number().gt(0).max(10).optional(),
  topP: z.number().gt(0).max(1).optional(),
  maxNewTokens: positiveInt.max(4096).optional(),
  beta: z.number().min(0).max(100).optional().describe('KL coefficient on the per-token k3 estimate; 0 (default, as TRL): no reference model is loaded.'),
  epsilon: z.number().gt(0).lt(1).optional().describe('Clip range of the importance ratio (below 1).'),
  epsilonHigh: z.number().gt(0).max(10).optional().describe("Clip range above 1 (DAPO's clip-higher, e.g. 0.28). Default: epsilon."),
  scaleRewards: z.enum(['group', 'none']).optional().describe('"group": advantages are (r − group mean) / group std; "none": r − group mean (Dr. GRPO).'),
  lossAggregation: z
    .enum(GRPO_LOSS_AGGREGATIONS)
    .optional()
    .describe('"sequence-mean" (GRPO: mean over each completion, then over completions), "token-mean" (DAPO; the default), "constant" (Dr. GRPO: sum / (completions × maxNewTokens)).'),
  filterZeroStdGroups: z.boolean().optional().describe('Leave out groups whose rewards all tie (no signal).'),
  sampleEvery: z.int().min(0).optional(),
  checkpointEvery: z.int().min(0).optional(),
  seed: z.int().optional(),
  optim: optimSchema.optional(),
  lora: loraSchema.optional(),
});

export type GrpoFile = z.infer<typeof grpoFileSchema>;

export function grpoConfig(f: Partial<GrpoFile>): GrpoConfig {
  const { runId: _r, lora: _lora, model: _m, reference: _ref, rewardModel: _rm, rewards: _rw, prompts: _p, optim: o, ...rest } = f;
  const c = { ...DEFAULT_GRPO, ...stripUndefined(rest) } as GrpoConfig;
  // The upper clip follows epsilon unless set.
  const resolved = { ...c, epsilonHigh: f.epsilonHigh ?? c.epsilon };
  return { ...resolved, optim: optim(DEFAULT_GRPO.optim, o, c.iterations * c.numIterations * c.miniBatches) };
}
