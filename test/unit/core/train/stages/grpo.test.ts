/**
 * GRPO: group advantages and reward sums against hand values; on the toy task, a reward function
 * defined here has its mean raised within a tiny budget at bounded KL; unscorable completions,
 * tied groups, cancel (between iterations and while scoring), the tfjs engine's refusal; the
 * reward model as a reward function; and `rlhf train grpo` end to end with a resume.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initCompute } from '../../../../../src/core/compute/backend';
import { saveCheckpoint } from '../../../../../src/core/model/checkpoint';
import { initParams } from '../../../../../src/core/model/gpt2';
import { initHead } from '../../../../../src/core/model/heads';
import type { RewardFunction, RewardSample } from '../../../../../src/core/rewards/types';
import { Project } from '../../../../../src/core/store/project';
import { byteLevelTokenizerJson } from '../../../../../src/core/tokenizer/byteLevel';
import { setTrainingEngine } from '../../../../../src/core/train/engine';
import { weightsOf } from '../../../../../src/core/train/model';
import { AdamW } from '../../../../../src/core/train/optim';
import { rewardModelFunction } from '../../../../../src/core/train/rewardModelFunction';
import { ortRolloutSampler } from '../../../../../src/core/train/rollout/samplers';
import type { StageEvent } from '../../../../../src/core/train/stage';
import { combineRewards, DEFAULT_GRPO, groupAdvantages, grpo } from '../../../../../src/core/train/stages/grpo';
import type { GrpoConfig } from '../../../../../src/core/train/stages/grpo';
import { runCli } from '../../../../../src/cli/main';
import { capture, writeConfig } from '../cliHelpers';
import { lowercaseShare, meanOf, series, tokenizer, toyConfig, toyData, toyModels } from '../toy';

before(async () => {
  await initCompute('wasm');
});

test('group advantages: (r − group mean) / (group std + 1e-4) with the sample std, or r − mean without scaling; ties and lone members get 0', () => {
  // Group 0: mean 2, std √((1 + 0 + 1) / 2) = 1. Group 1 ties (std 0). Group 2: 0 and 1, mean ½, std √(½). Group 3: one member.
  const rewards = [1, 2, 3, 5, 5, 5, 0, 1, 7];
  const groups = [0, 0, 0, 1, 1, 1, 2, 2, 3];
  const scaled = groupAdvantages(rewards, groups, 'group');
  const s2 = Math.SQRT1_2;
  const want = [-1 / 1.0001, 0, 1 / 1.0001, 0, 0, 0, -0.5 / (s2 + 1e-4), 0.5 / (s2 + 1e-4), 0];
  scaled.advantages.forEach((a, i) => assert.ok(Math.abs(a - (want[i] as number)) < 1e-12, `advantage ${i}: ${a} vs ${want[i]}`));
  assert.deepEqual(
    scaled.std.map((s) => Number(s.toFixed(12))),
    [1, 1, 1, 0, 0, 0, s2, s2, 0].map((s) => Number(s.toFixed(12))),
  );
  assert.deepEqual(groupAdvantages(rewards, groups, 'none').advantages, [-1, 0, 1, 0, 0, 0, -0.5, 0.5, 0]);
});

test('combined rewards: Σ weight × value; a sample any function could not score is null', () => {
  const total = combineRewards(
    [
      { weight: 1, values: [1, 0, 0.5, null] },
      { weight: -0.5, values: [2, 4, null, 1] },
    ],
    4,
  );
  assert.deepEqual(total, [0, -2, null, null]);
});

/** A reward function written as a workspace module would be: here, one defined in the test. */
function rewardFunction(name: string, weight: number, score: (s: RewardSample, i: number) => number | null): RewardFunction & { calls: number; disposed: boolean } {
  const f = {
    name,
    weight,
    calls: 0,
    disposed: false,
    score: async (samples: readonly RewardSample[], report: (p: { name: string; source: string; sample: number | null; message: string }) => void) => {
      f.calls += 1;
      return samples.map((s, i) => {
        const v = score(s, i);
        if (v === null) report({ name, source: 'test', sample: i, message: 'no score for this one' });
        return v;
      });
    },
    dispose: async () => {
      f.disposed = true;
    },
  };
  return f;
}

/** Runs GRPO on the toy models with `rewards`; the events, and the policy's final weights. */
async function run(rewards: readonly RewardFunction[], config: GrpoConfig, signal?: AbortSignal, onEvent?: (e: StageEvent) => void): Promise<{ events: StageEvent[]; error?: unknown }> {
  const { policy, reference, dispose } = toyModels(3, false);
  const sampler = await ortRolloutSampler(policy, toyData.decode);
  const optimizer = new AdamW(tf, config.optim);
  const events: StageEvent[] = [];
  try {
    for await (const e of grpo(policy, reference, optimizer, sampler, rewards, toyData, config, signal)) {
      events.push(e);
      onEvent?.(e);
    }
    return { events };
  } catch (error) {
    return { events, error };
  } finally {
    await sampler.dispose();
    optimizer.dispose();
    dispose();
  }
}

