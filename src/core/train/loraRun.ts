/**
 * A LoRA run's model and checkpoints. The stage engine trains the adapter (and the heads) over the
 * base weights frozen in place (engine.ts, ort/trainer.ts); here is what the runner does around it:
 *
 * - Start: the base folder's model with the run's LoRA settings attached (`loadTrainingModel`).
 *   Resume: an interval checkpoint is an adapter folder; its base (base_model_name_or_path) is
 *   loaded and the adapter's tensors (PEFT names) and heads put beside the base's, so the engine
 *   takes them up where they were.
 * - Interval checkpoints (`step-N/`): the adapter in PEFT's format (adapter_config.json with the
 *   base folder's absolute path, adapter_model.safetensors: lora_A/lora_B and the heads as
 *   modules_to_save), the base folder's tokenizer files and a config.json of the trained kind
 *   beside it, and the optimizer state of the adapter and heads only. `peft` loads it;
 *   `rlhf export model` merges it.
 * - The final checkpoint: a full HF folder with the adapter merged (W + s·B·A), so the next stage,
 *   the sampler, the export and the editor read it as any model folder; the adapter itself is kept
 *   in PEFT's format in its `adapter/` subfolder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as Ort from 'onnxruntime-node';
import type { HeadKind, Weights } from '../model/checkpoint';
import { json, saveCheckpoint } from '../model/checkpoint';
import { hfConfig } from '../model/hfConfig';
import { llamaHfConfig } from '../model/llamaHfConfig';
import { isLlama, modelParameterShapes } from '../model/modelConfig';
import type { Adapter, LoraPair } from '../model/peft';
import { isAdapterFolder, loadAdapter, loraTensorName, saveAdapter } from '../model/peft';
import type { FileContent } from '../model/checkpoint';
import type { NamedTensor } from '../model/safetensors';
import { GraphBuilder } from '../onnx/graphBuilder';
import { initLora, planLora } from '../onnx/lora';
import type { LoraPlan, LoraSettings } from '../onnx/lora';
import { UserError } from '../errors';
import { loadModel } from './model';
import type { LoadedModel } from './model';
import type { TrainerLora } from './ort/trainer';
import { ortThreads } from './ort/device';
import type { ParamBuffer } from './ort/adamw';
import { hasParam, takeParam } from './stage';
import type { TrainModel } from './stage';

/** LoRA settings of a run, attached to the model it trains. */
export interface LoraRun {
  readonly settings: LoraSettings;
  /** The base model folder (absolute): what the adapter's base_model_name_or_path names. */
  readonly base: string;
  /** Seeds a fresh adapter's A and the dropout masks. */
  readonly seed: number;
}

/** Where the final checkpoint keeps its adapter. */
export const FINAL_ADAPTER = 'adapter';

/** The files beside the weights that make the base loadable (config, tokenizer, generation), copied into an adapter folder. */
const MODEL_FILES = /^(config|generation_config|tokenizer|tokenizer_config|special_tokens_map|added_tokens|vocab|chat_template)\.json$|^(merges\.txt|chat_template\.jinja)$/;

/**
 * The model a stage trains from `dir`, as `kind`. With `lora`: a model folder is the base of a new
 * adapter; an adapter folder (a LoRA run's interval checkpoint) is resumed: its base loaded, its
 * adapter and heads beside the base's weights. An adapter folder without `lora` is refused (a
 * finished LoRA stage's final folder is a full model).
 */
export function loadTrainingModel(dir: string, kind: HeadKind, seed: number, lora?: LoraSettings): LoadedModel {
  if (!isAdapterFolder(dir)) {
    const model = loadModel(dir, kind, seed);
    return lora ? Object.assign(model, { lora: { settings: lora, base: path.resolve(dir), seed } satisfies LoraRun }) : model;
  }
  if (!lora) throw new UserError(`${dir}: is a LoRA adapter folder; train from a full model folder, or merge it first with rlhf export model.`);
  const adapter = loadAdapter(dir);
  const saved = adapter.config;
  if (saved.r !== lora.r || saved.alpha !== lora.alpha || JSON.stringify(saved.targetModules) !== JSON.stringify(lora.targetModules)) {
    throw new UserError(
      `${dir}: this run's adapter has r ${saved.r}, alpha ${saved.alpha}, targetModules ${JSON.stringify(saved.targetModules)}, but the config now says r ${lora.r}, alpha ${lora.alpha}, targetModules ${JSON.stringify(lora.targetModules)}; resume with the settings it started with, or start a new run (a new runId).`,
    );
  }
  const base = path.resolve(adapter.baseModel);
  if (!fs.existsSync(path.join(base, 'config.json'))) throw new UserError(`${dir}: its base model folder '${adapter.baseModel}' (adapter_config.json) is gone; the run cannot resume without it.`);
  const model = loadModel(base, kind, seed);
  const plain = model.plain?.();
  if (!plain) throw new Error('loadTrainingModel: a freshly loaded model has plain arrays');
  for (const [module, pair] of adapter.lora) {
    plain.set(loraTensorName(module, 'A'), pair.A);
    plain.set(loraTensorName(module, 'B'), pair.B);
  }
  for (const [name, t] of adapter.saved) plain.set(name, t);
  return Object.assign(model, { lora: { settings: lora, base, seed } satisfies LoraRun });
}

