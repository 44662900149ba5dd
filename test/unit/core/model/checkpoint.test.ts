import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadCheckpoint, saveCheckpoint } from '../../../../src/core/model/checkpoint';
import type { NamedTensor } from '../../../../src/core/model/safetensors';
import { readSafetensors, serializeSafetensors } from '../../../../src/core/model/safetensors';
import { byteLevelTokenizerJson } from '../../../../src/core/tokenizer/byteLevel';
import { isUserError } from '../../../../src/core/errors';
import { TINY, randomWeights } from '../onnx/tinyModel';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-'));
const readJson = (f: string): Record<string, unknown> => JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown>;

function assertUserError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isUserError(e), `expected a UserError, got ${String(e)}`);
    assert.match((e as Error).message, pattern);
    return true;
  });
}

test('folder round trip (lm, reward, value) keeps config, kind, weights and tokenizer', () => {
  for (const kind of ['lm', 'reward', 'value'] as const) {
    const dir = path.join(tmp(), 'model');
    const weights = randomWeights(TINY, 3, kind);
    saveCheckpoint(dir, { config: TINY, kind, weights, tokenizer: byteLevelTokenizerJson() });
    assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    const back = loadCheckpoint(dir);
    assert.equal(back.kind, kind);
    assert.deepEqual(back.config, TINY);
    assert.equal(back.weights.size, weights.size);
    for (const [name, t] of weights) assert.deepEqual(back.weights.get(name)?.data, t.data, name);
    assert.deepEqual(back.tokenizer.encode('hi'), [104, 105]);
  }
});

test('written folders use transformers names and config fields', () => {
  const dir = path.join(tmp(), 'rm');
  saveCheckpoint(dir, { config: TINY, kind: 'reward', weights: randomWeights(TINY, 1, 'reward'), tokenizer: byteLevelTokenizerJson() });
  const config = readJson(path.join(dir, 'config.json'));
  assert.deepEqual(config.architectures, ['GPT2ForSequenceClassification']);
  assert.equal(config.model_type, 'gpt2');
  assert.deepEqual(config.id2label, { '0': 'LABEL_0' });
  assert.equal(config.pad_token_id, 256);
  assert.equal(config.n_embd, 16);
  const names = [...readSafetensors(path.join(dir, 'model.safetensors')).tensors.keys()];
  assert.ok(names.includes('transformer.wte.weight') && names.includes('transformer.h.1.mlp.c_proj.bias') && names.includes('score.weight'));
  assert.ok(!names.includes('lm_head.weight'));
  assert.deepEqual(readJson(path.join(dir, 'generation_config.json')), { _from_model_config: true, bos_token_id: 256, eos_token_id: 256 });
});

test('loads a folder laid out as transformers writes GPT2LMHeadModel (lm_head, attn buffers, no prefix variant)', () => {
  const weights = randomWeights(TINY, 5);
  for (const prefix of ['transformer.', '']) {
    const dir = tmp();
    const tensors = new Map<string, NamedTensor>();
    for (const [name, t] of weights) tensors.set(prefix + name, t);
    // Older transformers saved the causal mask buffers and the tied head.
    for (let i = 0; i < TINY.n_layer; i++) {
      tensors.set(`${prefix}h.${i}.attn.bias`, { shape: [1, 1, 32, 32], data: new Float32Array(32 * 32).fill(1) });
      tensors.set(`${prefix}h.${i}.attn.masked_bias`, { shape: [], data: Float32Array.from([-1e4]) });
    }
    tensors.set('lm_head.weight', weights.get('wte.weight') as NamedTensor);
    fs.writeFileSync(path.join(dir, 'model.safetensors'), serializeSafetensors(tensors));
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({
        activation_function: 'gelu_new',
        architectures: ['GPT2LMHeadModel'],
        attn_pdrop: 0.1,
        bos_token_id: 256,
        embd_pdrop: 0.1,
        eos_token_id: 256,
        initializer_range: 0.02,
        layer_norm_epsilon: 1e-5,
        model_type: 'gpt2',
        n_ctx: 32,
        n_embd: 16,
        n_head: 2,
        n_inner: null,
        n_layer: 2,
        n_positions: 32,
        resid_pdrop: 0.1,
        summary_type: 'cls_index',
        task_specific_params: { 'text-generation': { do_sample: true } },
        torch_dtype: 'float32',
        transformers_version: '4.46.0',
        use_cache: true,
        vocab_size: 257,
      }),
    );
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(byteLevelTokenizerJson()));
    const ckpt = loadCheckpoint(dir);
    assert.equal(ckpt.kind, 'lm');
    assert.deepEqual(ckpt.weights.get('h.1.attn.c_attn.weight')?.data, weights.get('h.1.attn.c_attn.weight')?.data);
  }
});

