import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../../src/cli/main';
import type { CliIo } from '../../../src/cli/command';
import { saveCheckpoint } from '../../../src/core/model/checkpoint';
import { byteLevelTokenizerJson } from '../../../src/core/tokenizer/byteLevel';
import { TINY, randomWeights } from '../core/onnx/tinyModel';

let root = '';
let model = '';

before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-model-'));
  model = path.join(root, 'tiny');
  saveCheckpoint(model, { config: TINY, kind: 'lm', weights: randomWeights(TINY, 41), tokenizer: byteLevelTokenizerJson() });
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (t) => out.push(t), err: (t) => err.push(t), cwd: root, signal: new AbortController().signal };
  const code = await runCli(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

interface Line {
  prompt: string;
  completion: string;
  tokens: number[];
  logprobs: number[];
  finish_reason: string;
  prompt_index: number;
  sample: number;
}

test('rlhf sample --json: one object per completion; ort and tfjs agree on greedy', async () => {
  const args = ['sample', '--model', model, '--prompt', 'Hi', '--prompt', 'Longer prompt', '--n', '2', '--max-new-tokens', '6', '--json'];
  const r = await cli(...args, '--temperature', '0.8', '--seed', '3');
  assert.equal(r.code, 0, r.err);
  const lines = r.out.split('\n').map((l) => JSON.parse(l) as Line);
  assert.equal(lines.length, 4);
  assert.deepEqual(
    lines.map((l) => [l.prompt, l.prompt_index, l.sample]),
    [
      ['Hi', 0, 0],
      ['Hi', 0, 1],
      ['Longer prompt', 1, 0],
      ['Longer prompt', 1, 1],
    ],
  );
  for (const l of lines) {
    assert.ok(l.tokens.length >= 1 && l.tokens.length <= 6);
    assert.equal(l.logprobs.length, l.tokens.length);
    assert.equal(typeof l.completion, 'string');
  }
  const ort = await cli(...args, '--temperature', '0', '--sampler', 'ort');
  const tfjs = await cli(...args, '--temperature', '0', '--sampler', 'tfjs');
  assert.equal(tfjs.code, 0, tfjs.err);
  const tokens = (text: string): number[][] => text.split('\n').map((l) => (JSON.parse(l) as Line).tokens);
  assert.deepEqual(tokens(ort.out), tokens(tfjs.out));
});

test('rlhf sample reads --prompts files (text and .jsonl) and prints readable text', async () => {
  fs.writeFileSync(path.join(root, 'p.txt'), 'first\n\nsecond\n');
  const r = await cli('sample', '--model', model, '--prompts', 'p.txt', '--max-new-tokens', '3');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /── prompt 1 \(\d+ tokens, (length|eos)\)\nfirst/);
  assert.match(r.out, /── prompt 2 .*\nsecond/);
  fs.writeFileSync(path.join(root, 'p.jsonl'), '{"prompt": "a"}\n{"nope": 1}\n');
  const bad = await cli('sample', '--model', model, '--prompts', 'p.jsonl');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /p\.jsonl:2: no "prompt" string field/);
});

test('rlhf sample: bad flags exit 2, a missing or broken model exits 1 with the path', async () => {
  assert.equal((await cli('sample', '--prompt', 'x')).code, 2);
  assert.equal((await cli('sample', '--model', model)).code, 2);
  assert.equal((await cli('sample', '--model', model, '--prompt', 'x', '--top-p', '2')).code, 2);
  assert.equal((await cli('sample', '--model', model, '--prompt', 'x', '--sampler', 'pytorch')).code, 2);
  assert.equal((await cli('sample', '--model', model, '--prompt', 'x', '--n', 'two')).code, 2);
  const missing = await cli('sample', '--model', 'nowhere', '--prompt', 'x');
  assert.equal(missing.code, 1);
  assert.match(missing.err, /nowhere: no such model folder/);
  const broken = path.join(root, 'broken');
  fs.cpSync(model, broken, { recursive: true });
  fs.writeFileSync(path.join(broken, 'model.safetensors'), Buffer.alloc(4));
  const b = await cli('sample', '--model', broken, '--prompt', 'x');
  assert.equal(b.code, 1);
  assert.match(b.err, /broken\/model\.safetensors: not a valid safetensors file/);
});

test('rlhf model info and rlhf export onnx run end to end', async () => {
  const info = await cli('model', 'info', model, '--json');
  assert.equal(info.code, 0, info.err);
  const parsed = JSON.parse(info.out) as { kind: string; parameters: number; config: { n_layer: number }; tokenizer: { vocabSize: number; eosTokenId: number } };
  assert.equal(parsed.kind, 'lm');
  assert.equal(parsed.config.n_layer, 2);
  assert.deepEqual(parsed.tokenizer, { ...parsed.tokenizer, vocabSize: 257, eosTokenId: 256 });
  // wte 257·16 + wpe 32·16 + 2 layers · (2·16 + 16·48 + 48 + 16·16 + 16 + 2·16 + 16·64 + 64 + 64·16 + 16) + 2·16
  assert.equal(parsed.parameters, 257 * 16 + 32 * 16 + 2 * (32 + 768 + 48 + 256 + 16 + 32 + 1024 + 64 + 1024 + 16) + 32);
  const text = await cli('model', 'info', model);
  assert.match(text.out, /head:\s+language model \(GPT2LMHeadModel\)\n.*\nshape:\s+2 layers, width 16, 2 heads/);
  assert.equal((await cli('model', 'info')).code, 2);

  const exp = await cli('export', 'onnx', '--model', model, '--out', path.join(root, 'onnx'));
  assert.equal(exp.code, 0, exp.err);
  assert.match(exp.out, /Wrote model\.onnx, config\.json/);
  assert.ok(fs.statSync(path.join(root, 'onnx', 'model.onnx')).size > 4 * parsed.parameters, 'the weights are inside model.onnx');
  assert.equal((await cli('export', 'onnx', '--model', model)).code, 2);
});
