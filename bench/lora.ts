/**
 * `node --import tsx bench/lora.ts`: LoRA at Qwen2.5-0.5B's shape (random weights; bench/llama.ts's
 * config), r = 16, alpha 32 on q, k, v, o, gate, up and down projections:
 * - one SFT train step (sequence 128, batch 1) on the ONNX Runtime trainer (graph: forward, loss,
 *   backward to the adapter only; then AdamW over the adapter) beside PyTorch's (bench/torch_lora.py:
 *   the same LoRA as a plain torch module, base frozen, Adam over A and B), as a ratio;
 * - the peak RSS of one LoRA GRPO iteration through `rlhf train grpo` (a child process per run):
 *   4 completions of 32 tokens, β 0.04 so the reference pass (the base with adapters off) runs,
 *   the sampler refreshed with the merged weights, one minibatch step, checkpoints written.
 * Threads: the physical cores; PyTorch the better of all cores and one. Not a test: the numbers
 * depend on the machine and on what else runs on it.
 *
 * Usage: node --import tsx bench/lora.ts [--reps N] [--layers N] [--vocab N] [--no-torch] [--no-grpo] [--json out.json]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { runCli } from '../src/cli/main';
import { saveCheckpoint } from '../src/core/model/checkpoint';
import type { LlamaConfig } from '../src/core/model/llamaConfig';
import { llamaParameterShapes } from '../src/core/model/llamaConfig';
import type { NamedTensor } from '../src/core/model/safetensors';
import { initLora, loraShapes, planLora } from '../src/core/onnx/lora';
import type { LoraSettings } from '../src/core/onnx/lora';
import { Project } from '../src/core/store/project';
import { byteLevelTokenizerJson } from '../src/core/tokenizer/byteLevel';
import { physicalCores } from '../src/core/train/ort/device';
import { OrtTrainer } from '../src/core/train/ort/trainer';
import { DEFAULT_OPTIM } from '../src/core/train/optim';
import { findTorchPython } from './model';

/** Qwen2.5-0.5B's config.json (as bench/llama.ts). */
const QWEN25_05B: LlamaConfig = {
  architecture: 'qwen2',
  vocab_size: 151936,
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  head_dim: 64,
  max_position_embeddings: 32768,
  rms_norm_eps: 1e-6,
  rope_theta: 1e6,
  rope_scaling: null,
  attention_bias: true,
  mlp_bias: false,
  tie_word_embeddings: true,
  hidden_act: 'silu',
  bos_token_id: 151643,
  eos_token_id: 151645,
  pad_token_id: null,
};
const LORA: LoraSettings = { r: 16, alpha: 32, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] };
const TRAIN = { batch: 1, seq: 128 };
const RSS_TARGET_GB = 8;
/** torch.optim.Adam(lr 1e-4) as the trainer's AdamW: constant lr, no decay, no clipping. */
const PLAIN_ADAM = { ...DEFAULT_OPTIM, lr: 1e-4, minLrRatio: 1, warmupSteps: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 0 };

/** Random weights: std ≈ 0.02 (uniform), norm gains 1, from a fast seeded generator (2 GB at full size). */
function randomWeights(config: LlamaConfig): Map<string, NamedTensor> {
  let state = 12345;
  const weights = new Map<string, NamedTensor>();
  for (const [name, shape] of llamaParameterShapes(config)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (name.endsWith('norm.weight')) data.fill(1);
    else
      for (let i = 0; i < data.length; i++) {
        state = (Math.imul(state, 1664525) + 1013904223) | 0;
        data[i] = (state / 2 ** 31) * 0.035;
      }
    weights.set(name, { shape, data });
  }
  return weights;
}

const rssMb = (): number => process.memoryUsage().rss / 2 ** 20;

