/**
 * Stage presets become config files in .rlhf/configs/ with the models taken from the project:
 * the newest finished stage of a run, else the shipped tiny model; missing inputs are user
 * errors that say what to do. The files validate against the stage's config schema.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Project } from '../../../src/core/store/project';
import { readConfigFile, ppoFileSchema, rewardFileSchema } from '../../../src/core/train/configs';
import { latestFinal, writePresetConfig } from '../../../src/engine/training/stageConfigs';

const ROOT = path.resolve(__dirname, '../../..');

test('presets are written with models from the project, and say what is missing', async () => {
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-presets-'));
  try {
    const project = await Project.create(workspace, { name: 'presets' });
    // No runs yet: the reward model starts from the shipped tiny model.
    const reward = writePresetConfig(project, 'reward', 'quick');
    assert.equal(reward, path.join(workspace, '.rlhf', 'configs', 'reward-quick.json'));
    const r = readConfigFile(reward, rewardFileSchema);
    assert.equal(r.model, path.join(ROOT, 'models', 'tiny-default'));
    assert.equal(r.steps, 60);
    // PPO needs a reward model; SFT needs the user's pairs.
    assert.throws(() => writePresetConfig(project, 'ppo', 'quick'), /No reward model in .* yet: train one first \(RLHF: Train Reward Model\)/);
    assert.throws(() => writePresetConfig(project, 'sft', 'quick'), /write them to .*sft-data\.jsonl/);
    assert.throws(() => writePresetConfig(project, 'dpo', 'nope'), /Unknown dpo preset 'nope': use one of quick, default/);

    // Finished stages of runs are found, newest first.
    const run = await project.runs.create('sft+reward', {}, 'run-a');
    const dir = project.runs.dir(run.id);
    await project.runs.addCheckpoint(run.id, { stage: 'sft', step: 10, path: path.join(dir, 'checkpoints', 'sft', 'step-000010') });
    assert.equal(latestFinal(project, 'sft'), undefined);
    await project.runs.addCheckpoint(run.id, { stage: 'sft', step: 20, path: path.join(dir, 'checkpoints', 'sft', 'final') });
    await project.runs.addCheckpoint(run.id, { stage: 'reward', step: 20, path: path.join(dir, 'checkpoints', 'reward', 'final') });
    const ppo = readConfigFile(writePresetConfig(project, 'ppo', 'quick'), ppoFileSchema);
    assert.equal(ppo.model, path.join(dir, 'checkpoints', 'sft', 'final'));
    assert.equal(ppo.rewardModel, path.join(dir, 'checkpoints', 'reward', 'final'));
    assert.equal(ppo.iterations, 20);
  } finally {
    fs.rmSync(workspace, { recursive: true, force: true });
  }
});
