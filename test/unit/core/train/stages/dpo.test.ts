import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initCompute } from '../../../../../src/core/compute/backend';
import { TINY_CONFIG, parameterShapes } from '../../../../../src/core/model/config';
import type { GPT2Config } from '../../../../../src/core/model/config';
import { loadCheckpoint, saveCheckpoint } from '../../../../../src/core/model/checkpoint';
import { forward, initParams } from '../../../../../src/core/model/gpt2';
import { logSoftmax, seededRandom } from '../../../../../src/core/sample/pick';
import { Project } from '../../../../../src/core/store/project';
import { byteLevelTokenizerJson } from '../../../../../src/core/tokenizer/byteLevel';
import { AdamW, DEFAULT_OPTIM } from '../../../../../src/core/train/optim';
import { DEFAULT_DPO, dpo, dpoBatch } from '../../../../../src/core/train/stages/dpo';
import { completionLogProbs, dpoTerms, evaluateDpo, scoreReference } from '../../../../../src/core/train/tfjs/dpo';
import type { DpoConfig, DpoPair } from '../../../../../src/core/train/stages/dpo';
import { dpoConfig } from '../../../../../src/core/train/run/configs';
import { setTrainingEngine } from '../../../../../src/core/train/engine';
import { weightsOf } from '../../../../../src/core/train/model';
import type { StageEvent, TrainModel } from '../../../../../src/core/train/stage';
import { runCli } from '../../../../../src/cli/main';
import type { CliIo } from '../../../../../src/cli/command';
import { capture as captureIn, writeConfig as writeConfigIn } from '../cliHelpers';
import { modelWidth } from '../../../../../src/core/model/modelConfig';

const small: GPT2Config = { ...TINY_CONFIG, n_embd: 32, n_head: 2, n_layer: 1, n_positions: 48 };
const enc = (s: string): number[] => [...Buffer.from(s, 'utf8')];
const PAD = 256;

function model(seed: number): TrainModel {
  return { config: small, params: initParams(small, seed) };
}
const dispose = (...models: TrainModel[]): void => models.forEach((m) => tf.dispose(Object.values(m.params)));

async function drain(gen: AsyncGenerator<StageEvent>): Promise<StageEvent[]> {
  const out: StageEvent[] = [];
  for await (const e of gen) out.push(e);
  return out;
}

const trainValues = (events: StageEvent[]): Record<string, number>[] =>
  events.flatMap((e) => (e.type === 'metrics' && 'loss/dpo' in e.record.values ? [e.record.values as Record<string, number>] : []));

/** Σ log p(completion | prompt) from one unpadded forward of a single sequence, with plain JS log-softmax. */
function handLogProb(m: TrainModel, prompt: number[], completion: number[]): number {
  const seq = [...prompt, ...completion];
  const logits = tf.tidy(() => forward(m.params, small, { ids: tf.tensor2d([seq], [1, seq.length], 'int32') }).logits!.arraySync() as number[][][]);
  let sum = 0;
  for (let t = prompt.length; t < seq.length; t++) sum += logSoftmax(logits[0]![t - 1]!)[seq[t]!]!;
  return sum;
}

const logSig = (x: number): number => -Math.log1p(Math.exp(-x));

