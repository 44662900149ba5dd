/**
 * GRPO's train graph on a small random GPT-2 and a left-padded rollout of uneven responses: for
 * each loss aggregation, the loss, kl and clip_ratio equal the formula evaluated here in plain JS
 * from the graph's own log-probs (the stats graph's), and the gradients of a few parameters equal
 * central finite differences of the graph's loss.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { onnx } from 'onnx-proto';
import { TINY_CONFIG } from '../../../../src/core/model/config';
import type { GPT2Config } from '../../../../src/core/model/config';
import { buildGrpoGraphs, GRPO_LOSS_AGGREGATIONS } from '../../../../src/core/onnx/grpoGraph';
import type { GrpoGraphConfig, GrpoLossAggregation } from '../../../../src/core/onnx/grpoGraph';
import { OrtTrainer } from '../../../../src/core/train/ort/trainer';
import { rolloutFeeds, rowsFeed } from '../../../../src/core/train/rollout/ortPolicy';
import { buildRollout } from '../../../../src/core/train/rollout/rollout';
import type { Rollout } from '../../../../src/core/train/rollout/rollout';
import { randomWeights } from './tinyModel';

const config: GPT2Config = { ...TINY_CONFIG, vocab_size: 61, n_positions: 24, n_embd: 24, n_head: 3, n_layer: 2 };
const EOS = 60;

/** Prompts of different lengths (left padded), responses of different lengths, one ending in EOS. */
function rollout(): Rollout {
  const prompts = [[3, 4, 5], [7], [9, 10, 11, 12], [2, 2]];
  const responses = [[13, 14, EOS], [15, 16, 17, 18, 19], [20], [21, 22, 23]];
  return buildRollout(
    prompts,
    responses.map((tokens, i) => ({ promptIndex: i, tokens, text: '', logprobs: [], finishReason: 'length' as const })),
    EOS,
    EOS,
  );
}

/** The GRPO loss and its statistics in plain JS (float64) from per-token arrays [n·R] of the minibatch's rows. */
function handLoss(
  hp: GrpoGraphConfig,
  R: number,
  arrays: { logp: ArrayLike<number>; old: ArrayLike<number>; ref: ArrayLike<number>; mask: ArrayLike<number>; adv: readonly number[] },
): { loss: number; kl: number; clipRatio: number } {
  const n = arrays.adv.length;
  let total = 0;
  let tokens = 0;
  let klSum = 0;
  let clipped = 0;
  let seqMeans = 0;
  for (let i = 0; i < n; i++) {
    const A = arrays.adv[i] as number;
    let rowSum = 0;
    let rowTokens = 0;
    for (let t = 0; t < R; t++) {
      const k = i * R + t;
      const m = arrays.mask[k] as number;
      if (m === 0) continue;
      const lp = arrays.logp[k] as number;
      const ratio = Math.exp(lp - (arrays.old[k] as number));
      const clippedRatio = Math.min(Math.max(ratio, 1 - hp.epsilon), 1 + hp.epsilonHigh);
      const d = (arrays.ref[k] as number) - lp;
      const kl = Math.exp(d) - d - 1;
      const loss = -Math.min(ratio * A, clippedRatio * A) + hp.beta * kl;
      rowSum += loss;
      rowTokens += 1;
      klSum += kl;
      if ((ratio < 1 - hp.epsilon && A < 0) || (ratio > 1 + hp.epsilonHigh && A > 0)) clipped += 1;
    }
    total += rowSum;
    tokens += rowTokens;
    seqMeans += rowSum / Math.max(rowTokens, 1);
  }
  const loss = hp.lossAggregation === 'sequence-mean' ? seqMeans / n : hp.lossAggregation === 'token-mean' ? total / tokens : total / (n * hp.maxNewTokens);
  return { loss, kl: klSum / tokens, clipRatio: clipped / tokens };
}

/** Row positions 0..n−1 of arrays already laid out in minibatch order. */
const allRowsOf = (mb: readonly number[]): number[] => mb.map((_, i) => i);

/** Deterministic offsets in [−s, s]. */
const wiggle = (length: number, s: number, phase: number): Float32Array => Float32Array.from({ length }, (_, i) => s * Math.sin(1.7 * i + phase));

