/**
 * LoRA on the autodiff tape: which linear weights an adapter changes (PEFT's target_modules over
 * the model's module paths), the adapter's parameters (A [r, in], B [out, r], named as PEFT saves
 * them, so a checkpoint writes them as they are), and the model's inputs for a LoRA graph: the base
 * weights are frozen inputs (fed from the engine's buffers each run, no gradient, no optimizer
 * state), the heads and the adapters trainable. The tape adds s·((x·Aᵀ)·Bᵀ), s = alpha / r, to each
 * adapted linear (Tape.linear / linearT look the weight up in the plan), so both model families get
 * LoRA without a change to their definitions.
 *
 * Initialisation as PEFT's (tuners/lora/layer.py `reset_lora_parameters`, init_lora_weights=True):
 * A by kaiming_uniform_(a=√5), i.e. U(−1/√in, 1/√in); B zeros, so a fresh adapter changes nothing.
 */
import type { LoraConfig } from '../model/peft';
import { loraTensorName, peftFanInFanOut, targets } from '../model/peft';
import type { NamedTensor } from '../model/safetensors';
import { seededRandom } from '../sample/pick';
import { UserError } from '../errors';
import type { Tape } from './autodiff';

/** LoRA as a training config states it (the `lora` field of every stage's config file). */
export interface LoraSettings extends LoraConfig {
  readonly targetModules: readonly string[];
}

/** One weight an adapter changes. */
export interface LoraTarget {
  /** The base weight's checkpoint name (`h.0.attn.c_attn.weight`, `model.layers.0.self_attn.q_proj.weight`). */
  readonly weight: string;
  /** Its module path in the model transformers builds (PEFT's key: `transformer.h.0.attn.c_attn`). */
  readonly module: string;
  readonly inDim: number;
  readonly outDim: number;
  /** The parameters' names: PEFT's tensor names (`base_model.model.<module>.lora_A.weight`). */
  readonly A: string;
  readonly B: string;
}

export interface LoraPlan {
  readonly settings: LoraSettings;
  /** alpha / r. */
  readonly scale: number;
  /** Dropout on the adapter's input (training graphs only; 0 in every other graph). */
  readonly dropout: number;
  /** Seeds the dropout masks' generator (each run of a session draws the next masks). */
  readonly seed: number;
  /** By base weight name. */
  readonly targets: ReadonlyMap<string, LoraTarget>;
  /** The base stores adapted weights [in, out] (GPT-2's Conv1D): PEFT's fan_in_fan_out. */
  readonly fanInFanOut: boolean;
}

export type ModelFamily = 'gpt2' | 'llama';

/** The family of a model's parameter names. */
export function familyOf(shapes: ReadonlyMap<string, readonly number[]>): ModelFamily {
  if (shapes.has('wte.weight')) return 'gpt2';
  if (shapes.has('model.embed_tokens.weight')) return 'llama';
  throw new Error("lora: the parameters are neither GPT-2's nor the Llama family's");
}

const LINEARS: Record<ModelFamily, RegExp> = {
  gpt2: /^h\.\d+\.(attn\.(c_attn|c_proj)|mlp\.(c_fc|c_proj))\.weight$/,
  llama: /^model\.layers\.\d+\.(self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)\.weight$/,
};

/**
 * The model's linear layers an adapter may target, by weight name: module path and dimensions.
 * GPT-2's Conv1D stores [in, out] and transformers puts its blocks under `transformer.`; the Llama
 * family's Linear stores [out, in] under `model.` (the checkpoint's own names).
 */
export function linearModules(shapes: ReadonlyMap<string, readonly number[]>): Map<string, { module: string; inDim: number; outDim: number }> {
  const family = familyOf(shapes);
  const out = new Map<string, { module: string; inDim: number; outDim: number }>();
  for (const [name, shape] of shapes) {
    if (!LINEARS[family].test(name)) continue;
    const [d0, d1] = shape as [number, number];
    const stem = name.slice(0, -'.weight'.length);
    out.set(name, family === 'gpt2' ? { module: `transformer.${stem}`, inDim: d0, outDim: d1 } : { module: stem, inDim: d1, outDim: d0 });
  }
  return out;
}