test('the DPO loss equals a hand computation from sequence log-probs, with and without label smoothing', () => {
  const policy = model(1);
  const reference = model(2);
  const pairs: DpoPair[] = [
    { prompt: enc('ab: '), chosen: [...enc('yes'), PAD], rejected: [...enc('no'), PAD] },
    { prompt: enc('q'), chosen: enc('longer answer'), rejected: enc('x') },
    { prompt: enc('hello '), chosen: enc('there'), rejected: enc('world!!') },
  ];
  const batch = dpoBatch(pairs, 32, PAD);
  // Only completion tokens are scored: the mask counts exactly the completion lengths.
  assert.equal(
    batch.mask.reduce((s, v) => s + v, 0),
    pairs.reduce((s, p) => s + p.chosen.length + p.rejected.length, 0),
  );
  // The reference is scored in batches of 2, so its padding differs from the loss batch's.
  const scored = scoreReference(reference, pairs, { maxLen: 32, batchSize: 2 }, PAD);
  const refLp = Float32Array.from([...scored.map((s) => s.refChosen), ...scored.map((s) => s.refRejected)]);
  for (const [i, p] of pairs.entries()) {
    assert.ok(Math.abs(scored[i]!.refChosen - handLogProb(reference, [...p.prompt], [...p.chosen])) < 1e-3);
    assert.ok(Math.abs(scored[i]!.refRejected - handLogProb(reference, [...p.prompt], [...p.rejected])) < 1e-3);
  }
  const beta = 0.5;
  const z = pairs.map((p, i) => {
    const c = handLogProb(policy, [...p.prompt], [...p.chosen]) - scored[i]!.refChosen;
    const r = handLogProb(policy, [...p.prompt], [...p.rejected]) - scored[i]!.refRejected;
    return { c: beta * c, r: beta * r, z: beta * (c - r) };
  });
  const mean = (xs: number[]): number => xs.reduce((s, v) => s + v, 0) / xs.length;
  for (const eps of [0, 0.2]) {
    const got = tf.tidy(() => {
      const t = dpoTerms(completionLogProbs(policy, batch), refLp, batch.B, { beta, labelSmoothing: eps });
      return { loss: t.loss.dataSync()[0]!, chosen: t.chosen.dataSync()[0]!, rejected: t.rejected.dataSync()[0]!, accuracy: t.accuracy.dataSync()[0]!, margin: t.margin.dataSync()[0]! };
    });
    const expected = mean(z.map((x) => -(1 - eps) * logSig(x.z) - eps * logSig(-x.z)));
    assert.ok(Math.abs(got.loss - expected) < 1e-4, `eps ${eps}: ${got.loss} vs ${expected}`);
    assert.ok(Math.abs(got.chosen - mean(z.map((x) => x.c))) < 1e-4);
    assert.ok(Math.abs(got.rejected - mean(z.map((x) => x.r))) < 1e-4);
    assert.ok(Math.abs(got.margin - mean(z.map((x) => x.z))) < 1e-4);
    assert.ok(Math.abs(got.accuracy - z.filter((x) => x.c > x.r).length / z.length) < 1e-6);
  }
  // The two losses differ, so the smoothing term is really there.
  assert.notEqual(mean(z.map((x) => -logSig(x.z))), mean(z.map((x) => -0.8 * logSig(x.z) - 0.2 * logSig(-x.z))));
  dispose(policy, reference);
});

test('a long pair keeps the end of its prompt and scores only the completion that fits', () => {
  const batch = dpoBatch([{ prompt: enc('0123456789'), chosen: enc('abcdefgh'), rejected: [] }], 6, PAD);
  assert.equal(batch.T, 6);
  // Chosen: 1 prompt token + 5 completion tokens; rejected: the last 6 prompt tokens, nothing scored.
  assert.deepEqual(Array.from(batch.ids.subarray(0, 6)), enc('9abcde'));
  assert.deepEqual(Array.from(batch.mask.subarray(0, 5)), [1, 1, 1, 1, 1]);
  assert.deepEqual(Array.from(batch.ids.subarray(6, 12)), enc('456789'));
  assert.deepEqual(Array.from(batch.mask.subarray(5, 10)), [0, 0, 0, 0, 0]);
});

/** Random letters (rejected); the chosen completion is the same word with one letter made 'x'. */
function letterPairs(n: number, seed: number): DpoPair[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const letters = Array.from({ length: 4 + Math.floor(random() * 4) }, () => 'abcdefgh'[Math.floor(random() * 8)]!);
    const rejected = [...enc(letters.join('')), PAD];
    letters[Math.floor(random() * letters.length)] = 'x';
    return { prompt: enc('say: '), chosen: [...enc(letters.join('')), PAD], rejected };
  });
}

const learnConfig: DpoConfig = {
  ...DEFAULT_DPO,
  steps: 60,
  batchSize: 8,
  maxLen: 24,
  evalEvery: 0,
  checkpointEvery: 0,
  optim: { ...DEFAULT_OPTIM, lr: 3e-3, warmupSteps: 5, totalSteps: 60, weightDecay: 0 },
};

/** The parameters a checkpoint's snapshot carries, as a tfjs model (the ONNX Runtime engine freed the policy's own). */
function fromSnapshot(event: StageEvent | undefined): TrainModel {
  assert.ok(event?.type === 'checkpoint' && event.snapshot, 'a checkpoint with a snapshot');
  return { config: small, params: Object.fromEntries([...event.snapshot.weights].map(([name, w]) => [name, tf.variable(tf.tensor(Float32Array.from(w.data), [...w.shape]), false)])) };
}

