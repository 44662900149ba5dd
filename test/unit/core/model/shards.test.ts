import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isUserError } from '../../../../src/core/errors';
import type { FileContent } from '../../../../src/core/model/checkpoint';
import { loadCheckpoint, saveCheckpoint, writeFolderAtomically } from '../../../../src/core/model/checkpoint';
import type { Dtype, NamedTensor } from '../../../../src/core/model/safetensors';
import { readSafetensors, toBf16Bits } from '../../../../src/core/model/safetensors';
import { readModelWeights, writeModelWeights } from '../../../../src/core/model/shards';
import type { WeightsLayout } from '../../../../src/core/model/shards';
import { seededRandom } from '../../../../src/core/sample/pick';
import { byteLevelTokenizerJson } from '../../../../src/core/tokenizer/byteLevel';
import { TINY, randomWeights } from '../onnx/tinyModel';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'shards-'));
const SHARD = (i: number): string => `model-0000${i}-of-00003.safetensors`;

/** A Llama-shaped model, names as transformers saves LlamaForCausalLM, split over three shards. */
const MODEL: [name: string, shape: number[], shard: number][] = [
  ['model.embed_tokens.weight', [8, 4], 1],
  ['model.layers.0.input_layernorm.weight', [4], 1],
  ['model.layers.0.self_attn.q_proj.weight', [4, 4], 1],
  ['model.layers.0.self_attn.k_proj.weight', [2, 4], 2],
  ['model.layers.0.self_attn.v_proj.weight', [2, 4], 2],
  ['model.layers.0.self_attn.o_proj.weight', [4, 4], 2],
  ['model.layers.0.mlp.gate_proj.weight', [6, 4], 2],
  ['model.layers.0.mlp.up_proj.weight', [6, 4], 3],
  ['model.layers.0.mlp.down_proj.weight', [4, 6], 3],
  ['model.layers.0.post_attention_layernorm.weight', [4], 3],
  ['model.norm.weight', [4], 3],
  ['lm_head.weight', [8, 4], 3],
];

/**
 * The index as transformers writes it: json.dumps(index, indent=2, sort_keys=True) + "\n", with
 * total_size = 196 BF16 values × 2 bytes. Written out by hand, not by the code under test.
 */
const INDEX_TEXT = `{
  "metadata": {
    "total_size": 392
  },
  "weight_map": {
    "lm_head.weight": "model-00003-of-00003.safetensors",
    "model.embed_tokens.weight": "model-00001-of-00003.safetensors",
    "model.layers.0.input_layernorm.weight": "model-00001-of-00003.safetensors",
    "model.layers.0.mlp.down_proj.weight": "model-00003-of-00003.safetensors",
    "model.layers.0.mlp.gate_proj.weight": "model-00002-of-00003.safetensors",
    "model.layers.0.mlp.up_proj.weight": "model-00003-of-00003.safetensors",
    "model.layers.0.post_attention_layernorm.weight": "model-00003-of-00003.safetensors",
    "model.layers.0.self_attn.k_proj.weight": "model-00002-of-00003.safetensors",
    "model.layers.0.self_attn.o_proj.weight": "model-00002-of-00003.safetensors",
    "model.layers.0.self_attn.q_proj.weight": "model-00001-of-00003.safetensors",
    "model.layers.0.self_attn.v_proj.weight": "model-00002-of-00003.safetensors",
    "model.norm.weight": "model-00003-of-00003.safetensors"
  }
}
`;

interface Raw {
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

/** A safetensors file written by hand: header in reverse name order (not the reference writer's), metadata {"format": "pt"}. */
function writeShard(file: string, tensors: ReadonlyMap<string, Raw>): void {
  const header: Record<string, unknown> = {};
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of [...tensors.keys()].sort().reverse()) {
    const t = tensors.get(name) as Raw;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    chunks.push(t.bytes);
    offset += t.bytes.length;
  }
  header.__metadata__ = { format: 'pt' };
  const text = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(text.length));
  fs.writeFileSync(file, Buffer.concat([length, text, ...chunks]));
}

/** Random BF16 bit patterns (no inf/NaN exponent), and the float32 values they stand for. */
function bf16Values(n: number, random: () => number): { bits: Uint16Array; values: Float32Array } {
  const bits = Uint16Array.from({ length: n }, () => {
    const p = Math.floor(random() * 65536);
    return ((p >> 7) & 0xff) === 0xff ? p ^ 0x4000 : p;
  });
  return { bits, values: new Float32Array(Uint32Array.from(bits, (b) => b << 16).buffer) };
}