/** The adapter over a model with these parameter shapes; a target that names no linear layer is a UserError listing them. */
export function planLora(shapes: ReadonlyMap<string, readonly number[]>, settings: LoraSettings, seed = 0, where = 'lora'): LoraPlan {
  if (!Number.isInteger(settings.r) || settings.r < 1) throw new UserError(`${where}: r is ${settings.r}; it must be a positive integer.`);
  if (!(settings.alpha > 0)) throw new UserError(`${where}: alpha is ${settings.alpha}; it must be above 0.`);
  if (!(settings.dropout >= 0 && settings.dropout < 1)) throw new UserError(`${where}: dropout is ${settings.dropout}; it must be in [0, 1).`);
  const linears = linearModules(shapes);
  const names = [...new Set([...linears.values()].map((l) => l.module.split('.').pop() as string))];
  if (settings.targetModules.length === 0) throw new UserError(`${where}: targetModules is empty; name some of the model's linear modules: ${names.join(', ')}.`);
  for (const m of settings.targetModules) {
    if (![...linears.values()].some((l) => targets([m], l.module))) {
      throw new UserError(`${where}: targetModules names '${m}', which is not a linear module of this model. Its linear modules: ${names.join(', ')}.`);
    }
  }
  const chosen = new Map<string, LoraTarget>();
  for (const [weight, l] of linears) {
    if (targets(settings.targetModules, l.module)) chosen.set(weight, { weight, ...l, A: loraTensorName(l.module, 'A'), B: loraTensorName(l.module, 'B') });
  }
  const family = familyOf(shapes);
  return { settings, scale: settings.alpha / settings.r, dropout: settings.dropout, seed, targets: chosen, fanInFanOut: peftFanInFanOut(family) };
}

/** A plan for a graph that does not train (evaluation, scoring): no dropout. */
export const withoutDropout = (plan: LoraPlan | undefined): LoraPlan | undefined => (plan && plan.dropout > 0 ? { ...plan, dropout: 0 } : plan);

/** The adapter's parameters' shapes: A [r, in], B [out, r] per target. */
export function loraShapes(plan: LoraPlan): Map<string, readonly number[]> {
  const r = plan.settings.r;
  const out = new Map<string, readonly number[]>();
  for (const t of plan.targets.values()) {
    out.set(t.A, [r, t.inDim]);
    out.set(t.B, [t.outDim, r]);
  }
  return out;
}

/** Fresh adapter values, as PEFT initialises them: A ~ U(−1/√in, 1/√in) (seeded), B = 0. */
export function initLora(plan: LoraPlan, seed: number): Map<string, NamedTensor> {
  const random = seededRandom(seed);
  const r = plan.settings.r;
  const out = new Map<string, NamedTensor>();
  for (const t of plan.targets.values()) {
    const bound = 1 / Math.sqrt(t.inDim);
    out.set(t.A, { shape: [r, t.inDim], data: Float32Array.from({ length: r * t.inDim }, () => (random() * 2 - 1) * bound) });
    out.set(t.B, { shape: [t.outDim, r], data: new Float32Array(t.outDim * r) });
  }
  return out;
}

/** How a graph takes the model's parameters. */
export interface ParamOptions {
  /** Fixed weights (initializers): a frozen model's own session. */
  readonly weights?: ReadonlyMap<string, NamedTensor>;
  /** LoRA: the base weights frozen inputs; the heads and the adapter trainable. */
  readonly lora?: LoraPlan;
  /** Every weight a frozen input (no gradients): the base with adapters off, fed the trainer's base buffers. */
  readonly frozenInputs?: boolean;
}

/**
 * Declares the model's parameters on the tape: `base` (the model's own) and `extra` (heads), as
 * `options` says. Returns `p(name)` and the trainable parameters' shapes (what gets gradients).
 */
export function declareParams(
  t: Tape,
  base: ReadonlyMap<string, readonly number[]>,
  extra: ReadonlyMap<string, readonly number[]>,
  options: ParamOptions,
  who: string,
): { p: (name: string) => string; trainable: Map<string, readonly number[]> } {
  const values = new Map<string, string>();
  const trainable = new Map<string, readonly number[]>();
  const fixed = options.weights;
  const frozenBase = options.lora !== undefined || options.frozenInputs === true;
  for (const [name, dims] of [...base, ...extra]) {
    if (fixed) {
      const w = fixed.get(name);
      if (!w) throw new Error(`${who}: weight '${name}' is missing`);
      values.set(name, t.weight(name, w.data, w.shape));
    } else if (options.frozenInputs || (frozenBase && base.has(name))) values.set(name, t.frozen(name, dims));
    else {
      values.set(name, t.param(name, dims));
      trainable.set(name, dims);
    }
  }
  if (options.lora) {
    if (fixed) throw new Error(`${who}: LoRA over fixed weights`);
    for (const [name, dims] of loraShapes(options.lora)) {
      values.set(name, t.param(name, dims));
      trainable.set(name, dims);
    }
  }
  const p = (name: string): string => {
    const v = values.get(name);
    if (!v) throw new Error(`${who}: no parameter '${name}'`);
    return v;
  };
  return { p, trainable };
}
