/**
 * Which model folders the project uses now, from its runs and project.json:
 *
 *   policy (what completions are sampled from): the final checkpoint of the newest run stage
 *     that trains a policy (ppo, rloo, dpo); else the newest SFT final; else project.json
 *     models.policy, models.sft, models.base (the first that is set).
 *   sft:    the newest SFT final, else project.json models.sft.
 *   reward: the newest reward-model final, else project.json models.reward.
 *   base:   project.json models.base.
 *
 * "Newest" is by the time the checkpoint was recorded. Relative folders in project.json are
 * relative to the workspace folder.
 */
import { isPolicyStage } from '../../protocol/stages';
import * as path from 'node:path';
import { UserError } from '../../core/errors';
import type { Project } from '../../core/store/project';
import type { ModelView } from '../../protocol/engineProject';

export interface ProjectModels {
  readonly base?: ModelView;
  readonly sft?: ModelView;
  readonly reward?: ModelView;
  readonly policy?: ModelView;
}

/** A run's final checkpoint: its stage, when it was recorded, its folder and the run it is from. */
interface Final {
  readonly stage: string;
  readonly time: string;
  readonly path: string;
  readonly from: string;
}

/** Final checkpoints of every run, newest first (by the time each was recorded). */
function finalsOf(project: Project): Final[] {
  return project.runs
    .list()
    .flatMap((summary) => {
      const record = project.runs.get(summary.id);
      return record.checkpoints
        .filter((c) => path.basename(c.path) === 'final')
        .map((c) => ({ stage: c.stage, time: c.time, path: path.resolve(project.runs.dir(summary.id), c.path), from: `run ${summary.id}` }));
    })
    .sort((a, b) => b.time.localeCompare(a.time));
}

/** The newest of `finals` (from finalsOf) whose stage `accept` takes. */
function newestFinal(finals: readonly Final[], accept: (stage: string) => boolean): Final | undefined {
  return finals.find((f) => accept(f.stage));
}

/** The folder of the newest final checkpoint of `stage` in any run (by the time it was recorded), if any. */
export function latestFinal(project: Project, stage: string): string | undefined {
  return newestFinal(finalsOf(project), (s) => s === stage)?.path;
}

/** When the newest reward model and the newest trained policy (PPO, RLOO, DPO) were finished, from the runs. */
export function finishedTimes(project: Project): { reward?: string; policy?: string } {
  const finals = finalsOf(project);
  const reward = newestFinal(finals, (s) => s === 'reward')?.time;
  const policy = newestFinal(finals, isPolicyStage)?.time;
  return { ...(reward ? { reward } : {}), ...(policy ? { policy } : {}) };
}

export function projectModels(project: Project): ProjectModels {
  const finals = finalsOf(project);
  const newest = (pred: (stage: string) => boolean): ModelView | undefined => {
    const f = newestFinal(finals, pred);
    return f ? { path: f.path, from: f.from } : undefined;
  };
  const configured = (p: string | undefined): ModelView | undefined => (p === undefined ? undefined : { path: path.resolve(project.paths.workspace, p), from: 'project.json' });
  const models = project.meta.models;
  const sft = newest((s) => s === 'sft') ?? configured(models.sft);
  const base = configured(models.base);
  const policy = newest((s) => isPolicyStage(s)) ?? newest((s) => s === 'sft') ?? configured(models.policy) ?? sft ?? base;
  const reward = newest((s) => s === 'reward') ?? configured(models.reward);
  return { ...(base ? { base } : {}), ...(sft ? { sft } : {}), ...(reward ? { reward } : {}), ...(policy ? { policy } : {}) };
}

/** The policy folder, or a UserError that says how to set one. */
export function currentPolicy(project: Project): ModelView {
  const policy = projectModels(project).policy;
  if (!policy) {
    throw new UserError(
      `${project.paths.projectJson}: no model to sample from. Set "models.base" to a model folder (GPT-2, Llama, Qwen2/2.5 or Qwen3: config.json, safetensors weights, tokenizer.json), or train an SFT model first.`,
    );
  }
  return policy;
}
