/**
 * The Llama-family graphs against independent references, on tiny random Llama (llama3 rope
 * scaling, untied head, all biases), Qwen2 (q/k/v biases, tied head, linear rope scaling, GQA 4:1)
 * and Qwen3 (per-head q/k RMSNorm, head_dim 16 ≠ hidden/heads, GQA 4:2) models:
 * - llamaReference.ts, a plain float64 forward written from transformers' formulas (always run):
 *   logits of a batch with left-padded rows through the KV-cache graph (plain and fused, prompt
 *   whole or in pieces), 8 greedy tokens, the policy-style masked model graph, and the training
 *   graph's loss and gradients (central differences of the reference's loss);
 * - bench/torch_llama.py, PyTorch written from the same formulas, when `python3 -c "import torch"`
 *   works: logits, the training loss and every gradient (autograd).
 * Logits, losses and PyTorch's gradients to 1e-4 relative (relError); the finite-difference
 * gradients (three elements of every parameter) to 1e-3 of the parameter's largest gradient.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import type { LlamaConfig } from '../../../../src/core/model/llamaConfig';
import { llamaParameterShapes } from '../../../../src/core/model/llamaConfig';
import type { NamedTensor } from '../../../../src/core/model/safetensors';
import { gradName } from '../../../../src/core/onnx/gptGraph';
import { buildLlamaGraph, buildLlamaLmTrainGraph, llamaModelGraph } from '../../../../src/core/onnx/llamaGraph';
import { TINY_LLAMA, TINY_QWEN2, TINY_QWEN3, randomLlamaWeights } from './llamaModels';
import { referenceGreedy, referenceLogits, referenceLoss } from './llamaReference';
import { relError } from './relError';

const MODELS: readonly LlamaConfig[] = [TINY_LLAMA, TINY_QWEN2, TINY_QWEN3];
const TOLERANCE = 1e-4;

/** Three rows of 7: one full, one left padded by 3, one by 1. */
const IDS = [
  [5, 9, 13, 2, 40, 7, 8],
  [0, 0, 0, 11, 3, 60, 22],
  [0, 4, 4, 4, 17, 33, 1],
];
const MASK = [
  [1, 1, 1, 1, 1, 1, 1],
  [0, 0, 0, 1, 1, 1, 1],
  [0, 1, 1, 1, 1, 1, 1],
];

const asRef = (w: ReadonlyMap<string, NamedTensor>): Map<string, ArrayLike<number>> => new Map([...w].map(([k, v]) => [k, v.data]));
const session = (bytes: Uint8Array): Promise<ort.InferenceSession> => ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
const int64 = (rows: readonly (readonly number[])[], from = 0, to = rows[0]?.length ?? 0): ort.Tensor =>
  new ort.Tensor('int64', BigInt64Array.from(rows.flatMap((r) => r.slice(from, to).map(BigInt))), [rows.length, to - from]);
/** Positions as the sampler feeds them: each row's real tokens counted from 0, padding at 0. */
const positionsOf = (mask: readonly (readonly number[])[]): number[][] =>
  mask.map((m) => {
    let seen = 0;
    return m.map((v) => (v ? seen++ : 0));
  });

/** The reference's logits at the real positions, and the graph's at the same places (`at(b, t)`: a row of V). */
function compareReal(ref: (number[] | null)[][], at: (b: number, t: number) => ArrayLike<number>): number {
  const got: number[] = [];
  const want: number[] = [];
  ref.forEach((row, b) =>
    row.forEach((z, t) => {
      if (!z) return;
      want.push(...z);
      got.push(...Array.from(at(b, t)));
    }),
  );
  return relError(got, want);
}

