import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isUserError } from '../../../../src/core/errors';
import type { Adapter, LoraPair } from '../../../../src/core/model/peft';
import { adapterConfigJson, loadAdapter, loraTensorName, mergeAdapters, saveAdapter, targets } from '../../../../src/core/model/peft';
import { pythonJson, PyFloat } from '../../../../src/core/model/pythonJson';
import type { NamedTensor } from '../../../../src/core/model/safetensors';
import { readSafetensors, serializeSafetensors } from '../../../../src/core/model/safetensors';
import { seededRandom } from '../../../../src/core/sample/pick';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'peft-'));
const R = 4;

function randomTensor(shape: number[], random: () => number): NamedTensor {
  return { shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => random() * 2 - 1) };
}

/** LoRA pairs for modules of [out, in] = dims[module]. */
function pairs(dims: Record<string, [out: number, inDim: number]>, seed = 1, r = R): Map<string, LoraPair> {
  const random = seededRandom(seed);
  return new Map(Object.entries(dims).map(([m, [out, inDim]]) => [m, { A: randomTensor([r, inDim], random), B: randomTensor([out, r], random) }]));
}

function adapter(overrides: Partial<Adapter> & Pick<Adapter, 'lora'>): Adapter {
  return {
    config: { r: R, alpha: 16, dropout: 0.05, targetModules: ['c_attn'] },
    baseModel: '/models/gpt2',
    taskType: 'CAUSAL_LM',
    fanInFanOut: true,
    modulesToSave: [],
    saved: new Map(),
    ...overrides,
  };
}

function assertUserError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isUserError(e), `expected a UserError, got ${String(e)}`);
    assert.match((e as Error).message, pattern);
    return true;
  });
}

