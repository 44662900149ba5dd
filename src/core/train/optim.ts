/**
 * AdamW with decoupled weight decay, global-norm gradient clipping, and a warmup-then-cosine
 * learning-rate schedule, shared by every stage: its settings and schedule, the state a stage
 * starts from (`Optimizer`: the runner's `AdamWState`, plain arrays from a checkpoint), and the
 * tfjs engine's AdamW (the ONNX Runtime engine's is ort/adamw.ts). Parameters are updated in one
 * fixed (sorted) order so the optimizer state is stable across steps and across save/restore.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { AdamWAttrs } from '../compute/adamKernel';

type Tf = typeof tf;

export interface OptimConfig {
  /** Peak learning rate, reached at the end of warmup. */
  readonly lr: number;
  /** Final learning rate as a fraction of the peak (cosine decay ends there). */
  readonly minLrRatio: number;
  /** Linear warmup steps from 0 to the peak. */
  readonly warmupSteps: number;
  /** Total steps of the schedule (decay ends here; later steps stay at the floor). */
  readonly totalSteps: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Decoupled weight decay, applied to matrices only (not biases, LayerNorm gains). */
  readonly weightDecay: number;
  /** Clip the global gradient norm to this; 0 disables. */
  readonly maxGradNorm: number;
}

export const DEFAULT_OPTIM: OptimConfig = {
  lr: 3e-4,
  minLrRatio: 0.1,
  warmupSteps: 20,
  totalSteps: 1000,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  weightDecay: 0.01,
  maxGradNorm: 1.0,
};

/** Learning rate at 1-based `step`: linear warmup, then cosine to lr·minLrRatio. */
export function learningRate(c: OptimConfig, step: number): number {
  if (c.warmupSteps > 0 && step <= c.warmupSteps) return (c.lr * step) / c.warmupSteps;
  const decaySteps = Math.max(1, c.totalSteps - c.warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - c.warmupSteps) / decaySteps));
  const floor = c.lr * c.minLrRatio;
  return floor + 0.5 * (c.lr - floor) * (1 + Math.cos(Math.PI * progress));
}

/**
 * The factors of update number `step` given the global gradient norm: lr, the clipping
 * multiplier and the bias corrections; and each parameter's decay by its rank (matrices only).
 * Both AdamW implementations (this one on tfjs, ort/adamw.ts on plain arrays) use it.
 */
export function adamwFactors(c: OptimConfig, step: number, gradNorm: number): Omit<AdamWAttrs, 'decay'> & { decayFor: (rank: number) => number } {
  const lr = learningRate(c, step);
  const { beta1, beta2, eps, weightDecay, maxGradNorm } = c;
  return {
    lr,
    beta1,
    beta2,
    eps,
    clip: maxGradNorm > 0 && gradNorm > maxGradNorm ? maxGradNorm / (gradNorm + 1e-6) : 1,
    bc1: 1 - beta1 ** step,
    bc2: 1 - beta2 ** step,
    decayFor: (rank) => (weightDecay > 0 && rank >= 2 ? 1 - lr * weightDecay : 1),
  };
}

/** AdamW's state as a checkpoint stores it: the step, and `m.<name>` / `v.<name>` moments. */
export interface OptimizerState {
  readonly step: number;
  readonly slots: Map<string, { shape: number[]; data: Float32Array }>;
}

/**
 * What a stage is handed to train with: AdamW's settings and the state it starts from. The engine
 * the stage runs on takes the state over (engine.ts): ort/adamw.ts on ONNX Runtime, `AdamW` below
 * on tfjs; checkpoints then save the engine's state.
 */
export interface Optimizer {
  readonly config: OptimConfig;
  /** Steps taken so far. */
  readonly step: number;
  state(): Promise<OptimizerState>;
  /** Restore a checkpoint's state (`state()`'s format). */
  restore(step: number, slots: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>): void;
  dispose(): void;
}

/** An optimizer not yet started: fresh, or a checkpoint's state as plain arrays (the runner's; no tfjs). */
export class AdamWState implements Optimizer {
  step = 0;
  private slots = new Map<string, { shape: number[]; data: Float32Array }>();

  constructor(readonly config: OptimConfig) {}

  async state(): Promise<OptimizerState> {
    return { step: this.step, slots: this.slots };
  }

