import { setTrainingEngine } from '../../../../../src/core/train/engine';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initCompute } from '../../../../../src/core/compute/backend';
import { TINY_CONFIG } from '../../../../../src/core/model/config';
import type { GPT2Config } from '../../../../../src/core/model/config';
import { forward, initParams } from '../../../../../src/core/model/gpt2';
import { initHead } from '../../../../../src/core/model/heads';
import { logSoftmax } from '../../../../../src/core/sample/pick';
import { AdamW, DEFAULT_OPTIM } from '../../../../../src/core/train/optim';
import { rewardBatch, sftBatch, splitHeldOut } from '../../../../../src/core/train/data/batches';
import type { RankedGroup, SftExample } from '../../../../../src/core/train/data/batches';
import { lmLoss } from '../../../../../src/core/train/lm';
import { DEFAULT_SFT, sft } from '../../../../../src/core/train/stages/sft';
import { DEFAULT_REWARD, reward } from '../../../../../src/core/train/stages/reward';
import { evaluateReward, pairLoss, scoreBatch } from '../../../../../src/core/train/tfjs/reward';
import { NonFiniteError } from '../../../../../src/core/train/stage';
import type { StageEvent, TrainModel } from '../../../../../src/core/train/stage';
import { seededRandom } from '../../../../../src/core/sample/pick';

const small: GPT2Config = { ...TINY_CONFIG, n_embd: 32, n_head: 2, n_layer: 1, n_positions: 48 };
const enc = (s: string): number[] => [...Buffer.from(s, 'utf8')];

before(async () => {
  await initCompute('wasm');
});

function model(seed = 1, head = false): TrainModel {
  const params = initParams(small, seed);
  if (head) Object.assign(params, initHead(small, 'reward', seed));
  return { config: small, params };
}

async function drain(gen: AsyncGenerator<StageEvent>): Promise<StageEvent[]> {
  const out: StageEvent[] = [];
  for await (const e of gen) out.push(e);
  return out;
}

const lastValue = (events: StageEvent[], name: string): number => {
  const found = events.filter((e) => e.type === 'metrics' && name in e.record.values);
  const e = found[found.length - 1];
  assert.ok(e && e.type === 'metrics', `no ${name} metric`);
  return e.record.values[name as keyof typeof e.record.values] as number;
};

test('the SFT loss equals the hand-computed masked cross-entropy', () => {
  const m = model(3);
  const rows = sftBatch(
    [
      { prompt: enc('ab'), response: enc('cde') },
      { prompt: enc('x'), response: enc('yz') },
    ],
    16,
    256,
  );
  const got = tf.tidy(() => lmLoss(m, rows).dataSync()[0] as number);
  const logits = tf.tidy(() => forward(m.params, small, { ids: tf.tensor2d(rows.ids, [rows.B, rows.T], 'int32') }).logits!.arraySync() as number[][][]);
  let sum = 0;
  let n = 0;
  for (let b = 0; b < rows.B; b++) {
    for (let t = 0; t < rows.T; t++) {
      if (!rows.mask[b * rows.T + t]) continue;
      sum -= logSoftmax(logits[b]![t]!)[rows.targets[b * rows.T + t]!]!;
      n += 1;
    }
  }
  // Only response targets count: 'cde' after 'ab' gives 3, 'yz' after 'x' gives 2.
  assert.equal(n, 5);
  assert.ok(Math.abs(got - sum / n) < 1e-4, `${got} vs ${sum / n}`);
  tf.dispose(Object.values(m.params));
});

test('the reward loss equals −log σ(r_w − r_l) averaged per group, from the model scores', () => {
  const m = model(4, true);
  const groups: RankedGroup[] = [
    {
      prompt: enc('p'),
      completions: [enc('aa'), enc('bbb'), enc('c')],
      pairs: [
        [0, 1],
        [0, 2],
        [1, 2],
      ],
    },
    { prompt: enc('q'), completions: [enc('dd'), enc('e')], pairs: [[1, 0]] },
  ];
  const batch = rewardBatch(groups, 16, 256);
  const scores = tf.tidy(() => Array.from(scoreBatch(m, batch).dataSync()));
  const margin = 0.5;
  const nll = (w: number, l: number): number => Math.log1p(Math.exp(-(scores[w]! - scores[l]! - margin)));
  const expected = 0.5 * ((nll(0, 1) + nll(0, 2) + nll(1, 2)) / 3) + 0.5 * nll(4, 3);
  const [loss, acc] = tf.tidy(() => {
    const s = pairLoss(m, batch, margin);
    return [s.loss.dataSync()[0]!, s.accuracy.dataSync()[0]!];
  });
  assert.ok(Math.abs(loss! - expected) < 1e-5, `${loss} vs ${expected}`);
  const correct = [
    [0, 1],
    [0, 2],
    [1, 2],
    [4, 3],
  ].filter(([w, l]) => scores[w!]! > scores[l!]!).length;
  assert.ok(Math.abs(acc! - correct / 4) < 1e-6);
  tf.dispose(Object.values(m.params));
});

test('SFT memorises a small set: the loss falls below 0.3', async () => {
  const m = model(5);
  const data: SftExample[] = ['cat: meow', 'dog: woof', 'cow: moo', 'owl: hoot'].map((s) => {
    const [p, r] = s.split(': ');
    return { prompt: enc(`${p}: `), response: [...enc(r!), 256] };
  });
  const config = { ...DEFAULT_SFT, steps: 120, batchSize: 4, maxLen: 16, evalEvery: 0, checkpointEvery: 0, optim: { ...DEFAULT_OPTIM, lr: 1e-2, warmupSteps: 5, totalSteps: 120, weightDecay: 0 } };
  const opt = new AdamW(tf, config.optim);
  const events = await drain(sft(m, opt, { train: data, eval: data, pad: 256 }, config));
  const first = events.find((e) => e.type === 'metrics')!;
  assert.ok(first.type === 'metrics' && (first.record.values['sft/loss'] as number) > 2);
  const final = lastValue(events, 'sft/eval_loss');
  assert.ok(final < 0.3, `SFT eval loss ${final}`);
  const last = events[events.length - 1] as StageEvent & { type: 'checkpoint' };
  assert.deepEqual([last.type, last.step, last.reason], ['checkpoint', 120, 'final']);
  opt.dispose();
  tf.dispose(Object.values(m.params));
});

