/**
 * LoRA runs (train/loraRun.ts, the trainer's frozen base, the engine and the runner): only the
 * adapter (and heads) train and have optimizer state, the base stays bitwise unchanged and is the
 * loaded model's own arrays (never copied); `rlhf train sft` with `lora` writes PEFT adapter
 * checkpoints (PEFT's names and shapes), resumes from one, ends with the merged model, and
 * `rlhf export model` of the adapter gives logits equal to the un-merged LoRA graph's; a LoRA GRPO
 * run's reference is the base with adapters off (no reference model loaded) and completes.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadCheckpoint, saveCheckpoint } from '../../../../src/core/model/checkpoint';
import { parameterShapes } from '../../../../src/core/model/config';
import { loadAdapter, loraTensorName, mergeAdapters } from '../../../../src/core/model/peft';
import { readSafetensors } from '../../../../src/core/model/safetensors';
import type { NamedTensor } from '../../../../src/core/model/safetensors';
import { initLora, loraShapes, planLora } from '../../../../src/core/onnx/lora';
import type { LoraPlan } from '../../../../src/core/onnx/lora';
import { familyModelGraph } from '../../../../src/core/onnx/modelGraphs';
import { Project } from '../../../../src/core/store/project';
import { UserError } from '../../../../src/core/errors';
import { byteLevelTokenizerJson } from '../../../../src/core/tokenizer/byteLevel';
import { setTrainingEngine } from '../../../../src/core/train/engine';
import { DEFAULT_OPTIM } from '../../../../src/core/train/optim';
import { OrtTrainer } from '../../../../src/core/train/ort/trainer';
import type { ParamBuffer } from '../../../../src/core/train/ort/adamw';
import { ortRolloutScoring } from '../../../../src/core/train/rollout/ortPolicy';
import type { Rollout } from '../../../../src/core/train/rollout/rollout';
import { ortFrozenLogProbs } from '../../../../src/core/train/rollout/ortPolicy';
import { buildGrpoGraphs } from '../../../../src/core/onnx/grpoGraph';
import { DEFAULT_GRPO } from '../../../../src/core/train/stages/grpo';
import { DEFAULT_DPO, dpo } from '../../../../src/core/train/stages/dpo';
import type { DpoConfig } from '../../../../src/core/train/stages/dpo';
import type { StageEvent, TrainModel } from '../../../../src/core/train/stage';
import { AdamWState } from '../../../../src/core/train/optim';
import { loadTrainingModel, loraEngineStart, mergedView, saveLoraCheckpoint } from '../../../../src/core/train/loraRun';
import { llamaParameterShapes } from '../../../../src/core/model/llamaConfig';
import { randomLlamaWeights, TINY_LLAMA } from '../onnx/llamaModels';
import type { LoraRun } from '../../../../src/core/train/loraRun';
import { runCli } from '../../../../src/cli/main';
import { randomWeights } from '../onnx/tinyModel';
import { capture, writeConfig } from './cliHelpers';
import { toyConfig } from './toy';

const settings = { r: 4, alpha: 8, dropout: 0, targetModules: ['c_attn', 'c_proj', 'c_fc'] };

test('a LoRA trainer: only the adapter trains and has AdamW state; the base is the given arrays, bitwise unchanged', async () => {
  const base = randomWeights(toyConfig, 2);
  const before = new Map([...base].map(([k, v]) => [k, Float32Array.from(v.data)]));
  const plan = planLora(parameterShapes(toyConfig), settings, 1);
  const fresh = initLora(plan, 1);
  const trainer = await OrtTrainer.lm(toyConfig, (name, into) => into.set((fresh.get(name) as NamedTensor).data), { threads: 1, lora: { plan, base: base as ReadonlyMap<string, ParamBuffer> } });
  try {
    assert.deepEqual([...trainer.params.keys()].sort(), [...fresh.keys()].sort());
    for (const [name, w] of base) assert.equal(trainer.lora?.base.get(name)?.data, w.data, `${name}: fed by reference, not copied`);
    const adam = trainer.optimizer({ ...DEFAULT_OPTIM, lr: 1e-2, warmupSteps: 0, totalSteps: 20 });
    const B = 2;
    const T = 12;
    const ids = Int32Array.from({ length: B * T }, (_, i) => 97 + (i % 5));
    const rows = { B, T, ids, targets: Int32Array.from({ length: B * T }, (_, i) => 97 + ((i + 1) % 5)) };
    const losses: number[] = [];
    for (let step = 0; step < 15; step++) {
      const out = await trainer.lossAndGrads(rows);
      adam.apply(trainer.params, out.grads, out.gradNorm);
      losses.push(out.loss);
    }
    assert.ok((losses[14] as number) < 0.8 * (losses[0] as number), `loss ${losses[0]} → ${losses[14]}`);
    for (const [name, w] of base) assert.deepEqual(w.data, before.get(name), `${name} unchanged`);
    const slots = [...adam.state(new Map()).slots.keys()];
    assert.deepEqual(slots.sort(), [...fresh.keys()].flatMap((n) => [`m.${n}`, `v.${n}`]).sort());
    assert.ok(
      [...trainer.params].some(([n, p]) => n.endsWith('lora_B.weight') && p.data.some((v) => v !== 0)),
      'B has moved from zero',
    );
  } finally {
    await trainer.release();
  }
});

/** Largest |a − b| over two arrays of the same length (Infinity when either is missing). */
function maxDiff(a: Float32Array | undefined, b: Float32Array | undefined): number {
  if (!a || !b || a.length !== b.length) return Infinity;
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - (b[i] as number))), 0);
}

