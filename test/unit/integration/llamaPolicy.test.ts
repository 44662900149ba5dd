/**
 * The policy stages on a Llama-architecture folder (Llama 3 style: untied LM head, q/k/v/o and MLP
 * biases, llama3 rope scaling, GQA) through the CLI: a reward model whose folder drops the LM head
 * (LlamaForSequenceClassification), PPO with TRL's value head and RLOO rewarded by it, and DPO on the
 * rankings; every result an HF folder that loads again with the weights moved.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../../src/cli/main';
import { json, loadCheckpoint, writeFolderAtomically } from '../../../src/core/model/checkpoint';
import type { FileContent } from '../../../src/core/model/checkpoint';
import type { LlamaConfig } from '../../../src/core/model/llamaConfig';
import { readSafetensors } from '../../../src/core/model/safetensors';
import { writeModelWeights } from '../../../src/core/model/shards';
import { DEFAULT_GENERATE, generateCompletions } from '../../../src/core/sample/generate';
import { Project } from '../../../src/core/store/project';
import { byteLevelTokenizerJson } from '../../../src/core/tokenizer/byteLevel';
import { TINY_LLAMA, randomLlamaWeights } from '../core/onnx/llamaModels';
import { capture, writeConfig } from '../core/train/cliHelpers';

/** TINY_LLAMA with the byte-level tokenizer's 257 tokens inside its vocabulary. */
const CONFIG: LlamaConfig = { ...TINY_LLAMA, vocab_size: 260, bos_token_id: 256, eos_token_id: 256 };
const RAW = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: CONFIG.vocab_size,
  hidden_size: CONFIG.hidden_size,
  intermediate_size: CONFIG.intermediate_size,
  num_hidden_layers: CONFIG.num_hidden_layers,
  num_attention_heads: CONFIG.num_attention_heads,
  num_key_value_heads: CONFIG.num_key_value_heads,
  head_dim: CONFIG.head_dim,
  max_position_embeddings: CONFIG.max_position_embeddings,
  rms_norm_eps: CONFIG.rms_norm_eps,
  rope_theta: CONFIG.rope_theta,
  rope_scaling: { ...CONFIG.rope_scaling },
  attention_bias: true,
  mlp_bias: true,
  tie_word_embeddings: false,
  hidden_act: 'silu',
  bos_token_id: 256,
  eos_token_id: 256,
  torch_dtype: 'float32',
};

let cwd: string;
let base: string;

before(async () => {
  cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-llama-policy-'));
  base = path.join(cwd, 'base');
  const files: [string, FileContent][] = [
    ['config.json', json(RAW)],
    ['tokenizer.json', json(byteLevelTokenizerJson())],
  ];
  writeModelWeights(files, randomLlamaWeights(CONFIG, 3, 0.2));
  writeFolderAtomically(base, files);
  const project = await Project.create(cwd, { labeler: 'tester@example.com' });
  await project.prompts.add(['The sea ', 'A whale ', 'We sail ']);
  const generated = await generateCompletions(project, base, project.prompts.list(), { ...DEFAULT_GENERATE, k: 3, maxNewTokens: 6, temperatures: [1.0, 1.3, 1.6] });
  for (const b of generated.batches) await project.rankings.submit({ batchId: b.id, completionIds: b.completions.map((c) => c.id), ranks: [1, 2, 3] });
});

after(() => fs.rmSync(cwd, { recursive: true, force: true }));

async function train(stage: string, cfg: object): Promise<string> {
  const c = capture(cwd);
  const code = await runCli(['train', stage, '--config', writeConfig(cwd, `${stage}.json`, cfg)], c.io);
  assert.equal(code, 0, c.err.join('\n'));
  const runId = (cfg as { runId: string }).runId;
  return path.join(cwd, '.rlhf', 'runs', runId, 'checkpoints', stage, 'final');
}

/** A saved causal-LM folder: LlamaForCausalLM with the untied head, weights moved from the base's. */
function assertTrainedLm(dir: string): void {
  const saved = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(saved, RAW);
  const ckpt = loadCheckpoint(dir);
  assert.equal(ckpt.kind, 'lm');
  assert.deepEqual(ckpt.config, CONFIG);
  const start = loadCheckpoint(base);
  assert.ok(
    [...ckpt.weights].some(([name, w]) => w.data.some((v, i) => v !== start.weights.get(name)?.data[i])),
    `${dir}: no weight moved`,
  );
  assert.ok(!readSafetensors(path.join(dir, 'model.safetensors')).tensors.has('v_head.summary.weight'));
}

let rmDir: string;

test('a reward model from an untied Llama: LlamaForSequenceClassification without the LM head, loaded again as a reward model', async () => {
  rmDir = await train('reward', { runId: 'rm', model: base, maxLen: 48, steps: 4, batchSize: 2, evalFraction: 0, evalEvery: 0, optim: { lr: 0.01, warmupSteps: 0 } });
  const saved = JSON.parse(fs.readFileSync(path.join(rmDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(saved.architectures, ['LlamaForSequenceClassification']);
  assert.equal(saved.num_labels, 1);
  assert.equal(saved.pad_token_id, 256);
  // The source's fields as read, the head aside.
  assert.deepEqual(saved, { ...RAW, architectures: ['LlamaForSequenceClassification'], num_labels: 1, id2label: { '0': 'LABEL_0' }, label2id: { LABEL_0: 0 }, pad_token_id: 256 });
  const tensors = readSafetensors(path.join(rmDir, 'model.safetensors')).tensors;
  assert.ok(!tensors.has('lm_head.weight'));
  assert.deepEqual(tensors.get('score.weight')?.shape, [1, CONFIG.hidden_size]);
  const rm = loadCheckpoint(rmDir);
  assert.equal(rm.kind, 'reward');
});

test('PPO (value head), RLOO and DPO train the Llama folder and save LlamaForCausalLM folders', async () => {
  assert.ok(rmDir, 'the reward-model test runs first');
  assertTrainedLm(await train('ppo', { runId: 'ppo', model: base, rewardModel: rmDir, iterations: 2, rolloutBatch: 2, miniBatches: 1, maxNewTokens: 6, checkpointEvery: 0, optim: { lr: 0.005 } }));
  assertTrainedLm(await train('rloo', { runId: 'rloo', model: base, rewardModel: rmDir, iterations: 2, promptsPerIteration: 1, k: 2, maxNewTokens: 6, checkpointEvery: 0, optim: { lr: 0.005 } }));
  assertTrainedLm(await train('dpo', { runId: 'dpo', model: base, maxLen: 48, steps: 3, batchSize: 2, evalFraction: 0, evalEvery: 0, optim: { lr: 0.005, warmupSteps: 0 } }));
});