/** Completions are random letters; the rule prefers more 'x' (ties give no pair). */
function lexicalGroups(n: number, seed: number): RankedGroup[] {
  const random = seededRandom(seed);
  const letters = 'abcdefghx';
  return Array.from({ length: n }, () => {
    const completions = Array.from({ length: 4 }, () => enc(Array.from({ length: 6 + Math.floor(random() * 6) }, () => letters[Math.floor(random() * letters.length)]).join('')));
    const score = completions.map((c) => c.filter((t) => t === 'x'.charCodeAt(0)).length);
    const pairs: [number, number][] = [];
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) if (score[i]! > score[j]!) pairs.push([i, j]);
    return { prompt: enc('rate: '), completions, pairs };
  });
}

test('the reward model reaches ≥ 90% held-out accuracy on a lexical rule', async () => {
  const m = model(6, true);
  const { train, eval: held } = splitHeldOut(lexicalGroups(240, 11), 0.2, 1);
  const config = { ...DEFAULT_REWARD, steps: 150, batchSize: 8, maxLen: 24, evalEvery: 0, checkpointEvery: 0, optim: { ...DEFAULT_OPTIM, lr: 3e-3, warmupSteps: 10, totalSteps: 150, weightDecay: 0 } };
  const before = evaluateReward(m, held, config, 256);
  const opt = new AdamW(tf, config.optim);
  const events = await drain(reward(m, opt, { train, eval: held, pad: 256 }, config));
  const acc = lastValue(events, 'reward/eval_accuracy');
  assert.ok(before.accuracy < 0.75, `an untrained model should be near chance, got ${before.accuracy}`);
  assert.ok(acc >= 0.9, `held-out accuracy ${acc}`);
  opt.dispose();
  tf.dispose(Object.values(m.params));
});

for (const engine of ['tfjs', 'ort'] as const) {
  test(`the NaN guard stops with a clear error before the optimizer touches the weights (${engine})`, async () => {
    setTrainingEngine(engine);
    const m = model(7);
    m.params['ln_f.weight']!.assign(tf.fill([small.n_embd], NaN));
    const opt = new AdamW(tf, DEFAULT_SFT.optim);
    const before = Array.from(m.params['wte.weight']!.dataSync());
    const data = [{ prompt: enc('a'), response: enc('b') }];
    const events: StageEvent[] = [];
    const run = async (): Promise<void> => {
      for await (const e of sft(m, opt, { train: data, eval: [], pad: 256 }, { ...DEFAULT_SFT, steps: 3, maxLen: 8 })) events.push(e);
    };
    try {
      await assert.rejects(run(), (err: unknown) => {
        assert.ok(err instanceof NonFiniteError);
        assert.match(err.message, /sft: the loss became non-finite at step 1; .*last good checkpoint is kept/);
        return true;
      });
      assert.equal(opt.step, 0);
      assert.deepEqual(
        events.filter((e) => e.type === 'checkpoint'),
        [],
      );
      // tfjs trains the model in place; ONNX Runtime took a copy (and freed the model's).
      if (engine === 'tfjs') assert.deepEqual(Array.from(m.params['wte.weight']!.dataSync()), before);
    } finally {
      setTrainingEngine('ort');
      opt.dispose();
      tf.dispose(Object.values(m.params));
    }
  });
}

for (const engine of ['tfjs', 'ort'] as const) {
  test(`cancellation stops within one step, asks for a checkpoint, frees tensors (${engine} engine)`, async () => {
    setTrainingEngine(engine);
    const m = model(8);
    const opt = new AdamW(tf, DEFAULT_SFT.optim);
    const controller = new AbortController();
    const data = [{ prompt: enc('a'), response: enc('bcd') }];
    const events: StageEvent[] = [];
    const counts = new Map<number, number>();
    const stage = sft(m, opt, { train: data, eval: [], pad: 256 }, { ...DEFAULT_SFT, steps: 1000, maxLen: 8, batchSize: 2 }, controller.signal);
    try {
      await assert.rejects(
        (async () => {
          for await (const e of stage) {
            events.push(e);
            if (e.type === 'metrics') counts.set(e.record.step, tf.memory().numTensors);
            if (e.type === 'metrics' && e.record.step === 3) controller.abort();
          }
        })(),
        (err: unknown) => err instanceof Error && err.name === 'AbortError',
      );
      const last = events[events.length - 1] as StageEvent & { type: 'checkpoint' };
      assert.deepEqual([last.type, last.step, last.reason], ['checkpoint', 3, 'cancel']);
      // The state saved is step 3's: the engine's snapshot (ONNX Runtime's buffers, or read back from the tfjs optimizer it trains with).
      assert.equal(last.snapshot?.optimizer.step, 3);
      if (engine === 'tfjs') assert.equal(opt.step, 3);
      // No tensor outlives a step: the count is the same after steps 2 and 3 and after the cancel.
      assert.equal(counts.get(3), counts.get(2));
      assert.equal(tf.memory().numTensors, counts.get(3) as number);
    } finally {
      setTrainingEngine('ort');
      opt.dispose();
      tf.dispose(Object.values(m.params));
    }
  });
}
