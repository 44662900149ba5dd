/**
 * `npm run bench:ppo`: the time of one PPO iteration, split into rollout (ORT KV-cache
 * sampling), scoring (policy and reference log-probs, values, reward model) and update (GAE, the
 * clipped PPO epochs and the sampler's refresh), with response tokens/s and the process's peak
 * RSS, at the tiny default model, at distilgpt2's size and at gpt2's size (random weights) — on
 * the ONNX Runtime engine (PPO's default), optionally on the tfjs engine (very slow at real
 * sizes), and in PyTorch (bench/torch_ppo.py, all threads and one, when python3 + torch are
 * present), with ratios to PyTorch's best. Each measurement runs in its own process, so its peak
 * RSS is its own: what a user's PPO run holds (policy + value head + optimizer state, the
 * frozen reference, the reward model, the sampler). Not a test: numbers depend on the machine.
 *
 * Shape: 32 rollouts × 32 new tokens from 8-token prompts, 2 epochs × 4 minibatches; the
 * reference is a copy of the initial policy, the reward model a random model of the same size.
 * The first iteration is warm-up: medians are over the others.
 *
 * Targets (issue 16): a PPO iteration at gpt2 size at most 1.0× PyTorch's time; at tiny size no
 * slower than 0.47 s; gpt2-size peak RSS at most 6 GB.
 *
 * Usage: npm run bench:ppo [-- --sizes tiny,distilgpt2,gpt2] [-- --engines ort,tfjs,torch]
 *   [-- --iterations N (default 6 at tiny, 3 at the real sizes)] [-- --backend wasm|cpu (tfjs's)] [-- --json FILE]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { GPT2Config } from '../src/core/model/config';
import { TINY_CONFIG } from '../src/core/model/config';
import type { Scorer } from '../src/core/train/rollout/rollout';

const SHAPE = { rollout: 32, promptLen: 8, newTokens: 32, epochs: 2, minibatches: 4 };

const SIZES: Readonly<Record<string, GPT2Config>> = {
  tiny: TINY_CONFIG,
  distilgpt2: { ...TINY_CONFIG, vocab_size: 50257, n_positions: 128, n_embd: 768, n_head: 12, n_layer: 6, bos_token_id: 50256, eos_token_id: 50256 },
  gpt2: { ...TINY_CONFIG, vocab_size: 50257, n_positions: 128, n_embd: 768, n_head: 12, n_layer: 12, bos_token_id: 50256, eos_token_id: 50256 },
};
const ENGINES = ['ort', 'tfjs', 'torch'] as const;
type Engine = (typeof ENGINES)[number];
/** A table row: the engines, with PyTorch's two thread settings apart. */
type Row = 'ort' | 'tfjs' | 'torch' | 'torch1';

interface Phases {
  readonly rollout: number;
  readonly scoring: number;
  readonly update: number;
  /** The median iteration (not the sum of the phases' medians). */
  readonly total: number;
}

interface Measured extends Phases {
  readonly tokS: number;
  readonly rssMb: number;
  /** Iterations the medians are over (the warm-up excluded, unless it was the only one). */
  readonly timed: number;
  readonly backend: string;
}

