/**
 * How each stage trains from its config file, declared once per stage (beside its name, title and
 * metrics in src/protocol/stages.ts): the file's zod schema (the CLI and the engine validate with
 * it; the editor's JSON schema and the CLI's help are generated from it) and how its fields
 * become a runnable job. src/core/train/run/configJobs.ts reads a file through it.
 */
import type { z } from 'zod';
import type { StageName } from '../../../protocol/stages';
import type { Project } from '../../store/project';
import type { Tokenizer } from '../../tokenizer/tokenizer';
import { UserError } from '../../errors';
import { BEST_RANKED, bestRankedExamples } from '../data/datasets';
import {
  dpoConfig,
  dpoFileSchema,
  ppoConfig,
  ppoFileSchema,
  pretrainConfig,
  pretrainFileSchema,
  rewardConfig,
  rewardFileSchema,
  rlooConfig,
  rlooFileSchema,
  grpoConfig,
  grpoFileSchema,
  sftConfig,
  sftFileSchema,
  configPath,
  loraSettings,
  readConfigFile,
} from '../run/configs';
import type { LoraFile } from '../run/configs';
import { dpoJob, grpoJob, ppoJob, pretrainJob, rewardJob, rlooJob, sftJob } from '../run/jobs';
import type { PolicyJobOptions } from '../run/jobs';
import type { StageJob } from '../run/runner';

/** What building a job needs besides the file's fields. */
export interface BuildContext {
  readonly project: Project;
  readonly runId: string;
  /** A path from the config file, resolved against its folder (builtin: names kept). */
  readonly at: (p: string) => string;
  /** Prompt texts from a file named in the config (one per line). */
  readonly promptFile: (file: string) => string[];
  /** Whether the workspace is trusted (only then do module and command rewards run). */
  readonly trusted: boolean;
}

/** The fields every config file has that the loader fills in (run id, seed). */
interface RunFields {
  readonly runId?: string | undefined;
  readonly seed?: number | undefined;
  readonly lora?: LoraFile | undefined;
}

/** What reading a config file needs: the file, the project, and how run ids and seeds are chosen (run/configJobs.ts). */
export interface LoadContext {
  readonly configFile: string;
  readonly project: Project;
  readonly identify: <F extends RunFields>(f: F) => { runId: string; f: F };
  readonly promptFile: (file: string) => string[];
  /** Whether the workspace is trusted: the CLI is; the engine is told by the extension. */
  readonly trusted: boolean;
}

export interface StageSpec {
  /** The config file's schema (strict: unknown fields are errors); the JSON schema in schemas/ is generated from it. */
  readonly fileSchema: z.ZodType;
  /** Reads and validates the file and builds the job; `config` is what the run's config.json keeps. */
  readonly load: (ctx: LoadContext) => { readonly runId: string; readonly job: StageJob; readonly config: object };
}

/** A stage from its file schema and how the file's fields (paths resolved) become its job and resolved config. */
function stage<F extends RunFields>(fileSchema: z.ZodType<F>, build: (f: F, ctx: BuildContext) => { readonly job: StageJob; readonly resolved: unknown }): StageSpec {
  return {
    fileSchema,
    load: (ctx) => {
      const { runId, f } = ctx.identify(readConfigFile(ctx.configFile, fileSchema));
      const built = build(f, { project: ctx.project, runId, at: (p) => configPath(ctx.configFile, p), promptFile: ctx.promptFile, trusted: ctx.trusted });
      // LoRA is the same for every stage: the job trains an adapter over its starting model.
      const job = f.lora ? { ...built.job, lora: loraSettings(f.lora) } : built.job;
      return { runId, job, config: { ...f, resolved: built.resolved } };
    },
  };
}

const optional = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } => (value === undefined ? {} : ({ [key]: value } as { [P in K]?: V }));

function policyOptions(f: { model: string; rewardModel: string; reference?: string | undefined; prompts?: string | undefined; ptxCorpus?: string | undefined }, ctx: BuildContext): PolicyJobOptions {
  return {
    model: ctx.at(f.model),
    scorer: ctx.at(f.rewardModel),
    ...optional('reference', f.reference && ctx.at(f.reference)),
    ...optional('prompts', f.prompts === undefined ? undefined : ctx.promptFile(ctx.at(f.prompts))),
    ...optional('ptxCorpus', f.ptxCorpus === undefined ? undefined : ctx.at(f.ptxCorpus)),
  };
}

export const STAGE_SPECS: Readonly<Record<StageName, StageSpec>> = {
  pretrain: stage(pretrainFileSchema, (f, ctx) => {
    const c = pretrainConfig(f);
    return { job: pretrainJob(ctx.project, ctx.runId, c, ctx.at(f.corpus), f.model && ctx.at(f.model)), resolved: c };
  }),
  sft: stage(sftFileSchema, (f, ctx) => {
    const c = sftConfig(f);
    const data = f.data === BEST_RANKED ? (tokenizer: Tokenizer) => bestRankedExamples(ctx.project, tokenizer) : ctx.at(f.data);
    return { job: sftJob(c, data, { model: ctx.at(f.model), ...optional('evalFraction', f.evalFraction) }), resolved: c };
  }),
  reward: stage(rewardFileSchema, (f, ctx) => {
    const c = rewardConfig(f);
    return { job: rewardJob(ctx.project, c, { model: ctx.at(f.model), ...optional('evalFraction', f.evalFraction), ...optional('includeSimulated', f.includeSimulated) }), resolved: c };
  }),
  dpo: stage(dpoFileSchema, (f, ctx) => {
    const c = dpoConfig(f);
    const options = {
      model: ctx.at(f.model),
      ...optional('reference', f.reference && ctx.at(f.reference)),
      ...optional('evalFraction', f.evalFraction),
      ...optional('includeSimulated', f.includeSimulated),
    };
    return { job: dpoJob(ctx.project, c, options), resolved: c };
  }),
  ppo: stage(ppoFileSchema, (f, ctx) => {
    const c = ppoConfig(f);
    return { job: ppoJob(ctx.project, c, policyOptions(f, ctx)), resolved: c };
  }),
  rloo: stage(rlooFileSchema, (f, ctx) => {
    const c = rlooConfig(f);
    return { job: rlooJob(ctx.project, c, policyOptions(f, ctx)), resolved: c };
  }),
  grpo: stage(grpoFileSchema, (f, ctx) => {
    if (!f.rewardModel && !f.rewards) throw new UserError('grpo: set "rewardModel" (a reward-model folder), "rewards" (reward functions), or both.');
    const c = grpoConfig(f);
    // A rewardModel entry's folder is relative to the config file, as every path in it.
    const rewards = f.rewards?.map((r) => (r.type === 'rewardModel' && r.path !== undefined ? { ...r, path: ctx.at(r.path) } : r));
    const options = {
      model: ctx.at(f.model),
      ...optional('reference', f.reference && ctx.at(f.reference)),
      ...optional('rewardModel', f.rewardModel && ctx.at(f.rewardModel)),
      ...optional('rewards', rewards),
      ...optional('prompts', f.prompts === undefined ? undefined : ctx.promptFile(ctx.at(f.prompts))),
      workspaceRoot: ctx.project.paths.workspace,
      trusted: ctx.trusted,
    };
    return { job: grpoJob(ctx.project, c, options), resolved: c };
  }),
};
