/**
 * LoRA adapters in PEFT's format, so `PeftModel.from_pretrained(base, dir)` loads what we write
 * and we load (and merge) what PEFT writes. What PEFT does, read from huggingface/peft
 * (commit 5d602fdb, 2026-08):
 *
 * - Names (utils/save_and_load.py `get_peft_model_state_dict`, tuners_utils.py
 *   `_remove_adapter_name_from_state_dict_key`): the PeftModel's state dict keys with the adapter
 *   name removed, so `base_model.model.<module path>.lora_A.weight` and `.lora_B.weight`, where
 *   the module path is the module's name in the model transformers builds
 *   (`transformer.h.0.attn.c_attn` for GPT2LMHeadModel, `model.layers.0.self_attn.q_proj` for
 *   LlamaForCausalLM). A modules_to_save module (a head) is saved whole under its own path:
 *   `base_model.model.score.weight` (utils/other.py `ModulesToSaveWrapper.adapter_state_dict`).
 *   The file is `adapter_model.safetensors` with metadata {"format": "pt"} (peft_model.py).
 * - Shapes (tuners/lora/layer.py `update_layer`): lora_A = Linear(in, r) → weight [r, in];
 *   lora_B = Linear(r, out) → weight [out, r]; scaling = lora_alpha / r (lora_alpha / √r with
 *   use_rslora). For transformers' Conv1D (GPT-2), in/out are the weight's shape [in, out]
 *   (tuners_utils.py `_get_in_out_features`), so A and B have the same orientation as for Linear.
 * - Merge (`get_delta_weight`): ΔW = transpose(B @ A, fan_in_fan_out) · scaling; fan_in_fan_out
 *   is forced true for Conv1D layers, and that forced value is what adapter_config.json records
 *   (layer.py `dispatch_default`: "fan_in_fan_out is set to False but the target module is
 *   `Conv1D`. Setting fan_in_fan_out to True."). So for GPT-2, ΔW = (B @ A)ᵀ, shaped [in, out].
 * - adapter_config.json: `json.dumps(config.to_dict(), indent=2, sort_keys=True)`, no trailing
 *   newline (config.py `save_pretrained`). A target module matches a module path equal to it or
 *   ending in "." + it; a string is a regex over the whole path (tuners_utils.py
 *   `check_target_module_exists`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errorMessage } from '../../protocol/guards';
import { UserError } from '../errors';
import type { FileContent } from './checkpoint';
import { writeFolderAtomically } from './checkpoint';
import { PyFloat, pythonJson } from './pythonJson';
import type { NamedTensor } from './safetensors';
import { readSafetensors, safetensorsChunks } from './safetensors';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
const PREFIX = 'base_model.model.';

/** A LoRA adapter's settings. */
export interface LoraConfig {
  /** Rank of A [r, in] and B [out, r]. */
  readonly r: number;
  /** ΔW is scaled by alpha / r. */
  readonly alpha: number;
  /** Dropout on the adapter's input while training (recorded; no effect on merging). */
  readonly dropout: number;
  /** PEFT's target_modules: module names (a path or its last parts: `c_attn`, `q_proj`), or one regex over whole paths. */
  readonly targetModules: readonly string[] | string;
}

/** One adapted module's matrices: A [r, in], B [out, r]. */
export interface LoraPair {
  readonly A: NamedTensor;
  readonly B: NamedTensor;
}

export type PeftTaskType = 'CAUSAL_LM' | 'SEQ_CLS';

export interface Adapter {
  readonly config: LoraConfig;
  /** The base model's folder (or Hub id): PEFT's base_model_name_or_path. */
  readonly baseModel: string;
  readonly taskType: PeftTaskType;
  /** True where the adapted weights are stored [in, out] (GPT-2's Conv1D): see peftFanInFanOut. */
  readonly fanInFanOut: boolean;
  /** LoRA pairs by module path in the model transformers builds (`transformer.h.0.attn.c_attn`). */
  readonly lora: ReadonlyMap<string, LoraPair>;
  /** Modules trained whole beside the adapter (heads: `score`, `v_head`): PEFT's modules_to_save. */
  readonly modulesToSave: readonly string[];
  /** Their tensors (and any other full replacement PEFT saved), by name in the model: `score.weight`. */
  readonly saved: ReadonlyMap<string, NamedTensor>;
  /** Scale by alpha / √r instead of alpha / r (read from adapters trained that way). */
  readonly useRslora?: boolean;
}