for (const engine of ['ort', 'tfjs'] as const) {
  test(`at init (policy = reference) the loss is log 2 and the rewards are 0; DPO then learns the preference (${engine} engine)`, async () => {
    setTrainingEngine(engine);
    const policy = model(5);
    const reference = model(5);
    const train = letterPairs(48, 21);
    const held = letterPairs(16, 22);
    const scoredTrain = scoreReference(reference, train, learnConfig, PAD);
    const before = evaluateDpo(policy, scoredTrain, learnConfig, PAD);
    assert.ok(Math.abs(before.loss - Math.log(2)) < 1e-4, `loss at init ${before.loss}`);
    const opt = new AdamW(tf, learnConfig.optim);
    let trained: TrainModel | undefined;
    try {
      const events = await drain(dpo(policy, reference, opt, { train, eval: held, pad: PAD }, learnConfig));
      const steps = trainValues(events);
      assert.equal(steps.length, 60);
      // Step 1's metrics come from the forward before the first update: policy = reference.
      const first = steps[0]!;
      assert.ok(Math.abs(first['loss/dpo']! - Math.log(2)) < 1e-4, `first loss ${first['loss/dpo']}`);
      for (const k of ['rewards/chosen', 'rewards/rejected', 'rewards/margins']) assert.ok(Math.abs(first[k]!) < 1e-4, `${k} ${first[k]}`);
      for (const k of ['lr', 'grad_norm', 'tokens_per_second', 'rewards/accuracies']) assert.ok(Number.isFinite(first[k]), k);

      // Untrained, every pair is a tie (accuracy 0 by TRL's strict '>'); trained, the rule is learnt.
      assert.equal(before.accuracy, 0);
      const last = events[events.length - 1];
      assert.ok(last?.type === 'checkpoint');
      assert.deepEqual([last.step, last.reason], [60, 'final']);
      // The final checkpoint carries the engine's parameters and AdamW state (tfjs: read back from the model it trains).
      assert.equal(last.snapshot?.optimizer.step, 60);
      trained = engine === 'ort' ? fromSnapshot(last) : policy;
      const after = evaluateDpo(trained, scoredTrain, learnConfig, PAD);
      assert.ok(after.accuracy >= 0.9, `training-pair accuracy ${after.accuracy}`);
      assert.ok(after.loss < 0.3, `training loss ${after.loss}`);
      const lastMargins = steps.slice(-5).map((v) => v['rewards/margins']!);
      assert.ok(Math.min(...lastMargins) > 0.5, `late margins ${lastMargins.join(', ')}`);
      // Held-out pairs (same rule, new words) are evaluated at the end only (evalEvery 0).
      const heldEval = events.flatMap((e) => (e.type === 'metrics' && 'eval/rewards/accuracies' in e.record.values ? [e.record.values] : []));
      assert.equal(heldEval.length, 1);
      assert.ok(heldEval[0]!['eval/rewards/accuracies']! >= 0.9, `held-out accuracy ${heldEval[0]!['eval/rewards/accuracies']}`);
      assert.ok(heldEval[0]!['eval/loss/dpo']! < 0.4, `held-out loss ${heldEval[0]!['eval/loss/dpo']}`);
      // The engine's own evaluation agrees with tfjs's over the trained parameters.
      const heldTfjs = evaluateDpo(trained, scoreReference(reference, held, learnConfig, PAD), learnConfig, PAD);
      assert.ok(Math.abs(heldTfjs.loss - heldEval[0]!['eval/loss/dpo']!) < 1e-3, `held-out loss ${heldTfjs.loss} vs ${heldEval[0]!['eval/loss/dpo']}`);
      assert.equal(heldTfjs.accuracy, heldEval[0]!['eval/rewards/accuracies']);
      // The reference is frozen: its log-probs are what they were.
      const again = scoreReference(reference, train.slice(0, 4), learnConfig, PAD);
      again.forEach((s, i) => assert.ok(Math.abs(s.refChosen - scoredTrain[i]!.refChosen) < 1e-4));
    } finally {
      setTrainingEngine('ort');
      opt.dispose();
      dispose(policy, reference);
      if (trained && trained !== policy) dispose(trained);
    }
  });
}

