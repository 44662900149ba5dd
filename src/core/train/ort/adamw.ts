/**
 * AdamW on plain Float32Arrays, updating the parameters in place: the ONNX Runtime engine's
 * optimizer. Same schedule, clipping, decoupled weight decay (matrices only) and bias
 * correction as the tfjs AdamW (optim.ts), and the same checkpoint state (step, `m.<name>` and
 * `v.<name>` slots), so a run can resume on either engine. The update itself runs in the arena
 * the buffers live in (arena.ts: the SIMD kernel, or a JavaScript loop).
 */
import { adamwFactors } from '../optim';
import { createJsArena } from './arena';
import type { Arena } from './arena';
import type { OptimConfig, StepReport } from '../optim';

export interface ParamBuffer {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export class ArrayAdamW {
  /** Steps taken so far (the next step is `step + 1`). */
  step = 0;
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();

  constructor(
    readonly config: OptimConfig,
    private readonly arena: Arena = createJsArena(),
  ) {}

  /**
   * One update of every parameter that has a gradient, given the global gradient norm (computed
   * with the gradients). A non-finite norm skips the update and is reported, as in optim.ts.
   */
  apply(params: ReadonlyMap<string, ParamBuffer>, grads: ReadonlyMap<string, Float32Array>, gradNorm: number): StepReport {
    const stepNo = this.step + 1;
    const { decayFor, ...factors } = adamwFactors(this.config, stepNo, gradNorm);
    if (!Number.isFinite(gradNorm)) return { lr: factors.lr, gradNorm };
    this.step = stepNo;
    for (const name of [...grads.keys()].sort()) {
      const p = params.get(name);
      const g = grads.get(name) as Float32Array;
      if (!p) continue;
      const m = this.slot(this.m, name, p.data.length);
      const v = this.slot(this.v, name, p.data.length);
      this.arena.adamW(p.data, g, m, v, { ...factors, decay: decayFor(p.shape.length) });
    }
    return { lr: factors.lr, gradNorm };
  }

  /** Optimizer state for checkpoints, in the tfjs AdamW's format. */
  state(shapes: ReadonlyMap<string, readonly number[]>): { step: number; slots: Map<string, { shape: number[]; data: Float32Array }> } {
    const slots = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [prefix, map] of [
      ['m', this.m],
      ['v', this.v],
    ] as const) {
      for (const [name, data] of map) slots.set(`${prefix}.${name}`, { shape: [...(shapes.get(name) ?? [data.length])], data });
    }
    return { step: this.step, slots };
  }

  /** Restore what `state()` (or the tfjs AdamW's state) produced. */
  restore(step: number, slots: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>): void {
    this.step = step;
    for (const [key, { data }] of slots) {
      const dot = key.indexOf('.');
      const map = key.slice(0, dot) === 'm' ? this.m : key.slice(0, dot) === 'v' ? this.v : undefined;
      if (!map) throw new Error(`Unknown optimizer slot '${key}'.`);
      // The arena never frees: a slot of the right size is reused.
      const name = key.slice(dot + 1);
      const slot = map.get(name)?.length === data.length ? (map.get(name) as Float32Array) : this.arena.alloc(data.length);
      slot.set(data);
      map.set(name, slot);
    }
  }

  private slot(map: Map<string, Float32Array>, name: string, length: number): Float32Array {
    let s = map.get(name);
    if (!s) map.set(name, (s = this.arena.alloc(length)));
    return s;
  }
}
