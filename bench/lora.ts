/**
 * `node --import tsx bench/lora.ts`: LoRA at Qwen2.5-0.5B's shape (random weights; bench/llama.ts's
 * config), r = 16, alpha 32 on q, k, v, o, gate, up and down projections:
 * - one SFT train step (sequence 128, batch 1) on the ONNX Runtime trainer (graph: forward, loss,
 *   backward to the adapter only; then AdamW over the adapter) beside PyTorch's (bench/torch_lora.py:
 *   the same LoRA as a plain torch module, base frozen, Adam over A and B), as a ratio;
 * - the peak RSS of one LoRA GRPO iteration through `rlhf train grpo` (a child process per run):
 *   4 completions of 32 tokens, β 0.04 so the reference pass (the base with adapters off) runs,
 *   the sampler refreshed with the merged weights, one minibatch step, checkpoints written;
 * - the same for one LoRA PPO iteration (`rlhf train ppo`): a rollout of 4×32 tokens scored by a
 *   reward model of the same shape (Qwen2ForSequenceClassification, a frozen session), the value
 *   head, the reference as the base with adapters off.
 * Threads: the physical cores; PyTorch the better of all cores and one. Not a test: the numbers
 * depend on the machine and on what else runs on it.
 *
 * Usage: node --import tsx bench/lora.ts [--reps N] [--layers N] [--vocab N] [--no-torch] [--no-grpo] [--no-ppo] [--json out.json]
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
import { findTorchPython } from './model';
import { PLAIN_ADAM, QWEN25_05B, randomWeights } from './qwenShape';

const LORA: LoraSettings = { r: 16, alpha: 32, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] };
const TRAIN = { batch: 1, seq: 128 };
const RSS_TARGET_GB = 8;

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

type PolicyStage = 'grpo' | 'ppo';

/** One iteration's config for each stage, on the folder's `base` (and, for PPO, its reward model `rm`). */
const POLICY_CONFIGS: Record<PolicyStage, object> = {
  grpo: { rewards: [{ type: 'regex', pattern: '[a-z]{3}', name: 'word' }], beta: 0.04, iterations: 1, promptsPerIteration: 1, numGenerations: 4, maxNewTokens: 32 },
  ppo: { rewardModel: 'rm', iterations: 1, rolloutBatch: 4, miniBatches: 1, ppoEpochs: 1, maxNewTokens: 32 },
};

/**
 * The child: a Qwen-shaped random folder (byte-level tokenizer; the sampled ids past its 257 tokens
 * decode to nothing, which the regex reward scores 0), a project with four prompts, and one LoRA
 * iteration of the stage through the CLI; prints its peak RSS (getrusage).
 */
async function policyChild(stage: PolicyStage, dir: string): Promise<void> {
  const project = await Project.create(dir, { labeler: 'bench@example.com' });
  await project.prompts.add(['The sea is ', 'A whale ', 'Ahab said ', 'We sail at dawn ']);
  const t0 = performance.now();
  fs.writeFileSync(path.join(dir, `${stage}.json`), JSON.stringify({ runId: `${stage}-lora`, model: 'base', ...POLICY_CONFIGS[stage], lora: LORA }));
  const lines: string[] = [];
  const io = { out: (t: string) => lines.push(t), err: (t: string) => lines.push(t), cwd: dir, signal: new AbortController().signal };
  const code = await runCli(['train', stage, '--config', path.join(dir, `${stage}.json`)], io);
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`rlhf train ${stage} exited ${code}: ${lines.slice(-5).join(' | ')}`);
  console.log(JSON.stringify({ peak_rss_mb: process.resourceUsage().maxRSS / 1024, seconds }));
}