const small: GrpoConfig = {
  ...DEFAULT_GRPO,
  iterations: 2,
  promptsPerIteration: 2,
  numGenerations: 4,
  miniBatches: 2,
  maxNewTokens: 6,
  sampleEvery: 1,
  checkpointEvery: 0,
};

test('GRPO raises a reward function’s mean on a toy task within a tiny budget, at bounded KL', async () => {
  const lowercase = rewardFunction('lowercase', 1, (s) => lowercaseShare(s.completion));
  // A second function with a small weight: its own metric, and its share of the summed reward.
  const spaces = rewardFunction('spaces', 0.25, (s) => (s.completion.length ? [...s.completion].filter((c) => c === ' ').length / s.completion.length : 0));
  const config: GrpoConfig = {
    ...DEFAULT_GRPO,
    iterations: 30,
    promptsPerIteration: 4,
    numGenerations: 4,
    miniBatches: 2,
    numIterations: 2,
    temperature: 1,
    maxNewTokens: 12,
    beta: 0.2,
    epsilonHigh: 0.28,
    sampleEvery: 10,
    checkpointEvery: 0,
    optim: { ...DEFAULT_GRPO.optim, lr: 2e-3, totalSteps: 30 * 2 * 2 },
  };
  const { events, error } = await run([lowercase, spaces], config);
  assert.equal(error, undefined);
  const means = series(events, 'rewards/lowercase/mean');
  const first = meanOf(means.slice(0, 3));
  const last = meanOf(means.slice(-3));
  const kl = series(events, 'kl');
  console.log(`toy GRPO: lowercase share ${first.toFixed(3)} → ${last.toFixed(3)}, max KL ${Math.max(...kl).toFixed(3)}`);
  assert.ok(last > first + 0.25, `the mean went from ${first.toFixed(3)} to ${last.toFixed(3)}`);
  assert.equal(kl.length, 30);
  assert.ok(Math.max(...kl) < 2.5, `KL stays bounded (max ${Math.max(...kl)})`);
  // TRL's metric names, every iteration.
  const record = events.find((e) => e.type === 'metrics');
  assert.ok(record?.type === 'metrics');
  for (const name of [
    'reward',
    'reward_std',
    'frac_reward_zero_std',
    'kl',
    'clip_ratio',
    'completions/mean_length',
    'completions/clipped_ratio',
    'loss',
    'lr',
    'grad_norm',
    'rewards/lowercase/mean',
    'rewards/spaces/mean',
  ]) {
    assert.equal(series(events, name).length, 30, name);
  }
  // reward = Σ weight × value, in the mean.
  const reward = series(events, 'reward');
  const spacesMean = series(events, 'rewards/spaces/mean');
  reward.forEach((r, i) => assert.ok(Math.abs(r - ((means[i] as number) + 0.25 * (spacesMean[i] as number))) < 1e-9));
  assert.deepEqual(series(events, 'completions/mean_length').slice(0, 1), [12]);
  assert.deepEqual(series(events, 'completions/clipped_ratio').slice(0, 1), [1]); // no EOS in the toy: every completion runs to maxNewTokens
  // samples.jsonl rows: the first group, with each function's value and the KL.
  const samples = events.flatMap((e) => (e.type === 'samples' ? e.samples : []));
  assert.equal(samples.length, 4 * 4); // iterations 1, 10, 20, 30
  for (const s of samples) {
    assert.ok(s.rewards && typeof s.rewards.lowercase === 'number' && typeof s.rewards.spaces === 'number');
    assert.ok(Math.abs((s.score as number) - (s.rewards.lowercase as number) - 0.25 * (s.rewards.spaces as number)) < 1e-9);
    assert.ok(typeof s.kl === 'number' && s.kl >= 0);
  }
  assert.equal(lowercase.disposed, false, 'the stage leaves disposal to whoever loaded the functions');
});

