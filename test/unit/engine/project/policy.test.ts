/** The rule for which model the project samples from (src/engine/project/policy.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Project } from '../../../../src/core/store/project';
import { currentPolicy, projectModels } from '../../../../src/engine/project/policy';
import { isUserError } from '../../../../src/core/errors';

test('policy: newest PPO/RLOO/DPO final, else newest SFT final, else project.json policy/sft/base', async () => {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-policy-'));
  try {
    const project = await Project.create(ws);
    assert.throws(
      () => currentPolicy(project),
      (e) => isUserError(e) && /models\.base/.test(e.message),
    );
    await project.updateMeta((m) => ({ ...m, models: { base: 'models/base' } }));
    assert.deepEqual(projectModels(project).policy, { path: path.join(ws, 'models', 'base'), from: 'project.json' });

    const sft = await project.runs.create('sft', {}, 'sft-1');
    await project.runs.addCheckpoint(sft.id, { stage: 'sft', step: 10, path: path.join(project.runs.dir(sft.id), 'checkpoints', 'sft', 'step-10') });
    // An interval checkpoint is not a result.
    assert.equal(projectModels(project).policy?.from, 'project.json');
    await project.runs.addCheckpoint(sft.id, { stage: 'sft', step: 20, path: path.join(project.runs.dir(sft.id), 'checkpoints', 'sft', 'final') });
    assert.deepEqual(projectModels(project).policy, { path: path.join(project.runs.dir(sft.id), 'checkpoints', 'sft', 'final'), from: 'run sft-1' });
    assert.equal(projectModels(project).sft?.from, 'run sft-1');

    const pipeline = await project.runs.create('demo', {}, 'demo-2');
    await project.runs.addCheckpoint(pipeline.id, { stage: 'reward', step: 5, path: path.join(project.runs.dir(pipeline.id), 'checkpoints', 'reward', 'final') });
    await project.runs.addCheckpoint(pipeline.id, { stage: 'ppo', step: 30, path: path.join(project.runs.dir(pipeline.id), 'checkpoints', 'ppo', 'final') });
    const models = projectModels(project);
    assert.deepEqual(models.policy, { path: path.join(project.runs.dir(pipeline.id), 'checkpoints', 'ppo', 'final'), from: 'run demo-2' });
    assert.equal(models.reward?.from, 'run demo-2');
    assert.equal(models.sft?.from, 'run sft-1');
    assert.equal(models.base?.from, 'project.json');

    // A newer SFT does not replace a trained policy.
    await new Promise((r) => setTimeout(r, 5));
    const sft2 = await project.runs.create('sft', {}, 'sft-3');
    await project.runs.addCheckpoint(sft2.id, { stage: 'sft', step: 20, path: path.join(project.runs.dir(sft2.id), 'checkpoints', 'sft', 'final') });
    assert.equal(projectModels(project).policy?.from, 'run demo-2');
    assert.equal(projectModels(project).sft?.from, 'run sft-3');
  } finally {
    fs.rmSync(ws, { recursive: true, force: true });
  }
});
