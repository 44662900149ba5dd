/**
 * The policy stages' ONNX graphs against the tfjs implementation (an independent one): on a small
 * random GPT-2 with a value head and a left-padded rollout of uneven responses, the rollout's
 * statistics (log-probs, entropies, values), PPO's and RLOO's minibatch losses, their statistics
 * and every parameter's gradient to 1e-4 relative; the frozen reference's log-probs and the reward
 * model's scores on ONNX Runtime equal the tfjs ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initCompute } from '../../../../src/core/compute/backend';
import { TINY_CONFIG } from '../../../../src/core/model/config';
import type { GPT2Config } from '../../../../src/core/model/config';
import { initParams } from '../../../../src/core/model/gpt2';
import { initHead } from '../../../../src/core/model/heads';
import { buildPpoGraphs, buildRlooGraphs } from '../../../../src/core/onnx/policyGraphs';
import { gradName } from '../../../../src/core/onnx/gptGraph';
import { OrtTrainer } from '../../../../src/core/train/ort/trainer';
import { ortRewardModelScorer, ortRolloutScoring, rolloutFeeds } from '../../../../src/core/train/rollout/ortPolicy';
import { buildRollout } from '../../../../src/core/train/rollout/rollout';
import { rewardModelScorer, tfjsRolloutScoring } from '../../../../src/core/train/tfjs/rollout';
import { DEFAULT_PPO, ppoFeeds } from '../../../../src/core/train/stages/ppo';
import { ppoMinibatchLoss } from '../../../../src/core/train/tfjs/ppo';
import { DEFAULT_RLOO } from '../../../../src/core/train/stages/rloo';
import { rlooMinibatchLoss } from '../../../../src/core/train/tfjs/rloo';
import type { TrainModel } from '../../../../src/core/train/stage';
import { seededRandom } from '../../../../src/core/sample/pick';
import { relError } from './relError';

const config: GPT2Config = { ...TINY_CONFIG, vocab_size: 61, n_positions: 24, n_embd: 24, n_head: 3, n_layer: 2 };
const EOS = 60;

/** Prompts of different lengths (left padded) and responses of different lengths, one ending in EOS. */
function rollout() {
  const prompts = [[3, 4, 5], [7], [9, 10, 11, 12], [2, 2]];
  const responses = [[13, 14, EOS], [15, 16, 17, 18, 19], [20], [21, 22, 23]];
  return buildRollout(
    prompts,
    responses.map((tokens, i) => ({ promptIndex: i, tokens, text: '', logprobs: [], finishReason: 'length' as const })),
    EOS,
    EOS,
  );
}

function model(seed: number, head: 'value' | 'reward' | null): TrainModel {
  const params: Record<string, tf.Variable> = { ...initParams(config, seed), ...(head ? initHead(config, head, seed + 1) : {}) };
  // Spread the LayerNorm and head parameters so every gradient is well away from zero.
  for (const [name, v] of Object.entries(params)) if (/ln_|bias|head|score/.test(name)) v.assign(tf.add(v, tf.randomUniform(v.shape, -0.3, 0.3, 'float32', seed + 7)));
  return { config, params };
}

const weightsOf = (m: TrainModel): Map<string, { shape: readonly number[]; data: Float32Array }> =>
  new Map(Object.entries(m.params).map(([k, v]) => [k, { shape: v.shape, data: Float32Array.from(v.dataSync()) }]));

