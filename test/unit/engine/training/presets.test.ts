/**
 * Stage presets become config files in .rlhf/configs/ with the models taken from the project:
 * the newest finished stage of a run, else the shipped tiny model; missing inputs are user
 * errors that say what to do. The files validate against the stage's config schema. A file the
 * user edited is used as it is when its preset is picked again; an unedited one is refreshed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Project } from '../../../../src/core/store/project';
import { readConfigFile, ppoFileSchema, rewardFileSchema, sftFileSchema } from '../../../../src/core/train/run/configs';
import { latestFinal } from '../../../../src/engine/project/policy';
import { presetEdited, writePresetConfig } from '../../../../src/engine/training/stageConfigs';

const ROOT = path.resolve(__dirname, '../../../..');

test('presets are written with models from the project, and say what is missing', async () => {
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-presets-'));
  try {
    const project = await Project.create(workspace, { name: 'presets' });
    // No runs yet: the reward model starts from the shipped tiny model.
    const { file: reward, edited } = writePresetConfig(project, 'reward', 'quick');
    assert.equal(reward, path.join(workspace, '.rlhf', 'configs', 'reward-quick.json'));
    assert.equal(edited, false);
    const r = readConfigFile(reward, rewardFileSchema);
    assert.equal(r.model, path.join(ROOT, 'models', 'tiny-default'));
    assert.equal(r.steps, 60);
    // PPO needs a reward model; SFT trains on the best-ranked completions unless sft-data.jsonl is there.
    assert.throws(() => writePresetConfig(project, 'ppo', 'quick'), /No reward model in .* yet: train one first \(RLHF: Train Reward Model\)/);
    assert.equal(readConfigFile(writePresetConfig(project, 'sft', 'quick').file, sftFileSchema).data, 'builtin:best-ranked');
    fs.writeFileSync(path.join(workspace, '.rlhf', 'configs', 'sft-data.jsonl'), '{"prompt": "a", "completion": "b"}\n');
    assert.equal(readConfigFile(writePresetConfig(project, 'sft', 'quick').file, sftFileSchema).data, 'sft-data.jsonl');
    assert.throws(() => writePresetConfig(project, 'dpo', 'nope'), /Unknown dpo preset 'nope': use one of quick, default/);

    // Finished stages of runs are found, newest first.
    const run = await project.runs.create('sft+reward', {}, 'run-a');
    const dir = project.runs.dir(run.id);
    await project.runs.addCheckpoint(run.id, { stage: 'sft', step: 10, path: path.join(dir, 'checkpoints', 'sft', 'step-000010') });
    assert.equal(latestFinal(project, 'sft'), undefined);
    await project.runs.addCheckpoint(run.id, { stage: 'sft', step: 20, path: path.join(dir, 'checkpoints', 'sft', 'final') });
    await project.runs.addCheckpoint(run.id, { stage: 'reward', step: 20, path: path.join(dir, 'checkpoints', 'reward', 'final') });
    const ppo = readConfigFile(writePresetConfig(project, 'ppo', 'quick').file, ppoFileSchema);
    assert.equal(ppo.model, path.join(dir, 'checkpoints', 'sft', 'final'));
    assert.equal(ppo.rewardModel, path.join(dir, 'checkpoints', 'reward', 'final'));
    assert.equal(ppo.iterations, 20);

    // The unedited reward file is refreshed with the newer SFT model when its preset is picked again.
    assert.equal(readConfigFile(writePresetConfig(project, 'reward', 'quick').file, rewardFileSchema).model, path.join(dir, 'checkpoints', 'sft', 'final'));
    // An edited file is used as the user saved it, picked again and after newer models.
    const ppoFile = path.join(workspace, '.rlhf', 'configs', 'ppo-quick.json');
    const mine = JSON.stringify({ ...ppo, iterations: 7, klCoef: 0.2 }, null, 4);
    fs.writeFileSync(ppoFile, mine);
    assert.equal(presetEdited(project, 'ppo', 'quick'), true);
    const run2 = await project.runs.create('reward', {}, 'run-b');
    await project.runs.addCheckpoint(run2.id, { stage: 'reward', step: 5, path: path.join(project.runs.dir(run2.id), 'checkpoints', 'reward', 'final') });
    assert.deepEqual(writePresetConfig(project, 'ppo', 'quick'), { file: ppoFile, edited: true });
    assert.equal(fs.readFileSync(ppoFile, 'utf8'), mine);
    // A preset never picked before is not "edited".
    assert.equal(presetEdited(project, 'rloo', 'quick'), false);
  } finally {
    fs.rmSync(workspace, { recursive: true, force: true });
  }
});