for (const aggregation of GRPO_LOSS_AGGREGATIONS as readonly GrpoLossAggregation[]) {
  test(`GRPO graph (${aggregation}): loss, kl and clip_ratio equal the hand formula; gradients equal finite differences`, async () => {
    const hp: GrpoGraphConfig = { temperature: 0.8, epsilon: 0.2, epsilonHigh: 0.28, beta: 0.1, lossAggregation: aggregation, maxNewTokens: 6 };
    const r = rollout();
    const trainer = await OrtTrainer.create(buildGrpoGraphs(config, hp), config, randomWeights(config, 11), { threads: 1 });
    try {
      // Three rows in shuffled order; old and reference log-probs away from the current ones, so
      // that both clip branches are taken and the KL is not zero.
      const mb = [2, 0, 3];
      const R = r.R;
      const logp = (await trainer.infer('stats', rolloutFeeds(trainer.ort, r, mb), ['logp'])).logp as Float32Array; // [3·R]
      const old = logp.map((x, i) => x + (wiggle(logp.length, 0.5, 0.3)[i] as number));
      const ref = logp.map((x, i) => x + (wiggle(logp.length, 0.7, 1.1)[i] as number));
      const adv = [1.3, -0.8, 0.6];
      const mask = rolloutFeeds(trainer.ort, r, mb).response_mask?.data as Float32Array;
      const all = allRowsOf(mb);
      const feeds = {
        ...rolloutFeeds(trainer.ort, r, mb),
        old_logp: rowsFeed(trainer.ort, old, all, R),
        ref_logp: rowsFeed(trainer.ort, ref, all, R),
        advantages: new trainer.ort.Tensor('float32', Float32Array.from(adv), [adv.length]),
      };
      const want = handLoss(hp, R, { logp, old, ref, mask, adv });
      const out = await trainer.gradients(feeds, ['kl', 'clip_ratio']);
      assert.ok(Math.abs(out.loss - want.loss) < 1e-5 * Math.max(1, Math.abs(want.loss)), `loss ${out.loss} vs ${want.loss}`);
      assert.ok(Math.abs((out.values.kl as number) - want.kl) < 1e-5, `kl ${out.values.kl} vs ${want.kl}`);
      assert.ok(Math.abs((out.values.clip_ratio as number) - want.clipRatio) < 1e-6, `clip_ratio ${out.values.clip_ratio} vs ${want.clipRatio}`);
      assert.ok(want.clipRatio > 0 && want.clipRatio < 1, `both branches of the clip are taken (clip_ratio ${want.clipRatio})`);
      assert.ok(want.kl > 0.01);

      // Central differences of the graph's own loss, at each tested tensor's largest gradient entry.
      const grads = new Map([...out.grads].map(([name, g]) => [name, Float32Array.from(g)]));
      for (const name of ['wte.weight', 'h.0.attn.c_attn.weight', 'h.1.mlp.c_fc.bias', 'ln_f.weight']) {
        const g = grads.get(name) as Float32Array;
        let at = 0;
        for (let i = 1; i < g.length; i++) if (Math.abs(g[i] as number) > Math.abs(g[at] as number)) at = i;
        const p = trainer.params.get(name)?.data as Float32Array;
        const keep = p[at] as number;
        const h = 2e-3;
        p[at] = keep + h;
        const plus = (await trainer.gradients(feeds)).loss;
        p[at] = keep - h;
        const minus = (await trainer.gradients(feeds)).loss;
        p[at] = keep;
        const fd = (plus - minus) / (2 * h);
        const analytic = g[at] as number;
        assert.ok(Math.abs(analytic) > 1e-2, `${name}: a gradient entry large enough to test (${analytic})`);
        assert.ok(Math.abs(fd - analytic) < 5e-3 * Math.abs(analytic) + 2e-4, `${name}[${at}]: finite difference ${fd} vs gradient ${analytic}`);
      }
    } finally {
      await trainer.release();
    }
  });
}

test('GRPO graph with β = 0: no reference input, no kl output; the loss is the clipped surrogate alone', async () => {
  const hp: GrpoGraphConfig = { temperature: 1, epsilon: 0.2, epsilonHigh: 0.2, beta: 0, lossAggregation: 'token-mean', maxNewTokens: 6 };
  const r = rollout();
  const trainer = await OrtTrainer.create(buildGrpoGraphs(config, hp), config, randomWeights(config, 12), { threads: 1 });
  try {
    const mb = [0, 1, 2, 3];
    const logp = (await trainer.infer('stats', rolloutFeeds(trainer.ort, r, mb), ['logp'])).logp as Float32Array;
    const old = logp.map((x, i) => x + (wiggle(logp.length, 0.4, 0.9)[i] as number));
    const adv = [0.5, -1, 1.5, -0.2];
    const mask = r.responseMask;
    // No ref_logp fed: the graph has no such input.
    const out = await trainer.gradients(
      { ...rolloutFeeds(trainer.ort, r, mb), old_logp: rowsFeed(trainer.ort, old, mb, r.R), advantages: new trainer.ort.Tensor('float32', Float32Array.from(adv), [4]) },
      ['clip_ratio'],
    );
    const want = handLoss(hp, r.R, { logp, old, ref: logp, mask, adv });
    assert.ok(Math.abs(out.loss - want.loss) < 1e-5, `loss ${out.loss} vs ${want.loss}`);
    assert.ok(Math.abs((out.values.clip_ratio as number) - want.clipRatio) < 1e-6);
    for (const [beta, present] of [
      [0, false],
      [0.04, true],
    ] as const) {
      const graph = onnx.ModelProto.decode(buildGrpoGraphs(config, { ...hp, beta }).build.train()).graph;
      assert.equal(
        graph?.input?.some((i) => i.name === 'ref_logp'),
        present,
        `β = ${beta}: ref_logp input`,
      );
      assert.equal(
        graph?.output?.some((o) => o.name === 'kl'),
        present,
        `β = ${beta}: kl output`,
      );
    }
  } finally {
    await trainer.release();
  }
});
