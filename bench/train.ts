/**
 * `npm run bench:train`: one training step (forward + LM loss + backward + Adam) of GPT-2 at the
 * reference config, at distilgpt2's size and at gpt2's size (random weights), on the ONNX Runtime
 * engine (all cores and one thread), on tfjs-wasm (today's engine) and in PyTorch (all threads and
 * one; bench/torch_gpt.py, when python3-torch is installed), side by side, with ratios to
 * PyTorch's best. Each measurement runs in its own process, so its peak RSS is its own.
 * Not a test: numbers depend on the machine.
 *
 * Usage: npm run bench:train [-- --sizes reference,distilgpt2,gpt2] [-- --engines ort,ort1,tfjs,torch,torch1] [-- --reps N] [-- --provider cpu|webgpu|cuda]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { BenchConfig } from './model';
import { findTorchPython, REFERENCE, toGPT2 } from './model';

const SIZES: Readonly<Record<string, BenchConfig>> = {
  reference: REFERENCE,
  distilgpt2: { name: 'distilgpt2', vocab: 50257, ctx: 128, d: 768, heads: 12, layers: 6, batch: 4 },
  gpt2: { name: 'gpt2', vocab: 50257, ctx: 128, d: 768, heads: 12, layers: 12, batch: 4 },
};
const ENGINES = ['ort', 'ort1', 'tfjs', 'torch', 'torch1'] as const;
type Engine = (typeof ENGINES)[number];

interface Result {
  readonly engine: Engine;
  readonly size: string;
  readonly ms?: number;
  readonly minMs?: number;
  readonly rssMb?: number;
  readonly note?: string;
}

const PLAIN_ADAM_NOTE = 'Adam(lr 1e-3, betas 0.9/0.999), no decay, no clipping';

/** One measurement in this process: ms per step (median, min) and peak RSS. */
async function measure(engine: Engine, c: BenchConfig, reps: number, provider: string): Promise<Omit<Result, 'engine' | 'size'>> {
  const warmup = c.name === 'reference' ? 2 : 1;
  let step: () => Promise<void> | void;
  let dispose: () => Promise<void> | void;
  if (engine === 'ort' || engine === 'ort1') {
    const { OrtTrainer } = await import('../src/core/train/ort/trainer');
    const { DEFAULT_OPTIM } = await import('../src/core/train/optim');
    const { initParameter } = await import('../src/core/model/init');
    const { parameterShapes } = await import('../src/core/model/config');
    const config = toGPT2(c);
    // GPT-2's random init (initWeights' seeds), one parameter at a time straight into the
    // trainer's memory, as a stage loads a checkpoint: no second copy of the model.
    const index = new Map([...parameterShapes(config).keys()].map((name, i) => [name, i + 1]));
    const fill = (name: string, into: Float32Array): void => into.set(initParameter(name, parameterShapes(config).get(name) as number[], index.get(name) as number, config.n_layer));
    const trainer = await OrtTrainer.lm(config, fill, { ...(engine === 'ort1' ? { threads: 1 } : {}), provider });
    const adam = trainer.optimizer({ ...DEFAULT_OPTIM, lr: 1e-3, minLrRatio: 1, warmupSteps: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 0 });
    const N = c.batch * c.ctx;
    const ids = Int32Array.from({ length: N }, (_, i) => (i * 7919 + 13) % c.vocab);
    const targets = Int32Array.from({ length: N }, (_, i) => (i * 104729 + 7) % c.vocab);
    step = async () => {
      const out = await trainer.lossAndGrads({ B: c.batch, T: c.ctx, ids, targets });
      adam.apply(trainer.params, out.grads, out.gradNorm);
    };
    dispose = () => trainer.release();
  } else {
    const { initCompute } = await import('../src/core/compute/backend');
    const { makeTrainStep } = await import('./model');
    await initCompute('wasm'); // the tfjs engine on tfjs-backend-wasm's own kernels
    const made = makeTrainStep(c);
    step = made.step;
    dispose = made.dispose;
  }
  for (let i = 0; i < warmup; i++) await step();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await step();
    times.push(performance.now() - t0);
  }
  await dispose();
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)] as number, minMs: times[0] as number, rssMb: process.resourceUsage().maxRSS / 1024 };
}