for (const engine of ['ort', 'tfjs'] as const) {
  test(`cancellation stops within one step with a cancel checkpoint, and no tensor outlives a step (${engine} engine)`, async () => {
    setTrainingEngine(engine);
    const policy = model(8);
    const reference = model(8);
    const opt = new AdamW(tf, DEFAULT_DPO.optim);
    const controller = new AbortController();
    const pairs = letterPairs(6, 3);
    const config = { ...DEFAULT_DPO, steps: 1000, batchSize: 2, maxLen: 16, evalEvery: 1 };
    const counts = new Map<number, number>();
    const events: StageEvent[] = [];
    try {
      await assert.rejects(
        (async () => {
          for await (const e of dpo(policy, reference, opt, { train: pairs, eval: pairs.slice(0, 2), pad: PAD }, config, controller.signal)) {
            events.push(e);
            if (e.type === 'metrics') counts.set(e.record.step, tf.memory().numTensors);
            if (e.type === 'metrics' && e.record.step === 3 && 'eval/loss/dpo' in e.record.values) controller.abort();
          }
        })(),
        (err: unknown) => err instanceof Error && err.name === 'AbortError',
      );
      const last = events[events.length - 1] as StageEvent & { type: 'checkpoint' };
      assert.deepEqual([last.type, last.step, last.reason], ['checkpoint', 3, 'cancel']);
      // The state saved is step 3's: the engine's snapshot (ONNX Runtime's buffers, or read back from the tfjs optimizer it trains with).
      assert.equal(last.snapshot?.optimizer.step, 3);
      if (engine === 'tfjs') assert.equal(opt.step, 3);
      assert.deepEqual([...last.snapshot!.weights.keys()].sort(), [...parameterShapes(small).keys()].sort());
      assert.equal(counts.get(3), counts.get(2));
      assert.equal(tf.memory().numTensors, counts.get(3));
    } finally {
      setTrainingEngine('ort');
      opt.dispose();
      dispose(policy, reference);
    }
  });
}

