/**
 * `node --import tsx bench/llama.ts`: the Llama family on ONNX Runtime beside PyTorch
 * (bench/torch_llama.py, when python3-torch is installed), at Qwen2.5-0.5B's shape with random
 * weights (vocab 151936, hidden 896, 24 layers, 14 query heads on 2 KV heads of 64, MLP 4864,
 * tied head, rope θ 1e6):
 * - KV-cache greedy decoding, tokens/s after a 32-token prompt, 64 new tokens, batch 1 and 8:
 *   the sampler's fused graph (GroupQueryAttention, RotaryEmbedding, SkipSimplifiedLayerNorm…)
 *   and the plain one `rlhf export onnx` would write, both with the sampler's session options;
 * - one LM training step at sequence 128, batch 1: the graph (forward, loss, backward) on the
 *   trainer, then its AdamW, against PyTorch's forward + loss + backward + Adam.
 * Threads: the physical cores (as the sampler and the trainer), PyTorch the same. Not a test:
 * the numbers depend on the machine and on what else runs on it.
 *
 * Usage: node --import tsx bench/llama.ts [--reps N] [--layers N] [--vocab N] [--no-torch] [--json out.json]
 *        (--layers / --vocab shrink the model for a quick check of the script itself)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import type { GPT2Config } from '../src/core/model/config';
import type { LlamaConfig } from '../src/core/model/llamaConfig';
import { llamaParameterShapes } from '../src/core/model/llamaConfig';
import type { NamedTensor } from '../src/core/model/safetensors';
import { pastKeyName, pastValueName, presentKeyName, presentValueName } from '../src/core/onnx/gptGraph';
import { buildExternalLlamaGraph, buildLlamaLmTrainGraph, llamaExternalWeights } from '../src/core/onnx/llamaGraph';
import { samplerSessionOptions } from '../src/core/sample/ortSampler';
import { physicalCores } from '../src/core/train/ort/device';
import { OrtTrainer } from '../src/core/train/ort/trainer';
import { findTorchPython } from './model';
import { PLAIN_ADAM, QWEN25_05B, randomWeights } from './qwenShape';

const PROMPT = 32;
const NEW_TOKENS = 64;
const BATCHES = [1, 8];
const TRAIN = { batch: 1, seq: 128 };

const int64 = (values: ArrayLike<number>, dims: number[]): ort.Tensor => new ort.Tensor('int64', BigInt64Array.from(Array.from(values, BigInt)), dims);

/** Greedy decoding tokens/s (decode steps only, the prompt's prefill excluded), the best of `reps`. */
async function decodeTokS(config: LlamaConfig, weights: ReadonlyMap<string, NamedTensor>, fused: boolean, B: number, threads: number, reps: number): Promise<number> {
  const session = await ort.InferenceSession.create(buildExternalLlamaGraph(config, { fused, logits: 'last' }), {
    ...samplerSessionOptions('cpu', threads),
    externalData: llamaExternalWeights(config, weights),
  });
  const V = config.vocab_size;
  const KV = config.num_key_value_heads;
  let best = 0;
  try {
    for (let rep = 0; rep <= reps; rep++) {
      const past: Record<string, ort.Tensor> = {};
      for (let i = 0; i < config.num_hidden_layers; i++) {
        past[pastKeyName(i)] = new ort.Tensor('float32', new Float32Array(0), [B, KV, 0, config.head_dim]);
        past[pastValueName(i)] = new ort.Tensor('float32', new Float32Array(0), [B, KV, 0, config.head_dim]);
      }
      const ids = Array.from({ length: B * PROMPT }, (_, i) => (i * 7919 + rep) % V);
      let out = await session.run({
        input_ids: int64(ids, [B, PROMPT]),
        attention_mask: int64(new Array<number>(B * PROMPT).fill(1), [B, PROMPT]),
        position_ids: int64(
          ids.map((_, i) => i % PROMPT),
          [B, PROMPT],
        ),
        ...past,
      });
      const t0 = performance.now();
      for (let s = 1; s < NEW_TOKENS; s++) {
        const logits = out.logits?.data as Float32Array;
        const next = Array.from({ length: B }, (_, b) => {
          let arg = 0;
          for (let v = 1; v < V; v++) if ((logits[b * V + v] as number) > (logits[b * V + arg] as number)) arg = v;
          return arg;
        });
        for (let i = 0; i < config.num_hidden_layers; i++) {
          past[pastKeyName(i)] = out[presentKeyName(i)] as ort.Tensor;
          past[pastValueName(i)] = out[presentValueName(i)] as ort.Tensor;
        }
        const total = PROMPT + s;
        out = await session.run({
          input_ids: int64(next, [B, 1]),
          attention_mask: int64(new Array<number>(B * total).fill(1), [B, total]),
          position_ids: int64(new Array<number>(B).fill(total - 1), [B, 1]),
          ...past,
        });
      }
      // The first run warms up (allocations, prepacking); the rest are timed.
      if (rep > 0) best = Math.max(best, (B * (NEW_TOKENS - 1)) / ((performance.now() - t0) / 1000));
    }
  } finally {
    await session.release();
  }
  return best;
}