/** The Llama-shaped model as three BF16 shards plus INDEX_TEXT; returns each tensor's values. */
function writeShardedModel(dir: string, seed = 1): Map<string, Float32Array> {
  const random = seededRandom(seed);
  const values = new Map<string, Float32Array>();
  const shards = new Map<number, Map<string, Raw>>();
  for (const [name, shape, shard] of MODEL) {
    const { bits, values: v } = bf16Values(
      shape.reduce((a, b) => a * b, 1),
      random,
    );
    values.set(name, v);
    if (!shards.has(shard)) shards.set(shard, new Map());
    shards.get(shard)?.set(name, { dtype: 'BF16', shape, bytes: new Uint8Array(bits.buffer) });
  }
  fs.mkdirSync(dir, { recursive: true });
  for (const [i, tensors] of shards) writeShard(path.join(dir, SHARD(i)), tensors);
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), INDEX_TEXT);
  return values;
}

function save(dir: string, weights: ReadonlyMap<string, NamedTensor>, layout?: WeightsLayout): void {
  const files: [string, FileContent][] = [];
  writeModelWeights(files, weights, layout);
  writeFolderAtomically(dir, files);
}

function assertUserError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isUserError(e), `expected a UserError, got ${String(e)}`);
    assert.match((e as Error).message, pattern);
    return true;
  });
}

test('a sharded BF16 checkpoint round trips: same names, dtypes, shards, and a byte-identical index', () => {
  const src = path.join(tmp(), 'src');
  const values = writeShardedModel(src);
  const read = readModelWeights(src);
  assert.equal(read.file, path.join(src, 'model.safetensors.index.json'));
  assert.equal(read.layout.sharded, true);
  assert.deepEqual([...read.layout.files.keys()], [SHARD(1), SHARD(2), SHARD(3)]);
  for (const [name, shape, shard] of MODEL) {
    assert.deepEqual(read.weights.get(name)?.shape, shape, name);
    assert.deepEqual(read.weights.get(name)?.data, values.get(name), name);
    assert.deepEqual(read.layout.tensors.get(name), { dtype: 'BF16', file: SHARD(shard), elements: values.get(name)?.length }, name);
  }

  const out = path.join(tmp(), 'out');
  save(out, read.weights, read.layout);
  assert.deepEqual(fs.readdirSync(out).sort(), [SHARD(1), SHARD(2), SHARD(3), 'model.safetensors.index.json']);
  assert.equal(fs.readFileSync(path.join(out, 'model.safetensors.index.json'), 'utf8'), INDEX_TEXT);
  for (const [name, , shard] of MODEL) {
    const st = readSafetensors(path.join(out, SHARD(shard)));
    assert.equal(st.dtypes.get(name), 'BF16', name);
    assert.deepEqual(st.tensors.get(name)?.data, values.get(name), `${name}: the same BF16 bits`);
    assert.deepEqual(st.metadata, Object.assign(Object.create(null), { format: 'pt' }));
  }
  // Saving what was saved gives the same bytes, shard by shard.
  const again = path.join(tmp(), 'again');
  const reread = readModelWeights(out);
  save(again, reread.weights, reread.layout);
  for (const f of fs.readdirSync(out)) assert.deepEqual(fs.readFileSync(path.join(again, f)), fs.readFileSync(path.join(out, f)), f);
});

test('new tensors go to the last shard in the dominant dtype; dropped ones leave the index; total_size follows', () => {
  const src = path.join(tmp(), 'src');
  writeShardedModel(src);
  // A source whose metadata also counts parameters (newer transformers and mlx write total_parameters).
  const index = JSON.parse(INDEX_TEXT) as { metadata: Record<string, number> };
  fs.writeFileSync(path.join(src, 'model.safetensors.index.json'), JSON.stringify({ ...index, metadata: { ...index.metadata, total_parameters: 196 } }));
  const read = readModelWeights(src);
  // One F32 tensor among BF16 ones: BF16 still holds most values.
  const mixed: WeightsLayout = { ...read.layout, tensors: new Map([...read.layout.tensors, ['model.norm.weight', { dtype: 'F32', file: SHARD(3), elements: 4 }]]) };
  const weights = new Map(read.weights);
  weights.delete('lm_head.weight');
  weights.set('score.weight', { shape: [1, 4], data: Float32Array.from([0.5, -0.25, 1.5, 3]) });
  const out = path.join(tmp(), 'out');
  save(out, weights, mixed);
  const written = JSON.parse(fs.readFileSync(path.join(out, 'model.safetensors.index.json'), 'utf8')) as { metadata: Record<string, number>; weight_map: Record<string, string> };
  assert.equal(written.weight_map['score.weight'], SHARD(3));
  assert.equal(written.weight_map['lm_head.weight'], undefined);
  // 196 values − lm_head's 32 + score's 4 = 168; norm's 4 as F32 (4 bytes), the rest BF16.
  assert.deepEqual(written.metadata, { total_parameters: 168, total_size: 164 * 2 + 4 * 4 });
  const last = readSafetensors(path.join(out, SHARD(3)));
  assert.equal(last.dtypes.get('score.weight'), 'BF16');
  assert.equal(last.dtypes.get('model.norm.weight'), 'F32');
  assert.deepEqual([...(last.tensors.get('score.weight')?.data ?? [])], [0.5, -0.25, 1.5, 3]);
  assert.equal(last.tensors.has('lm_head.weight'), false);
});

