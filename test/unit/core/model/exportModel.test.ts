import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../../../src/cli/main';
import type { CliIo } from '../../../../src/cli/command';
import { json, loadCheckpoint, saveCheckpoint } from '../../../../src/core/model/checkpoint';
import { hfConfig } from '../../../../src/core/model/hfConfig';
import type { LoraPair } from '../../../../src/core/model/peft';
import { saveAdapter } from '../../../../src/core/model/peft';
import type { NamedTensor } from '../../../../src/core/model/safetensors';
import { readSafetensors } from '../../../../src/core/model/safetensors';
import type { Placement, WeightsLayout } from '../../../../src/core/model/shards';
import { readModelWeights } from '../../../../src/core/model/shards';
import { seededRandom } from '../../../../src/core/sample/pick';
import { byteLevelTokenizerJson } from '../../../../src/core/tokenizer/byteLevel';
import { TINY, randomWeights } from '../onnx/tinyModel';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'export-model-'));
const SHARDS = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];

async function cli(cwd: string, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (t) => out.push(t), err: (t) => err.push(t), cwd, signal: new AbortController().signal };
  const code = await runCli(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A GPT-2 base saved as transformers would save it in bfloat16 over two shards. */
function bf16ShardedBase(dir: string): void {
  const weights = randomWeights(TINY, 11);
  const tensors = new Map<string, Placement>();
  for (const [name, t] of weights) tensors.set(`transformer.${name}`, { dtype: 'BF16', file: name < 'h.1' ? (SHARDS[0] as string) : (SHARDS[1] as string), elements: t.data.length });
  const layout: WeightsLayout = { sharded: true, tensors, files: new Map(SHARDS.map((f) => [f, { format: 'pt' }])), indexMetadata: {} };
  saveCheckpoint(dir, { config: TINY, kind: 'lm', weights, tokenizer: byteLevelTokenizerJson(), layout });
}

/** LoRA pairs for both layers' c_attn (Conv1D [in 16, out 48]): A [r, 16], B [48, r]. */
function cAttnPairs(r: number): Map<string, LoraPair> {
  const random = seededRandom(5);
  const t = (shape: number[]): NamedTensor => ({ shape, data: Float32Array.from({ length: shape[0]! * shape[1]! }, () => random() * 2 - 1) });
  return new Map([0, 1].map((l) => [`transformer.h.${l}.attn.c_attn`, { A: t([r, 16]), B: t([48, r]) }]));
}

test('rlhf export model copies a full checkpoint: model files, sharded weights and index, no optimizer state', async () => {
  const root = tmp();
  const single = path.join(root, 'single');
  saveCheckpoint(single, { config: TINY, kind: 'lm', weights: randomWeights(TINY, 2), tokenizer: byteLevelTokenizerJson() });
  fs.writeFileSync(path.join(single, 'optimizer.safetensors'), fs.readFileSync(path.join(single, 'model.safetensors')));
  const r = await cli(root, 'export', 'model', '--model', 'single', '--out', 'out-single');
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(fs.readdirSync(path.join(root, 'out-single')).sort(), ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);

  bf16ShardedBase(path.join(root, 'sharded'));
  assert.equal((await cli(root, 'export', 'model', '--model', 'sharded', '--out', 'out-sharded')).code, 0);
  const files = fs.readdirSync(path.join(root, 'out-sharded'));
  assert.ok(
    ['model.safetensors.index.json', ...SHARDS].every((f) => files.includes(f)),
    files.join(', '),
  );
  for (const f of files) assert.deepEqual(fs.readFileSync(path.join(root, 'out-sharded', f)), fs.readFileSync(path.join(root, 'sharded', f)), f);

  assert.equal((await cli(root, 'export', 'model', '--model', 'single')).code, 2, '--out is required');
  const again = await cli(root, 'export', 'model', '--model', 'single', '--out', 'out-single');
  assert.equal(again.code, 1);
  assert.match(again.err, /out-single: exists and is not empty/);
});

test('rlhf export model merges a LoRA adapter into its sharded BF16 base, keeping names, dtypes and shards', async () => {
  const root = tmp();
  const baseDir = path.join(root, 'base');
  bf16ShardedBase(baseDir);
  const base = readModelWeights(baseDir);
  const r = 4;
  const alpha = 8;
  const lora = cAttnPairs(r);
  const score = { shape: [1, 16], data: Float32Array.from({ length: 16 }, (_, i) => (i - 8) / 4) };
  const adapterDir = path.join(root, 'run', 'final');
  // A reward-model adapter as our trainer writes it: the adapter, its head, and its own config.json.
  saveAdapter(
    adapterDir,
    {
      config: { r, alpha, dropout: 0.1, targetModules: ['c_attn'] },
      baseModel: baseDir,
      taskType: 'SEQ_CLS',
      fanInFanOut: true,
      lora,
      modulesToSave: ['score'],
      saved: new Map([['score.weight', score]]),
    },
    [['config.json', json(hfConfig(TINY, 'reward'))]],
  );

  const res = await cli(root, 'export', 'model', '--model', 'run/final', '--out', 'merged');
  assert.equal(res.code, 0, res.err);
  assert.match(res.out, /merged a LoRA adapter over 2 weights into .*base/);
  const out = path.join(root, 'merged');
  assert.deepEqual(fs.readdirSync(out).sort(), ['config.json', 'generation_config.json', ...SHARDS, 'model.safetensors.index.json', 'tokenizer.json', 'tokenizer_config.json']);

  // The base's index plus the new head (in the last shard), written as transformers writes it.
  const baseIndex = JSON.parse(fs.readFileSync(path.join(baseDir, 'model.safetensors.index.json'), 'utf8')) as { metadata: { total_size: number }; weight_map: Record<string, string> };
  const index = JSON.parse(fs.readFileSync(path.join(out, 'model.safetensors.index.json'), 'utf8')) as typeof baseIndex;
  assert.deepEqual(index.weight_map, { ...baseIndex.weight_map, 'score.weight': SHARDS[1] });
  assert.equal(index.metadata.total_size, baseIndex.metadata.total_size + 16 * 2);

  const merged = readModelWeights(out);
  const s = alpha / r;
  for (const [name, t] of base.weights) {
    assert.equal(merged.layout.tensors.get(name)?.dtype, 'BF16', name);
    const m = /^transformer\.(h\.\d+\.attn\.c_attn)\.weight$/.exec(name);
    if (!m) {
      assert.deepEqual(merged.weights.get(name)?.data, t.data, `${name} is untouched`);
      continue;
    }
    // Conv1D stores [in 16, out 48]: W'[i][o] = W[i][o] + s·Σ_k B[o][k]·A[k][i], then rounded to BF16.
    const { A, B } = lora.get(`transformer.${m[1]}`) as LoraPair;
    const got = merged.weights.get(name)?.data as Float32Array;
    for (let i = 0; i < 16; i++) {
      for (let o = 0; o < 48; o++) {
        let d = 0;
        for (let k = 0; k < r; k++) d += B.data[o * r + k]! * A.data[k * 16 + i]!;
        const want = t.data[i * 48 + o]! + s * d;
        assert.ok(Math.abs(got[i * 48 + o]! - want) <= 2 ** -8 * Math.abs(want) + 1e-30, `${name}[${i}, ${o}]: ${got[i * 48 + o]} vs ${want}`);
      }
    }
  }
  assert.deepEqual(readSafetensors(path.join(out, SHARDS[1]!)).tensors.get('score.weight')?.data, score.data);
  const ckpt = loadCheckpoint(out);
  assert.equal(ckpt.kind, 'reward', "the adapter folder's config.json wins over the base's");
});

test("the adapter's base is found as a folder, in the Hugging Face cache, or from --base; else a clear error", async () => {
  const root = tmp();
  const baseDir = path.join(root, 'base');
  bf16ShardedBase(baseDir);
  const adapterFor = (baseModel: string): string => {
    const dir = path.join(root, `adapter-${Math.random().toString(36).slice(2)}`);
    saveAdapter(dir, {
      config: { r: 2, alpha: 2, dropout: 0, targetModules: ['c_attn'] },
      baseModel,
      taskType: 'CAUSAL_LM',
      fanInFanOut: false,
      lora: cAttnPairs(2),
      modulesToSave: [],
      saved: new Map(),
    });
    return dir;
  };

  // fan_in_fan_out false in the file, but the base is GPT-2: PEFT treats Conv1D as [in, out] regardless.
  const relative = await cli(root, 'export', 'model', '--model', adapterFor('base'), '--out', 'a');
  assert.equal(relative.code, 0, relative.err);

  const missing = await cli(root, 'export', 'model', '--model', adapterFor('someone/missing-model'), '--out', 'b');
  assert.equal(missing.code, 1);
  assert.match(
    missing.err,
    /adapter_config\.json: its base model 'someone\/missing-model' is neither a folder here nor in the Hugging Face cache\. Pass the base model folder with --base DIR, or fetch it with: rlhf model pull someone\/missing-model/,
  );
  assert.equal((await cli(root, 'export', 'model', '--model', adapterFor('someone/missing-model'), '--out', 'b', '--base', 'base')).code, 0);

  const cache = path.join(root, 'hf-cache');
  const snapshot = path.join(cache, 'models--someone--cached', 'snapshots', 'abc123');
  fs.mkdirSync(path.dirname(snapshot), { recursive: true });
  fs.cpSync(baseDir, snapshot, { recursive: true });
  fs.mkdirSync(path.join(cache, 'models--someone--cached', 'refs'));
  fs.writeFileSync(path.join(cache, 'models--someone--cached', 'refs', 'main'), 'abc123');
  const saved = process.env.HF_HUB_CACHE;
  process.env.HF_HUB_CACHE = cache;
  try {
    const cached = await cli(root, 'export', 'model', '--model', adapterFor('someone/cached'), '--out', 'c');
    assert.equal(cached.code, 0, cached.err);
    assert.match(cached.out, /into .*models--someone--cached\/snapshots\/abc123/);
  } finally {
    if (saved === undefined) delete process.env.HF_HUB_CACHE;
    else process.env.HF_HUB_CACHE = saved;
  }

  const wrongBase = path.join(root, 'small');
  saveCheckpoint(wrongBase, { config: { ...TINY, n_embd: 8, n_head: 2 }, kind: 'lm', weights: randomWeights({ ...TINY, n_embd: 8, n_head: 2 }, 1), tokenizer: byteLevelTokenizerJson() });
  const mismatch = await cli(root, 'export', 'model', '--model', adapterFor(wrongBase), '--out', 'd');
  assert.equal(mismatch.code, 1);
  assert.match(
    mismatch.err,
    /adapter_model\.safetensors: 'transformer\.h\.0\.attn\.c_attn' has A \[2, 16\] and B \[48, 2\], which change a \[16, 48\] weight, but the base's 'transformer\.h\.0\.attn\.c_attn\.weight' is \[8, 24\]/,
  );
  assert.equal(fs.existsSync(path.join(root, 'd')), false, 'nothing written on failure');
});