test('bad settings are refused before any step', async () => {
  const policy = model(9);
  const opt = new AdamW(tf, DEFAULT_DPO.optim);
  const pairs = letterPairs(2, 4);
  await assert.rejects(drain(dpo(policy, policy, opt, { train: pairs, eval: [], pad: PAD }, { ...DEFAULT_DPO, maxLen: 16, labelSmoothing: 0.5 })), /labelSmoothing must be in \[0, 0\.5\)/);
  await assert.rejects(drain(dpo(policy, policy, opt, { train: [], eval: [], pad: PAD }, { ...DEFAULT_DPO, maxLen: 16 })), /no preference pairs/);
  await assert.rejects(drain(dpo(policy, policy, opt, { train: pairs, eval: [], pad: PAD }, { ...DEFAULT_DPO, maxLen: 64 })), /exceeds the model's context 48/);
  assert.equal(opt.step, 0);
  opt.dispose();
  dispose(policy);
});

test('dpoConfig fills TRL-like defaults and the schedule length from the file', () => {
  const c = dpoConfig({ steps: 30, beta: 0.2 });
  assert.equal(c.beta, 0.2);
  assert.equal(c.labelSmoothing, 0);
  assert.equal(c.optim.totalSteps, 30);
  assert.equal(c.optim.weightDecay, 0);
  assert.equal(dpoConfig({}).beta, 0.1);
});

let dir: string;
before(async () => {
  await initCompute('wasm');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-dpo-'));
  const params = initParams(small, 1);
  saveCheckpoint(path.join(dir, 'base'), { config: small, kind: 'lm', weights: weightsOf({ config: small, params }), tokenizer: byteLevelTokenizerJson() });
  tf.dispose(Object.values(params));
  await Project.create(dir);
  const project = await Project.open(dir, { labeler: 'tester@example.com' });
  const { ids } = await project.prompts.add(['Say something: ', 'Another: ']);
  for (let i = 0; i < 6; i++) {
    const batch = await project.completions.addBatch({
      promptId: ids[i % 2]!,
      model: { path: path.join(dir, 'base') },
      completions: [{ text: `good ${i}` }, { text: `bad ${i}` }, { text: `meh ${i}` }],
    });
    await project.rankings.submit({ batchId: batch.id, ranks: [1, 3, 2] });
  }
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const capture = (): ReturnType<typeof captureIn> => captureIn(dir);
const writeConfig = (name: string, config: object): string => writeConfigIn(dir, name, config);

test('rlhf train dpo trains on the project rankings, writes the final policy, frees the reference', async () => {
  const config = writeConfig('dpo.json', { runId: 'dpo-test', model: 'base', steps: 4, batchSize: 2, maxLen: 24, evalFraction: 0.5, evalEvery: 2 });
  const tensorsBefore = tf.memory().numTensors;
  const c = capture();
  assert.equal(await runCli(['train', 'dpo', '--config', config, '--backend', 'wasm'], c.io), 0, c.err.join('\n'));
  assert.equal(tf.memory().numTensors, tensorsBefore);
  const runDir = path.join(dir, '.rlhf', 'runs', 'dpo-test');
  const final = loadCheckpoint(path.join(runDir, 'checkpoints', 'dpo', 'final'));
  assert.equal(final.kind, 'lm');
  assert.equal(modelWidth(final.config), 32);
  const lines = fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; stage: string; values: Record<string, number> });
  const train = lines.filter((l) => 'loss/dpo' in l.values);
  assert.deepEqual(
    train.map((l) => l.step),
    [1, 2, 3, 4],
  );
  assert.ok(lines.every((l) => l.stage === 'dpo'));
  // One of two prompts is held out: eval lines at steps 2 and 4.
  assert.deepEqual(
    lines.filter((l) => 'eval/rewards/accuracies' in l.values).map((l) => l.step),
    [2, 4],
  );
  assert.ok(
    c.out.some((l) => l.includes('final checkpoint:') && l.includes(path.join('checkpoints', 'dpo', 'final'))),
    c.out.join('\n'),
  );
});

test('rlhf train dpo: a bad setting names the file and field; no rankings is a clear error', async () => {
  const bad = writeConfig('bad-dpo.json', { model: 'base', labelSmoothing: 0.7 });
  const c = capture();
  assert.equal(await runCli(['train', 'dpo', '--config', bad, '--backend', 'wasm'], c.io), 1);
  assert.match(c.err.join('\n'), /bad-dpo\.json: .*labelSmoothing/);
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-dpo-empty-'));
  try {
    await Project.create(empty);
    const cfg = writeConfig('empty.json', { model: path.join(dir, 'base'), steps: 2 });
    const e = capture();
    assert.equal(await runCli(['train', 'dpo', '--config', cfg, '--project', empty, '--backend', 'wasm'], e.io), 1);
    assert.match(e.err.join('\n'), /dpo: no preference pairs to train on/);
  } finally {
    fs.rmSync(empty, { recursive: true, force: true });
  }
});

for (const firstEngine of ['ort', 'tfjs'] as const) {
  test(`a cancelled DPO run (${firstEngine} engine) resumes on ONNX Runtime against the original reference and matches an uninterrupted run`, async () => {
    // One seed for both runs (without one, each run id seeds its own data order).
    const settings = { model: 'base', steps: 8, batchSize: 2, maxLen: 24, evalFraction: 0, checkpointEvery: 2, seed: 11, optim: { lr: 1e-2, warmupSteps: 0 } };
    const whole = capture();
    assert.equal(
      await runCli(['train', 'dpo', '--config', writeConfig(`whole-${firstEngine}.json`, { ...settings, runId: `dpo-whole-${firstEngine}` }), '--backend', 'wasm'], whole.io),
      0,
      whole.err.join('\n'),
    );
    const cut = writeConfig(`cut-${firstEngine}.json`, { ...settings, runId: `dpo-cut-${firstEngine}` });
    const controller = new AbortController();
    const first = capture();
    const io: CliIo = { ...first.io, signal: controller.signal, out: (t) => (first.out.push(t), t.includes('[dpo] checkpoint at step 4') && controller.abort()) };
    assert.equal(await runCli(['train', 'dpo', '--config', cut, '--backend', 'wasm', '--engine', firstEngine], io), 130, first.err.join('\n'));
    const resumed = capture();
    assert.equal(await runCli(['train', 'dpo', '--config', cut, '--backend', 'wasm'], resumed.io), 0, resumed.err.join('\n'));
    assert.ok(
      resumed.out.some((l) => l.includes('resuming at step 4')),
      resumed.out.join('\n'),
    );
    const losses = (id: string): Map<number, number> => {
      const lines = fs
        .readFileSync(path.join(dir, '.rlhf', 'runs', id, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { step: number; values: Record<string, number> });
      return new Map(lines.filter((l) => 'loss/dpo' in l.values).map((l) => [l.step, l.values['loss/dpo']!]));
    };
    const a = losses(`dpo-whole-${firstEngine}`);
    const b = losses(`dpo-cut-${firstEngine}`);
    // The policy has moved by step 5 (lr 1e-2): a reference loaded from the step-4 checkpoint would give log 2.
    assert.ok(Math.abs(a.get(5)! - Math.log(2)) > 1e-3, `step 5 loss ${a.get(5)}`);
    // Same engine: the same numbers; the first four steps on tfjs: the same up to float rounding.
    const tolerance = firstEngine === 'ort' ? 1e-4 : 1e-3;
    for (let step = 1; step <= 8; step++) assert.ok(Math.abs(a.get(step)! - b.get(step)!) < tolerance, `step ${step}: ${a.get(step)} vs ${b.get(step)}`);
  });
}