test('a bf16 checkpoint (as transformers saves with torch_dtype=bfloat16) loads as float32', () => {
  const dir = path.join(tmp(), 'bf16');
  saveCheckpoint(dir, { config: TINY, kind: 'lm', weights: randomWeights(TINY, 8), tokenizer: byteLevelTokenizerJson() });
  // Rewrite model.safetensors as BF16: the top 16 bits of each float32.
  const f32 = readSafetensors(path.join(dir, 'model.safetensors')).tensors;
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  const chunks: Buffer[] = [];
  let offset = 0;
  const expected = new Map<string, Float32Array>();
  for (const [name, t] of f32) {
    const bits = new Uint32Array(Float32Array.from(t.data).buffer);
    const half = Uint16Array.from(bits, (u) => u >>> 16);
    expected.set(name, new Float32Array(Uint32Array.from(half, (h) => h << 16).buffer));
    header[name] = { dtype: 'BF16', shape: t.shape, data_offsets: [offset, offset + half.byteLength] };
    chunks.push(Buffer.from(half.buffer));
    offset += half.byteLength;
  }
  const text = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(text.length));
  fs.writeFileSync(path.join(dir, 'model.safetensors'), Buffer.concat([len, text, ...chunks]));
  const back = loadCheckpoint(dir);
  for (const [name, want] of expected) {
    const key = name.replace(/^transformer\./, '');
    assert.deepEqual(back.weights.get(key)?.data, want, name);
  }
});

test('malformed or mismatched checkpoints give errors naming the file and tensor', () => {
  const good = path.join(tmp(), 'good');
  saveCheckpoint(good, { config: TINY, kind: 'lm', weights: randomWeights(TINY), tokenizer: byteLevelTokenizerJson() });
  const variant = (edit: (dir: string) => void): string => {
    const dir = path.join(tmp(), 'm');
    fs.cpSync(good, dir, { recursive: true });
    edit(dir);
    return dir;
  };
  const cfg = (dir: string, patch: Record<string, unknown>): void => fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...readJson(path.join(dir, 'config.json')), ...patch }));

  assertUserError(() => loadCheckpoint('/nonexistent/model'), /\/nonexistent\/model: no such model folder/);
  assertUserError(() => loadCheckpoint(variant((d) => fs.rmSync(path.join(d, 'config.json')))), /config\.json: missing/);
  assertUserError(() => loadCheckpoint(variant((d) => fs.writeFileSync(path.join(d, 'config.json'), '{oops'))), /config\.json: not valid JSON/);
  assertUserError(() => loadCheckpoint(variant((d) => cfg(d, { model_type: 'llama' }))), /config\.json: model_type is "llama"/);
  assertUserError(() => loadCheckpoint(variant((d) => cfg(d, { activation_function: 'relu' }))), /activation_function "relu" is not supported/);
  assertUserError(() => loadCheckpoint(variant((d) => cfg(d, { n_layer: 3 }))), /model\.safetensors: tensor 'h\.2\.ln_1\.weight' is missing/);
  assertUserError(() => loadCheckpoint(variant((d) => cfg(d, { n_embd: 18 }))), /tensor 'wte\.weight' has shape \[257, 16\] but config\.json implies \[257, 18\]/);
  assertUserError(() => loadCheckpoint(variant((d) => cfg(d, { vocab_size: 100 }))), /tokenizer has 257 tokens but config\.json's vocab_size is 100|wte\.weight' has shape/);
  assertUserError(() => loadCheckpoint(variant((d) => fs.rmSync(path.join(d, 'model.safetensors')))), /model\.safetensors: missing/);
  assertUserError(() => loadCheckpoint(variant((d) => fs.truncateSync(path.join(d, 'model.safetensors'), 1000))), /model\.safetensors: not a valid safetensors file: .*(truncated|outside)/);
  assertUserError(() => loadCheckpoint(variant((d) => fs.rmSync(path.join(d, 'tokenizer.json')))), /tokenizer\.json: no tokenizer\.json there/);
});

test('saving over an existing checkpoint replaces it whole and leaves no temp folders', () => {
  const parent = tmp();
  const dir = path.join(parent, 'policy');
  saveCheckpoint(dir, { config: TINY, kind: 'lm', weights: randomWeights(TINY, 1), tokenizer: byteLevelTokenizerJson() });
  const second = randomWeights(TINY, 2, 'value');
  saveCheckpoint(dir, { config: TINY, kind: 'value', weights: second, tokenizer: byteLevelTokenizerJson() });
  assert.deepEqual(fs.readdirSync(parent), ['policy']);
  const back = loadCheckpoint(dir);
  assert.equal(back.kind, 'value');
  assert.deepEqual(back.weights.get('v_head.summary.weight')?.data, second.get('v_head.summary.weight')?.data);
});