test("adapter_model.safetensors holds PEFT's names: base_model.model.<module>.lora_A/B.weight, heads whole", () => {
  assert.equal(loraTensorName('transformer.h.0.attn.c_attn', 'A'), 'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight');
  assert.equal(loraTensorName('model.layers.3.self_attn.q_proj', 'B'), 'base_model.model.model.layers.3.self_attn.q_proj.lora_B.weight');

  // GPT-2 (GPT2ForSequenceClassification): c_attn is Conv1D [in 16, out 48]; A [r, 16], B [48, r].
  const gpt2 = path.join(tmp(), 'gpt2');
  saveAdapter(
    gpt2,
    adapter({
      lora: pairs({ 'transformer.h.0.attn.c_attn': [48, 16], 'transformer.h.1.attn.c_attn': [48, 16] }),
      taskType: 'SEQ_CLS',
      modulesToSave: ['score'],
      saved: new Map([['score.weight', { shape: [1, 16], data: new Float32Array(16) }]]),
    }),
  );
  const st = readSafetensors(path.join(gpt2, 'adapter_model.safetensors'));
  assert.deepEqual([...st.tensors.keys()].sort(), [
    'base_model.model.score.weight',
    'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight',
    'base_model.model.transformer.h.0.attn.c_attn.lora_B.weight',
    'base_model.model.transformer.h.1.attn.c_attn.lora_A.weight',
    'base_model.model.transformer.h.1.attn.c_attn.lora_B.weight',
  ]);
  assert.deepEqual(st.tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight')?.shape, [R, 16]);
  assert.deepEqual(st.tensors.get('base_model.model.transformer.h.0.attn.c_attn.lora_B.weight')?.shape, [48, R]);
  assert.deepEqual(st.metadata, Object.assign(Object.create(null), { format: 'pt' }));

  // Llama / Qwen2 (LlamaForCausalLM): q_proj [out 8, in 8], v_proj [out 4, in 8] with GQA.
  const llama = path.join(tmp(), 'llama');
  const lora = pairs({ 'model.layers.0.self_attn.q_proj': [8, 8], 'model.layers.0.self_attn.v_proj': [4, 8], 'model.layers.1.self_attn.q_proj': [8, 8], 'model.layers.1.self_attn.v_proj': [4, 8] });
  saveAdapter(llama, adapter({ lora, fanInFanOut: false, baseModel: 'Qwen/Qwen2.5-0.5B', config: { r: R, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'] } }));
  const names = [...readSafetensors(path.join(llama, 'adapter_model.safetensors')).tensors.keys()].sort();
  assert.deepEqual(names, [
    'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight',
    'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight',
    'base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight',
    'base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight',
    'base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight',
    'base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight',
    'base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight',
    'base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight',
  ]);
  const back = loadAdapter(llama);
  assert.deepEqual([...back.lora.keys()].sort(), [...lora.keys()].sort());
  for (const [m, p] of lora) assert.deepEqual(back.lora.get(m), p, m);
  assert.deepEqual(back.config, { r: R, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'] });
  assert.equal(back.baseModel, 'Qwen/Qwen2.5-0.5B');
  assert.equal(back.fanInFanOut, false);
});

test('target_modules match as PEFT matches them: the whole path or its trailing parts, or a regex', () => {
  assert.ok(targets(['c_attn'], 'transformer.h.0.attn.c_attn'));
  assert.ok(targets(['c_proj'], 'transformer.h.0.mlp.c_proj') && targets(['c_proj'], 'transformer.h.0.attn.c_proj'));
  assert.ok(targets(['attn.c_proj'], 'transformer.h.0.attn.c_proj') && !targets(['attn.c_proj'], 'transformer.h.0.mlp.c_proj'));
  assert.ok(!targets(['proj'], 'model.layers.0.self_attn.q_proj'), 'a whole dotted part, not a suffix of one');
  assert.ok(targets('.*\\.(q|v)_proj', 'model.layers.0.self_attn.v_proj') && !targets('.*\\.(q|v)_proj', 'model.layers.0.self_attn.k_proj'));
});

test('adapter_config.json is the text PEFT writes (sorted keys, indent 2, Python floats, no newline)', () => {
  const text = adapterConfigJson(adapter({ lora: new Map(), taskType: 'SEQ_CLS', modulesToSave: ['score'] }));
  // Written out by hand from PEFT's LoraConfig fields and json.dumps(indent=2, sort_keys=True).
  assert.equal(
    text,
    `{
  "alpha_pattern": {},
  "auto_mapping": null,
  "base_model_name_or_path": "/models/gpt2",
  "bias": "none",
  "fan_in_fan_out": true,
  "inference_mode": true,
  "init_lora_weights": true,
  "layers_pattern": null,
  "layers_to_transform": null,
  "lora_alpha": 16,
  "lora_dropout": 0.05,
  "modules_to_save": [
    "score"
  ],
  "peft_type": "LORA",
  "r": 4,
  "rank_pattern": {},
  "revision": null,
  "target_modules": [
    "c_attn"
  ],
  "task_type": "SEQ_CLS",
  "use_rslora": false
}`,
  );
  const causal = JSON.parse(adapterConfigJson(adapter({ lora: new Map(), config: { r: 8, alpha: 32, dropout: 0, targetModules: ['q_proj', 'v_proj'] }, fanInFanOut: false }))) as Record<
    string,
    unknown
  >;
  assert.deepEqual(
    { task_type: causal.task_type, fan_in_fan_out: causal.fan_in_fan_out, modules_to_save: causal.modules_to_save, r: causal.r, lora_alpha: causal.lora_alpha },
    { task_type: 'CAUSAL_LM', fan_in_fan_out: false, modules_to_save: null, r: 8, lora_alpha: 32 },
  );
  // Python's float repr and ensure_ascii, which JSON.stringify does not share.
  assert.equal(
    pythonJson([new PyFloat(0), new PyFloat(1e-5), new PyFloat(1e-4), new PyFloat(1e16), new PyFloat(123.5), 0.1, 'é', -2]),
    '[\n  0.0,\n  1e-05,\n  0.0001,\n  1e+16,\n  123.5,\n  0.1,\n  "\\u00e9",\n  -2\n]',
  );
});

/** W' = W + s·(B @ A) from nested arrays, written independently of peft.ts; conv1d: W is [in, out]. */
function reference(W: NamedTensor, { A, B }: LoraPair, s: number, conv1d: boolean): number[] {
  const [r, inDim] = A.shape as [number, number];
  const out = B.shape[0] as number;
  const a = Array.from({ length: r }, (_, k) => Array.from(A.data.subarray(k * inDim, (k + 1) * inDim)));
  const b = Array.from({ length: out }, (_, o) => Array.from(B.data.subarray(o * r, (o + 1) * r)));
  const w = Array.from(W.data);
  const delta = (o: number, i: number): number => s * b[o]!.reduce((sum, bok, k) => sum + bok * a[k]![i]!, 0);
  for (let o = 0; o < out; o++) for (let i = 0; i < inDim; i++) w[conv1d ? i * out + o : o * inDim + i]! += delta(o, i);
  return w;
}

function assertClose(got: Float32Array, want: number[], what: string): void {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs((got[i] as number) - want[i]!) <= 1e-6 * (1 + Math.abs(want[i]!)), `${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

test('mergeAdapters adds (alpha/r)·B@A, transposed for Conv1D weights stored [in, out]', () => {
  const random = seededRandom(7);
  // Non-square on purpose (out 6 ≠ in 4), so a transposition mistake cannot hide.
  const linear = pairs({ 'model.layers.0.self_attn.q_proj': [6, 4] }, 2, 2);
  const conv = pairs({ 'transformer.h.0.attn.c_attn': [6, 4] }, 3, 2);
  const base = new Map<string, NamedTensor>([
    ['model.layers.0.self_attn.q_proj.weight', randomTensor([6, 4], random)], // nn.Linear: [out, in]
    ['model.norm.weight', randomTensor([4], random)],
    ['h.0.attn.c_attn.weight', randomTensor([4, 6], random)], // Conv1D: [in, out]; a bare GPT2Model checkpoint's name
  ]);
  const q = mergeAdapters(base, linear, { r: 2, alpha: 8, fanInFanOut: false });
  assertClose(
    q.get('model.layers.0.self_attn.q_proj.weight')?.data as Float32Array,
    reference(base.get('model.layers.0.self_attn.q_proj.weight')!, linear.get('model.layers.0.self_attn.q_proj')!, 4, false),
    'linear',
  );
  assert.equal(q.get('model.norm.weight'), base.get('model.norm.weight'), 'untouched weights are shared, not copied');
  assert.deepEqual(base.get('model.layers.0.self_attn.q_proj.weight')?.shape, [6, 4]);

  // `transformer.h.0.attn.c_attn` (GPT2LMHeadModel's module) finds `h.0.attn.c_attn.weight`.
  const c = mergeAdapters(base, conv, { r: 2, alpha: 8, fanInFanOut: true });
  assertClose(c.get('h.0.attn.c_attn.weight')?.data as Float32Array, reference(base.get('h.0.attn.c_attn.weight')!, conv.get('transformer.h.0.attn.c_attn')!, 4, true), 'conv1d');
  const rs = mergeAdapters(base, conv, { r: 2, alpha: 8, fanInFanOut: true, useRslora: true });
  assertClose(rs.get('h.0.attn.c_attn.weight')?.data as Float32Array, reference(base.get('h.0.attn.c_attn.weight')!, conv.get('transformer.h.0.attn.c_attn')!, 8 / Math.sqrt(2), true), 'rslora');

  assertUserError(
    () => mergeAdapters(base, conv, { r: 2, alpha: 8, fanInFanOut: false }),
    /'transformer\.h\.0\.attn\.c_attn' has A \[2, 4\] and B \[6, 2\], which change a \[6, 4\] weight, but the base's 'h\.0\.attn\.c_attn\.weight' is \[4, 6\] \(transposed: fan_in_fan_out should be true\)/,
  );
  assertUserError(
    () => mergeAdapters(base, pairs({ 'model.layers.0.mlp.up_proj': [6, 4] }), { r: R, alpha: 8, fanInFanOut: false }),
    /adapts 'model\.layers\.0\.mlp\.up_proj', but the base model has no 'model\.layers\.0\.mlp\.up_proj\.weight'/,
  );
});

test('loadAdapter refuses what it cannot read faithfully, naming the file and the problem', () => {
  const good = adapter({ lora: pairs({ 'transformer.h.0.attn.c_attn': [48, 16] }) });
  const variant = (edit: (dir: string) => void): string => {
    const dir = path.join(tmp(), 'a');
    saveAdapter(dir, good);
    edit(dir);
    return dir;
  };
  const patchConfig = (patch: Record<string, unknown>) => (dir: string) => {
    const file = path.join(dir, 'adapter_config.json');
    fs.writeFileSync(file, JSON.stringify({ ...(JSON.parse(fs.readFileSync(file, 'utf8')) as object), ...patch }));
  };
  const setTensors = (tensors: Record<string, NamedTensor>) => (dir: string) => fs.writeFileSync(path.join(dir, 'adapter_model.safetensors'), serializeSafetensors(new Map(Object.entries(tensors))));
  const { A, B } = good.lora.get('transformer.h.0.attn.c_attn')!;

  assertUserError(() => loadAdapter(variant(patchConfig({ peft_type: 'IA3' }))), /adapter_config\.json: peft_type is "IA3"; only LoRA adapters/);
  assertUserError(() => loadAdapter(variant(patchConfig({ use_dora: true }))), /use_dora is true; DoRA adapters are not supported/);
  assertUserError(() => loadAdapter(variant(patchConfig({ rank_pattern: { c_attn: 8 } }))), /rank_pattern sets per-module ranks/);
  assertUserError(() => loadAdapter(variant(patchConfig({ bias: 'all' }))), /bias is "all"/);
  assertUserError(() => loadAdapter(variant(patchConfig({ r: 0 }))), /r is 0; it must be a positive integer/);
  assertUserError(() => loadAdapter(variant(patchConfig({ target_modules: '(' }))), /target_modules "\(" is not a regular expression/);
  assertUserError(() => loadAdapter(variant((d) => fs.writeFileSync(path.join(d, 'adapter_config.json'), '{'))), /adapter_config\.json: not valid JSON/);
  assertUserError(() => loadAdapter(path.join(tmp(), 'none')), /adapter_config\.json: cannot read it \(ENOENT\)/);
  assertUserError(
    () => loadAdapter(variant(patchConfig({ r: 3 }))),
    /adapter_model\.safetensors: base_model\.model\.transformer\.h\.0\.attn\.c_attn\.lora_A\.weight has shape \[4, 16\]; it must be \[r=3, in\]/,
  );
  assertUserError(
    () => loadAdapter(variant(setTensors({ 'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight': A }))),
    /'transformer\.h\.0\.attn\.c_attn' has lora_A\.weight but no base_model\.model\.transformer\.h\.0\.attn\.c_attn\.lora_B\.weight/,
  );
  assertUserError(
    () => loadAdapter(variant(setTensors({ 'base_model.model.transformer.h.0.mlp.c_fc.lora_A.weight': A, 'base_model.model.transformer.h.0.mlp.c_fc.lora_B.weight': B }))),
    /adapts 'transformer\.h\.0\.mlp\.c_fc', which target_modules \["c_attn"\] does not select/,
  );
  assertUserError(() => loadAdapter(variant(setTensors({ 'transformer.h.0.attn.c_attn.lora_A.weight': A }))), /does not start with 'base_model\.model\.'/);
  assertUserError(() => loadAdapter(variant(setTensors({ 'base_model.model.transformer.h.0.attn.c_attn.lora_embedding_A': A }))), /a LoRA tensor of a kind not supported/);
  assertUserError(
    () => loadAdapter(variant((d) => fs.renameSync(path.join(d, 'adapter_model.safetensors'), path.join(d, 'adapter_model.bin')))),
    /adapter_model\.safetensors: missing; only safetensors adapters are read\. It has adapter_model\.bin/,
  );
  // Against a base: the module must exist there with the shape the pair changes.
  const dir = variant(() => undefined);
  const base = new Map<string, NamedTensor>([['transformer.h.0.attn.c_attn.weight', { shape: [16, 48], data: new Float32Array(16 * 48) }]]);
  assert.equal(loadAdapter(dir, base).lora.size, 1);
  assertUserError(
    () => loadAdapter(dir, new Map([['transformer.h.0.attn.c_attn.weight', { shape: [16, 40], data: new Float32Array(640) }]])),
    /adapter_model\.safetensors: 'transformer\.h\.0\.attn\.c_attn' has A \[4, 16\] and B \[48, 4\].*is \[16, 40\]\. Is this adapter for that base model\?/,
  );
  assertUserError(() => loadAdapter(dir, new Map()), /adapter_model\.safetensors: adapts 'transformer\.h\.0\.attn\.c_attn', but the base model has no/);
});
