/**
 * LoRA on the tape (onnx/lora.ts): the adapters' gradients (A and B) against central finite
 * differences of the same graph's loss on a tiny GPT-2 and a tiny Llama; the base weights frozen
 * (no gradient outputs); an adapted model's loss equal to the base with PEFT's merge applied
 * (peft.ts mergeAdapters, so the orientation matches what PEFT loads); a fresh adapter changing
 * nothing; dropout only in training graphs; targets checked against the model's linear modules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { parameterShapes } from '../../../../src/core/model/config';
import type { GPT2Config } from '../../../../src/core/model/config';
import { llamaParameterShapes } from '../../../../src/core/model/llamaConfig';
import type { LlamaConfig } from '../../../../src/core/model/llamaConfig';
import { mergeAdapters } from '../../../../src/core/model/peft';
import type { LoraPair } from '../../../../src/core/model/peft';
import type { NamedTensor } from '../../../../src/core/model/safetensors';
import { buildLmTrainGraph, gradName } from '../../../../src/core/onnx/gptGraph';
import { buildLlamaLmTrainGraph } from '../../../../src/core/onnx/llamaGraph';
import { initLora, loraShapes, planLora } from '../../../../src/core/onnx/lora';
import type { LoraPlan, LoraSettings } from '../../../../src/core/onnx/lora';
import { UserError } from '../../../../src/core/errors';
import { seededRandom } from '../../../../src/core/sample/pick';
import { randomWeights, TINY } from './tinyModel';
import { randomLlamaWeights, TINY_LLAMA } from './llamaModels';

const GPT: GPT2Config = { ...TINY, n_layer: 2, vocab_size: 37 };
const B = 2;
const T = 6;
const ids = Array.from({ length: B * T }, (_, i) => (i * 11 + 3) % 37);
const targets = Array.from({ length: B * T }, (_, i) => (i * 7 + 5) % 37);
const mask = Float32Array.from({ length: B * T }, (_, i) => (i % T === 0 ? 0 : 1));
const int64 = (v: readonly number[]): ort.Tensor =>
  new ort.Tensor(
    'int64',
    BigInt64Array.from(v, (x) => BigInt(x)),
    [B, T],
  );

/** Random A and B (B non-zero, so A's gradient is too). */
function randomAdapter(plan: LoraPlan, seed: number): Map<string, NamedTensor> {
  const random = seededRandom(seed);
  return new Map([...loraShapes(plan)].map(([name, shape]) => [name, { shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (random() * 2 - 1) * 0.4) }]));
}

async function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
}

function feeds(tensors: ReadonlyMap<string, NamedTensor>): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = { input_ids: int64(ids), targets: int64(targets), loss_mask: new ort.Tensor('float32', mask, [B, T]) };
  for (const [name, t] of tensors) out[name] = new ort.Tensor('float32', t.data, [...t.shape]);
  return out;
}

/**
 * d loss / d A and d B from the training graph against central differences of the loss graph, at
 * six elements of each adapter tensor of the first and last target; the base gets no gradient output.
 */
async function checkLoraGradients(label: string, base: ReadonlyMap<string, NamedTensor>, plan: LoraPlan, build: (lora: LoraPlan, gradients: boolean) => Uint8Array): Promise<void> {
  const adapter = randomAdapter(plan, 5);
  const all = new Map([...base, ...adapter]);
  const train = await session(build(plan, true));
  const loss = await session(build(plan, false));
  try {
    const gradOutputs = train.outputNames.filter((n) => n.startsWith('grad.'));
    assert.deepEqual(gradOutputs.sort(), [...adapter.keys()].map(gradName).sort(), `${label}: gradients only for the adapter`);
    for (const name of base.keys()) assert.ok(train.inputNames.includes(name), `${label}: the base weight ${name} is an input`);
    const out = await train.run(feeds(all));
    const lossAt = async (): Promise<number> => (await loss.run(feeds(all))).loss?.data[0] as number;
    assert.ok(Math.abs(((out.loss?.data[0] as number) - (await lossAt())) / (await lossAt())) < 1e-5, `${label}: the train and loss graphs agree`);
    const targetsList = [...plan.targets.values()];
    const checked = [targetsList[0], targetsList[targetsList.length - 1]].flatMap((t) => [t?.A as string, t?.B as string]);
    const h = 1e-2;
    for (const name of checked) {
      const grad = out[gradName(name)]?.data as Float32Array;
      const values = (all.get(name) as NamedTensor).data;
      const largest = grad.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assert.ok(largest > 1e-4, `${label}: ${name} has a non-zero gradient`);
      for (let k = 0; k < 6; k++) {
        const i = Math.floor((k * values.length) / 6);
        const v = values[i] as number;
        values[i] = v + h;
        const up = await lossAt();
        values[i] = v - h;
        const down = await lossAt();
        values[i] = v;
        const numeric = (up - down) / (2 * h);
        assert.ok(Math.abs(numeric - (grad[i] as number)) < 2e-2 * largest + 1e-5, `${label}: d loss / d ${name}[${i}]: graph ${grad[i]}, finite differences ${numeric}`);
      }
    }
  } finally {
    await train.release();
    await loss.release();
  }
}

const gptSettings: LoraSettings = { r: 3, alpha: 6, dropout: 0, targetModules: ['c_attn', 'c_proj', 'c_fc'] };
const llamaSettings: LoraSettings = { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] };