/** A KV-cache session run over `ids` in pieces ending at `cuts`: the logits of every position, [B][T] rows of V. */
async function cachedLogits(s: ort.InferenceSession, config: LlamaConfig, ids: number[][], mask: number[][], cuts: readonly number[]): Promise<Float32Array[][]> {
  const B = ids.length;
  const V = config.vocab_size;
  const positions = positionsOf(mask);
  let past = emptyPast(config, B);
  const out: Float32Array[][] = ids.map(() => []);
  let from = 0;
  for (const to of cuts) {
    const r = await s.run({ input_ids: int64(ids, from, to), attention_mask: int64(mask, 0, to), position_ids: int64(positions, from, to), ...past });
    past = presentAsPast(config, r);
    const logits = r.logits?.data as Float32Array;
    const n = logits.length / (B * V);
    for (let b = 0; b < B; b++) for (let t = 0; t < n; t++) out[b]?.push(logits.slice((b * n + t) * V, (b * n + t + 1) * V));
    from = to;
  }
  return out;
}

function emptyPast(config: LlamaConfig, B: number): Record<string, ort.Tensor> {
  const past: Record<string, ort.Tensor> = {};
  for (let i = 0; i < config.num_hidden_layers; i++)
    for (const kind of ['key', 'value']) past[`past_key_values.${i}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [B, config.num_key_value_heads, 0, config.head_dim]);
  return past;
}

function presentAsPast(config: LlamaConfig, out: ort.InferenceSession.OnnxValueMapType): Record<string, ort.Tensor> {
  const past: Record<string, ort.Tensor> = {};
  for (let i = 0; i < config.num_hidden_layers; i++) for (const kind of ['key', 'value']) past[`past_key_values.${i}.${kind}`] = out[`present.${i}.${kind}`] as ort.Tensor;
  return past;
}

/** Greedy decoding through the sampling graph (last-position logits): left-padded prefill, then one token a step. */
async function graphGreedy(s: ort.InferenceSession, config: LlamaConfig, prompts: readonly (readonly number[])[], steps: number): Promise<number[][]> {
  const B = prompts.length;
  const P = Math.max(...prompts.map((r) => r.length));
  const ids = prompts.map((r) => [...new Array<number>(P - r.length).fill(0), ...r]);
  const mask = prompts.map((r) => [...new Array<number>(P - r.length).fill(0), ...r.map(() => 1)]);
  let r = await s.run({ input_ids: int64(ids), attention_mask: int64(mask), position_ids: int64(positionsOf(mask)), ...emptyPast(config, B) });
  const out: number[][] = prompts.map(() => []);
  const V = config.vocab_size;
  for (let step = 0; step < steps; step++) {
    const logits = r.logits?.data as Float32Array;
    const next = prompts.map((_, b) => {
      const row = logits.subarray(b * V, (b + 1) * V);
      return row.indexOf(Math.max(...row));
    });
    next.forEach((tok, b) => {
      out[b]?.push(tok);
      mask[b]?.push(1);
    });
    if (step === steps - 1) break;
    const positions = prompts.map((p) => [p.length + step]);
    r = await s.run({ input_ids: int64(next.map((tok) => [tok])), attention_mask: int64(mask), position_ids: int64(positions), ...presentAsPast(config, r) });
  }
  return out;
}

for (const config of MODELS) {
  const name = config.architecture;
  const weights = randomLlamaWeights(config, 3);
  const ref = referenceLogits(config, asRef(weights), IDS, MASK);

  test(`${name}: logits of a left-padded batch through the KV-cache graph match the float64 reference (plain: whole and 4 + 3; fused: 4 + 1 + 1 + 1)`, async () => {
    for (const [fused, cuts] of [
      [false, [7]],
      [false, [4, 7]],
      [true, [7]],
      // GroupQueryAttention continues a cache one token at a time when the batch has several rows.
      [true, [4, 5, 6, 7]],
    ] as const) {
      const s = await session(buildLlamaGraph(config, weights, { fused }));
      try {
        const got = await cachedLogits(s, config, IDS, MASK, cuts);
        const err = compareReal(ref, (b, t) => got[b]?.[t] as Float32Array);
        assert.ok(err < TOLERANCE, `${name} ${fused ? 'fused' : 'plain'} [${cuts}]: relative error ${err}`);
      } finally {
        await s.release();
      }
    }
  });

  test(`${name}: 8 greedy tokens through the sampling graph (plain and fused) are the reference's`, async () => {
    const prompts = [
      [5, 9, 13, 2, 40],
      [11, 3, 60],
      [4, 4, 4, 17, 33, 1],
    ];
    const expected = referenceGreedy(config, asRef(weights), prompts, 8);
    for (const fused of [false, true]) {
      const s = await session(buildLlamaGraph(config, weights, { fused, logits: 'last' }));
      try {
        assert.deepEqual(await graphGreedy(s, config, prompts, 8), expected, `${name} ${fused ? 'fused' : 'plain'}`);
      } finally {
        await s.release();
      }
    }
  });

  test(`${name}: the model graph over left-padded rows (policy scoring), fixed weights, gives the reference's logits`, async () => {
    const m = llamaModelGraph(config, ['rows', 'seq'], { masked: true, weights });
    const g = m.t.g;
    g.output(g.op('MatMul', [m.hidden, g.op('Transpose', [m.p(m.lmHead)], { perm: [1, 0] })]), 'logits', 'float', ['rows', 'seq', config.vocab_size]);
    const s = await session(g.model('scoring', 'test'));
    try {
      const out = await s.run({ input_ids: int64(IDS), attention_mask: new ort.Tensor('float32', Float32Array.from(MASK.flat()), [3, 7]) });
      const logits = out.logits?.data as Float32Array;
      const V = config.vocab_size;
      const err = compareReal(ref, (b, t) => logits.subarray((b * 7 + t) * V, (b * 7 + t + 1) * V));
      assert.ok(err < TOLERANCE, `${name}: relative error ${err}`);
    } finally {
      await s.release();
    }
  });

  test(`${name}: the LM training graph's loss is the reference's, its gradients the reference's central differences`, async () => {
    const batch = trainingBatch(config);
    const { loss, grads, gradNorm } = await trainingStep(config, weights, batch);
    const w64 = new Map([...weights].map(([k, v]) => [k, Float64Array.from(v.data)]));
    const refLoss = referenceLoss(config, w64, batch.ids, batch.targets, batch.lossMask);
    assert.ok(Math.abs(loss - refLoss) < TOLERANCE * Math.max(1, refLoss), `loss ${loss} vs ${refLoss}`);
    let squares = 0;
    for (const [param, shape] of llamaParameterShapes(config)) {
      const got = grads.get(param) as Float32Array;
      assert.equal(
        got.length,
        shape.reduce((a, b) => a * b, 1),
        param,
      );
      for (const v of got) squares += v * v;
      // Three elements of each parameter: the first, one in the middle, the last (the embedding: rows that are used).
      const data = w64.get(param) as Float64Array;
      const picks = param === 'model.embed_tokens.weight' ? [5 * config.hidden_size + 3, 40 * config.hidden_size] : [0, Math.floor(data.length / 2), data.length - 1];
      const scale = Math.max(...Array.from(got, Math.abs), 1e-6);
      for (const i of picks) {
        const keep = data[i] as number;
        const h = 1e-5;
        data[i] = keep + h;
        const up = referenceLoss(config, w64, batch.ids, batch.targets, batch.lossMask);
        data[i] = keep - h;
        const down = referenceLoss(config, w64, batch.ids, batch.targets, batch.lossMask);
        data[i] = keep;
        const numeric = (up - down) / (2 * h);
        assert.ok(Math.abs((got[i] as number) - numeric) < 1e-3 * scale, `${name}: d loss / d ${param}[${i}]: graph ${got[i]}, reference ${numeric}`);
      }
    }
    assert.ok(Math.abs(gradNorm - Math.sqrt(squares)) < 1e-4 * Math.sqrt(squares), `grad_norm ${gradNorm} vs ${Math.sqrt(squares)}`);
  });
}