test('PPO: rollout statistics, minibatch loss, its statistics and every gradient match tfjs', async () => {
  await initCompute('cpu');
  const policy = model(3, 'value');
  const r = rollout();
  const hp = { ...DEFAULT_PPO, temperature: 0.8, clipRange: 0.1, clipRangeValue: 0.1, vfCoef: 0.3, entCoef: 0.05 };
  const trainer = await OrtTrainer.create(buildPpoGraphs(config, hp), config, weightsOf(policy), { threads: 1 });
  try {
    const rows = [0, 1, 2, 3];
    const want = await tfjsRolloutScoring(policy, policy, hp.temperature).policy(r, rows, true);
    const got = await trainer.infer('stats', rolloutFeeds(trainer.ort, r, rows), ['logp', 'entropy', 'values']);
    for (const k of ['logp', 'entropy', 'values'] as const) assert.ok(relError(got[k] as Float32Array, want[k] as Float32Array) < 1e-4, `stats ${k}`);

    // A minibatch of three rows in shuffled order, with old statistics away from the current ones
    // so that both the clipped and the unclipped branches are taken.
    const random = seededRandom(5);
    const jitter = (a: Float32Array, s: number): Float32Array => a.map((x) => x + (random() * 2 - 1) * s);
    const arrays = {
      oldLogp: jitter(want.logp, 0.2),
      advantages: jitter(new Float32Array(r.B * r.R), 1),
      returns: jitter(new Float32Array(r.B * r.R), 1),
      oldValues: jitter(want.values as Float32Array, 0.2),
    };
    const mb = [2, 0, 3];
    const vars = policy.params;
    const { value, grads } = tf.variableGrads(() => ppoMinibatchLoss(policy, r, mb, arrays, hp, undefined, random).loss, Object.values(vars));
    const expectedStats = tf.tidy(() => Object.fromEntries(Object.entries(ppoMinibatchLoss(policy, r, mb, arrays, hp, undefined, random).extras).map(([k, v]) => [k, v.dataSync()[0] as number])));
    const out = await trainer.gradients(ppoFeeds(trainer.ort, r, mb, arrays, hp, undefined, random), ['pg', 'vf', 'approxkl', 'clipfrac', 'ratio', 'vpred']);
    assert.ok(Math.abs(out.loss - (value.dataSync()[0] as number)) < 1e-5, `loss ${out.loss} vs ${value.dataSync()[0]}`);
    for (const [k, v] of Object.entries(expectedStats)) assert.ok(Math.abs((out.values[k] as number) - v) < 1e-4, `${k}: ${out.values[k]} vs ${v}`);
    assert.ok(expectedStats.clipfrac! > 0 && expectedStats.clipfrac! < 1, 'both branches of the clip are exercised');
    for (const [name, v] of Object.entries(vars)) {
      const expected = grads[v.name]?.dataSync() as Float32Array;
      assert.ok(relError(out.grads.get(name) as Float32Array, expected) < 1e-4, `${gradName(name)}: rel error ${relError(out.grads.get(name) as Float32Array, expected)}`);
    }
    tf.dispose([value, ...Object.values(grads)]);
  } finally {
    await trainer.release();
    tf.dispose(Object.values(policy.params));
  }
});

test('RLOO: the sequence-level minibatch loss, its statistics and every gradient match tfjs', async () => {
  await initCompute('cpu');
  const policy = model(4, null);
  const r = rollout();
  const hp = { ...DEFAULT_RLOO, temperature: 0.7, clipRange: 0.2 };
  const trainer = await OrtTrainer.create(buildRlooGraphs(config, hp), config, weightsOf(policy), { threads: 1 });
  try {
    const now = await tfjsRolloutScoring(policy, policy, hp.temperature).policy(r, [0, 1, 2, 3], false);
    const seq = [0, 1, 2, 3].map((b) => {
      let s = 0;
      for (let j = 0; j < r.R; j++) s += (now.logp[b * r.R + j] as number) * (r.responseMask[b * r.R + j] as number);
      return s;
    });
    const old = seq.map((s, i) => s + [0.4, -0.05, 0.3, -0.5][i]!);
    const adv = [1.2, -0.7, 0.4, -1.1];
    const mb = [3, 1, 0];
    const vars = policy.params;
    const { value, grads } = tf.variableGrads(() => rlooMinibatchLoss(policy, r, mb, old, adv, hp).loss, Object.values(vars));
    const expectedStats = tf.tidy(() => Object.fromEntries(Object.entries(rlooMinibatchLoss(policy, r, mb, old, adv, hp).extras).map(([k, v]) => [k, v.dataSync()[0] as number])));
    const out = await trainer.gradients(
      {
        ...rolloutFeeds(trainer.ort, r, mb),
        old_seq_logp: new trainer.ort.Tensor(
          'float32',
          Float32Array.from(mb, (b) => old[b]!),
          [mb.length],
        ),
        advantages: new trainer.ort.Tensor(
          'float32',
          Float32Array.from(mb, (b) => adv[b]!),
          [mb.length],
        ),
      },
      ['approxkl', 'clipfrac', 'ratio'],
    );
    assert.ok(Math.abs(out.loss - (value.dataSync()[0] as number)) < 1e-5, `loss ${out.loss} vs ${value.dataSync()[0]}`);
    for (const [k, v] of Object.entries(expectedStats)) assert.ok(Math.abs((out.values[k] as number) - v) < 1e-4, `${k}: ${out.values[k]} vs ${v}`);
    for (const [name, v] of Object.entries(vars)) {
      const expected = grads[v.name]?.dataSync() as Float32Array;
      assert.ok(relError(out.grads.get(name) as Float32Array, expected) < 1e-4, `${gradName(name)}: rel error ${relError(out.grads.get(name) as Float32Array, expected)}`);
    }
    tf.dispose([value, ...Object.values(grads)]);
  } finally {
    await trainer.release();
    tf.dispose(Object.values(policy.params));
  }
});