/** One LoRA SFT step on the trainer: its graph and its AdamW (fastest of `reps` after a warm-up), in ms; the RSS with the base and the adapter held. */
async function sftStep(config: LlamaConfig, threads: number, reps: number): Promise<{ graph: number; adam: number; adapterParams: number; rssMb: number; baseMb: number }> {
  const base = randomWeights(config);
  const baseMb = rssMb();
  const plan = planLora(llamaParameterShapes(config), LORA, 1);
  // B random instead of PEFT's zeros, so A's gradient is not trivially zero (as torch_lora.py).
  const fresh = initLora(plan, 1);
  for (const [name, t] of fresh) if (name.endsWith('lora_B.weight')) t.data.forEach((_, i) => (t.data[i] = 0.01 * Math.sin(i)));
  const trainer = await OrtTrainer.lm(config, (name, into) => into.set((fresh.get(name) as NamedTensor).data), { threads, lora: { plan, base } });
  const adam = trainer.optimizer(PLAIN_ADAM);
  const N = TRAIN.batch * TRAIN.seq;
  const ids = Int32Array.from({ length: N }, (_, i) => (i * 7919 + 13) % config.vocab_size);
  const targets = Int32Array.from({ length: N }, (_, i) => (i * 104729 + 7) % config.vocab_size);
  const best = { graph: Infinity, adam: Infinity };
  let rss = 0;
  try {
    for (let rep = 0; rep <= reps; rep++) {
      const t0 = performance.now();
      const out = await trainer.lossAndGrads({ B: TRAIN.batch, T: TRAIN.seq, ids, targets });
      const t1 = performance.now();
      adam.apply(trainer.params, out.grads, out.gradNorm);
      const t2 = performance.now();
      rss = Math.max(rss, rssMb());
      if (rep === 0) continue;
      best.graph = Math.min(best.graph, t1 - t0);
      best.adam = Math.min(best.adam, t2 - t1);
    }
  } finally {
    await trainer.release();
  }
  const adapterParams = [...loraShapes(plan).values()].reduce((s, d) => s + d.reduce((a, b) => a * b, 1), 0);
  return { ...best, adapterParams, rssMb: rss, baseMb };
}

interface TorchResult {
  readonly train_ms: number;
  readonly adapter_params: number;
  readonly torch: string;
  readonly threads: number;
}

/** PyTorch at all the physical cores and at one thread, the faster (a busy machine can make OpenMP's threads slower). */
function benchTorch(config: LlamaConfig, threads: number, reps: number): TorchResult | string {
  const python = findTorchPython();
  if (!python) return 'PyTorch not present (apt-get install python3-torch)';
  const runs: TorchResult[] = [];
  for (const n of new Set([threads, 1])) {
    const args = { config, r: LORA.r, alpha: LORA.alpha, targets: LORA.targetModules, train_seq: TRAIN.seq, train_batch: TRAIN.batch, threads: n, reps };
    const r = spawnSync(python, [path.join(__dirname, 'torch_lora.py'), JSON.stringify(args)], { encoding: 'utf8', maxBuffer: 1 << 24, cwd: __dirname });
    if (r.status !== 0) return `torch_lora.py failed: ${r.stderr.trim().split('\n').pop()}`;
    runs.push(JSON.parse(r.stdout.trim().split('\n').pop() as string) as TorchResult);
  }
  return runs.reduce((a, b) => (b.train_ms < a.train_ms ? b : a));
}

/**
 * The child: a Qwen-shaped random folder (byte-level tokenizer; the sampled ids past its 257 tokens
 * decode to nothing, which the regex reward scores 0), a project with four prompts, and one LoRA
 * GRPO iteration through the CLI; prints its peak RSS (getrusage).
 */
async function grpoChild(dir: string): Promise<void> {
  const project = await Project.create(dir, { labeler: 'bench@example.com' });
  await project.prompts.add(['The sea is ', 'A whale ', 'Ahab said ', 'We sail at dawn ']);
  const t0 = performance.now();
  const cfg = {
    runId: 'grpo-lora',
    model: 'base',
    rewards: [{ type: 'regex', pattern: '[a-z]{3}', name: 'word' }],
    beta: 0.04,
    iterations: 1,
    promptsPerIteration: 1,
    numGenerations: 4,
    maxNewTokens: 32,
    lora: LORA,
  };
  fs.writeFileSync(path.join(dir, 'grpo.json'), JSON.stringify(cfg));
  const lines: string[] = [];
  const io = { out: (t: string) => lines.push(t), err: (t: string) => lines.push(t), cwd: dir, signal: new AbortController().signal };
  const code = await runCli(['train', 'grpo', '--config', path.join(dir, 'grpo.json')], io);
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`rlhf train grpo exited ${code}: ${lines.slice(-5).join(' | ')}`);
  console.log(JSON.stringify({ peak_rss_mb: process.resourceUsage().maxRSS / 1024, seconds }));
}