/** PEFT's rule: transformers' Conv1D layers (GPT-2's attention and MLP) store [in, out]. */
export const peftFanInFanOut = (modelType: string): boolean => modelType === 'gpt2';

/** The name PEFT saves a LoRA matrix under. */
export const loraTensorName = (modulePath: string, which: 'A' | 'B'): string => `${PREFIX}${modulePath}.lora_${which}.weight`;

/** Whether PEFT's target_modules select the module at `modulePath`. */
export function targets(targetModules: readonly string[] | string, modulePath: string): boolean {
  if (typeof targetModules === 'string') return targetModules === 'all-linear' || new RegExp(`^(?:${targetModules})$`).test(modulePath);
  return targetModules.some((t) => modulePath === t || modulePath.endsWith(`.${t}`));
}

/** adapter_config.json as PEFT writes it (fields every PEFT since 0.7 reads; newer ones default the rest). */
export function adapterConfigJson(adapter: Adapter): string {
  const { config } = adapter;
  return pythonJson({
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: adapter.baseModel,
    bias: 'none',
    fan_in_fan_out: adapter.fanInFanOut,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: config.alpha,
    lora_dropout: new PyFloat(config.dropout),
    modules_to_save: adapter.modulesToSave.length > 0 ? [...adapter.modulesToSave] : null,
    peft_type: 'LORA',
    r: config.r,
    rank_pattern: {},
    revision: null,
    target_modules: typeof config.targetModules === 'string' ? config.targetModules : [...config.targetModules],
    task_type: adapter.taskType,
    use_rslora: adapter.useRslora ?? false,
  });
}

/** adapter_config.json and adapter_model.safetensors, for writeFolderAtomically. */
export function adapterFiles(adapter: Adapter): [string, FileContent][] {
  const tensors = new Map<string, NamedTensor>();
  for (const [module, { A, B }] of adapter.lora) {
    if (!targets(adapter.config.targetModules, module)) throw new Error(`adapter: module '${module}' is not selected by target_modules ${JSON.stringify(adapter.config.targetModules)}`);
    checkPair(module, A, B, adapter.config.r, (p) => new Error(`adapter: ${p}`));
    tensors.set(loraTensorName(module, 'A'), A);
    tensors.set(loraTensorName(module, 'B'), B);
  }
  for (const [name, t] of adapter.saved) tensors.set(PREFIX + name, t);
  return [
    [ADAPTER_CONFIG, adapterConfigJson(adapter)],
    [ADAPTER_WEIGHTS, () => safetensorsChunks(tensors)],
  ];
}

/** Write an adapter folder atomically, with `extra` files (tokenizer, config.json) beside it. */
export function saveAdapter(dir: string, adapter: Adapter, extra: readonly [string, FileContent][] = []): void {
  writeFolderAtomically(dir, [...adapterFiles(adapter), ...extra]);
}

export const isAdapterFolder = (dir: string): boolean => fs.existsSync(path.join(dir, ADAPTER_CONFIG));

/**
 * Read an adapter folder PEFT (or we) wrote. With `base` (the base model's weights by their
 * checkpoint names), every LoRA pair and saved tensor is checked against the weight it changes.
 */