test('LoRA on GPT-2: the gradients of A and B match finite differences; the base gets none', async () => {
  const plan = planLora(parameterShapes(GPT), gptSettings);
  assert.equal(plan.targets.size, 2 * 4, 'c_attn, attn.c_proj, c_fc and mlp.c_proj of both layers');
  assert.ok(plan.fanInFanOut);
  await checkLoraGradients('gpt2', randomWeights(GPT, 3), plan, (lora, gradients) => buildLmTrainGraph(GPT, { lora, gradients }));
});

test('LoRA on Llama (GQA, biases, untied head): the gradients of A and B match finite differences', async () => {
  const config: LlamaConfig = TINY_LLAMA;
  const plan = planLora(llamaParameterShapes(config), llamaSettings);
  assert.equal(plan.targets.size, 2 * 7);
  assert.ok(!plan.fanInFanOut);
  const q = plan.targets.get('model.layers.0.self_attn.k_proj.weight');
  assert.deepEqual([q?.module, q?.inDim, q?.outDim, q?.A], ['model.layers.0.self_attn.k_proj', 32, 16, 'base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight']);
  await checkLoraGradients('llama', randomLlamaWeights(config, 3), plan, (lora, gradients) => buildLlamaLmTrainGraph(config, { lora, gradients }));
});

/** The pairs of `adapter` by module path, as peft.ts merges them. */
function pairs(plan: LoraPlan, adapter: ReadonlyMap<string, NamedTensor>): Map<string, LoraPair> {
  return new Map([...plan.targets.values()].map((t) => [t.module.replace(/^transformer\./, ''), { A: adapter.get(t.A) as NamedTensor, B: adapter.get(t.B) as NamedTensor }]));
}

for (const family of ['gpt2', 'llama'] as const) {
  test(`LoRA on ${family}: the adapted loss equals the base's with PEFT's merge; a fresh adapter (B = 0) changes nothing`, async () => {
    const base = family === 'gpt2' ? randomWeights(GPT, 4) : randomLlamaWeights(TINY_LLAMA, 4);
    const shapes = family === 'gpt2' ? parameterShapes(GPT) : llamaParameterShapes(TINY_LLAMA);
    const plan = planLora(shapes, family === 'gpt2' ? gptSettings : llamaSettings);
    const build = (lora?: LoraPlan): Uint8Array =>
      family === 'gpt2' ? buildLmTrainGraph(GPT, { gradients: false, ...(lora ? { lora } : {}) }) : buildLlamaLmTrainGraph(TINY_LLAMA, { gradients: false, ...(lora ? { lora } : {}) });
    const adapted = await session(build(plan));
    const plain = await session(build());
    try {
      const adapter = randomAdapter(plan, 9);
      const lossOf = async (s: ort.InferenceSession, w: ReadonlyMap<string, NamedTensor>): Promise<number> => (await s.run(feeds(w))).loss?.data[0] as number;
      const got = await lossOf(adapted, new Map([...base, ...adapter]));
      const merged = mergeAdapters(base, pairs(plan, adapter), { r: plan.settings.r, alpha: plan.settings.alpha, fanInFanOut: plan.fanInFanOut });
      const want = await lossOf(plain, merged);
      const unchanged = await lossOf(plain, base);
      assert.ok(Math.abs(got - want) < 1e-4 * Math.abs(want), `adapted ${got} vs merged ${want}`);
      assert.ok(Math.abs(got - unchanged) > 1e-3, 'the adapter changes the loss');
      const fresh = await lossOf(adapted, new Map([...base, ...initLora(plan, 1)]));
      assert.equal(fresh, unchanged);
    } finally {
      await adapted.release();
      await plain.release();
    }
  });
}

test('LoRA dropout: only in the training graph, new masks each run', async () => {
  const plan = planLora(parameterShapes(GPT), { ...gptSettings, dropout: 0.5 });
  const opTypes = (bytes: Uint8Array): string[] => (onnx.ModelProto.decode(bytes).graph?.node ?? []).map((n) => n.opType ?? '');
  assert.ok(opTypes(buildLmTrainGraph(GPT, { lora: plan })).includes('RandomUniformLike'));
  assert.ok(!opTypes(buildLmTrainGraph(GPT, { lora: plan, gradients: false })).includes('RandomUniformLike'));
  const train = await session(buildLmTrainGraph(GPT, { lora: plan }));
  try {
    const w = new Map([...randomWeights(GPT, 3), ...randomAdapter(plan, 2)]);
    const first = (await train.run(feeds(w))).loss?.data[0] as number;
    const second = (await train.run(feeds(w))).loss?.data[0] as number;
    assert.notEqual(first, second);
  } finally {
    await train.release();
  }
});

test('LoRA targets: a module the model lacks is a UserError listing its linear modules', () => {
  assert.throws(
    () => planLora(parameterShapes(GPT), { ...gptSettings, targetModules: ['q_proj'] }),
    (err: unknown) => err instanceof UserError && /'q_proj'.*c_attn, c_proj, c_fc/.test(err.message),
  );
  assert.throws(
    () => planLora(llamaParameterShapes(TINY_LLAMA), { ...llamaSettings, targetModules: ['q_proj', 'c_attn'] }),
    (err: unknown) => err instanceof UserError && /'c_attn'.*q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj/.test(err.message),
  );
  assert.throws(() => planLora(parameterShapes(GPT), { ...gptSettings, r: 0 }), UserError);
  // PEFT's suffix rule: 'attn.c_proj' picks the attention output only.
  assert.equal(planLora(parameterShapes(GPT), { ...gptSettings, targetModules: ['attn.c_proj'] }).targets.size, 2);
});