/** Writes the base folder (and PPO's reward model), then runs the iteration in a fresh process (so its peak RSS is its own). */
function policyPeakRss(stage: PolicyStage, config: LlamaConfig): { peak_rss_mb: number; seconds: number } | string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-bench-lora-'));
  try {
    saveCheckpoint(path.join(dir, 'base'), { config, kind: 'lm', weights: randomWeights(config), tokenizer: byteLevelTokenizerJson() });
    if (stage === 'ppo') {
      const weights = randomWeights(config);
      const C = config.hidden_size;
      weights.set('score.weight', { shape: [1, C], data: Float32Array.from({ length: C }, (_, i) => (((i * 7919) % 101) - 50) * 1e-3) }); // the classifier [1, C]
      saveCheckpoint(path.join(dir, 'rm'), { config, kind: 'reward', weights, tokenizer: byteLevelTokenizerJson() });
    }
    const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--policy-child', `${stage}:${dir}`], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
    });
    if (r.status !== 0) return `the ${stage} child failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`;
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
      'no-ppo': { type: 'boolean' },
      json: { type: 'string' },
      'policy-child': { type: 'string' },
    },
  });
  const vocab = Number(values.vocab ?? QWEN25_05B.vocab_size);
  // A shrunk vocabulary keeps its special ids inside it.
  const special = vocab < QWEN25_05B.vocab_size ? { bos_token_id: vocab - 2, eos_token_id: vocab - 1 } : {};
  const config: LlamaConfig = { ...QWEN25_05B, num_hidden_layers: Number(values.layers ?? QWEN25_05B.num_hidden_layers), vocab_size: vocab, ...special };
  const child = values['policy-child'];
  if (child) return policyChild(child.slice(0, child.indexOf(':')) as PolicyStage, child.slice(child.indexOf(':') + 1));
  const reps = Number(values.reps ?? 2);
  const threads = physicalCores();
  ort.env.logLevel = 'fatal';
  console.log(
    `LoRA r=${LORA.r} (alpha ${LORA.alpha}) on ${LORA.targetModules.join(', ')}; Qwen2.5-0.5B shape${values.layers || values.vocab ? ` (${config.num_hidden_layers} layers, vocab ${config.vocab_size})` : ''}, random weights, ${threads} threads, onnxruntime-node ${ort.env.versions.common}`,
  );
  // PyTorch first, in its own process, so the two never hold a model at the same time.
  const torch = values['no-torch'] ? 'skipped (--no-torch)' : benchTorch(config, threads, reps);
  const sft = await sftStep(config, threads, reps);
  const grpo = values['no-grpo'] ? 'skipped (--no-grpo)' : policyPeakRss('grpo', config);
  const ppo = values['no-ppo'] ? 'skipped (--no-ppo)' : policyPeakRss('ppo', config);
  const total = sft.graph + sft.adam;
  const torchMs = typeof torch === 'string' ? undefined : torch.train_ms;
  const rows: [string, string, string][] = [
    ['SFT train step, seq 128 b1 (graph + AdamW)', `${(total / 1000).toFixed(2)} s`, torchMs ? `${(torchMs / 1000).toFixed(2)} s (${(total / torchMs).toFixed(2)}× pytorch)` : String(torch)],
    ['  graph: forward, loss, backward to the adapter', `${(sft.graph / 1000).toFixed(2)} s`, ''],
    [`  AdamW over the adapter (${(sft.adapterParams / 1e6).toFixed(2)} M params)`, `${sft.adam.toFixed(1)} ms`, ''],
    ['  RSS: base weights / with trainer', `${(sft.baseMb / 1024).toFixed(2)} / ${(sft.rssMb / 1024).toFixed(2)} GB`, ''],
    [`GRPO iteration (4×32 tokens, β 0.04) peak RSS, target ≤ ${RSS_TARGET_GB} GB`, peak(grpo), ''],
    [`PPO iteration (4×32 tokens, reward model, value head) peak RSS, ≤ ${RSS_TARGET_GB} GB`, peak(ppo), ''],
  ];
  function peak(r: { peak_rss_mb: number; seconds: number } | string): string {
    return typeof r === 'string' ? r : `${(r.peak_rss_mb / 1024).toFixed(2)} GB (${r.peak_rss_mb / 1024 <= RSS_TARGET_GB ? 'met' : 'NOT met'}; ${r.seconds.toFixed(0)} s with loading)`;
  }
  for (const [what, ours, ref] of rows) console.log(`${what.padEnd(58)} ${ours.padEnd(32)} ${ref}`);
  if (values.json) fs.writeFileSync(values.json, JSON.stringify({ config, lora: LORA, threads, sft, torch, grpo, ppo }, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