test('a completion a function cannot score is left out and logged; all-tied groups give zero advantages, or are dropped with filterZeroStdGroups', async () => {
  // Row i of each iteration: the function cannot score rows 0 and 5.
  const picky = rewardFunction('picky', 1, (s, i) => (i === 0 || i === 5 ? null : lowercaseShare(s.completion)));
  const { events, error } = await run([picky], small);
  assert.equal(error, undefined);
  const logs = events.flatMap((e) => (e.type === 'log' ? [e.message] : []));
  assert.ok(
    logs.some((l) => /grpo: iteration 1: reward function 'picky' could not score 2 of 8 completions; they are left out \(test, sample 0: no score for this one; 1 more\)/.test(l)),
    logs.join('\n'),
  );
  const samples = events.flatMap((e) => (e.type === 'samples' ? e.samples : []));
  assert.equal(samples[0]?.score, null);
  assert.deepEqual(samples[0]?.rewards, { picky: null });
  assert.equal(samples[0]?.kl, null, 'β = 0: no reference, no KL');
  assert.equal(series(events, 'kl').length, 0);
  assert.equal(series(events, 'loss').length, 2);

  // A constant reward: every group ties.
  const flat = rewardFunction('flat', 1, () => 1);
  const kept = await run([flat], small);
  assert.deepEqual(series(kept.events, 'frac_reward_zero_std'), [1, 1]);
  assert.deepEqual(series(kept.events, 'reward_std'), [0, 0]);
  assert.deepEqual(series(kept.events, 'loss'), [0, 0], 'zero advantages and β = 0: a zero loss');
  const filtered = await run([flat], { ...small, filterZeroStdGroups: true });
  assert.equal(series(filtered.events, 'loss').length, 0, 'nothing trained on');
  assert.deepEqual(series(filtered.events, 'frac_reward_zero_std'), [1, 1]);
  assert.ok(filtered.events.some((e) => e.type === 'log' && /grpo: iteration 1: no completion to train on \(every group tied\); the policy is unchanged/.test(e.message)));
});

test('cancel: between iterations, and while the reward functions score, each leaves a cancel checkpoint', async () => {
  const controller = new AbortController();
  const steady = rewardFunction('steady', 1, (s) => lowercaseShare(s.completion));
  const between = await run([steady], { ...small, iterations: 5 }, controller.signal, (e) => {
    if (e.type === 'metrics' && e.record.step === 2) controller.abort();
  });
  assert.equal((between.error as Error).name, 'AbortError');
  const last = between.events[between.events.length - 1];
  assert.ok(last?.type === 'checkpoint' && last.reason === 'cancel' && last.step === 2 && last.snapshot, JSON.stringify(last?.type));

  // Cancelled while scoring iteration 2: the checkpoint is iteration 1's weights, the update never ran.
  const during = new AbortController();
  let calls = 0;
  const slow: RewardFunction = {
    name: 'slow',
    weight: 1,
    score: async (samples, _report, signal) => {
      if (calls++ === 1) during.abort();
      signal?.throwIfAborted();
      return samples.map((s) => lowercaseShare(s.completion));
    },
    dispose: async () => undefined,
  };
  const mid = await run([slow], { ...small, iterations: 5 }, during.signal);
  assert.equal((mid.error as Error).name, 'AbortError');
  const end = mid.events[mid.events.length - 1];
  assert.ok(end?.type === 'checkpoint' && end.reason === 'cancel' && end.step === 1, JSON.stringify(end));
  assert.equal(series(mid.events, 'reward').length, 1);
});

test('GRPO on the tfjs engine is a clear error', async () => {
  setTrainingEngine('tfjs');
  try {
    const { error } = await run([rewardFunction('x', 1, () => 0)], small);
    assert.match((error as Error).message, /GRPO trains on the ONNX Runtime engine only/);
  } finally {
    setTrainingEngine('ort');
  }
});

test('the reward model as a reward function: each completion scored after its prompt, the same alone as in a padded batch', async () => {
  const rm = (): { config: typeof toyConfig; params: Record<string, tf.Variable> } => ({ config: toyConfig, params: { ...initParams(toyConfig, 8), ...initHead(toyConfig, 'reward', 9) } });
  const tokens = (s: RewardSample): { prompt: number[]; response: number[] } => ({ prompt: tokenizer.encode(s.prompt), response: tokenizer.encode(s.completion) });
  // Each instance takes its model's weights into its session: two instances, two models of the same seed.
  const batched = await rewardModelFunction(rm(), tokens, 256, { name: 'rm', weight: 1 });
  const single = await rewardModelFunction(rm(), tokens, 256, { name: 'rm', weight: 1 });
  try {
    const samples = [
      { prompt: 'The sea ', completion: 'was calm' },
      { prompt: 'A whale and a ship ', completion: '!' },
      { prompt: 'Ahab ', completion: 'looked out to sea for days' },
    ];
    const all = await batched.score(samples, () => undefined);
    assert.equal(all.length, 3);
    assert.equal(new Set(all).size, 3, 'different texts, different scores');
    for (const [i, s] of samples.entries()) {
      const [alone] = await single.score([s], () => undefined);
      assert.ok(Math.abs((alone as number) - (all[i] as number)) < 1e-4, `sample ${i}: ${alone} alone vs ${all[i]} in the batch`);
    }
    assert.deepEqual(await batched.score([], () => undefined), []);
  } finally {
    await batched.dispose();
    await single.dispose();
  }
});