/**
 * The engine's LoRA start: the plan over the model's weights, the base handed over without a copy
 * (the trainer feeds it by reference), and each trainable parameter's start (the model's, when it
 * has it: resume, or a head; else PEFT's fresh init).
 */
export function loraEngineStart(model: TrainModel, run: LoraRun, where: string): { lora: TrainerLora; initial: (name: string) => Float32Array } {
  const shapes = modelParameterShapes(model.config);
  const plan = planLora(shapes, run.settings, run.seed, `${where}: lora`);
  const base = new Map<string, ParamBuffer>();
  for (const name of shapes.keys()) base.set(name, takeParam(model, name));
  let fresh: Map<string, NamedTensor> | undefined;
  const initial = (name: string): Float32Array => {
    if (hasParam(model, name)) return takeParam(model, name).data;
    fresh ??= initLora(plan, run.seed);
    const t = fresh.get(name);
    if (!t) throw new Error(`${where}: no starting value for '${name}'`);
    return t.data;
  };
  return { lora: { plan, base }, initial };
}

/** The adapter's pairs by PEFT module path, from the trainer's parameters. */
function loraPairs(plan: LoraPlan, params: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>): Map<string, LoraPair> {
  const pairs = new Map<string, LoraPair>();
  for (const t of plan.targets.values()) {
    const A = params.get(t.A);
    const B = params.get(t.B);
    if (!A || !B) throw new Error(`lora: the adapter of '${t.module}' is missing`);
    pairs.set(t.module, { A: { shape: [...A.shape], data: A.data }, B: { shape: [...B.shape], data: B.data } });
  }
  return pairs;
}

/** The base with the adapter merged in (a new array per adapted weight; the rest shared): the final checkpoint's model. */
async function mergedWeights(lora: TrainerLora, params: ReadonlyMap<string, { readonly data: Float32Array }>): Promise<Weights> {
  const view = mergedView(lora);
  try {
    return await view.weights(params);
  } finally {
    await view.release();
  }
}

/**
 * The sampler's view of a LoRA policy: the base weights as they are, and each adapted weight's
 * W + s·B·A written into one buffer per weight, made once and rewritten in place at every call
 * (a live sampler reads them by reference: no copy of the model per refresh). The products run on
 * ONNX Runtime, one Gemm per weight into its buffer (pre-allocated output): at Qwen2.5-0.5B's shape
 * with r 16 on every projection, a plain JavaScript loop took 20 s a refresh.
 */
export function mergedView(lora: TrainerLora): { weights(params: ReadonlyMap<string, { readonly data: Float32Array }>): Promise<Weights>; release(): Promise<void> } {
  const buffers = new Map<string, Float32Array>();
  const { plan } = lora;
  let session: Promise<Ort.InferenceSession> | undefined;
  const ortModule = import('onnxruntime-node');
  return {
    async weights(params) {
      const ort = await ortModule;
      session ??= ort.InferenceSession.create(mergeGraph(plan), { executionProviders: ['cpu'], intraOpNumThreads: ortThreads(), enableCpuMemArena: false, logSeverityLevel: 3 });
      const s = await session;
      const out: Weights = new Map([...lora.base].map(([k, v]) => [k, { shape: [...v.shape], data: v.data }]));
      for (const t of plan.targets.values()) {
        const W = lora.base.get(t.weight);
        const A = params.get(t.A)?.data; // [r, in]
        const B = params.get(t.B)?.data; // [out, r]
        if (!W || !A || !B) throw new Error(`lora: the weights of '${t.module}' are missing`);
        let merged = buffers.get(t.weight);
        if (!merged) buffers.set(t.weight, (merged = new Float32Array(W.data.length)));
        const r = plan.settings.r;
        await s.run(
          { W: new ort.Tensor('float32', W.data, [...W.shape]), A: new ort.Tensor('float32', A, [r, t.inDim]), B: new ort.Tensor('float32', B, [t.outDim, r]) },
          { merged: new ort.Tensor('float32', merged, [...W.shape]) },
        );
        out.set(t.weight, { shape: [...W.shape], data: merged });
      }
      return out;
    },
    async release() {
      const s = session;
      session = undefined;
      if (s) await (await s).release();
    },
  };
}

