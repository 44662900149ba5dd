/**
 * AdamW with decoupled weight decay, global-norm gradient clipping, and a warmup-then-cosine
 * learning-rate schedule, shared by every stage. Parameters are updated in one fixed (sorted)
 * order so the optimizer state is stable across steps and across save/restore.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { ADAMW_KERNEL, SUM_SQUARES_KERNEL } from '../compute/wasmKernels';
import type { AdamWAttrs } from '../compute/wasmKernels';

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

export interface StepReport {
  readonly lr: number;
  /** Global gradient norm before clipping. */
  readonly gradNorm: number;
}

export class AdamW {
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
    // One fused kernel per step and per parameter where our wasm kernels are loaded
    // (compute/wasmKernels.ts), else the same arithmetic in tfjs ops.
    const fused = (kernel: string): boolean => tf.getKernel(kernel, tf.getBackend()) !== undefined;
    const gradNorm = tf.tidy(() => {
      if (!names.length) return 0;
      if (fused(SUM_SQUARES_KERNEL)) {
        const inputs = Object.fromEntries(names.map((n, i) => [`x${i}`, grads[n] as tf.Tensor]));
        return Math.sqrt((tf.engine().runKernel(SUM_SQUARES_KERNEL, inputs, {}) as tf.Tensor).dataSync()[0] as number);
      }
      const squares = names.map((n) => tf.sum(tf.square(grads[n] as tf.Tensor)));
      return Math.sqrt(tf.addN(squares).dataSync()[0] as number);
    });
    const stepNo = this.step + 1;
    const f = adamwFactors(this.config, stepNo, gradNorm);
    const { lr, beta1, beta2, eps, bc1, bc2, clip } = f;
    if (!Number.isFinite(gradNorm)) return { lr, gradNorm };
    this.step = stepNo;
    const fusedAdam = fused(ADAMW_KERNEL);
    for (const name of names) {
      const p = params[name] as tf.Variable;
      const m = this.slot(this.m, name, p);
      const v = this.slot(this.v, name, p);
      tf.tidy(() => {
        if (fusedAdam) {
          const attrs: AdamWAttrs = { lr, beta1, beta2, eps, bc1, bc2, decay: f.decayFor(p.rank), clip };
          const inputs = { p, g: grads[name] as tf.Tensor, m, v };
          const [pNew, mNew, vNew] = tf.engine().runKernel(ADAMW_KERNEL, inputs, { ...attrs }) as tf.Tensor[];
          p.assign(pNew!);
          m.assign(mNew!);
          v.assign(vNew!);
          return;
        }
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
  async state(): Promise<{ step: number; slots: Map<string, { shape: number[]; data: Float32Array }> }> {
    const slots = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [prefix, map] of [
      ['m', this.m],
      ['v', this.v],
    ] as const) {
      for (const [name, t] of map) slots.set(`${prefix}.${name}`, { shape: t.shape, data: (await t.data()) as Float32Array });
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