test('a fused graph whose head width is not a multiple of 8 (GroupQueryAttention’s) falls back to the plain attention', async () => {
  const config: LlamaConfig = { ...TINY_QWEN3, head_dim: 12 };
  const weights = randomLlamaWeights(config, 4);
  const ref = referenceLogits(config, asRef(weights), IDS, MASK);
  const s = await session(buildLlamaGraph(config, weights, { fused: true }));
  try {
    const got = await cachedLogits(s, config, IDS, MASK, [4, 7]);
    const err = compareReal(ref, (b, t) => got[b]?.[t] as Float32Array);
    assert.ok(err < TOLERANCE, `relative error ${err}`);
  } finally {
    await s.release();
  }
});

interface TrainingBatch {
  readonly ids: number[][];
  readonly targets: number[][];
  readonly lossMask: number[][];
}

/** Three rows of 6, the last right padded (loss masked), targets the next tokens. */
function trainingBatch(config: LlamaConfig): TrainingBatch {
  const ids = [0, 1, 2].map((b) => Array.from({ length: 6 }, (_, t) => (b * 17 + t * 29 + 5) % config.vocab_size));
  const targets = ids.map((r) => r.map((_, t) => (r[t + 1] ?? r[0]) as number));
  const lossMask = [
    [1, 1, 1, 1, 1, 0],
    [1, 1, 1, 1, 1, 0],
    [1, 1, 1, 0, 0, 0],
  ];
  return { ids, targets, lossMask };
}