/** merged = W + s·B·A as one Gemm: W [out, in] (Linear), or W [in, out] + s·Aᵀ·Bᵀ where the base stores [in, out] (GPT-2's Conv1D). */
function mergeGraph(plan: LoraPlan): Uint8Array {
  const g = new GraphBuilder();
  const W = g.input('W', 'float', plan.fanInFanOut ? ['in', 'out'] : ['out', 'in']);
  const A = g.input('A', 'float', ['r', 'in']);
  const B = g.input('B', 'float', ['out', 'r']);
  const merged = plan.fanInFanOut ? g.op('Gemm', [A, B, W], { alpha: plan.scale, transA: 1, transB: 1 }, { floats: ['alpha'] }) : g.op('Gemm', [B, A, W], { alpha: plan.scale }, { floats: ['alpha'] });
  g.output(merged, 'merged', 'float', plan.fanInFanOut ? ['in', 'out'] : ['out', 'in']);
  return g.model('lora_merge', `W + ${plan.scale}·B·A`);
}

/** The heads a kind trains beside the adapter (PEFT's modules_to_save) and their tensor names. */
const HEADS: Record<HeadKind, { modules: string[]; names: string[] }> = {
  lm: { modules: [], names: [] },
  reward: { modules: ['score'], names: ['score.weight'] },
  value: { modules: ['v_head'], names: ['v_head.summary.weight', 'v_head.summary.bias'] },
};

/** The adapter of a LoRA snapshot, in PEFT's terms, saved as `kind`. */
export function adapterOf(run: LoraRun, lora: TrainerLora, params: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>, kind: HeadKind): Adapter {
  const heads = HEADS[kind];
  const saved = new Map<string, NamedTensor>();
  for (const name of heads.names) {
    const t = params.get(name);
    if (!t) throw new Error(`lora: the ${kind} head's '${name}' is missing`);
    saved.set(name, { shape: [...t.shape], data: t.data });
  }
  return {
    config: run.settings,
    baseModel: run.base,
    taskType: kind === 'reward' ? 'SEQ_CLS' : 'CAUSAL_LM',
    fanInFanOut: lora.plan.fanInFanOut,
    lora: loraPairs(lora.plan, params),
    modulesToSave: heads.modules,
    saved,
  };
}

/**
 * A LoRA checkpoint at `dir`: the adapter folder (interval), or the merged full folder with the
 * adapter under `adapter/` (final). The caller writes the optimizer state beside an interval one.
 */
export async function saveLoraCheckpoint(
  dir: string,
  model: LoadedModel,
  run: LoraRun,
  lora: TrainerLora,
  params: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>,
  kind: HeadKind,
  final: boolean,
): Promise<void> {
  const adapter = adapterOf(run, lora, params, kind);
  // The base's tokenizer and generation files, and config.json as `kind` (a reward adapter's names its classifier), so the export of the folder loads as that kind.
  const beside: [string, FileContent][] = fs
    .readdirSync(run.base)
    .filter((f) => MODEL_FILES.test(f) && f !== 'config.json')
    .map((f) => [f, () => fs.readFileSync(path.join(run.base, f))]);
  const config = model.config;
  const pad = isLlama(config) ? (config.pad_token_id ?? model.tokenizer.padTokenId ?? model.tokenizer.eosTokenId ?? null) : null;
  const hf = isLlama(config) ? llamaHfConfig(config, kind, model.source?.config, pad) : hfConfig(config, kind);
  beside.push(['config.json', json(hf)]);
  if (!final) {
    saveAdapter(dir, adapter, beside);
    return;
  }
  const weights: Weights = await mergedWeights(lora, params);
  for (const [name, t] of adapter.saved) weights.set(name, t);
  saveCheckpoint(dir, { config: model.config, kind, weights, tokenizer: model.tokenizer, ...(model.layout ? { layout: model.layout } : {}), ...(model.source ? { source: model.source } : {}) });
  saveAdapter(path.join(dir, FINAL_ADAPTER), adapter, beside);
}
