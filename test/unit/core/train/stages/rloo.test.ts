import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initCompute } from '../../../../../src/core/compute/backend';
import { AdamW } from '../../../../../src/core/train/optim';
import { DEFAULT_RLOO, leaveOneOut, rloo } from '../../../../../src/core/train/stages/rloo';
import { ortRolloutSampler, textScorer } from '../../../../../src/core/train/rollout/samplers';
import type { StageEvent } from '../../../../../src/core/train/stage';
import { lowercaseShare, meanOf, series, toyData, toyModels } from '../toy';

before(async () => {
  await initCompute('wasm');
});

test('leave-one-out advantages: each reward minus the mean of the others in its group', () => {
  // Group 1: 1 − (2+3)/2 = −1.5, 2 − 2 = 0, 3 − 1.5 = 1.5. Group 2 (all equal): zeros.
  assert.deepEqual(leaveOneOut([1, 2, 3, 5, 5, 5], 3), [-1.5, 0, 1.5, 0, 0, 0]);
  assert.throws(() => leaveOneOut([1, 2, 3], 2), /groups of k=2/);
});

test('RLOO raises the toy reward while KL stays bounded, without leaking tensors', async () => {
  const { policy, reference, dispose } = toyModels(3, false);
  const sampler = await ortRolloutSampler(policy, toyData.decode);
  const config = {
    ...DEFAULT_RLOO,
    iterations: 30,
    promptsPerIteration: 4,
    k: 4,
    miniBatches: 2,
    epochs: 4,
    temperature: 1,
    maxNewTokens: 12,
    klCoef: 0.02,
    sampleEvery: 10,
    checkpointEvery: 0,
    optim: { ...DEFAULT_RLOO.optim, lr: 3e-3, totalSteps: 30 * 2 * 4 },
  };
  const optimizer = new AdamW(tf, config.optim);
  const events: StageEvent[] = [];
  const counts = new Map<number, number>();
  try {
    for await (const e of rloo(policy, reference, optimizer, sampler, textScorer(lowercaseShare), toyData, config)) {
      events.push(e);
      if (e.type === 'metrics') counts.set(e.record.step, tf.memory().numTensors);
    }
  } finally {
    await sampler.dispose();
    optimizer.dispose();
    dispose();
  }
  const scores = series(events, 'objective/scores');
  const first = meanOf(scores.slice(0, 3));
  const last = meanOf(scores.slice(-3));
  console.log(`toy RLOO: score ${first.toFixed(3)} → ${last.toFixed(3)}, max KL ${Math.max(...series(events, 'objective/kl')).toFixed(2)}`);
  assert.ok(last > first + 0.25, `score went from ${first.toFixed(3)} to ${last.toFixed(3)}`);
  assert.ok(Math.max(...series(events, 'objective/kl')) < 30);
  assert.equal(counts.get(3), counts.get(2));
  assert.equal(counts.get(30), counts.get(3));
});