/** One training step on the trainer: its graph (forward, loss, backward) and its AdamW, fastest of `reps` after a warm-up, in ms. */
async function trainStepMs(config: LlamaConfig, weights: Map<string, NamedTensor>, threads: number, reps: number): Promise<{ graph: number; adam: number }> {
  const graphs = { shapes: llamaParameterShapes(config), build: { train: () => buildLlamaLmTrainGraph(config) } };
  // OrtTrainer keeps its config only for its callers: the graphs above are the whole model.
  // Each parameter is dropped from `weights` once the trainer holds its copy: one copy of the model at a time.
  const take = (name: string, into: Float32Array): void => {
    into.set((weights.get(name) as NamedTensor).data);
    weights.delete(name);
  };
  const trainer = await OrtTrainer.create(graphs, config as unknown as GPT2Config, take, { threads });
  const adam = trainer.optimizer(PLAIN_ADAM);
  const N = TRAIN.batch * TRAIN.seq;
  const ids = Int32Array.from({ length: N }, (_, i) => (i * 7919 + 13) % config.vocab_size);
  const targets = Int32Array.from({ length: N }, (_, i) => (i * 104729 + 7) % config.vocab_size);
  const best = { graph: Infinity, adam: Infinity };
  try {
    for (let rep = 0; rep <= reps; rep++) {
      const t0 = performance.now();
      const out = await trainer.lossAndGrads({ B: TRAIN.batch, T: TRAIN.seq, ids, targets });
      const t1 = performance.now();
      adam.apply(trainer.params, out.grads, out.gradNorm);
      const t2 = performance.now();
      if (rep === 0) continue;
      best.graph = Math.min(best.graph, t1 - t0);
      best.adam = Math.min(best.adam, t2 - t1);
    }
  } finally {
    await trainer.release();
  }
  return best;
}

interface TorchResult {
  readonly decode_tok_s: Record<string, number>;
  readonly train_ms: number;
  readonly torch: string;
  readonly threads: number;
  /** Which thread count gave each number (the best of all cores and one). */
  readonly threadsUsed?: Record<string, number>;
}

/**
 * PyTorch at all the physical cores and at one thread, the better of the two for each number: on a
 * busy machine OpenMP's extra threads can make PyTorch several times slower (as bench/model.ts).
 */
function benchTorch(config: LlamaConfig, threads: number, reps: number): TorchResult | string {
  const python = findTorchPython();
  if (!python) return 'PyTorch not present (apt-get install python3-torch)';
  const runs: TorchResult[] = [];
  for (const n of new Set([threads, 1])) {
    const args = { config, batches: BATCHES, prompt_len: PROMPT, new_tokens: NEW_TOKENS, train_seq: TRAIN.seq, train_batch: TRAIN.batch, threads: n, reps };
    const r = spawnSync(python, [path.join(__dirname, 'torch_llama.py'), 'bench', JSON.stringify(args)], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) return `torch_llama.py failed: ${r.stderr.trim().split('\n').pop()}`;
    runs.push(JSON.parse(r.stdout.trim().split('\n').pop() as string) as TorchResult);
  }
  const best = (f: (r: TorchResult) => number, pick: (...v: number[]) => number): { value: number; threads: number } => {
    const value = pick(...runs.map(f));
    return { value, threads: (runs.find((r) => f(r) === value) as TorchResult).threads };
  };
  const decode = Object.fromEntries(BATCHES.map((B) => [String(B), best((r) => r.decode_tok_s[String(B)] as number, Math.max)]));
  const train = best((r) => r.train_ms, Math.min);
  return {
    decode_tok_s: Object.fromEntries(Object.entries(decode).map(([B, d]) => [B, d.value])),
    train_ms: train.value,
    torch: runs[0]?.torch ?? '',
    threads: train.threads,
    threadsUsed: { ...Object.fromEntries(Object.entries(decode).map(([B, d]) => [`decode${B}`, d.threads])), train: train.threads },
  };
}

