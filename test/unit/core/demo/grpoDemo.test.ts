/**
 * The GRPO demo at a tiny budget: it runs SFT → GRPO on the shipped tiny model, writes its reward
 * module into the project only when the project has none (never over the user's copy, which it
 * then uses), streams the per-function reward metrics, and measures the policy before and after
 * by the same functions. A demo run left unfinished is found again by its run-id kind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { unfinishedDemoRun } from '../../../../src/core/demo/demo';
import { DEFAULT_GRPO_DEMO, runGrpoDemo } from '../../../../src/core/demo/grpoDemo';
import type { GrpoDemoConfig } from '../../../../src/core/demo/grpoDemo';
import { Project } from '../../../../src/core/store/project';

const ROOT = path.resolve(__dirname, '../../../..');

const TINY: GrpoDemoConfig = {
  ...DEFAULT_GRPO_DEMO,
  sft: { ...DEFAULT_GRPO_DEMO.sft, steps: 6, evalEvery: 3, checkpointEvery: 3, optim: { ...DEFAULT_GRPO_DEMO.sft.optim, totalSteps: 6 } },
  sftExamples: 64,
  grpo: { ...DEFAULT_GRPO_DEMO.grpo, iterations: 2, promptsPerIteration: 3, numGenerations: 2, miniBatches: 1, maxNewTokens: 8, sampleEvery: 1, checkpointEvery: 1 },
  evaluation: { ...DEFAULT_GRPO_DEMO.evaluation, maxNewTokens: 8, n: 1 },
  evaluationPrompts: 6,
};

test('the GRPO demo writes its reward module into a fresh project, trains, and measures by the functions', async () => {
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-grpo-demo-'));
  try {
    const s = await runGrpoDemo(workspace, TINY);
    assert.equal(s.rewardFileWritten, true);
    assert.equal(fs.readFileSync(s.rewardFile, 'utf8'), fs.readFileSync(path.join(ROOT, 'assets', 'demo', 'rewards', 'nautical.ts'), 'utf8'));
    for (const side of [s.before, s.after]) {
      assert.deepEqual(Object.keys(side.perFunction).sort(), ['nautical', 'sentence']);
      for (const v of Object.values(side.perFunction)) assert.ok(v >= 0 && v <= 1, `a 0/1 function's mean in [0, 1]: ${v}`);
      // reward = nautical + 0.5 × sentence, averaged over the same samples.
      assert.ok(Math.abs(side.reward - (side.perFunction.nautical! + 0.5 * side.perFunction.sentence!)) < 1e-9);
    }
    assert.equal(s.before.kl, 0, 'the SFT model against itself');
    const metrics = fs.readFileSync(path.join(s.runDir, 'metrics.jsonl'), 'utf8');
    assert.match(metrics, /"rewards\/nautical\/mean"/);
    assert.match(metrics, /"rewards\/sentence\/mean"/);
    assert.ok(fs.existsSync(path.join(s.policyFinal, 'model.safetensors')));
    const project = await Project.open(workspace);
    assert.equal(unfinishedDemoRun(project, 'demo-grpo'), undefined, 'the run completed');
  } finally {
    fs.rmSync(workspace, { recursive: true, force: true });
  }
});

test("the GRPO demo never overwrites the project's reward module: it scores with the user's copy", async () => {
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-grpo-demo-'));
  try {
    const mine = path.join(workspace, '.rlhf', 'rewards', 'nautical.ts');
    fs.mkdirSync(path.dirname(mine), { recursive: true });
    const text = '// my own\nexport default (samples: { completion: string }[]): number[] => samples.map(() => 1);\n';
    fs.writeFileSync(mine, text);
    const s = await runGrpoDemo(workspace, { ...TINY, grpo: { ...TINY.grpo, iterations: 1 } });
    assert.equal(s.rewardFileWritten, false);
    assert.equal(fs.readFileSync(mine, 'utf8'), text);
    assert.equal(s.before.perFunction.nautical, 1);
    assert.equal(s.after.perFunction.nautical, 1);
  } finally {
    fs.rmSync(workspace, { recursive: true, force: true });
  }
});

test('an unfinished demo run is found by its kind (the sentiment demo and the GRPO demo apart)', async () => {
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-demo-runs-'));
  try {
    const project = await Project.create(workspace, { name: 'runs' });
    await project.runs.create('sft+reward+ppo', {}, '20261130-145820-demo-1d6442');
    await project.runs.create('sft+grpo', {}, '20261130-150000-demo-grpo-a1b2c3');
    await project.runs.create('sft+grpo', {}, '20261130-150100-demo-grpo-d4e5f6');
    await project.runs.update('20261130-150100-demo-grpo-d4e5f6', { state: 'completed' });
    await project.runs.create('ppo', {}, '20261130-150200-ppo-abcdef');
    assert.equal(unfinishedDemoRun(project, 'demo'), '20261130-145820-demo-1d6442');
    assert.equal(unfinishedDemoRun(project, 'demo-grpo'), '20261130-150000-demo-grpo-a1b2c3');
    await project.runs.update('20261130-145820-demo-1d6442', { state: 'completed' });
    assert.equal(unfinishedDemoRun(project, 'demo'), undefined);
  } finally {
    fs.rmSync(workspace, { recursive: true, force: true });
  }
});
