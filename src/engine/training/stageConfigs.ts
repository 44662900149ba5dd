/**
 * Stage config files from presets: `.rlhf/configs/<stage>-<preset>.json`, with the models filled
 * in from the project (the newest final checkpoint of each kind by the time it was recorded,
 * policy.ts's latestFinal; else project.json's models, else the shipped tiny default). The file
 * is what runs, so the user can open it, edit it, and run it again as a config file; the editor
 * validates it against the stage's JSON schema.
 *
 * A preset picked again refreshes its file (newer models) only while the file is exactly what
 * the engine last wrote there: `.presets.json` beside the configs keeps a hash of each file it
 * wrote. A file the user edited (or wrote) is used as it is, never overwritten.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assetRoot } from '../../core/demo/demo';
import { UserError } from '../../core/errors';
import { writeFileAtomic, writeJsonAtomic } from '../../core/store/fsx';
import type { Project } from '../../core/store/project';
import { BEST_RANKED } from '../../core/train/data/datasets';
import { latestFinal } from '../project/policy';
import { STAGE_PRESETS } from './presets';
import { STAGE_INFO } from '../../protocol/stages';
import type { RunControlStage } from '../../protocol/stages';

/** The folder for config files in a project (also the jsonValidation pattern's folder). */
export const configsDir = (project: Project): string => path.join(project.paths.dir, 'configs');

/** An SFT data file the user writes beside the configs (TRL prompt/completion JSONL). */
const SFT_DATA_FILE = 'sft-data.jsonl';

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

/** The model fields a stage's config needs, from the project and what the stage starts from (STAGE_INFO). */
function modelFields(project: Project, stage: RunControlStage, file: string): Record<string, unknown> {
  const info = STAGE_INFO[stage];
  const model = info.startsFrom === 'sft' ? sftModel(project) : baseModel(project);
  const fields: Record<string, unknown> = { model, ...(info.rewardModel ? { rewardModel: rewardModel(project, file) } : {}) };
  // SFT's data: the user's own prompt/completion file beside the config when there is one; else
  // the project's best-ranked completions.
  if (stage === 'sft') fields.data = fs.existsSync(path.join(path.dirname(file), SFT_DATA_FILE)) ? SFT_DATA_FILE : BEST_RANKED;
  return fields;
}

const WRITTEN = '.presets.json';
const hash = (text: string): string => createHash('sha256').update(text).digest('hex');
const presetFile = (project: Project, stage: RunControlStage, preset: string): string => path.join(configsDir(project), `${stage}-${preset}.json`);

/** File name → hash of what the engine last wrote there. */
function written(project: Project): Record<string, string> {
  try {
    const parsed: unknown = JSON.parse(fs.readFileSync(path.join(configsDir(project), WRITTEN), 'utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string')) : {};
  } catch {
    return {};
  }
}

/** True when the preset's file exists and is not what the engine last wrote (the user's edit, kept as is). */
export function presetEdited(project: Project, stage: RunControlStage, preset: string): boolean {
  const file = presetFile(project, stage, preset);
  if (!fs.existsSync(file)) return false;
  return written(project)[path.basename(file)] !== hash(fs.readFileSync(file, 'utf8'));
}

/**
 * The config file for a preset, `.rlhf/configs/<stage>-<preset>.json`: written (or refreshed) from
 * the preset and the project's models unless the user edited it, in which case it is used as is
 * (`edited`).
 */
export function writePresetConfig(project: Project, stage: RunControlStage, preset: string): { file: string; edited: boolean } {
  const found = STAGE_PRESETS[stage][preset];
  if (!found) throw new UserError(`Unknown ${stage} preset '${preset}': use one of ${Object.keys(STAGE_PRESETS[stage]).join(', ')}.`);
  const file = presetFile(project, stage, preset);
  if (presetEdited(project, stage, preset)) return { file, edited: true };
  const text = JSON.stringify({ ...modelFields(project, stage, file), ...found.fields }, null, 2) + '\n';
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, text);
  writeJsonAtomic(path.join(configsDir(project), WRITTEN), { ...written(project), [path.basename(file)]: hash(text) });
  return { file, edited: false };
}