interface Result extends Partial<Measured> {
  readonly size: string;
  readonly engine: Row;
  readonly note?: string;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/**
 * One engine at one size in this process. The models are built as a user's run loads them from
 * checkpoints (run/jobs.ts's loadModel: plain arrays, made tfjs variables only if the tfjs engine
 * asks; the policy with a fresh value head, the reference, the reward model), then handed over
 * as run/jobs.ts does: on ONNX Runtime the reward model's session takes its weights and frees its
 * tensors, the sampler copies the policy's LM weights, and the stage moves the policy into the
 * trainer and the reference into its session, freeing theirs.
 */
async function measure(engine: 'ort' | 'tfjs', config: GPT2Config, iterations: number, backend: 'wasm' | 'cpu'): Promise<Measured> {
  const { computeReport } = await import('../src/core/compute/backend');
  const { initParameter } = await import('../src/core/model/init');
  const { parameterShapes } = await import('../src/core/model/config');
  const { modelFromCheckpoint } = await import('../src/core/train/model');
  const { byteLevelTokenizerJson } = await import('../src/core/tokenizer/byteLevel');
  const { tokenizerFromJson } = await import('../src/core/tokenizer/tokenizer');
  const { AdamWState } = await import('../src/core/train/optim');
  const { setTrainingEngine } = await import('../src/core/train/engine');
  const { resolveOrtDevice } = await import('../src/core/train/ort/device');
  const { DEFAULT_PPO, ppo } = await import('../src/core/train/stages/ppo');
  const { ortRolloutSampler } = await import('../src/core/train/rollout/samplers');
  const { ortRewardModelScorer } = await import('../src/core/train/rollout/ortPolicy');
  // tfjs is loaded only for its engine, as a run does.
  const report = await computeReport(engine === 'tfjs', backend);
  setTrainingEngine(engine);
  const tokenizer = tokenizerFromJson(byteLevelTokenizerJson(), 'byte-level');
  const eos = config.vocab_size - 1;
  // A checkpoint's arrays, GPT-2's random init one parameter at a time (initWeights' seeds).
  const checkpoint = (seed: number): Parameters<typeof modelFromCheckpoint>[0] => {
    const weights = new Map<string, { shape: number[]; data: Float32Array }>();
    [...parameterShapes(config)].forEach(([name, shape], i) => weights.set(name, { shape: [...shape], data: initParameter(name, shape, seed * 1000 + i + 1, config.n_layer) }));
    return { dir: '', config, kind: 'lm', weights, tokenizer };
  };
  const policy = modelFromCheckpoint(checkpoint(1), 'value', 1);
  const reference = modelFromCheckpoint(checkpoint(1), 'lm'); // the same seed: the initial policy
  const rm = modelFromCheckpoint(checkpoint(2), 'reward', 2);
  const decode = (ids: readonly number[]): string => tokenizer.decode(ids); // ids past the byte vocabulary decode to nothing
  let releaseScorer: (() => Promise<void>) | undefined;
  let scorer: Scorer;
  if (engine === 'ort') {
    const s = await ortRewardModelScorer(rm, eos);
    releaseScorer = s.release;
    scorer = s;
  } else scorer = (await import('../src/core/train/tfjs/rollout')).rewardModelScorer(rm, eos);
  const sampler = await ortRolloutSampler(policy, decode);
  // Prompts of exactly promptLen byte tokens, as the PyTorch side uses.
  const prompts = Array.from({ length: SHAPE.rollout }, (_, i) => `prompt ${String(i).padStart(2, '0')}`.slice(0, SHAPE.promptLen)).map((text) => ({ text, ids: tokenizer.encode(text) }));
  const ppoConfig = {
    ...DEFAULT_PPO,
    iterations,
    rolloutBatch: SHAPE.rollout,
    miniBatches: SHAPE.minibatches,
    ppoEpochs: SHAPE.epochs,
    maxNewTokens: SHAPE.newTokens,
    sampleEvery: 0,
    checkpointEvery: 0,
  };
  const optimizer = new AdamWState(ppoConfig.optim);
  const rows: (Phases & { tokS: number })[] = [];
  // No EOS while sampling: every response is exactly newTokens long, as in the PyTorch loop.
  for await (const e of ppo(policy, reference, optimizer, sampler, scorer, { prompts, decode, eos: null, pad: eos }, ppoConfig)) {
    if (e.type !== 'metrics') continue;
    const v = e.record.values;
    const row = { rollout: v['time/rollout'] as number, scoring: v['time/scoring'] as number, update: v['time/update'] as number, tokS: v.tokens_per_second as number };
    rows.push({ ...row, total: row.rollout + row.scoring + row.update });
    process.stderr.write(`  iteration ${e.record.step}: rollout ${row.rollout.toFixed(2)} s, scoring ${row.scoring.toFixed(2)} s, update ${row.update.toFixed(2)} s\n`);
  }
  await sampler.dispose();
  await releaseScorer?.();
  const steady = rows.length > 1 ? rows.slice(1) : rows; // the first iteration includes warm-up
  const ort = engine === 'ort' ? `ONNX Runtime ${(await resolveOrtDevice()).device}, ` : '';
  return {
    rollout: median(steady.map((r) => r.rollout)),
    scoring: median(steady.map((r) => r.scoring)),
    update: median(steady.map((r) => r.update)),
    total: median(steady.map((r) => r.total)),
    tokS: median(steady.map((r) => r.tokS)),
    rssMb: process.resourceUsage().maxRSS / 1024,
    timed: steady.length,
    backend: `${ort}${report.backend ? `tfjs ${report.backend}; ` : ''}sampler ORT ${report.ortProviders.join(',')}`,
  };
}

function findTorchPython(): string | undefined {
  // PATH's python3 may be a pyenv shim without Debian's dist-packages.
  return ['python3', '/usr/bin/python3'].find((py) => spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0);
}

/** bench/torch_ppo.py at one thread setting (0: all cores). */
function torch(config: GPT2Config, iterations: number, threads: number): Omit<Result, 'size' | 'engine'> {
  const py = findTorchPython();
  if (!py) return { note: 'PyTorch not present (apt-get install python3-torch libopenblas0-pthread)' };
  const reps = Math.max(1, iterations - 1); // torch_ppo.py runs one warm-up iteration more
  const args = {
    vocab: config.vocab_size,
    ctx: config.n_positions,
    d: config.n_embd,
    heads: config.n_head,
    layers: config.n_layer,
    rollout: SHAPE.rollout,
    prompt_len: SHAPE.promptLen,
    new_tokens: SHAPE.newTokens,
    epochs: SHAPE.epochs,
    minibatches: SHAPE.minibatches,
    reps,
    threads,
  };
  const r = spawnSync(py, [path.join(__dirname, 'torch_ppo.py'), JSON.stringify(args)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) return { note: `torch_ppo.py failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}` };
  const out = JSON.parse(r.stdout.trim().split('\n').pop() as string) as Phases & { peak_rss_mb: number; torch: string; threads: number };
  return {
    rollout: out.rollout,
    scoring: out.scoring,
    update: out.update,
    total: out.total,
    tokS: (SHAPE.rollout * SHAPE.newTokens) / out.total,
    rssMb: out.peak_rss_mb,
    timed: reps,
    backend: `torch ${out.torch}`,
    note: `${out.threads} thread(s)`,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { sizes: { type: 'string' }, engines: { type: 'string' }, iterations: { type: 'string' }, backend: { type: 'string' }, one: { type: 'string' }, json: { type: 'string' } },
  });
  const backend = values.backend === 'cpu' ? 'cpu' : 'wasm';
  const iterationsFor = (size: string): number => Number(values.iterations ?? (size === 'tiny' ? 6 : 3));
  if (values.one) {
    // A child: one engine at one size, its result as the last line of stdout.
    const [engine, size] = values.one.split(':') as ['ort' | 'tfjs', string];
    console.log(JSON.stringify(await measure(engine, SIZES[size] as GPT2Config, iterationsFor(size), backend)));
    return;
  }
  const sizes = (values.sizes ?? 'tiny,distilgpt2,gpt2').split(',');
  const engines = (values.engines ?? 'ort,torch').split(',') as Engine[];
  for (const e of engines) if (!ENGINES.includes(e)) throw new Error(`unknown engine '${e}': ${ENGINES.join(', ')}`);
  for (const s of sizes) if (!SIZES[s]) throw new Error(`unknown size '${s}': ${Object.keys(SIZES).join(', ')}`);
  const results: Result[] = [];
  for (const size of sizes) {
    const config = SIZES[size] as GPT2Config;
    const iterations = iterationsFor(size);
    for (const engine of engines) {
      if (engine === 'torch') {
        for (const [row, threads] of [
          ['torch', 0],
          ['torch1', 1],
        ] as const) {
          process.stderr.write(`bench:ppo ${size} ${row}…\n`);
          results.push({ size, engine: row, ...torch(config, iterations, threads) });
        }
        continue;
      }
      process.stderr.write(`bench:ppo ${size} ${engine} (${iterations} iterations)…\n`);
      // The child's progress goes straight to this stderr; its result is its last stdout line.
      const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--one', `${engine}:${size}`, '--iterations', String(iterations), '--backend', backend], {
        encoding: 'utf8',
        maxBuffer: 1 << 24,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const line = r.stdout.trim().split('\n').pop() ?? '';
      results.push(
        r.status === 0 && line.startsWith('{')
          ? { size, engine, ...(JSON.parse(line) as Measured) }
          : { size, engine, note: `failed (${r.signal ?? `exit ${r.status}`}${r.error ? `: ${r.error.message}` : ''}; see its stderr above)` },
      );
    }
  }
  print(results);
  if (values.json) fs.writeFileSync(values.json, JSON.stringify(results, null, 2));
}

function print(results: readonly Result[]): void {
  const label: Record<Row, string> = { ort: 'ONNX Runtime engine', tfjs: 'tfjs engine', torch: 'PyTorch (all threads)', torch1: 'PyTorch (1 thread)' };
  console.log(
    `\nPPO iteration: ${SHAPE.rollout} rollouts × ${SHAPE.newTokens} new tokens (8-token prompts), ${SHAPE.epochs} epochs × ${SHAPE.minibatches} minibatches; ` +
      `median seconds per phase (update includes the sampler's refresh) and of the whole iteration, first iteration excluded; ratio = total / PyTorch's best`,
  );
  const sec = (x: number | undefined): string => (x === undefined ? '—' : x.toFixed(3)).padStart(8);
  for (const size of [...new Set(results.map((r) => r.size))]) {
    const c = SIZES[size] as GPT2Config;
    const rows = results.filter((r) => r.size === size);
    const torchBest = Math.min(...rows.filter((r) => r.engine.startsWith('torch') && r.total !== undefined).map((r) => r.total as number));
    console.log(`\n${size}: vocab ${c.vocab_size}, ctx ${c.n_positions}, d ${c.n_embd}, ${c.n_head} heads, ${c.n_layer} layers`);
    console.log(
      `  ${''.padEnd(22)} ${'rollout'.padStart(8)} ${'scoring'.padStart(8)} ${'update'.padStart(8)} ${'total'.padStart(8)} ${'tok/s'.padStart(7)} ${'peak RSS'.padStart(9)} ${'ratio'.padStart(7)}`,
    );
    for (const r of rows) {
      const ratio = r.total !== undefined && Number.isFinite(torchBest) ? `${(r.total / torchBest).toFixed(2)}×` : '';
      const tokS = r.tokS !== undefined ? r.tokS.toFixed(0) : '';
      const rss = r.rssMb !== undefined ? `${r.rssMb.toFixed(0)} MB` : '';
      const notes = [r.backend, r.note, r.timed !== undefined && r.timed < 2 ? `${r.timed} timed iteration${r.timed === 1 ? '' : 's'}` : undefined].filter(Boolean).join('; ');
      console.log(`  ${label[r.engine].padEnd(22)} ${sec(r.rollout)} ${sec(r.scoring)} ${sec(r.update)} ${sec(r.total)} ${tokS.padStart(7)} ${rss.padStart(9)} ${ratio.padStart(7)}  ${notes}`);
    }
  }
  // The targets, where this run measured them.
  const ort = (size: string): Result | undefined => results.find((r) => r.size === size && r.engine === 'ort' && r.total !== undefined);
  const torchBest = (size: string): number => Math.min(...results.filter((r) => r.size === size && r.engine.startsWith('torch') && r.total !== undefined).map((r) => r.total as number));
  const lines: string[] = [];
  const tiny = ort('tiny');
  if (tiny) lines.push(`tiny iteration ${(tiny.total as number).toFixed(3)} s (target ≤ 0.47 s): ${(tiny.total as number) <= 0.47 ? 'met' : 'missed'}`);
  const gpt2 = ort('gpt2');
  if (gpt2) {
    const best = torchBest('gpt2');
    if (Number.isFinite(best)) lines.push(`gpt2 iteration ${((gpt2.total as number) / best).toFixed(2)}× PyTorch (target ≤ 1.0×): ${(gpt2.total as number) <= best ? 'met' : 'missed'}`);
    lines.push(`gpt2 peak RSS ${((gpt2.rssMb as number) / 1024).toFixed(2)} GiB (target ≤ 6 GB): ${(gpt2.rssMb as number) * 1024 * 1024 <= 6e9 ? 'met' : 'missed'}`);
  }
  if (lines.length > 0) console.log(`\ntargets (ONNX Runtime engine): ${lines.join('; ')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
