/**
 * `npm run bench:model`: what training and sampling the GPT-2 cost here, next to the same
 * model in PyTorch when python3 + torch are present (bench/torch_gpt.py), printed as a table
 * with ratios. Not a test: numbers depend on the machine.
 *
 * Measures, per config: train step (forward + cross-entropy + backward + Adam) ms and tokens/s
 * on tfjs-wasm (and tfjs-cpu for the reference config), and KV-cache sampling tokens/s.
 * Targets (2-core machine): train step ≤ 3× PyTorch's time; ORT sampling ≥ 1.5× PyTorch's tok/s.
 *
 * Usage: npm run bench:model [-- --quick] [-- --json out.json]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { GPT2Config } from '../src/core/model/config';
import { forward, initParams } from '../src/core/model/gpt2';
import type { Params } from '../src/core/model/gpt2';
import { crossEntropy } from '../src/core/model/ops';
import { sampleTfjs } from '../src/core/sample/tfjsSampler';
import { AdamW, DEFAULT_OPTIM } from '../src/core/train/optim';
import { DEFAULT_SAMPLING } from '../src/core/sample/types';

/** One benchmark shape: the model plus the batch it trains and samples on. */
export interface BenchConfig {
  readonly name: string;
  readonly vocab: number;
  readonly ctx: number;
  readonly d: number;
  readonly heads: number;
  readonly layers: number;
  readonly batch: number;
}

export const REFERENCE: BenchConfig = { name: 'reference', vocab: 512, ctx: 64, d: 128, heads: 4, layers: 2, batch: 8 };
const LARGER: BenchConfig[] = [
  { name: 'wider', vocab: 512, ctx: 64, d: 256, heads: 4, layers: 2, batch: 8 },
  { name: 'deeper', vocab: 512, ctx: 64, d: 256, heads: 8, layers: 6, batch: 8 },
  { name: 'longer', vocab: 2048, ctx: 128, d: 256, heads: 8, layers: 4, batch: 8 },
];
/** Sampling shape: this many prompts of PROMPT_LEN tokens, each continued to the context end. */
const PROMPT_LEN = 8;

export function toGPT2(c: BenchConfig): GPT2Config {
  return {
    vocab_size: c.vocab,
    n_positions: c.ctx,
    n_embd: c.d,
    n_layer: c.layers,
    n_head: c.heads,
    n_inner: null,
    layer_norm_epsilon: 1e-5,
    activation_function: 'gelu_new',
    bos_token_id: c.vocab - 1,
    eos_token_id: c.vocab - 1,
    scale_attn_weights: true,
  };
}

/** Median and fastest of repeated timings after warm-up, in ms (the fastest is the one least disturbed by other load). */
interface Timing {
  readonly median: number;
  readonly min: number;
}

async function timeMs(run: () => Promise<void> | void, warmup: number, reps: number): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)]!, min: times[0]! };
}

/**
 * The optimizer the training stages use (optim.ts) set up as torch.optim.Adam(lr=1e-3), as in
 * bench/torch_gpt.py: constant lr, betas (0.9, 0.999), eps 1e-8, no weight decay, no clipping
 * (the global gradient norm is still computed, as every stage reports it).
 */
const PLAIN_ADAM = { ...DEFAULT_OPTIM, lr: 1e-3, minLrRatio: 1, warmupSteps: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 0 };

/**
 * One training step (fwd + loss + bwd + Adam) of config `c` on the current backend, as a
 * function, with what it holds to dispose. Shared by benchTrain and bench/profile-train.ts.
 */
export function makeTrainStep(c: BenchConfig): { step: () => void; dispose: () => void } {
  const config = toGPT2(c);
  const params = initParams(config, 0);
  const names = Object.keys(params).sort();
  const optimizer = new AdamW(tf, PLAIN_ADAM);
  const ids = tf.randomUniformInt([c.batch, c.ctx + 1], 0, c.vocab, 1) as tf.Tensor2D;
  const inputs = tf.slice(ids, [0, 0], [c.batch, c.ctx]) as tf.Tensor2D;
  const targets = tf.reshape(tf.slice(ids, [0, 1], [c.batch, c.ctx]), [c.batch * c.ctx]) as tf.Tensor1D;
  const step = (): void => {
    const loss = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(
        () => {
          const { logits } = forward(params, config, { ids: inputs });
          return crossEntropy(tf.reshape(logits!, [c.batch * c.ctx, c.vocab]) as tf.Tensor2D, targets);
        },
        names.map((n) => params[n]!),
      );
      optimizer.apply(params, Object.fromEntries(names.map((n) => [n, grads[params[n]!.name]!])));
      return value;
    });
    loss.dataSync();
    loss.dispose();
  };
  return {
    step,
    dispose: () => {
      optimizer.dispose();
      tf.dispose([ids, inputs, targets, ...Object.values(params)]);
    },
  };
}

/** ms per training step (fwd + loss + bwd + Adam) on the current backend. */
async function benchTrain(c: BenchConfig, reps: number): Promise<Timing> {
  const { step, dispose } = makeTrainStep(c);
  const ms = await timeMs(step, 2, reps);
  dispose();
  return ms;
}

/**
 * A sampler under test: continue `prompts` by `maxNewTokens` greedy-free (temperature 1)
 * tokens; returns how many tokens it generated. bench/model-ort.ts adds ONNX Runtime's.
 */
export type SamplerUnderTest = (config: GPT2Config, params: Params, prompts: number[][], maxNewTokens: number) => Promise<number>;

const SAMPLERS: { readonly label: string; readonly run: SamplerUnderTest }[] = [
  {
    label: 'tfjs-wasm',
    run: async (config, params, prompts, maxNewTokens) => {
      const out = await sampleTfjs({ params, config }, prompts, { ...DEFAULT_SAMPLING, maxNewTokens, seed: 1 }, () => '');
      return out.reduce((n, c) => n + c.tokens.length, 0);
    },
  },
  // ORT KV-cache sampler goes here: { label: 'ort-cpu', run: ... }
];