export function loadAdapter(dir: string, base?: ReadonlyMap<string, NamedTensor>): Adapter {
  const configFile = path.join(dir, ADAPTER_CONFIG);
  const bad = (problem: string): never => {
    throw new UserError(`${configFile}: ${problem}`);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(configFile, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(code ? `${configFile}: cannot read it (${code}).` : `${configFile}: not valid JSON (${errorMessage(err)}).`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('not a JSON object.');
  const c = raw as Record<string, unknown>;
  if (c.peft_type !== 'LORA') bad(`peft_type is ${JSON.stringify(c.peft_type)}; only LoRA adapters ("LORA") are supported.`);
  if (!Number.isInteger(c.r) || (c.r as number) < 1) bad(`r is ${JSON.stringify(c.r)}; it must be a positive integer.`);
  if (typeof c.lora_alpha !== 'number') bad(`lora_alpha is ${JSON.stringify(c.lora_alpha)}; it must be a number.`);
  if ((c.bias ?? 'none') !== 'none') bad(`bias is ${JSON.stringify(c.bias)}; only adapters trained with bias "none" are supported.`);
  if (c.use_dora === true) bad('use_dora is true; DoRA adapters are not supported.');
  for (const k of ['rank_pattern', 'alpha_pattern']) {
    const v = c[k];
    if (v && typeof v === 'object' && Object.keys(v).length > 0) bad(`${k} sets per-module ranks or alphas, which are not supported.`);
  }
  const rawTargets = c.target_modules;
  if (!(typeof rawTargets === 'string' || (Array.isArray(rawTargets) && rawTargets.every((t) => typeof t === 'string')))) bad('target_modules must be a list of module names or a regex string.');
  if (typeof rawTargets === 'string') {
    try {
      new RegExp(rawTargets);
    } catch {
      bad(`target_modules ${JSON.stringify(rawTargets)} is not a regular expression this reader understands.`);
    }
  }
  const modulesToSave = Array.isArray(c.modules_to_save) ? c.modules_to_save.filter((m): m is string => typeof m === 'string') : [];
  const config: LoraConfig = {
    r: c.r as number,
    alpha: c.lora_alpha as number,
    dropout: typeof c.lora_dropout === 'number' ? c.lora_dropout : 0,
    targetModules: rawTargets as string[] | string,
  };

  const weightsFile = path.join(dir, ADAPTER_WEIGHTS);
  if (!fs.existsSync(weightsFile)) {
    const hint = fs.existsSync(path.join(dir, 'adapter_model.bin')) ? ' It has adapter_model.bin: re-save it with save_pretrained(dir, safe_serialization=True).' : '';
    throw new UserError(`${weightsFile}: missing; only safetensors adapters are read.${hint}`);
  }
  const fail = (problem: string): never => {
    throw new UserError(`${weightsFile}: ${problem}`);
  };
  const halves = new Map<string, Partial<Record<'A' | 'B', NamedTensor>>>();
  const saved = new Map<string, NamedTensor>();
  for (const [key, t] of readSafetensors(weightsFile).tensors) {
    if (!key.startsWith(PREFIX)) fail(`tensor '${key}' does not start with '${PREFIX}', so it is not in PEFT's naming.`);
    const name = key.slice(PREFIX.length);
    const m = /^(.+)\.lora_(A|B)\.weight$/.exec(name);
    if (!m) {
      if (/\.lora_/.test(name)) fail(`tensor '${key}' is a LoRA tensor of a kind not supported (only lora_A.weight and lora_B.weight).`);
      saved.set(name, t);
      continue;
    }
    const module = m[1] as string;
    const which = m[2] as 'A' | 'B';
    if (!targets(config.targetModules, module)) fail(`tensor '${key}' adapts '${module}', which target_modules ${JSON.stringify(config.targetModules)} does not select (PEFT would ignore it).`);
    halves.set(module, { ...halves.get(module), [which]: t });
  }
  const lora = new Map<string, LoraPair>();
  for (const [module, { A, B }] of halves) {
    if (!A || !B) fail(`'${module}' has lora_${A ? 'A' : 'B'}.weight but no ${loraTensorName(module, A ? 'B' : 'A')}.`);
    checkPair(module, A as NamedTensor, B as NamedTensor, config.r, (p) => new UserError(`${weightsFile}: ${p}`));
    lora.set(module, { A: A as NamedTensor, B: B as NamedTensor });
  }
  if (lora.size === 0 && saved.size === 0) fail('holds no tensors.');
  const adapter: Adapter = {
    config,
    baseModel: typeof c.base_model_name_or_path === 'string' ? c.base_model_name_or_path : '',
    taskType: c.task_type === 'SEQ_CLS' ? 'SEQ_CLS' : 'CAUSAL_LM',
    fanInFanOut: c.fan_in_fan_out === true,
    lora,
    modulesToSave,
    saved,
    ...(c.use_rslora === true ? { useRslora: true } : {}),
  };
  if (base) checkAgainstBase(base, adapter, weightsFile);
  return adapter;
}

function checkPair(module: string, A: NamedTensor, B: NamedTensor, r: number, error: (problem: string) => Error): void {
  if (A.shape.length !== 2 || A.shape[0] !== r) throw error(`${loraTensorName(module, 'A')} has shape [${A.shape.join(', ')}]; it must be [r=${r}, in].`);
  if (B.shape.length !== 2 || B.shape[1] !== r) throw error(`${loraTensorName(module, 'B')} has shape [${B.shape.join(', ')}]; it must be [out, r=${r}].`);
}

/**
 * The base weight a module path adapts: `<path>.weight` as stored, else without the path's first
 * part (transformers' base_model_prefix: a bare GPT2Model checkpoint stores `h.0.…` where
 * GPT2LMHeadModel's module is `transformer.h.0.…`).
 */
export function baseTensorName(base: ReadonlyMap<string, NamedTensor>, name: string): string | undefined {
  if (base.has(name)) return name;
  const dot = name.indexOf('.');
  return dot > 0 && base.has(name.slice(dot + 1)) ? name.slice(dot + 1) : undefined;
}

export interface MergeSettings {
  readonly r: number;
  readonly alpha: number;
  /** The base stores these weights [in, out] (GPT-2's Conv1D): ΔW is transposed. */
  readonly fanInFanOut: boolean;
  readonly useRslora?: boolean;
}

/** Every LoRA pair and saved tensor of `adapter` fits the base weight it changes (or adds a new one). */
export function checkAgainstBase(base: ReadonlyMap<string, NamedTensor>, adapter: Adapter, source: string): void {
  for (const [module, pair] of adapter.lora) adaptedWeight(base, module, pair, adapter.fanInFanOut, source);
  for (const [name, t] of adapter.saved) {
    const stored = baseTensorName(base, name);
    const w = stored === undefined ? undefined : base.get(stored);
    if (w && !sameShape(w.shape, t.shape))
      throw new UserError(`${source}: '${name}' is [${t.shape.join(', ')}] but the base's '${stored}' is [${w.shape.join(', ')}]. Is this adapter for that base model?`);
  }
}

/** The base weight `module`'s pair changes, checked: its stored name and its dimensions. */
function adaptedWeight(base: ReadonlyMap<string, NamedTensor>, module: string, { A, B }: LoraPair, fanInFanOut: boolean, source: string) {
  const name = baseTensorName(base, `${module}.weight`);
  if (!name) throw new UserError(`${source}: adapts '${module}', but the base model has no '${module}.weight'. Is this adapter for that base model?`);
  const W = base.get(name) as NamedTensor;
  const [r, inDim] = A.shape as [number, number];
  const outDim = B.shape[0] as number;
  const want = fanInFanOut ? [inDim, outDim] : [outDim, inDim];
  if (W.shape.length !== 2 || W.shape[0] !== want[0] || W.shape[1] !== want[1]) {
    const flipped = W.shape.length === 2 && W.shape[0] === want[1] && W.shape[1] === want[0];
    throw new UserError(
      `${source}: '${module}' has A [${A.shape.join(', ')}] and B [${B.shape.join(', ')}], which change a [${want.join(', ')}] weight, but the base's '${name}' is [${W.shape.join(', ')}]` +
        (flipped ? ` (transposed: fan_in_fan_out should be ${!fanInFanOut}).` : '. Is this adapter for that base model?'),
    );
  }
  return { name, W, r, inDim, outDim };
}

/**
 * The base weights with each LoRA pair merged in: W' = W + s·(B @ A), s = alpha / r, as
 * [out, in], or its transpose where the base stores [in, out] (fanInFanOut). Returns a new map
 * under the base's names; weights no pair touches are shared, not copied.
 */
export function mergeAdapters(base: ReadonlyMap<string, NamedTensor>, lora: ReadonlyMap<string, LoraPair>, settings: MergeSettings): Map<string, NamedTensor> {
  const merged = new Map(base);
  const scale = settings.useRslora ? settings.alpha / Math.sqrt(settings.r) : settings.alpha / settings.r;
  for (const [module, pair] of lora) {
    const { name, W, r, inDim, outDim } = adaptedWeight(base, module, pair, settings.fanInFanOut, 'the adapter');
    const a = pair.A.data; // [r, in]
    const b = pair.B.data; // [out, r]
    const out = Float32Array.from(W.data);
    const row = new Float64Array(inDim); // (B @ A)[o, :]
    for (let o = 0; o < outDim; o++) {
      row.fill(0);
      for (let k = 0; k < r; k++) {
        const bok = b[o * r + k] as number;
        for (let i = 0, at = k * inDim; i < inDim; i++, at++) row[i] += bok * (a[at] as number);
      }
      // W [out, in] takes row o; W [in, out] (fan_in_fan_out) takes it as column o.
      if (settings.fanInFanOut) for (let i = 0; i < inDim; i++) out[i * outDim + o] += scale * (row[i] as number);
      else for (let i = 0; i < inDim; i++) out[o * inDim + i] += scale * (row[i] as number);
    }
    merged.set(name, { shape: W.shape, data: out });
  }
  return merged;
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);
