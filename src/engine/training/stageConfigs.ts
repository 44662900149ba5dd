/**
 * Stage config files from presets: `.rlhf/configs/<stage>-<preset>.json`, with the models filled
 * in from the project (the newest finished stage of each kind, else project.json's models, else
 * the shipped tiny default). The file is what runs, so the user can open it, edit it, and run it
 * again as a config file; the editor validates it against the stage's JSON schema.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assetRoot } from '../../core/demo/demo';
import { UserError } from '../../core/errors';
import { writeJsonAtomic } from '../../core/store/fsx';
import type { Project } from '../../core/store/project';
import { STAGE_PRESETS } from './presets';
import type { TrainableStageKind } from './presets';

/** The folder for config files in a project (also the jsonValidation pattern's folder). */
export const configsDir = (project: Project): string => path.join(project.paths.dir, 'configs');

/** The final checkpoint of the newest run that finished `stage`, if any. */
export function latestFinal(project: Project, stage: string): string | undefined {
  for (const summary of [...project.runs.list()].reverse()) {
    const run = project.runs.get(summary.id);
    const final = run.checkpoints.find((c) => c.stage === stage && path.basename(c.path) === 'final');
    if (final) return path.resolve(project.runs.dir(run.id), final.path);
  }
  return undefined;
}

const fromProject = (project: Project, p: string | undefined): string | undefined => (p === undefined ? undefined : path.resolve(project.paths.workspace, p));

function baseModel(project: Project): string {
  return fromProject(project, project.meta.models.base) ?? path.join(assetRoot(), 'models', 'tiny-default');
}

function sftModel(project: Project): string {
  return latestFinal(project, 'sft') ?? fromProject(project, project.meta.models.sft) ?? baseModel(project);
}

function rewardModel(project: Project, file: string): string {
  const found = latestFinal(project, 'reward') ?? fromProject(project, project.meta.models.reward);
  if (!found) {
    throw new UserError(
      `No reward model in ${project.paths.workspace} yet: train one first (RLHF: Train Reward Model), or write a config with "rewardModel": "builtin:afinn" (e.g. edit ${file}) and run it as a config file.`,
    );
  }
  return found;
}

/** The model fields a stage's config needs, from the project. */
function modelFields(project: Project, stage: TrainableStageKind, file: string): Record<string, unknown> {
  switch (stage) {
    case 'sft':
      // SFT data is the user's own: the preset points at a file beside the config.
      return { model: baseModel(project), data: 'sft-data.jsonl' };
    case 'reward':
    case 'dpo':
      return { model: sftModel(project) };
    case 'ppo':
    case 'rloo':
      return { model: sftModel(project), rewardModel: rewardModel(project, file) };
  }
}

/** Writes `.rlhf/configs/<stage>-<preset>.json` for a preset and returns its path. */
export function writePresetConfig(project: Project, stage: TrainableStageKind, preset: string): string {
  const found = STAGE_PRESETS[stage][preset];
  if (!found) throw new UserError(`Unknown ${stage} preset '${preset}': use one of ${Object.keys(STAGE_PRESETS[stage]).join(', ')}.`);
  const file = path.join(configsDir(project), `${stage}-${preset}.json`);
  const body = { ...modelFields(project, stage, file), ...found.fields };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeJsonAtomic(file, body);
  if (stage === 'sft' && !fs.existsSync(path.join(path.dirname(file), 'sft-data.jsonl'))) {
    throw new UserError(
      `SFT trains on your prompt/completion pairs: write them to ${path.join(path.dirname(file), 'sft-data.jsonl')} (JSONL lines {"prompt": …, "completion": …}), then run the preset again or run ${file} as a config file.`,
    );
  }
  return file;
}