/** Generated tokens per second of one sampler on config c (batch prompts, continued to the context end). */
export async function benchSampler(c: BenchConfig, run: SamplerUnderTest, reps: number): Promise<number> {
  const config = toGPT2(c);
  const params = initParams(config, 0);
  const prompts = Array.from({ length: c.batch }, (_, b) => Array.from({ length: PROMPT_LEN }, (_, t) => (b * 31 + t * 7) % (c.vocab - 1)));
  const maxNew = c.ctx - PROMPT_LEN;
  let tokens = 0;
  const ms = await timeMs(async () => void (tokens = await run(config, params, prompts, maxNew)), 1, reps);
  tf.dispose(Object.values(params));
  return (tokens / ms.median) * 1000;
}

interface TorchResult {
  readonly train_ms: number;
  readonly train_min_ms: number;
  readonly sample_tok_s: number;
  readonly torch: string;
  readonly threads: number;
}

/** The first python with torch: PATH's python3 may be a pyenv shim without Debian's dist-packages. */
export function findTorchPython(): string | undefined {
  for (const py of ['python3', '/usr/bin/python3']) {
    if (spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0) return py;
  }
  return undefined;
}

/**
 * Runs bench/torch_gpt.py on the same config with all cores and with one thread, and keeps
 * the faster by median train step: on a busy machine OpenMP's extra thread can make PyTorch
 * much slower, and the comparison is against PyTorch at its best. Or says why it could not.
 */
function benchTorch(c: BenchConfig, reps: number): TorchResult | string {
  const py = findTorchPython();
  if (!py) return 'PyTorch not present (apt-get install python3-torch libopenblas0-pthread)';
  const script = path.join(__dirname, 'torch_gpt.py');
  const results: TorchResult[] = [];
  for (const threads of [0, 1]) {
    const r = spawnSync(py, [script, JSON.stringify({ ...c, reps, prompt_len: PROMPT_LEN, threads })], { encoding: 'utf8' });
    if (r.status !== 0) return `torch_gpt.py failed: ${r.stderr.trim().split('\n').pop()}`;
    results.push(JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchResult);
  }
  const best = results.reduce((a, b) => (b.train_ms < a.train_ms ? b : a));
  return { ...best, sample_tok_s: Math.max(...results.map((r) => r.sample_tok_s)) };
}

async function useBackend(name: 'wasm' | 'cpu'): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed`);
  await tf.ready();
}

const fmt = (x: number | undefined, digits = 1): string => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits));

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, json: { type: 'string' } } });
  const configs = values.quick ? [REFERENCE] : [REFERENCE, ...LARGER];
  setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep);
  const rows: Record<string, unknown>[] = [];
  for (const c of configs) {
    const reps = c === REFERENCE ? 10 : 3;
    await useBackend('wasm');
    const trainMs = await benchTrain(c, reps);
    const sampling: Record<string, number> = {};
    for (const s of SAMPLERS) sampling[s.label] = await benchSampler(c, s.run, c === REFERENCE ? 3 : 1);
    let cpuTrainMs: Timing | undefined;
    if (c === REFERENCE && !values.quick) {
      await useBackend('cpu');
      cpuTrainMs = await benchTrain(c, 2);
    }
    const torch = benchTorch(c, reps);
    const t = typeof torch === 'string' ? undefined : torch;
    const tokens = c.batch * c.ctx;
    const row = {
      config: `${c.name} (V${c.vocab} T${c.ctx} d${c.d} h${c.heads} L${c.layers} B${c.batch})`,
      wasmTrainMs: trainMs.median,
      wasmTrainMinMs: trainMs.min,
      wasmTrainTokS: (tokens / trainMs.median) * 1000,
      cpuTrainMs: cpuTrainMs?.median,
      torchTrainMs: t?.train_ms,
      torchTrainMinMs: t?.train_min_ms,
      trainRatio: t ? trainMs.median / t.train_ms : undefined,
      trainRatioMin: t ? trainMs.min / t.train_min_ms : undefined,
      sampling,
      torchSampleTokS: t?.sample_tok_s,
      torchNote: t ? `torch ${t.torch}; train timed with ${t.threads} thread(s), the faster of all cores and 1; sampling the faster` : (torch as string),
    };
    rows.push(row);
    console.log(`\n${row.config}`);
    console.log(
      `  train step  tfjs-wasm ${fmt(trainMs.median)} ms median, ${fmt(trainMs.min)} min (${fmt(row.wasmTrainTokS, 0)} tok/s)` + (cpuTrainMs ? `   tfjs-cpu ${fmt(cpuTrainMs.median)} ms` : ''),
    );
    console.log(`              pytorch   ${fmt(row.torchTrainMs)} ms median, ${fmt(row.torchTrainMinMs)} min`);
    console.log(`              ratio tfjs-wasm / pytorch: ${fmt(row.trainRatio, 2)}× median, ${fmt(row.trainRatioMin, 2)}× min (target ≤ 3×)`);
    for (const [label, tokS] of Object.entries(sampling)) {
      const vs = row.torchSampleTokS ? `  = ${fmt(tokS / row.torchSampleTokS, 2)}× pytorch` : '';
      console.log(`  sampling    ${label.padEnd(9)} ${fmt(tokS, 0)} tok/s${vs}`);
    }
    console.log(`              pytorch   ${fmt(row.torchSampleTokS, 0)} tok/s   (${row.torchNote})`);
  }
  if (values.json) fs.writeFileSync(values.json, JSON.stringify(rows, null, 2));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