const usedThreads = (torch: TorchResult | string, key: string): string => {
  const n = typeof torch === 'string' ? undefined : torch.threadsUsed?.[key];
  return n === undefined ? '' : `${n} thread${n === 1 ? '' : 's'}, ${typeof torch === 'string' ? '' : torch.torch}`;
};

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { reps: { type: 'string' }, layers: { type: 'string' }, vocab: { type: 'string' }, 'no-torch': { type: 'boolean' }, json: { type: 'string' } } });
  const reps = Number(values.reps ?? 2);
  const config: LlamaConfig = { ...QWEN25_05B, num_hidden_layers: Number(values.layers ?? QWEN25_05B.num_hidden_layers), vocab_size: Number(values.vocab ?? QWEN25_05B.vocab_size) };
  const threads = physicalCores();
  ort.env.logLevel = 'fatal';
  console.log(
    `Qwen2.5-0.5B shape${values.layers || values.vocab ? ` (${config.num_hidden_layers} layers, vocab ${config.vocab_size})` : ''}, random weights, ${threads} threads (physical cores), onnxruntime-node ${ort.env.versions.common}`,
  );
  // PyTorch first, in its own process, so the two never hold a model at the same time.
  const torch = values['no-torch'] ? 'skipped (--no-torch)' : benchTorch(config, threads, reps);
  const weights = randomWeights(config);
  const decode: Record<string, Record<string, number>> = { fused: {}, plain: {} };
  for (const B of BATCHES) {
    for (const variant of ['fused', 'plain'] as const) {
      (decode[variant] as Record<string, number>)[B] = await decodeTokS(config, weights, variant === 'fused', B, threads, reps);
    }
  }
  const train = await trainStepMs(config, weights, threads, reps); // empties `weights`
  const vs = (x: number, ref: number | undefined): string => (ref ? `  ${(x / ref).toFixed(2)}× pytorch` : '');
  const torchDecode = typeof torch === 'string' ? undefined : torch.decode_tok_s;
  console.log(`\nKV-cache greedy decode, prompt ${PROMPT}, ${NEW_TOKENS} new tokens (tokens/s after the prefill, best of ${reps})`);
  for (const B of BATCHES) {
    const ref = torchDecode?.[String(B)];
    console.log(`  batch ${B}: ort fused ${(decode.fused?.[B] as number).toFixed(1).padStart(7)}${vs(decode.fused?.[B] as number, ref)}`);
    console.log(`           ort plain ${(decode.plain?.[B] as number).toFixed(1).padStart(7)}${vs(decode.plain?.[B] as number, ref)}`);
    console.log(`           pytorch   ${ref !== undefined ? `${ref.toFixed(1).padStart(7)} (${usedThreads(torch, `decode${B}`)})` : torch}`);
  }
  const torchTrain = typeof torch === 'string' ? undefined : torch.train_ms;
  const total = train.graph + train.adam;
  console.log(`\nLM train step, batch ${TRAIN.batch} × ${TRAIN.seq} tokens (ms, best of ${reps})`);
  console.log(
    `  ort      ${total.toFixed(0).padStart(7)} (graph ${train.graph.toFixed(0)} + AdamW ${train.adam.toFixed(0)})${torchTrain ? `  ${(torchTrain / total).toFixed(2)}× pytorch's speed` : ''}`,
  );
  console.log(`  pytorch  ${torchTrain !== undefined ? `${torchTrain.toFixed(0).padStart(7)} (${usedThreads(torch, 'train')})` : torch}`);
  if (values.json) fs.writeFileSync(values.json, JSON.stringify({ config, threads, decode, train, torch }, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