test('the frozen reference’s log-probs and the reward model’s scores on ONNX Runtime equal tfjs’s', async () => {
  await initCompute('cpu');
  const r = rollout();
  const reference = model(6, null);
  const want = await tfjsRolloutScoring(reference, reference, 0.9).reference(r, [1, 3, 0]);
  // The ONNX Runtime scoring frees the reference's tfjs tensors: score a copy.
  const copy: TrainModel = { config, params: Object.fromEntries(Object.entries(reference.params).map(([k, v]) => [k, tf.variable(v.clone(), false)])) };
  const policy = model(7, 'value');
  const trainer = await OrtTrainer.create(buildPpoGraphs(config, { ...DEFAULT_PPO, temperature: 0.9 }), config, weightsOf(policy), { threads: 1 });
  // A logits budget of one row's: every row scored in its own chunk.
  const scoring = await ortRolloutScoring(trainer, copy, 0.9, r.R * config.vocab_size);
  try {
    assert.ok(relError(await scoring.reference(r, [1, 3, 0]), want) < 1e-4, 'reference log-probs');
    const policyWant = await tfjsRolloutScoring(policy, policy, 0.9).policy(r, [2, 0, 1], true);
    const policyGot = await scoring.policy(r, [2, 0, 1], true);
    for (const k of ['logp', 'entropy', 'values'] as const) assert.ok(relError(policyGot[k] as Float32Array, policyWant[k] as Float32Array) < 1e-4, `policy ${k}, in chunks`);
    assert.equal(
      Object.values(copy.params).every((v) => v.isDisposed),
      true,
      'the reference’s tfjs tensors are freed',
    );
  } finally {
    await scoring.release();
    await trainer.release();
    tf.dispose([...Object.values(reference.params), ...Object.values(policy.params)]);
  }

  const rm = model(8, 'reward');
  const wantScores = await rewardModelScorer(rm, EOS)([], [], r);
  const rmCopy: TrainModel = { config, params: Object.fromEntries(Object.entries(rm.params).map(([k, v]) => [k, tf.variable(v.clone(), false)])) };
  const scorer = await ortRewardModelScorer(rmCopy, EOS);
  try {
    assert.ok(relError(await scorer([], [], r), wantScores) < 1e-4, 'reward-model scores');
  } finally {
    await scorer.release();
    tf.dispose(Object.values(rm.params));
  }
});

test('PPO-ptx: the pretraining term over corpus windows adds the same loss and gradients as tfjs', async () => {
  await initCompute('cpu');
  const policy = model(9, 'value');
  const r = rollout();
  const hp = { ...DEFAULT_PPO, temperature: 1, ptxCoef: 0.5, ptxBatch: 2, ptxBlockSize: 6 };
  const corpus = Int32Array.from({ length: 40 }, (_, i) => (i * 7 + 3) % config.vocab_size);
  const trainer = await OrtTrainer.create(buildPpoGraphs(config, hp), config, weightsOf(policy), { threads: 1 });
  try {
    const zeros = new Float32Array(r.B * r.R);
    const arrays = { oldLogp: zeros, advantages: zeros.map((_, i) => Math.sin(i)), returns: zeros, oldValues: zeros };
    const mb = [0, 1];
    const { value, grads } = tf.variableGrads(() => ppoMinibatchLoss(policy, r, mb, arrays, hp, corpus, seededRandom(11)).loss, Object.values(policy.params));
    // The stage's own feeds: the same corpus windows from the same seed as the tfjs side draws.
    const out = await trainer.gradients(ppoFeeds(trainer.ort, r, mb, arrays, hp, corpus, seededRandom(11)));
    assert.ok(Math.abs(out.loss - (value.dataSync()[0] as number)) < 1e-5, `loss ${out.loss} vs ${value.dataSync()[0]}`);
    for (const [name, v] of Object.entries(policy.params)) assert.ok(relError(out.grads.get(name) as Float32Array, grads[v.name]?.dataSync() as Float32Array) < 1e-4, gradName(name));
    tf.dispose([value, ...Object.values(grads)]);
  } finally {
    await trainer.release();
    tf.dispose(Object.values(policy.params));
  }
});