test('errors name the index or shard: missing shard, unknown dtype, a tensor the index lists but no shard holds', () => {
  const variant = (edit: (dir: string) => void): string => {
    const dir = path.join(tmp(), 'm');
    writeShardedModel(dir);
    edit(dir);
    return dir;
  };
  const setIndex = (dir: string, patch: (map: Record<string, string>) => void): void => {
    const index = JSON.parse(INDEX_TEXT) as { weight_map: Record<string, string> };
    patch(index.weight_map);
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
  };
  assertUserError(
    () => readModelWeights(variant((d) => fs.rmSync(path.join(d, SHARD(2))))),
    /model\.safetensors\.index\.json: lists shard model-00002-of-00003\.safetensors, which is not in .* \(an incomplete download/,
  );
  assertUserError(
    () =>
      readModelWeights(
        variant((d) =>
          writeShard(
            path.join(d, SHARD(2)),
            new Map<string, Raw>([
              ['model.layers.0.self_attn.k_proj.weight', { dtype: 'I64' as Dtype, shape: [1], bytes: new Uint8Array(8) }],
              ['model.layers.0.self_attn.v_proj.weight', { dtype: 'BF16', shape: [1], bytes: new Uint8Array(2) }],
            ]),
          ),
        ),
      ),
    /model-00002-of-00003\.safetensors: tensor 'model\.layers\.0\.self_attn\.k_proj\.weight' has dtype I64, which is not supported/,
  );
  assertUserError(
    () => readModelWeights(variant((d) => setIndex(d, (m) => void (m['model.layers.1.mlp.up_proj.weight'] = SHARD(1))))),
    /index\.json: lists tensor 'model\.layers\.1\.mlp\.up_proj\.weight' in model-00001-of-00003\.safetensors, but model-00001-of-00003\.safetensors has no such tensor/,
  );
  assertUserError(
    () => readModelWeights(variant((d) => setIndex(d, (m) => void delete m['lm_head.weight']))),
    /model-00003-of-00003\.safetensors: holds tensor 'lm_head\.weight', but model\.safetensors\.index\.json does not list it/,
  );
  assertUserError(
    () => readModelWeights(variant((d) => setIndex(d, (m) => void (m['lm_head.weight'] = SHARD(1))))),
    /model-00003-of-00003\.safetensors: holds tensor 'lm_head\.weight', but model\.safetensors\.index\.json puts it in model-00001-of-00003\.safetensors/,
  );
  assertUserError(
    () => readModelWeights(variant((d) => setIndex(d, (m) => void (m['lm_head.weight'] = '../elsewhere.safetensors')))),
    /tensor 'lm_head\.weight' has a bad shard name "\.\.\/elsewhere\.safetensors"/,
  );
  assertUserError(() => readModelWeights(variant((d) => fs.writeFileSync(path.join(d, 'model.safetensors.index.json'), '{"weight_map": ['))), /index\.json: not valid JSON/);
  assertUserError(() => readModelWeights(variant((d) => fs.writeFileSync(path.join(d, 'model.safetensors.index.json'), '{"metadata": {}}'))), /index\.json: no "weight_map" object/);
  assertUserError(() => readModelWeights(tmp()), /model\.safetensors: missing; only safetensors weights are read/);
});

/** GPT-2 weights rounded to BF16, as transformers saves a model loaded with torch_dtype=bfloat16. */
function bf16Weights(seed: number, kind: 'lm' | 'reward' = 'lm'): Map<string, NamedTensor> {
  const out = new Map<string, NamedTensor>();
  for (const [name, t] of randomWeights(TINY, seed, kind)) {
    out.set(name, { shape: t.shape, data: new Float32Array(Uint32Array.from(t.data, (x) => toBf16Bits(x) << 16).buffer) });
  }
  return out;
}

test('loadCheckpoint / saveCheckpoint keep a sharded BF16 GPT-2 as it was; a new head joins the last shard', () => {
  const weights = bf16Weights(3);
  const src = path.join(tmp(), 'gpt2');
  saveCheckpoint(src, { config: TINY, kind: 'lm', weights, tokenizer: byteLevelTokenizerJson() });
  // Re-shard it as transformers would (names with `transformer.`, BF16, two shards) with the index it writes.
  fs.rmSync(path.join(src, 'model.safetensors'));
  const names = [...weights.keys()].map((n) => `transformer.${n}`).sort();
  const shardOf = (name: string): string => (name < 'transformer.h.1' ? 'model-00001-of-00002.safetensors' : 'model-00002-of-00002.safetensors');
  for (const file of ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) {
    const tensors = new Map<string, Raw>();
    for (const name of names.filter((n) => shardOf(n) === file)) {
      const t = weights.get(name.slice('transformer.'.length)) as NamedTensor;
      tensors.set(name, { dtype: 'BF16', shape: t.shape, bytes: new Uint8Array(Uint16Array.from(new Uint32Array(t.data.buffer), (u) => u >>> 16).buffer) });
    }
    writeShard(path.join(src, file), tensors);
  }
  const totalSize = [...weights.values()].reduce((a, t) => a + 2 * t.data.length, 0);
  // What Python's json.dumps(indent=2, sort_keys=True) writes, for ASCII names and integers.
  const indexText = JSON.stringify({ metadata: { total_size: totalSize }, weight_map: Object.fromEntries(names.map((n) => [n, shardOf(n)])) }, null, 2) + '\n';
  fs.writeFileSync(path.join(src, 'model.safetensors.index.json'), indexText);

  const ckpt = loadCheckpoint(src);
  for (const [name, t] of weights) assert.deepEqual(ckpt.weights.get(name)?.data, t.data, name);
  const out = path.join(tmp(), 'saved');
  saveCheckpoint(out, { config: ckpt.config, kind: 'lm', weights: ckpt.weights, tokenizer: ckpt.tokenizer, layout: ckpt.layout });
  assert.equal(fs.readFileSync(path.join(out, 'model.safetensors.index.json'), 'utf8'), indexText);
  assert.equal(fs.existsSync(path.join(out, 'model.safetensors')), false);
  for (const name of names) assert.equal(readSafetensors(path.join(out, shardOf(name))).dtypes.get(name), 'BF16', name);

  // The SFT → reward step: same layout, plus a fresh score head.
  const rm = path.join(tmp(), 'rm');
  const reward = new Map([...ckpt.weights, ['score.weight', { shape: [1, 16], data: new Float32Array(16).fill(0.125) }]]);
  saveCheckpoint(rm, { config: ckpt.config, kind: 'reward', weights: reward, tokenizer: ckpt.tokenizer, layout: ckpt.layout });
  const rmIndex = JSON.parse(fs.readFileSync(path.join(rm, 'model.safetensors.index.json'), 'utf8')) as { metadata: { total_size: number }; weight_map: Record<string, string> };
  assert.equal(rmIndex.weight_map['score.weight'], 'model-00002-of-00002.safetensors');
  assert.equal(rmIndex.metadata.total_size, totalSize + 32);
  const back = loadCheckpoint(rm);
  assert.equal(back.kind, 'reward');
  assert.deepEqual(back.layout?.tensors.get('score.weight'), { dtype: 'BF16', file: 'model-00002-of-00002.safetensors', elements: 16 });
});

test("a single-file F16 folder with the Hub gpt2's unprefixed names and tied head is saved back the same way", () => {
  const weights = randomWeights(TINY, 4);
  const src = path.join(tmp(), 'hub');
  saveCheckpoint(src, { config: TINY, kind: 'lm', weights, tokenizer: byteLevelTokenizerJson() });
  const tensors = new Map<string, Raw>();
  for (const [name, t] of weights) tensors.set(name, { dtype: 'F32', shape: t.shape, bytes: new Uint8Array(t.data.buffer.slice(0)) });
  tensors.set('lm_head.weight', tensors.get('wte.weight') as Raw);
  writeShard(path.join(src, 'model.safetensors'), tensors);
  const ckpt = loadCheckpoint(src);
  assert.equal(ckpt.layout?.sharded, false);
  // Stored as F16 from here on: the layout says so.
  const f16: WeightsLayout = { ...(ckpt.layout as WeightsLayout), tensors: new Map([...(ckpt.layout as WeightsLayout).tensors].map(([n, p]) => [n, { ...p, dtype: 'F16' as Dtype }])) };
  const out = path.join(tmp(), 'out');
  saveCheckpoint(out, { config: TINY, kind: 'lm', weights: ckpt.weights, tokenizer: ckpt.tokenizer, layout: f16 });
  const st = readSafetensors(path.join(out, 'model.safetensors'));
  assert.deepEqual([...st.tensors.keys()].sort(), [...tensors.keys()].sort(), 'the same names: no transformer. prefix, lm_head kept');
  assert.deepEqual(new Set(st.dtypes.values()), new Set(['F16']));
  assert.deepEqual(st.tensors.get('lm_head.weight')?.data, st.tensors.get('wte.weight')?.data);
  assert.equal(loadCheckpoint(out).kind, 'lm');
});