let dir: string;
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** A project with a tiny GPT-2 base, prompts, and SFT data, made once. */
async function project(): Promise<string> {
  if (dir) return dir;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-lora-'));
  saveCheckpoint(path.join(dir, 'base'), { config: toyConfig, kind: 'lm', weights: randomWeights(toyConfig, 5, 'lm', 0.1), tokenizer: byteLevelTokenizerJson() });
  const p = await Project.create(dir, { labeler: 'tester@example.com' });
  await p.prompts.add(['The sea ', 'A whale ', 'Ahab ', 'We sail ']);
  const rows = ['The sea', 'A whale', 'Ahab', 'We sail', 'The ship', 'A storm'].map((prompt) => JSON.stringify({ prompt: `${prompt} `, completion: 'is calm and blue.' }));
  fs.writeFileSync(path.join(dir, 'sft.jsonl'), rows.join('\n') + '\n');
  return dir;
}

async function cli(args: string[], cancelAt?: RegExp): Promise<{ code: number; out: string[]; err: string[] }> {
  const cwd = await project();
  const c = capture(cwd);
  const controller = new AbortController();
  const out = (t: string): void => {
    c.out.push(t);
    if (cancelAt?.test(t)) controller.abort();
  };
  const code = await runCli(args, { ...c.io, out, signal: controller.signal });
  return { code, out: c.out, err: c.err };
}