// `rlhf train grpo` from a config file: reward model + a regex reward, cancel, resume, samples.jsonl.
let dir: string;
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** A project with the toy prompts and a tiny base model, made once. */
async function cliProject(): Promise<string> {
  if (dir) return dir;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-grpo-'));
  const params = initParams(toyConfig, 3);
  saveCheckpoint(path.join(dir, 'base'), { config: toyConfig, kind: 'lm', weights: weightsOf({ config: toyConfig, params }), tokenizer: byteLevelTokenizerJson() });
  const head = initHead(toyConfig, 'reward', 4);
  saveCheckpoint(path.join(dir, 'rm'), { config: toyConfig, kind: 'reward', weights: weightsOf({ config: toyConfig, params: { ...params, ...head } }), tokenizer: byteLevelTokenizerJson() });
  tf.dispose([...Object.values(params), ...Object.values(head)]);
  const project = await Project.create(dir, { labeler: 'tester@example.com' });
  await project.prompts.add(['The sea ', 'A whale ', 'Ahab ', 'We sail ']);
  return dir;
}

async function train(config: object, flags: string[] = [], cancelAt?: RegExp): Promise<{ code: number; out: string[]; err: string[] }> {
  const cwd = await cliProject();
  const file = writeConfig(cwd, 'grpo.json', config);
  const c = capture(cwd);
  const controller = new AbortController();
  const out = (t: string): void => {
    c.out.push(t);
    if (cancelAt?.test(t)) controller.abort();
  };
  const code = await runCli(['train', 'grpo', '--config', file, '--backend', 'wasm', ...flags], { ...c.io, out, signal: controller.signal });
  return { code, out: c.out, err: c.err };
}

test('rlhf train grpo: a reward model folder, AFINN and a regex reward; a cancelled run resumes to the end; samples.jsonl keeps each function’s value', async () => {
  const config = {
    runId: 'grpo-cli',
    model: 'base',
    rewardModel: 'rm',
    rewards: [{ type: 'rewardModel' }, { type: 'rewardModel', path: 'builtin:afinn', name: 'afinn', weight: 0.1 }, { type: 'regex', pattern: '[a-z]{3}', name: 'word', weight: 0.5 }],
    beta: 0.04,
    iterations: 3,
    promptsPerIteration: 2,
    numGenerations: 2,
    maxNewTokens: 6,
    checkpointEvery: 1,
    sampleEvery: 1,
  };
  const first = await train(config, [], /\[grpo\] checkpoint at step 1$/);
  assert.equal(first.code, 130, first.err.join('\n'));
  const resumed = await train(config);
  assert.equal(resumed.code, 0, resumed.err.join('\n'));
  assert.ok(
    resumed.out.some((l) => /resuming at step [12]\)/.test(l)),
    resumed.out.join('\n'),
  );
  const runDir = path.join(dir, '.rlhf', 'runs', 'grpo-cli');
  assert.ok(fs.existsSync(path.join(runDir, 'checkpoints', 'grpo', 'final', 'model.safetensors')));
  const metrics = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8');
  assert.match(metrics, /"rewards\/word\/mean"/);
  assert.match(metrics, /"rewards\/rewardModel\/mean"/);
  const samples = fs
    .readFileSync(path.join(runDir, 'samples.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { stage: string; rewards?: Record<string, number | null> });
  assert.match(metrics, /"rewards\/afinn\/mean"/);
  assert.match(metrics, /"kl"/);
  assert.ok(samples.length > 0 && samples.every((s) => s.stage === 'grpo' && s.rewards && Object.keys(s.rewards).join() === 'rewardModel,afinn,word'));
});

test('rlhf train grpo: no reward at all, and --engine tfjs, are clear errors', async () => {
  const none = await train({ runId: 'grpo-none', model: 'base' });
  assert.equal(none.code, 1);
  assert.match(none.err.join('\n'), /grpo: set "rewardModel" \(a reward-model folder\), "rewards" \(reward functions\), or both/);
  try {
    const tfjs = await train({ runId: 'grpo-tfjs', model: 'base', rewardModel: 'builtin:afinn' }, ['--engine', 'tfjs']);
    assert.equal(tfjs.code, 1);
    assert.match(tfjs.err.join('\n'), /GRPO trains on the ONNX Runtime engine only/);
  } finally {
    setTrainingEngine('ort');
  }
});