function torch(c: BenchConfig, reps: number, threads: number): Omit<Result, 'engine' | 'size'> {
  const script = path.join(__dirname, 'torch_gpt.py');
  const py = findTorchPython();
  if (!py) return { note: 'PyTorch not present (apt-get install python3-torch libopenblas0-pthread)' };
  const r = spawnSync(py, [script, JSON.stringify({ vocab: c.vocab, ctx: c.ctx, d: c.d, heads: c.heads, layers: c.layers, batch: c.batch, reps, prompt_len: 8, threads, only: 'train' })], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) return { note: `PyTorch not run: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}` };
  const out = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { train_ms: number; train_min_ms: number; peak_rss_mb?: number; threads: number };
  return { ms: out.train_ms, minMs: out.train_min_ms, ...(out.peak_rss_mb ? { rssMb: out.peak_rss_mb } : {}), note: `${out.threads} thread(s)` };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { sizes: { type: 'string' }, engines: { type: 'string' }, reps: { type: 'string' }, provider: { type: 'string' }, one: { type: 'string' }, json: { type: 'string' } },
  });
  const reps = Number(values.reps ?? 3);
  const provider = values.provider ?? 'cpu';
  if (values.one) {
    // A child: one engine at one size, its result as one JSON line.
    const [engine, size] = values.one.split(':') as [Engine, string];
    console.log(JSON.stringify(await measure(engine, SIZES[size] as BenchConfig, reps, provider)));
    return;
  }
  const sizes = (values.sizes ?? 'reference,distilgpt2,gpt2').split(',');
  const engines = (values.engines ?? ENGINES.join(',')).split(',') as Engine[];
  const results: Result[] = [];
  for (const size of sizes) {
    const c = SIZES[size];
    if (!c) throw new Error(`unknown size '${size}': ${Object.keys(SIZES).join(', ')}`);
    for (const engine of engines) {
      process.stderr.write(`bench:train ${size} ${engine}…\n`);
      if (engine === 'torch' || engine === 'torch1') {
        results.push({ engine, size, ...torch(c, reps, engine === 'torch1' ? 1 : 0) });
        continue;
      }
      const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--one', `${engine}:${size}`, '--reps', String(reps), '--provider', provider], { encoding: 'utf8', maxBuffer: 1 << 24 });
      const line = r.stdout.trim().split('\n').pop() ?? '';
      results.push(
        r.status === 0 && line.startsWith('{') ? { engine, size, ...(JSON.parse(line) as object) } : { engine, size, note: `failed: ${(r.stderr || '').trim().split('\n').slice(-2).join(' ')}` },
      );
    }
  }
  print(results, provider);
  if (values.json) fs.writeFileSync(values.json, JSON.stringify(results, null, 2));
}

function print(results: readonly Result[], provider: string): void {
  const label: Record<Engine, string> = {
    ort: `ONNX Runtime (${provider}, all cores)`,
    ort1: `ONNX Runtime (${provider}, 1 thread)`,
    tfjs: 'tfjs-wasm',
    torch: 'PyTorch (all threads)',
    torch1: 'PyTorch (1 thread)',
  };
  console.log(`\ntrain step: forward + LM loss + backward + ${PLAIN_ADAM_NOTE}; median ms (min), peak RSS; ratio = ms / PyTorch's best`);
  for (const size of [...new Set(results.map((r) => r.size))]) {
    const c = SIZES[size] as BenchConfig;
    const rows = results.filter((r) => r.size === size);
    const torchBest = Math.min(...rows.filter((r) => r.engine.startsWith('torch') && r.ms !== undefined).map((r) => r.ms as number));
    console.log(`\n${size}: vocab ${c.vocab}, ctx ${c.ctx}, d ${c.d}, ${c.heads} heads, ${c.layers} layers, batch ${c.batch} (${((c.batch * c.ctx) / 1000).toFixed(1)}k tokens/step)`);
    for (const r of rows) {
      const ratio = r.ms !== undefined && Number.isFinite(torchBest) ? `${(r.ms / torchBest).toFixed(2)}×` : '';
      const tokS = r.ms !== undefined ? `${Math.round((c.batch * c.ctx) / (r.ms / 1000))} tok/s` : '';
      const ms = r.ms !== undefined ? `${r.ms.toFixed(0)} ms (${(r.minMs as number).toFixed(0)})` : '—';
      console.log(`  ${label[r.engine].padEnd(34)} ${ms.padStart(18)} ${tokS.padStart(12)} ${r.rssMb ? `${r.rssMb.toFixed(0)} MB`.padStart(9) : ''.padStart(9)} ${ratio.padStart(7)} ${r.note ?? ''}`);
    }
  }
}

void main();