/** Logits [B, T, V] of `weights` through the model graph (with `lora`: the base and the adapter, un-merged). */
async function logits(weights: ReadonlyMap<string, NamedTensor>, ids: readonly number[], lora?: LoraPlan): Promise<Float32Array> {
  const m = familyModelGraph(toyConfig, ['batch', 'seq'], lora ? { lora } : { frozenInputs: true });
  const g = m.t.g;
  g.output(g.op('MatMul', [m.hidden, g.op('Transpose', [m.p(m.lmHead)], { perm: [1, 0] })]), 'logits', 'float', ['batch', 'seq', toyConfig.vocab_size]);
  const session = await ort.InferenceSession.create(g.model('logits', 'test'), { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  try {
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor(
        'int64',
        BigInt64Array.from(ids, (v) => BigInt(v)),
        [1, ids.length],
      ),
    };
    for (const name of session.inputNames) if (name !== 'input_ids') feeds[name] = new ort.Tensor('float32', (weights.get(name) as NamedTensor).data, [...(weights.get(name) as NamedTensor).shape]);
    return (await session.run(feeds)).logits?.data as Float32Array;
  } finally {
    await session.release();
  }
}

test('rlhf train sft with lora: PEFT adapter checkpoints, resume, loss falls, a merged final; rlhf export model merges to the LoRA graph’s logits', async () => {
  const cwd = await project();
  const config = { runId: 'sft-lora', model: 'base', data: 'sft.jsonl', steps: 12, batchSize: 4, maxLen: 32, checkpointEvery: 4, evalFraction: 0, lora: settings, optim: { lr: 0.01, warmupSteps: 0 } };
  const file = writeConfig(cwd, 'sft.json', config);
  const first = await cli(['train', 'sft', '--config', file], /checkpoint at step 4$/);
  assert.equal(first.code, 130, first.err.join('\n'));
  const resumed = await cli(['train', 'sft', '--config', file]);
  assert.equal(resumed.code, 0, resumed.err.join('\n'));
  assert.ok(
    resumed.out.some((l) => /resuming at step 4\)/.test(l)),
    resumed.out.join('\n'),
  );
  const stageDir = path.join(cwd, '.rlhf', 'runs', 'sft-lora', 'checkpoints', 'sft');
  const step8 = path.join(stageDir, 'step-000008');
  // The adapter in PEFT's format: names, shapes, config; the optimizer holds the adapter only.
  const stored = readSafetensors(path.join(step8, 'adapter_model.safetensors')).tensors;
  const plan = planLora(parameterShapes(toyConfig), settings);
  assert.equal(stored.size, 2 * plan.targets.size);
  for (const t of plan.targets.values()) {
    assert.deepEqual(stored.get(loraTensorName(t.module, 'A'))?.shape, [4, t.inDim]);
    assert.deepEqual(stored.get(loraTensorName(t.module, 'B'))?.shape, [t.outDim, 4]);
  }
  assert.ok(stored.has('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight'));
  const adapterConfig = JSON.parse(fs.readFileSync(path.join(step8, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(
    [adapterConfig.peft_type, adapterConfig.r, adapterConfig.lora_alpha, adapterConfig.fan_in_fan_out, adapterConfig.base_model_name_or_path],
    ['LORA', 4, 8, true, path.join(cwd, 'base')],
  );
  assert.ok(!fs.existsSync(path.join(step8, 'model.safetensors')), 'no copy of the base in a LoRA checkpoint');
  const slots = [...readSafetensors(path.join(step8, 'optimizer.safetensors')).tensors.keys()];
  assert.ok(slots.length === 4 * plan.targets.size && slots.every((k) => /^[mv]\.base_model\.model\..*lora_[AB]\.weight$/.test(k)));
  // The loss falls.
  const losses = fs
    .readFileSync(path.join(cwd, '.rlhf', 'runs', 'sft-lora', 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { values: Record<string, number> }).values['sft/loss'])
    .filter((v): v is number => v !== undefined);
  assert.ok((losses[losses.length - 1] as number) < 0.9 * (losses[0] as number), `sft/loss ${losses.join(', ')}`);
  // The final is the merged model, its adapter beside it; the base is untouched.
  const final = path.join(stageDir, 'final');
  assert.ok(fs.existsSync(path.join(final, 'model.safetensors')) && fs.existsSync(path.join(final, 'adapter', 'adapter_config.json')));
  const base = loadCheckpoint(path.join(cwd, 'base')).weights;
  assert.deepEqual(base.get('h.0.attn.c_attn.weight')?.data, randomWeights(toyConfig, 5, 'lm', 0.1).get('h.0.attn.c_attn.weight')?.data);
  // rlhf export model of the adapter folder: a full folder whose logits are the base + adapter graph's.
  const out = path.join(cwd, 'exported');
  const exported = await cli(['export', 'model', '--model', path.join(final, 'adapter'), '--out', out]);
  assert.equal(exported.code, 0, exported.err.join('\n'));
  const merged = loadCheckpoint(out).weights;
  const adapter = loadAdapter(path.join(final, 'adapter'));
  const unmerged = new Map<string, NamedTensor>(base);
  for (const [module, pair] of adapter.lora) {
    unmerged.set(loraTensorName(module, 'A'), pair.A);
    unmerged.set(loraTensorName(module, 'B'), pair.B);
  }
  const ids = [84, 104, 101, 32, 115, 101, 97, 32];
  const want = await logits(unmerged, ids, plan);
  const got = await logits(merged, ids);
  const plain = await logits(base, ids);
  let diff = 0;
  let moved = 0;
  want.forEach((v, i) => {
    diff = Math.max(diff, Math.abs(v - (got[i] as number)));
    moved = Math.max(moved, Math.abs(v - (plain[i] as number)));
  });
  assert.ok(diff < 1e-4, `merged vs base + adapter: max |Δlogit| ${diff}`);
  assert.ok(moved > 1e-2, 'the adapter changed the logits');
  // The final folder holds the same merged model.
  const finalWeights = loadCheckpoint(final).weights;
  assert.ok(maxDiff(finalWeights.get('h.0.mlp.c_fc.weight')?.data, merged.get('h.0.mlp.c_fc.weight')?.data) < 1e-6);
});

test("a LoRA policy's reference is its base with the adapters off, read from the trainer's own base buffers", async () => {
  const base = randomWeights(toyConfig, 6, 'lm', 0.2);
  const plan = planLora(parameterShapes(toyConfig), settings, 3);
  const adapter = new Map([...initLora(plan, 3)].map(([k, v]) => [k, { shape: v.shape, data: k.endsWith('lora_B.weight') ? v.data.map((_, i) => 0.05 * Math.sin(i)) : v.data }]));
  const graphs = buildGrpoGraphs(toyConfig, { ...DEFAULT_GRPO, epsilonHigh: DEFAULT_GRPO.epsilon });
  const trainer = await OrtTrainer.create(graphs, toyConfig, (name, into) => into.set((adapter.get(name) as NamedTensor).data), {
    threads: 1,
    lora: { plan, base: base as ReadonlyMap<string, ParamBuffer> },
  });
  const frozen = await ortFrozenLogProbs(toyConfig, base, DEFAULT_GRPO.temperature);
  try {
    const scoring = await ortRolloutScoring(trainer, undefined, DEFAULT_GRPO.temperature);
    const P = 3;
    const R = 4;
    const rollout = {
      B: 2,
      P,
      R,
      ids: Int32Array.from([0, 84, 104, 101, 32, 115, 0, 0, 65, 32, 119, 104, 97, 108]),
      mask: Float32Array.from([0, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1]),
      responseIds: Int32Array.from([101, 32, 115, 0, 119, 104, 97, 108]),
      responseMask: Float32Array.from([1, 1, 1, 1, 1, 1, 1, 1]),
      responses: [
        [101, 32, 115, 0],
        [119, 104, 97, 108],
      ],
    } as unknown as Rollout;
    const ref = await scoring.reference(rollout, [0, 1]);
    const want = await frozen.logp(rollout, [0, 1]);
    const policy = (await scoring.policy(rollout, [0, 1], false)).logp;
    let diff = 0;
    let moved = 0;
    ref.forEach((v, i) => {
      diff = Math.max(diff, Math.abs(v - (want[i] as number)));
      moved = Math.max(moved, Math.abs(v - (policy[i] as number)));
    });
    assert.ok(diff < 1e-5, `reference vs the base model: ${diff}`);
    assert.ok(moved > 1e-3, 'the policy (with its adapter) differs from the reference');
    await scoring.release();
  } finally {
    await frozen.release();
    await trainer.release();
  }
});

test('rlhf train grpo with lora and beta > 0: no reference model loaded, two iterations complete, the final is the merged model', async () => {
  const cwd = await project();
  setTrainingEngine('ort');
  const config = {
    runId: 'grpo-lora',
    model: 'base',
    rewards: [{ type: 'regex', pattern: '[a-z]{3}', name: 'word' }],
    beta: 0.04,
    iterations: 2,
    promptsPerIteration: 2,
    numGenerations: 2,
    maxNewTokens: 6,
    lora: { ...settings, targetModules: ['c_attn'], dropout: 0.1 },
  };
  const file = writeConfig(cwd, 'grpo.json', config);
  const run = await cli(['train', 'grpo', '--config', file]);
  assert.equal(run.code, 0, run.err.join('\n'));
  const runDir = path.join(cwd, '.rlhf', 'runs', 'grpo-lora');
  const metrics = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8');
  assert.match(metrics, /"kl"/);
  assert.ok(fs.existsSync(path.join(runDir, 'checkpoints', 'grpo', 'final', 'model.safetensors')));
  assert.ok(fs.existsSync(path.join(runDir, 'checkpoints', 'grpo', 'final', 'adapter', 'adapter_model.safetensors')));
});

test('DPO with lora and no reference model: the reference is the base (loss log 2 at the start), the adapter learns, the base is untouched', async () => {
  setTrainingEngine('ort');
  const weights = randomWeights(toyConfig, 7, 'lm', 0.1);
  const before = Float32Array.from(weights.get('h.0.attn.c_attn.weight')?.data ?? []);
  const policy: TrainModel = {
    config: toyConfig,
    get params(): never {
      throw new Error('no tfjs variables in a LoRA run');
    },
    plain: () => weights,
    lora: { settings, base: '/unused', seed: 1 },
  };
  const enc = (s: string): number[] => [...Buffer.from(s, 'utf8')];
  const pairs = ['sea', 'whale', 'ship', 'storm', 'sail', 'deck', 'mast', 'wave'].map((w) => ({ prompt: enc('say: '), chosen: [...enc(w.toUpperCase()), 256], rejected: [...enc(w), 256] }));
  const config: DpoConfig = {
    ...DEFAULT_DPO,
    steps: 25,
    batchSize: 8,
    maxLen: 24,
    evalEvery: 0,
    checkpointEvery: 0,
    optim: { ...DEFAULT_OPTIM, lr: 1e-2, warmupSteps: 0, totalSteps: 25, weightDecay: 0 },
  };
  const optimizer = new AdamWState(config.optim);
  const events: StageEvent[] = [];
  for await (const e of dpo(policy, undefined, optimizer, { train: pairs, eval: [], pad: 256 }, config)) events.push(e);
  const losses = events.flatMap((e) => (e.type === 'metrics' && 'loss/dpo' in e.record.values ? [e.record.values['loss/dpo'] as number] : []));
  assert.ok(Math.abs((losses[0] as number) - Math.log(2)) < 1e-4, `first loss ${losses[0]}`);
  assert.ok((losses[losses.length - 1] as number) < 0.5 * Math.log(2), `losses ${losses.join(', ')}`);
  const last = events[events.length - 1];
  assert.ok(last?.type === 'checkpoint' && last.snapshot?.lora, 'a LoRA snapshot');
  assert.ok([...last.snapshot.weights.keys()].every((k) => /lora_[AB]\.weight$/.test(k)));
  assert.deepEqual(last.snapshot.lora.base.get('h.0.attn.c_attn.weight')?.data, before);
});

test('a reward model trained with lora: the score head saved as PEFT modules_to_save, resumed from the adapter folder, merged into a reward folder, exported as one', async () => {
  const cwd = await project();
  const m = loadTrainingModel(path.join(cwd, 'base'), 'reward', 3, settings);
  const run = m.lora as LoraRun;
  const start = loraEngineStart(m, run, 'reward');
  const params = new Map<string, NamedTensor>();
  for (const name of ['score.weight', ...loraShapes(start.lora.plan).keys()]) {
    const data = Float32Array.from(start.initial(name));
    if (name.endsWith('lora_B.weight')) data.forEach((_, i) => (data[i] = 0.02 * Math.cos(i)));
    params.set(name, { shape: name === 'score.weight' ? [1, toyConfig.n_embd] : (loraShapes(start.lora.plan).get(name) as number[]), data });
  }
  const step = path.join(cwd, 'rm-lora', 'step-1');
  await saveLoraCheckpoint(step, m, run, start.lora, params, 'reward', false);
  const adapter = loadAdapter(step);
  assert.deepEqual([adapter.taskType, adapter.modulesToSave], ['SEQ_CLS', ['score']]);
  assert.ok(readSafetensors(path.join(step, 'adapter_model.safetensors')).tensors.has('base_model.model.score.weight'));
  // Resume: the base's weights, the adapter and the head, as saved.
  const resumed = loadTrainingModel(step, 'reward', 3, settings);
  assert.equal(resumed.lora?.base, path.join(cwd, 'base'));
  const plain = resumed.plain?.();
  for (const [name, t] of params) assert.deepEqual(plain?.get(name)?.data, t.data, name);
  assert.throws(
    () => loadTrainingModel(step, 'reward', 3, { ...settings, r: 8 }),
    (err: unknown) => err instanceof UserError && /r 4, alpha 8.*now says r 8/.test(err.message),
  );
  // The final: a reward-model folder with the adapter merged; the export of the interval adapter is the same model.
  const final = path.join(cwd, 'rm-lora', 'final');
  await saveLoraCheckpoint(final, m, run, start.lora, params, 'reward', true);
  const merged = loadCheckpoint(final);
  assert.equal(merged.kind, 'reward');
  assert.deepEqual(merged.weights.get('score.weight')?.data, params.get('score.weight')?.data);
  const out = path.join(cwd, 'rm-exported');
  const exported = await cli(['export', 'model', '--model', step, '--out', out]);
  assert.equal(exported.code, 0, exported.err.join('\n'));
  const back = loadCheckpoint(out);
  assert.equal(back.kind, 'reward');
  assert.ok(maxDiff(back.weights.get('h.0.attn.c_attn.weight')?.data, merged.weights.get('h.0.attn.c_attn.weight')?.data) < 1e-6, 'the final (merged on ONNX Runtime) and the export (peft.ts) agree');
  assert.notDeepEqual(merged.weights.get('h.0.attn.c_attn.weight')?.data, loadCheckpoint(path.join(cwd, 'base')).weights.get('h.0.attn.c_attn.weight')?.data);
});

test('rlhf train ppo with lora: no reference model loaded, the value head saved as modules_to_save, two iterations, a merged LM at the end', async () => {
  const cwd = await project();
  setTrainingEngine('ort');
  const config = { runId: 'ppo-lora', model: 'base', rewardModel: 'builtin:afinn', iterations: 2, rolloutBatch: 4, miniBatches: 2, ppoEpochs: 1, maxNewTokens: 6, checkpointEvery: 1, lora: settings };
  const run = await cli(['train', 'ppo', '--config', writeConfig(cwd, 'ppo.json', config)]);
  assert.equal(run.code, 0, run.err.join('\n'));
  const stageDir = path.join(cwd, '.rlhf', 'runs', 'ppo-lora', 'checkpoints', 'ppo');
  const step1 = loadAdapter(path.join(stageDir, 'step-000001'));
  assert.deepEqual(step1.modulesToSave, ['v_head']);
  assert.deepEqual([...step1.saved.keys()].sort(), ['v_head.summary.bias', 'v_head.summary.weight']);
  const final = loadCheckpoint(path.join(stageDir, 'final'));
  assert.equal(final.kind, 'lm');
  assert.match(fs.readFileSync(path.join(cwd, '.rlhf', 'runs', 'ppo-lora', 'metrics.jsonl'), 'utf8'), /"objective\/kl"/);
});

test("the sampler's merged view equals PEFT's merge (GPT-2's Conv1D and Llama's Linear) and rewrites the same buffers at each refresh", async () => {
  for (const family of ['gpt2', 'llama'] as const) {
    const base = family === 'gpt2' ? randomWeights(toyConfig, 8) : randomLlamaWeights(TINY_LLAMA, 8);
    const shapes = family === 'gpt2' ? parameterShapes(toyConfig) : llamaParameterShapes(TINY_LLAMA);
    const plan = planLora(shapes, { ...settings, targetModules: family === 'gpt2' ? ['c_attn', 'c_fc'] : ['q_proj', 'down_proj'] }, 2);
    const params = new Map([...initLora(plan, 2)].map(([k, v]) => [k, { shape: v.shape, data: k.endsWith('lora_B.weight') ? v.data.map((_, i) => 0.1 * Math.sin(i + 1)) : v.data }]));
    const view = mergedView({ plan, base: base as ReadonlyMap<string, ParamBuffer> });
    const first = await view.weights(params);
    const want = mergeAdapters(base, new Map([...plan.targets.values()].map((t) => [t.module, { A: params.get(t.A) as NamedTensor, B: params.get(t.B) as NamedTensor }])), {
      r: plan.settings.r,
      alpha: plan.settings.alpha,
      fanInFanOut: plan.fanInFanOut,
    });
    for (const [name, w] of want) {
      const got = first.get(name)?.data as Float32Array;
      const err = w.data.reduce((m, v, i) => Math.max(m, Math.abs(v - (got[i] as number))), 0);
      assert.ok(err < 1e-6, `${family} ${name}: ${err}`);
      if (!plan.targets.has(name)) assert.equal(got, base.get(name)?.data, `${name}: the base's own array`);
    }
    const adapted = [...plan.targets.keys()][0] as string;
    const again = (await view.weights(params)).get(adapted)?.data;
    assert.equal(again, first.get(adapted)?.data, 'the same buffer');
    await view.release();
  }
});