/** Writes the base folder, then runs the GRPO iteration in a fresh process (so its peak RSS is its own). */
function grpoPeakRss(config: LlamaConfig): { peak_rss_mb: number; seconds: number } | string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-bench-lora-'));
  try {
    saveCheckpoint(path.join(dir, 'base'), { config, kind: 'lm', weights: randomWeights(config), tokenizer: byteLevelTokenizerJson() });
    const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--grpo-child', dir], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    if (r.status !== 0) return `the GRPO child failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`;
    return JSON.parse(r.stdout.trim().split('\n').pop() as string) as { peak_rss_mb: number; seconds: number };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      reps: { type: 'string' },
      layers: { type: 'string' },
      vocab: { type: 'string' },
      'no-torch': { type: 'boolean' },
      'no-grpo': { type: 'boolean' },
      json: { type: 'string' },
      'grpo-child': { type: 'string' },
    },
  });
  const vocab = Number(values.vocab ?? QWEN25_05B.vocab_size);
  // A shrunk vocabulary keeps its special ids inside it.
  const special = vocab < QWEN25_05B.vocab_size ? { bos_token_id: vocab - 2, eos_token_id: vocab - 1 } : {};
  const config: LlamaConfig = { ...QWEN25_05B, num_hidden_layers: Number(values.layers ?? QWEN25_05B.num_hidden_layers), vocab_size: vocab, ...special };
  if (values['grpo-child']) return grpoChild(values['grpo-child']);
  const reps = Number(values.reps ?? 2);
  const threads = physicalCores();
  ort.env.logLevel = 'fatal';
  console.log(
    `LoRA r=${LORA.r} (alpha ${LORA.alpha}) on ${LORA.targetModules.join(', ')}; Qwen2.5-0.5B shape${values.layers || values.vocab ? ` (${config.num_hidden_layers} layers, vocab ${config.vocab_size})` : ''}, random weights, ${threads} threads, onnxruntime-node ${ort.env.versions.common}`,
  );
  // PyTorch first, in its own process, so the two never hold a model at the same time.
  const torch = values['no-torch'] ? 'skipped (--no-torch)' : benchTorch(config, threads, reps);
  const sft = await sftStep(config, threads, reps);
  const grpo = values['no-grpo'] ? 'skipped (--no-grpo)' : grpoPeakRss(config);
  const total = sft.graph + sft.adam;
  const torchMs = typeof torch === 'string' ? undefined : torch.train_ms;
  const rows: [string, string, string][] = [
    ['SFT train step, seq 128 b1 (graph + AdamW)', `${(total / 1000).toFixed(2)} s`, torchMs ? `${(torchMs / 1000).toFixed(2)} s (${(total / torchMs).toFixed(2)}× pytorch)` : String(torch)],
    ['  graph: forward, loss, backward to the adapter', `${(sft.graph / 1000).toFixed(2)} s`, ''],
    [`  AdamW over the adapter (${(sft.adapterParams / 1e6).toFixed(2)} M params)`, `${sft.adam.toFixed(1)} ms`, ''],
    ['  RSS: base weights / with trainer', `${(sft.baseMb / 1024).toFixed(2)} / ${(sft.rssMb / 1024).toFixed(2)} GB`, ''],
    [
      `GRPO iteration (4×32 tokens, β 0.04) peak RSS, target ≤ ${RSS_TARGET_GB} GB`,
      typeof grpo === 'string' ? grpo : `${(grpo.peak_rss_mb / 1024).toFixed(2)} GB (${grpo.peak_rss_mb / 1024 <= RSS_TARGET_GB ? 'met' : 'NOT met'}; ${grpo.seconds.toFixed(0)} s with loading)`,
      '',
    ],
  ];
  for (const [what, ours, ref] of rows) console.log(`${what.padEnd(58)} ${ours.padEnd(32)} ${ref}`);
  if (values.json) fs.writeFileSync(values.json, JSON.stringify({ config, lora: LORA, threads, sft, torch, grpo }, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