  restore(step: number, slots: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>): void {
    for (const key of slots.keys()) if (!/^[mv]\./.test(key)) throw new Error(`Unknown optimizer slot '${key}'.`);
    this.step = step;
    this.slots = new Map([...slots].map(([k, v]) => [k, { shape: [...v.shape], data: v.data }]));
  }

  /** Drops the arrays (an engine that took the state over holds its own copy). */
  dispose(): void {
    this.slots = new Map();
  }
}

export interface StepReport {
  readonly lr: number;
  /** Global gradient norm before clipping. */
  readonly gradNorm: number;
}

/** AdamW on tfjs variables: the tfjs engine's. */
export class AdamW implements Optimizer {
  /** Steps taken so far (the next step is `step + 1`). */
  step = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(
    private readonly tf: Tf,
    readonly config: OptimConfig,
  ) {}

  /**
   * Apply one update. `grads` maps parameter names to gradients (from tf.variableGrads);
   * names without a gradient are left alone. Returns the lr used and the pre-clip norm.
   * A non-finite norm skips the update and is reported, so the caller's NaN guard can stop.
   */
  apply(params: Readonly<Record<string, tf.Variable>>, grads: Readonly<Record<string, tf.Tensor>>): StepReport {
    const tf = this.tf;
    const names = Object.keys(grads)
      .filter((n) => params[n] !== undefined)
      .sort();
    const gradNorm = tf.tidy(() => {
      if (!names.length) return 0;
      const squares = names.map((n) => tf.sum(tf.square(grads[n] as tf.Tensor)));
      return Math.sqrt(tf.addN(squares).dataSync()[0] as number);
    });
    const stepNo = this.step + 1;
    const f = adamwFactors(this.config, stepNo, gradNorm);
    const { lr, beta1, beta2, eps, bc1, bc2, clip } = f;
    if (!Number.isFinite(gradNorm)) return { lr, gradNorm };
    this.step = stepNo;
    for (const name of names) {
      const p = params[name] as tf.Variable;
      const m = this.slot(this.m, name, p);
      const v = this.slot(this.v, name, p);
      tf.tidy(() => {
        const g = clip === 1 ? (grads[name] as tf.Tensor) : tf.mul(grads[name] as tf.Tensor, clip);
        const mNew = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const vNew = tf.add(tf.mul(v, beta2), tf.mul(tf.mul(g, g), 1 - beta2));
        m.assign(mNew);
        v.assign(vNew);
        const update = tf.div(tf.div(mNew, bc1), tf.add(tf.sqrt(tf.div(vNew, bc2)), eps));
        const decay = f.decayFor(p.rank);
        const decayed = decay !== 1 ? tf.mul(p, decay) : p;
        p.assign(tf.sub(decayed, tf.mul(update, lr)));
      });
    }
    return { lr, gradNorm };
  }

  /** Optimizer state as plain arrays (for checkpoints): step, and m/v per parameter name. */
  async state(): Promise<OptimizerState> {
    return this.stateSync();
  }

  /** The same, read synchronously (a checkpoint's snapshot). */
  stateSync(): OptimizerState {
    const slots = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [prefix, map] of [
      ['m', this.m],
      ['v', this.v],
    ] as const) {
      for (const [name, t] of map) slots.set(`${prefix}.${name}`, { shape: t.shape, data: t.dataSync() as Float32Array });
    }
    return { step: this.step, slots };
  }

  /** Restore what `state()` produced; parameters must already exist with the same shapes. */
  restore(step: number, slots: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>): void {
    this.dispose();
    this.step = step;
    for (const [key, { shape, data }] of slots) {
      const dot = key.indexOf('.');
      const which = key.slice(0, dot);
      const name = key.slice(dot + 1);
      const map = which === 'm' ? this.m : which === 'v' ? this.v : undefined;
      if (!map) throw new Error(`Unknown optimizer slot '${key}'.`);
      map.set(name, ownedVariable(this.tf, this.tf.tensor(data, [...shape])));
    }
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }

  private slot(map: Map<string, tf.Variable>, name: string, like: tf.Tensor): tf.Variable {
    let s = map.get(name);
    if (!s) {
      s = ownedVariable(this.tf, this.tf.zerosLike(like));
      map.set(name, s);
    }
    return s;
  }
}

/** A non-trainable variable that takes over `t` (tf.variable copies a reference; drop ours). */
function ownedVariable(tf: Tf, t: tf.Tensor): tf.Variable {
  const v = tf.variable(t, false);
  t.dispose();
  return v;
}