async function trainingStep(config: LlamaConfig, weights: ReadonlyMap<string, NamedTensor>, batch: TrainingBatch): Promise<{ loss: number; gradNorm: number; grads: Map<string, Float32Array> }> {
  const s = await session(buildLlamaLmTrainGraph(config));
  try {
    const feeds: Record<string, ort.Tensor> = {
      input_ids: int64(batch.ids),
      targets: int64(batch.targets),
      loss_mask: new ort.Tensor('float32', Float32Array.from(batch.lossMask.flat()), [3, 6]),
    };
    for (const [param, w] of weights) feeds[param] = new ort.Tensor('float32', w.data, [...w.shape]);
    const out = await s.run(feeds);
    const grads = new Map([...llamaParameterShapes(config).keys()].map((param) => [param, out[gradName(param)]?.data as Float32Array]));
    return { loss: out.loss?.data[0] as number, gradNorm: out.grad_norm?.data[0] as number, grads };
  } finally {
    await s.release();
  }
}

/** Debian's torch lives under /usr/bin/python3, which a pyenv shim may hide. */
const python = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import torch']).status === 0);

test(
  'PyTorch (bench/torch_llama.py, from transformers’ formulas): the same logits, training loss and every gradient',
  { skip: python ? false : 'PyTorch is not installed (python3 -c "import torch" fails)' },
  async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llama-torch-'));
    try {
      for (const config of MODELS) {
        const weights = randomLlamaWeights(config, 3);
        const batch = trainingBatch(config);
        const input = path.join(dir, 'in.json');
        const output = path.join(dir, 'out.json');
        const w = Object.fromEntries([...weights].map(([k, v]) => [k, [v.shape, Array.from(v.data)]]));
        fs.writeFileSync(input, JSON.stringify({ config, weights: w, ids: IDS, mask: MASK, train_ids: batch.ids, targets: batch.targets, loss_mask: batch.lossMask }));
        const run = spawnSync(python as string, [path.join(__dirname, '../../../../bench/torch_llama.py'), 'check', input, output], { encoding: 'utf8' });
        assert.equal(run.status, 0, run.stderr);
        const torch = JSON.parse(fs.readFileSync(output, 'utf8')) as { logits: number[]; loss: number; grads: Record<string, number[]> };
        const V = config.vocab_size;
        const s = await session(buildLlamaGraph(config, weights));
        try {
          const got = await cachedLogits(s, config, IDS, MASK, [7]);
          const want = MASK.map((m, b) => m.map((real, t) => (real ? torch.logits.slice((b * 7 + t) * V, (b * 7 + t + 1) * V) : null)));
          const err = compareReal(want, (b, t) => got[b]?.[t] as Float32Array);
          assert.ok(err < TOLERANCE, `${config.architecture}: logits vs PyTorch, relative error ${err}`);
        } finally {
          await s.release();
        }
        const { loss, grads } = await trainingStep(config, weights, batch);
        assert.ok(Math.abs(loss - torch.loss) < TOLERANCE * Math.max(1, torch.loss), `${config.architecture}: loss ${loss} vs PyTorch ${torch.loss}`);
        for (const [param, g] of grads) {
          const err = relError(g, torch.grads[param] as number[]);
          assert.ok(err < TOLERANCE, `${config.architecture}: gradient of ${param} vs PyTorch, relative error ${err}`);
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
