/**
 * Reverse-mode autodiff over the ONNX graph builder. Each op emits its forward nodes and
 * records its vector–Jacobian product, also as ONNX nodes (standard ops only, so every
 * execution provider runs the backward pass); `backward` walks the record from the loss back
 * and sums each value's gradient contributions. Ops take dynamic batch and sequence sizes
 * (B, T) and static feature sizes, so one training graph serves every batch shape.
 *
 * The same ops build inference graphs: over `weight`s (initializers) nothing is live, so nothing
 * is recorded. A `fused` tape (inference only) writes them with ONNX Runtime's contrib ops where
 * they fit: a residual add followed by LayerNorm becomes SkipLayerNormalization (taking the
 * add's linear bias), gelu_new over a linear becomes FastGelu with that bias, attention over a
 * KV cache becomes one MultiHeadAttention. The Llama family's ops (the block at the end) fuse
 * likewise: RMSNorm into SimplifiedLayerNormalization (SkipSimplifiedLayerNormalization after a
 * residual sum), rotary embeddings into RotaryEmbedding, grouped-query attention over a KV cache
 * into GroupQueryAttention. The unfused nodes they replace are left unused and dropped when the
 * graph is serialized.
 *
 * Shapes in comments: N = B·T rows, C features, V vocabulary, H heads of D, P cached positions.
 */
import { GraphBuilder } from './graphBuilder';
import type { LoraPlan } from './lora';

/** A gradient that is zero except at some rows: `updates` [N, C] to add at rows `idx` [N, 1] (an embedding's). */
interface RowUpdates {
  readonly idx: string;
  readonly updates: string;
}

interface Entry {
  readonly inputs: readonly string[];
  readonly output: string;
  /** Gradients of the inputs given the output's (undefined: none, or not needed). */
  readonly vjp: (gy: string, needs: (i: number) => boolean) => readonly (string | RowUpdates | undefined)[];
}

/** One layer's KV cache in an inference graph: past keys/values [B, H, P, D] in, P+T out under these names. */
export interface LayerCache {
  readonly pastK: string;
  readonly pastV: string;
  readonly presentK: string;
  readonly presentV: string;
  /** attention_mask [B, P+T] int64 (the fused op reads padding from it; the unfused graph from `bias`). */
  readonly mask: string;
}

/**
 * Rotary embedding tables: the angles' cos and sin [P, D/2] for positions 0..P−1, and the positions
 * to read them at (int64, [B, T], or [T] shared by the rows).
 */
export interface RotaryTable {
  readonly positions: string;
  readonly cos: string;
  readonly sin: string;
}

const MS = 'com.microsoft';

export class Tape {
  readonly g = new GraphBuilder();
  /** Fused-op candidates (fused tapes only): a linear's MatMul and bias, a sum's two terms. */
  private readonly linears = new Map<string, { mm: string; b: string }>();
  private readonly sums = new Map<string, { a: string; b: string }>();

  /**
   * `lora`: the linears over the plan's target weights also add s·((x·Aᵀ)·Bᵀ) (lora.ts), with
   * dropout on x when the plan has it (training graphs).
   */
  constructor(private readonly options: { readonly fused?: boolean; readonly lora?: LoraPlan } = {}) {}
  private readonly entries: Entry[] = [];
  /** Values the loss depends on through parameters: only these get gradients. */
  private readonly live = new Set<string>();
  private readonly shapes = new Map<string, string>();

  /** A trainable parameter: a graph input of fixed shape. */
  param(name: string, dims: readonly number[]): string {
    this.live.add(name);
    return this.g.input(name, 'float', dims);
  }

  /** A frozen input (LoRA's base weights, fed each run): a graph input of fixed shape, not differentiated. */
  frozen(name: string, dims: readonly number[]): string {
    return this.g.input(name, 'float', dims);
  }

  /** A fixed tensor (an inference graph's weights): an initializer, not differentiated. */
  weight(name: string, data: Float32Array, dims: readonly number[]): string {
    return this.g.weight(name, data, dims);
  }

  /** Whether a fused-op form may replace this op: a fused tape, and nothing to differentiate. */
  private fusable(inputs: readonly string[]): boolean {
    return this.options.fused === true && !inputs.some((x) => this.live.has(x));
  }

  private record(inputs: readonly string[], output: string, vjp: Entry['vjp']): string {
    if (inputs.some((x) => this.live.has(x))) {
      this.live.add(output);
      this.entries.push({ inputs, output, vjp });
    }
    return output;
  }

  /** The runtime shape of `x` (one Shape node per value). */
  private shapeOf(x: string): string {
    let s = this.shapes.get(x);
    if (!s) this.shapes.set(x, (s = this.g.op('Shape', [x])));
    return s;
  }

  private const1d = new Map<string, string>();
  private ints(values: readonly number[]): string {
    const key = values.join(',');
    let c = this.const1d.get(key);
    if (!c) this.const1d.set(key, (c = this.g.int64Const(values)));
    return c;
  }

  private scalar(v: number): string {
    return this.g.floatConst([v], []);
  }

  /** Sum of `x` over `axes` (keepdims off). */
  private sum(x: string, axes: readonly number[], keep = false): string {
    return this.g.op('ReduceSum', [x, this.ints(axes)], { keepdims: keep ? 1 : 0 });
  }

  private to2d(x: string, cols: number): string {
    return this.g.op('Reshape', [x, this.ints([-1, cols])]);
  }

  private like(x: string, ref: string): string {
    return this.g.op('Reshape', [x, this.shapeOf(ref)]);
  }

  /**
   * Rows of `table` [V, C] at `ids` (any int64 shape S) → [...S, C]. Gradient: the output's rows
   * added at `ids` (scatter-add into the table's other gradients, or into zeros).
   */
  gather(table: string, ids: string, C: number): string {
    const y = this.g.op('Gather', [table, ids]);
    return this.record([table, ids], y, (gy) => [{ idx: this.g.op('Reshape', [ids, this.ints([-1, 1])]), updates: this.to2d(gy, C) }, undefined]);
  }

  /** a + b; `b` may lack a's leading axes (broadcast over them), its gradient summed over `bAxes`. */
  add(a: string, b: string, bAxes: readonly number[] = []): string {
    const y = this.g.op('Add', [a, b]);
    if (!bAxes.length && this.fusable([a, b])) this.sums.set(y, { a, b });
    return this.record([a, b], y, (gy, needs) => [gy, needs(1) && bAxes.length ? this.sum(gy, bAxes) : gy]);
  }

  /**
   * The last position of [B, T, C] → [B, 1, C] (inference: what sampling reads). On a fused tape
   * a residual sum is sliced term by term, so the LayerNorm after it still fuses.
   */
  lastPosition(x: string): string {
    if (this.live.has(x)) throw new Error('Tape.lastPosition: inference only');
    const slice = (v: string): string => this.g.op('Slice', [v, this.ints([-1]), this.ints([Number.MAX_SAFE_INTEGER]), this.ints([1])]);
    const terms = this.sums.get(x);
    if (!terms) return slice(x);
    const sliced = (v: string): string => {
      const lin = this.linears.get(v);
      if (!lin) return slice(v);
      const mm = slice(lin.mm);
      const y = this.g.op('Add', [mm, lin.b]);
      this.linears.set(y, { mm, b: lin.b });
      return y;
    };
    return this.add(sliced(terms.a), sliced(terms.b));
  }

  /** x [.., in] · W [in, out] + b [out]. */
  linear(x: string, w: string, b: string, inDim: number, outDim: number): string {
    const mm = this.g.op('MatMul', [x, w]);
    const y = this.g.op('Add', [mm, b]);
    if (this.fusable([x, w, b])) this.linears.set(y, { mm, b });
    const out = this.record([x, w, b], y, (gy, needs) => {
      const gy2 = this.to2d(gy, outDim); // [N, out]
      return [
        needs(0) ? this.like(this.g.op('Gemm', [gy2, w], { transB: 1 }), x) : undefined, // [N, in]
        needs(1) ? this.g.op('Gemm', [this.to2d(x, inDim), gy2], { transA: 1 }) : undefined, // [in, out]
        needs(2) ? this.sum(gy2, [0]) : undefined,
      ];
    });
    return this.withLora(x, w, out);
  }

  /**
   * `y` plus the LoRA path of the linear x → y over weight `w`, when the plan adapts `w`:
   * s·((dropout(x)·Aᵀ)·Bᵀ), A [r, in], B [out, r]; the scale applied at the narrow [.., r] step.
   */
  private withLora(x: string, w: string, y: string): string {
    const plan = this.options.lora;
    const target = plan?.targets.get(w);
    if (!plan || !target) return y;
    const r = plan.settings.r;
    const input = plan.dropout > 0 ? this.dropout(x, plan.dropout, plan.seed) : x;
    const down = this.scaled(this.linearT(input, target.A, undefined, target.inDim, r), plan.scale); // [.., r]
    return this.add(y, this.linearT(down, target.B, undefined, r, target.outDim)); // [.., out]
  }

  /** x·s for a constant s. */
  scaled(x: string, s: number): string {
    return this.record([x], this.g.op('Mul', [x, this.scalar(s)]), (gy) => [this.g.op('Mul', [gy, this.scalar(s)])]);
  }

  /**
   * Inverted dropout: each element kept with probability 1 − p and scaled by 1/(1 − p). The mask
   * comes from RandomUniformLike seeded once per session, whose generator advances every run, so
   * each step draws new masks; the backward reuses the forward's mask.
   */
  dropout(x: string, p: number, seed: number): string {
    const keep = this.g.op('Cast', [this.g.op('Greater', [this.g.op('RandomUniformLike', [x], { dtype: 1, seed }, { floats: ['seed'] }), this.scalar(p)])], { to: 1 });
    const mask = this.g.op('Mul', [keep, this.scalar(1 / (1 - p))]);
    return this.record([x], this.g.op('Mul', [x, mask]), (gy) => [this.g.op('Mul', [gy, mask])]);
  }

  /** LayerNorm over the last axis (C features) with scale and shift. */
  layerNorm(x: string, gamma: string, beta: string, C: number, eps: number): string {
    const terms = this.sums.get(x);
    if (terms && this.fusable([x, gamma, beta]) && !this.g.isConsumed(x)) {
      // SkipLayerNormalization: normalizes input + skip (+ the input's linear bias) and also
      // outputs that sum, which takes the name of the Add it replaces.
      const lin = this.linears.get(terms.b) ?? this.linears.get(terms.a);
      const input = this.linears.has(terms.b) ? terms.b : terms.a;
      const skip = input === terms.b ? terms.a : terms.b;
      this.g.removeProducer(x);
      const inputs = lin ? [lin.mm, skip, gamma, beta, lin.b] : [input, skip, gamma, beta];
      return this.g.opN('SkipLayerNormalization', inputs, { epsilon: eps }, { outputs: 4, floats: ['epsilon'], domain: MS, names: [undefined, undefined, undefined, x] })[0] as string;
    }
    const [y, mean, invStd] = this.g.opN('LayerNormalization', [x, gamma, beta], { axis: -1, epsilon: eps }, { outputs: 3, floats: ['epsilon'] }) as [string, string, string];
    return this.record([x, gamma, beta], y, (gy, needs) => {
      const xhat = this.g.op('Mul', [this.g.op('Sub', [x, mean]), invStd]); // [.., C]
      const gy2 = this.to2d(gy, C);
      const xhat2 = this.to2d(xhat, C);
      const out: (string | undefined)[] = [undefined, needs(1) ? this.sum(this.g.op('Mul', [gy2, xhat2]), [0]) : undefined, needs(2) ? this.sum(gy2, [0]) : undefined];
      if (needs(0)) {
        // dx = invStd · (g − mean(g) − x̂·mean(g·x̂)), g = dy·γ
        const g = this.g.op('Mul', [gy, gamma]);
        const meanG = this.g.op('ReduceMean', [g], { axes: [-1], keepdims: 1 }); // opset 17: axes as an attribute
        const meanGX = this.g.op('ReduceMean', [this.g.op('Mul', [g, xhat])], { axes: [-1], keepdims: 1 });
        out[0] = this.g.op('Mul', [this.g.op('Sub', [this.g.op('Sub', [g, meanG]), this.g.op('Mul', [xhat, meanGX])]), invStd]);
      }
      return out;
    });
  }

  /** gelu_new: 0.5·x·(1 + tanh(k·(x + a·x³))), k = √(2/π), a = 0.044715. */
  geluNew(x: string): string {
    if (this.fusable([x])) {
      const lin = this.linears.get(x);
      return this.g.op('FastGelu', lin ? [lin.mm, lin.b] : [x], {}, { domain: MS });
    }
    const k = Math.sqrt(2 / Math.PI);
    const a = 0.044715;
    const parts = (): { xx: string; t: string; half: string } => {
      const xx = this.g.op('Mul', [x, x]);
      const t = this.g.op('Tanh', [this.g.op('Mul', [this.g.op('Mul', [x, this.g.op('Add', [this.scalar(1), this.g.op('Mul', [xx, this.scalar(a)])])]), this.scalar(k)])]);
      return { xx, t, half: this.g.op('Mul', [x, this.scalar(0.5)]) };
    };
    const f = parts();
    const y = this.g.op('Mul', [f.half, this.g.op('Add', [f.t, this.scalar(1)])]);
    return this.record([x], y, (gy) => {
      // Recomputed from x rather than kept from the forward: only x stays alive per layer.
      // d/dx = 0.5·(1 + t) + 0.5·x·(1 − t²)·k·(1 + 3a·x²)
      const { xx, t, half } = parts();
      const sech2 = this.g.op('Sub', [this.scalar(1), this.g.op('Mul', [t, t])]);
      const inner = this.g.op('Mul', [this.g.op('Add', [this.scalar(1), this.g.op('Mul', [xx, this.scalar(3 * a)])]), this.scalar(k)]);
      const d = this.g.op('Add', [this.g.op('Mul', [this.g.op('Add', [t, this.scalar(1)]), this.scalar(0.5)]), this.g.op('Mul', [this.g.op('Mul', [half, sech2]), inner])]);
      return [this.g.op('Mul', [gy, d])];
    });
  }

  /**
   * Causal multi-head self-attention from packed q|k|v [B, T, 3C] → [B, T, C], scores scaled by
   * `scale`, plus `bias` [.., T, P+T] (the causal mask, and padding). With a `cache` (inference),
   * the keys and values go after the past ones and come out as the present ones. The backward
   * (no cache) is written as a whole:
   * dV = Pᵀ·dY, dP = dY·Vᵀ, dS = P∘(dP − rowsum(dP∘P)), dQ = s·dS·K, dK = s·dSᵀ·Q.
   */
  attention(qkv: string, bias: string, H: number, D: number, scale: number, cache?: LayerCache): string {
    const C = H * D;
    if (cache && this.fusable([qkv])) return this.fusedAttention(qkv, H, scale, cache);
    if (cache && this.live.has(qkv)) throw new Error('Tape.attention: no gradient through a KV cache');
    const heads = (t: string): string => this.g.op('Transpose', [this.g.op('Reshape', [t, this.ints([0, 0, H, D])])], { perm: [0, 2, 1, 3] }); // [B, T, C] → [B, H, T, D]
    const merge = (t: string): string => this.g.op('Reshape', [this.g.op('Transpose', [t], { perm: [0, 2, 1, 3] }), this.ints([0, 0, C])]); // [B, H, T, D] → [B, T, C]
    const [q2, k2, v2] = this.g.opN('Split', [qkv], { axis: 2 }, { outputs: 3 }) as [string, string, string];
    const q = heads(q2);
    const k = cache ? (this.g.opN('Concat', [cache.pastK, heads(k2)], { axis: 2 }, { outputs: 1, names: [cache.presentK] })[0] as string) : heads(k2); // [B, H, P+T, D]
    const v = cache ? (this.g.opN('Concat', [cache.pastV, heads(v2)], { axis: 2 }, { outputs: 1, names: [cache.presentV] })[0] as string) : heads(v2);
    const s = this.g.op('Add', [this.g.op('Mul', [this.g.op('MatMul', [q, this.g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]), this.scalar(scale)]), bias]); // [B, H, T, P+T]
    const p = this.g.op('Softmax', [s], { axis: -1 });
    const y = merge(this.g.op('MatMul', [p, v])); // [B, T, C]
    return this.record([qkv], y, (gy) => {
      const dy = heads(gy); // [B, H, T, D]
      const dv = this.g.op('MatMul', [this.g.op('Transpose', [p], { perm: [0, 1, 3, 2] }), dy]);
      const dp = this.g.op('MatMul', [dy, this.g.op('Transpose', [v], { perm: [0, 1, 3, 2] })]); // [B, H, T, T]
      const ds = this.g.op('Mul', [this.g.op('Mul', [p, this.g.op('Sub', [dp, this.sum(this.g.op('Mul', [dp, p]), [-1], true)])]), this.scalar(scale)]);
      const dq = this.g.op('MatMul', [ds, k]);
      const dk = this.g.op('MatMul', [this.g.op('Transpose', [ds], { perm: [0, 1, 3, 2] }), q]);
      return [this.g.op('Concat', [merge(dq), merge(dk), merge(dv)], { axis: 2 })];
    });
  }

  private int32Masks = new Map<string, string>();

  /**
   * ONNX Runtime's MultiHeadAttention: the qkv linear's bias, the head split, the cache concat,
   * the causal (`unidirectional`) and padding masks, the scaled softmax and the head merge in one
   * node, writing the present keys and values directly.
   */
  private fusedAttention(qkv: string, H: number, scale: number, cache: LayerCache): string {
    const lin = this.linears.get(qkv);
    const [q, k, v] = this.g.opN('Split', [lin?.mm ?? qkv], { axis: 2 }, { outputs: 3 }) as [string, string, string]; // 3 × [B, T, C]
    let mask = this.int32Masks.get(cache.mask);
    if (!mask) this.int32Masks.set(cache.mask, (mask = this.g.op('Cast', [cache.mask], { to: 6 })));
    const inputs = [q, k, v, lin?.b ?? '', mask, '', cache.pastK, cache.pastV];
    const attrs = { num_heads: H, unidirectional: 1, scale };
    return this.g.opN('MultiHeadAttention', inputs, attrs, { outputs: 3, floats: ['scale'], domain: MS, names: [undefined, cache.presentK, cache.presentV] })[0] as string;
  }

  /**
   * Mean next-token cross-entropy of the tied head: logits = h [B, T, C] · wteᵀ, over positions
   * whose `mask` [B, T] is 1 (all masked: 0). Backward: dlogits = (softmax − onehot)·mask/count.
   */
  lmLoss(h: string, wte: string, targets: string, mask: string, C: number): string {
    const h2 = this.to2d(h, C); // [N, C]
    const logits = this.g.op('Gemm', [h2, wte], { transB: 1 }); // [N, V], no transposed copy of wte
    const logp = this.g.op('LogSoftmax', [logits], { axis: -1 });
    const t = this.g.op('Reshape', [targets, this.ints([-1, 1])]); // [N, 1]
    const nll = this.g.op('Neg', [this.g.op('Reshape', [this.g.op('GatherElements', [logp, t], { axis: 1 }), this.ints([-1])])]); // [N]
    const m = this.g.op('Reshape', [mask, this.ints([-1])]); // [N]
    const count = this.g.op('Max', [this.sum(m, [0]), this.scalar(1)]);
    const loss = this.g.op('Div', [this.sum(this.g.op('Mul', [nll, m]), [0]), count]);
    return this.record([h, wte], loss, (gy, needs) => {
      const weight = this.g.op('Unsqueeze', [this.g.op('Div', [this.g.op('Mul', [m, gy]), count]), this.ints([1])]); // [N, 1]
      // softmax·w, less w at each row's target: no one-hot [N, V].
      const minusW = this.g.op('Neg', [weight]);
      const dlogits = this.g.op('ScatterElements', [this.g.op('Mul', [this.g.op('Exp', [logp]), weight]), t, minusW], { axis: 1, reduction: 'add' }); // [N, V]
      return [needs(0) ? this.like(this.g.op('MatMul', [dlogits, wte]), h) : undefined, needs(1) ? this.g.op('Gemm', [dlogits, h2], { transA: 1 }) : undefined];
    });
  }

  /**
   * The reward model's pairwise loss (InstructGPT): each sequence s [S rows of T] is scored at its
   * last real token, r_s = h[s, last_s] · w (`w` = score.weight [1, C]); pair p compares winner
   * against loser: loss = −Σ_p weight_p · log σ(r_w − r_l − margin). Also returns the differences
   * and the two scores per pair (for accuracy and means; not differentiated further).
   * Backward: d_p = −weight_p · σ(−(r_w − r_l − margin)), added to the winner's score and
   * subtracted from the loser's, then through the last-token pick into h and w.
   */
  pairwise(h: string, w: string, last: string, winners: string, losers: string, weights: string, margin: string, C: number): { loss: string; diff: string; chosen: string; rejected: string } {
    const scores2 = this.g.op('MatMul', [this.to2d(h, C), this.g.op('Transpose', [w], { perm: [1, 0] })]); // [S·T, 1]
    const scores = this.like2(scores2, h); // [S, T]
    const lastCol = this.g.op('Unsqueeze', [last, this.ints([1])]); // [S, 1]
    const r = this.g.op('Reshape', [this.g.op('GatherElements', [scores, lastCol], { axis: 1 }), this.ints([-1])]); // [S]
    const chosen = this.g.op('Gather', [r, winners]); // [P]
    const rejected = this.g.op('Gather', [r, losers]);
    const diff = this.g.op('Sub', [chosen, rejected]);
    const z = this.g.op('Sub', [diff, margin]);
    // log σ(z) = −softplus(−z)
    const logSig = this.g.op('Neg', [this.g.op('Softplus', [this.g.op('Neg', [z])])]);
    const loss = this.g.op('Neg', [this.sum(this.g.op('Mul', [logSig, weights]), [0])]);
    this.record([h, w], loss, (gy, needs) => {
      const d = this.g.op('Mul', [this.g.op('Neg', [this.g.op('Mul', [weights, this.g.op('Sigmoid', [this.g.op('Neg', [z])])])]), gy]); // [P]
      const zeros = this.g.op('ConstantOfShape', [this.shapeOf(r)]);
      const dr = this.g.op(
        'ScatterND',
        [this.g.op('ScatterND', [zeros, this.g.op('Unsqueeze', [winners, this.ints([1])]), d], { reduction: 'add' }), this.g.op('Unsqueeze', [losers, this.ints([1])]), this.g.op('Neg', [d])],
        { reduction: 'add' },
      ); // [S]
      const T = this.g.op('Gather', [this.shapeOf(scores), this.g.int64Const([1], [])], { axis: 0 });
      const pick = this.g.op('OneHot', [last, T, this.g.floatConst([0, 1])], { axis: -1 }); // [S, T]
      const dscores = this.g.op('Mul', [pick, this.g.op('Unsqueeze', [dr, this.ints([1])])]); // [S, T]
      const dflat = this.g.op('Reshape', [dscores, this.ints([-1, 1])]); // [S·T, 1]
      return [needs(0) ? this.like(this.g.op('MatMul', [dflat, w]), h) : undefined, needs(1) ? this.g.op('Gemm', [dflat, this.to2d(h, C)], { transA: 1 }) : undefined];
    });
    return { loss, diff, chosen, rejected };
  }

  /** `x` reshaped to the leading two axes of `ref` ([B, T, …] → [B, T]). */
  private like2(x: string, ref: string): string {
    return this.g.op('Reshape', [x, this.g.op('Slice', [this.shapeOf(ref), this.ints([0]), this.ints([2])])]);
  }

  // ——— Elementwise and reduction ops (losses are written with these) ———

  /** a·b, same shape; or `b` a non-differentiated factor that broadcasts onto a. */
  mul(a: string, b: string): string {
    return this.record([a, b], this.g.op('Mul', [a, b]), (gy, needs) => [needs(0) ? this.g.op('Mul', [gy, b]) : undefined, needs(1) ? this.g.op('Mul', [gy, a]) : undefined]);
  }

  /** a − b, same shape (or `b` non-differentiated and broadcast). */
  sub(a: string, b: string): string {
    return this.record([a, b], this.g.op('Sub', [a, b]), (gy, needs) => [gy, needs(1) ? this.g.op('Neg', [gy]) : undefined]);
  }

  /** c·x for a constant c. */
  scale(x: string, c: number): string {
    return this.record([x], this.g.op('Mul', [x, this.scalar(c)]), (gy) => [this.g.op('Mul', [gy, this.scalar(c)])]);
  }

  exp(x: string): string {
    const y = this.g.op('Exp', [x]);
    return this.record([x], y, (gy) => [this.g.op('Mul', [gy, y])]);
  }

  square(x: string): string {
    return this.record([x], this.g.op('Mul', [x, x]), (gy) => [this.g.op('Mul', [gy, this.g.op('Mul', [x, this.scalar(2)])])]);
  }

  /** log σ(x) = −softplus(−x). Gradient σ(−x). */
  logSigmoid(x: string): string {
    return this.record([x], this.g.op('Neg', [this.g.op('Softplus', [this.g.op('Neg', [x])])]), (gy) => [this.g.op('Mul', [gy, this.g.op('Sigmoid', [this.g.op('Neg', [x])])])]);
  }

  /** Elementwise max of two same-shape values; the gradient goes to the larger (to `a` on ties, as torch.maximum splits it… here: a). */
  maximum(a: string, b: string): string {
    const y = this.g.op('Max', [a, b]);
    return this.record([a, b], y, (gy, needs) => {
      const takeA = this.g.op('Cast', [this.g.op('GreaterOrEqual', [a, b])], { to: 1 });
      return [needs(0) ? this.g.op('Mul', [gy, takeA]) : undefined, needs(1) ? this.g.op('Mul', [gy, this.g.op('Sub', [this.scalar(1), takeA])]) : undefined];
    });
  }

  /** x clipped to [lo, hi]; the gradient passes where lo ≤ x ≤ hi (torch.clamp's). */
  clip(x: string, lo: number, hi: number): string {
    const y = this.g.op('Clip', [x, this.scalar(lo), this.scalar(hi)]);
    return this.record([x], y, (gy) => {
      const inside = this.g.op('Cast', [this.g.op('And', [this.g.op('GreaterOrEqual', [x, this.scalar(lo)]), this.g.op('LessOrEqual', [x, this.scalar(hi)])])], { to: 1 });
      return [this.g.op('Mul', [gy, inside])];
    });
  }

  /** Σ of all elements → scalar. */
  sumAll(x: string): string {
    return this.record([x], this.g.op('ReduceSum', [x], { keepdims: 0 }), (gy) => [this.g.op('Expand', [gy, this.shapeOf(x)])]);
  }

  /** Σ over the last axis of [R, L] → [R]. */
  rowSum(x: string): string {
    return this.record([x], this.sum(x, [-1]), (gy) => [this.g.op('Expand', [this.g.op('Unsqueeze', [gy, this.ints([-1])]), this.shapeOf(x)])]);
  }

  /** `x` reshaped to `dims` (0 keeps an axis, −1 infers one). */
  reshape(x: string, dims: readonly number[]): string {
    return this.record([x], this.g.op('Reshape', [x, this.ints(dims)]), (gy) => [this.like(gy, x)]);
  }

  /**
   * Log-probabilities of `targets` [K] and the entropy [K] of the tied head's distribution at
   * temperature τ: logits = h [K, C] · wteᵀ / τ. Each output records its own gradient:
   *   d logp/d z = onehot − p;   d H/d z = −p·(log p + H);   z = logits, then ·1/τ back to h and wte.
   */
  tokenLogProbs(h: string, wte: string, targets: string, temperature: number): { logp: string; entropy: string } {
    const invT = 1 / Math.max(temperature, 1e-7);
    const z = this.g.op('Gemm', [h, wte], { transB: 1, alpha: invT }, { floats: ['alpha'] }); // [K, V], scaled in the Gemm (no second [K, V])
    const logSoft = this.g.op('LogSoftmax', [z], { axis: -1 }); // [K, V]
    const t = this.g.op('Unsqueeze', [targets, this.ints([1])]); // [K, 1]
    const logp = this.g.op('Reshape', [this.g.op('GatherElements', [logSoft, t], { axis: 1 }), this.ints([-1])]); // [K]
    const p = this.g.op('Exp', [logSoft]);
    const entropy = this.g.op('Neg', [this.sum(this.g.op('Mul', [p, logSoft]), [-1])]); // [K]
    const back = (dz: string, needs: (i: number) => boolean): (string | undefined)[] => {
      const d = this.g.op('Mul', [dz, this.scalar(invT)]);
      return [needs(0) ? this.g.op('MatMul', [d, wte]) : undefined, needs(1) ? this.g.op('Gemm', [d, h], { transA: 1 }) : undefined];
    };
    this.record([h, wte], logp, (gy, needs) => {
      const g = this.g.op('Unsqueeze', [gy, this.ints([1])]); // [K, 1]
      // onehot·g − p·g, without a one-hot: g scattered onto −p·g at each row's target.
      return back(this.g.op('ScatterElements', [this.g.op('Neg', [this.g.op('Mul', [this.g.op('Exp', [logSoft]), g])]), t, g], { axis: 1, reduction: 'add' }), needs);
    });
    this.record([h, wte], entropy, (gy, needs) => {
      const g = this.g.op('Unsqueeze', [gy, this.ints([1])]); // [K, 1]
      const hk = this.g.op('Unsqueeze', [entropy, this.ints([1])]);
      return back(this.g.op('Neg', [this.g.op('Mul', [this.g.op('Mul', [this.g.op('Exp', [logSoft]), this.g.op('Add', [logSoft, hk])]), g])]), needs);
    });
    return { logp, entropy };
  }

  /** Mean of all elements → scalar. */
  meanAll(x: string): string {
    const y = this.g.op('ReduceMean', [x], { keepdims: 0 });
    return this.record([x], y, (gy) => {
      const count = this.g.op('Cast', [this.g.op('ReduceProd', [this.shapeOf(x)], { keepdims: 0 })], { to: 1 });
      return [this.g.op('Expand', [this.g.op('Div', [gy, count]), this.shapeOf(x)])];
    });
  }

  /** `x` reshaped to the shape of `ref` (a value of the same size, not differentiated). */
  reshapeLike(x: string, ref: string): string {
    return this.record([x], this.like(x, ref), (gy) => [this.like(gy, x)]);
  }

  /** Entries `idx` [P] (int64) of a vector x [S] → [P]. Gradient: scatter-added back. */
  pick(x: string, idx: string): string {
    return this.record([x, idx], this.g.op('Gather', [x, idx], { axis: 0 }), (gy) => [{ idx: this.g.op('Unsqueeze', [idx, this.ints([1])]), updates: gy }, undefined]);
  }

  /** x [N, in] · Wᵀ + b, with W [out, in] (torch.nn.Linear's layout: heads such as TRL's value head). */
  dense(x: string, w: string, b: string): string {
    return this.record([x, w, b], this.g.op('Gemm', [x, w, b], { transB: 1 }), (gy, needs) => [
      needs(0) ? this.g.op('MatMul', [gy, w]) : undefined,
      needs(1) ? this.g.op('Gemm', [gy, x], { transA: 1 }) : undefined,
      needs(2) ? this.sum(gy, [0]) : undefined,
    ]);
  }

  /** ½·Σ x²: a scalar of any value (for checking an op's gradient alone). Backward: dy·x. */
  halfSumSquares(x: string): string {
    const y = this.g.op('Mul', [this.g.op('ReduceSumSquare', [x], { keepdims: 0 }), this.scalar(0.5)]);
    return this.record([x], y, (gy) => [this.g.op('Mul', [x, gy])]);
  }

  /**
   * Gradients of the scalar `loss` with respect to `params` (in order), each summed over all the
   * paths it reaches the loss by. A parameter the loss does not depend on gets zeros.
   */
  backward(loss: string, params: readonly string[]): string[] {
    const grads = new Map<string, (string | RowUpdates)[]>([[loss, [this.scalar(1)]]]);
    // Dense parts are summed; row updates are then scattered into that sum (no [V, C] of zeros
    // and no second [V, C] buffer for a tied embedding's gradient).
    const total = (x: string): string | undefined => {
      const parts = grads.get(x);
      if (!parts?.length) return undefined;
      const dense = parts.filter((p): p is string => typeof p === 'string');
      let sum = dense.length === 0 ? this.g.op('ConstantOfShape', [this.shapeOf(x)]) : dense.length === 1 ? (dense[0] as string) : this.g.op('Sum', dense);
      for (const p of parts) if (typeof p !== 'string') sum = this.g.op('ScatterND', [sum, p.idx, p.updates], { reduction: 'add' });
      grads.set(x, [sum]);
      return sum;
    };
    for (const e of [...this.entries].reverse()) {
      const gy = total(e.output);
      if (!gy) continue;
      const gx = e.vjp(gy, (i) => this.live.has(e.inputs[i] as string));
      e.inputs.forEach((x, i) => {
        const gi = gx[i];
        if (gi !== undefined && this.live.has(x)) grads.set(x, [...(grads.get(x) ?? []), gi]);
      });
    }
    return params.map((p) => total(p) ?? this.g.op('ConstantOfShape', [this.shapeOf(p)]));
  }

  // ——— Llama-family ops: torch-layout linears, RMSNorm, rotary embeddings, SwiGLU, grouped-query attention ———

  /** x [.., in] · Wᵀ (+ b), W [out, in] (torch.nn.Linear's layout, as HF's Llama projections). */
  linearT(x: string, w: string, b: string | undefined, inDim: number, outDim: number): string {
    // MatMul over a Transpose: ONNX Runtime folds the Transpose of an initializer at load and
    // fuses it into the MatMul (transB) otherwise, so no transposed copy is made per step.
    const mm = this.g.op('MatMul', [x, this.g.op('Transpose', [w], { perm: [1, 0] })]);
    const y = b ? this.g.op('Add', [mm, b]) : mm;
    const out = this.record(b ? [x, w, b] : [x, w], y, (gy, needs) => {
      const gy2 = this.to2d(gy, outDim); // [N, out]
      return [
        needs(0) ? this.g.op('MatMul', [gy, w]) : undefined, // [.., in]
        needs(1) ? this.g.op('Gemm', [gy2, this.to2d(x, inDim)], { transA: 1 }) : undefined, // [out, in]
        b && needs(2) ? this.sum(gy2, [0]) : undefined,
      ];
    });
    return this.withLora(x, w, out);
  }

  /**
   * RMSNorm over the last axis (C features): y = γ · x / √(mean(x²) + ε). On a fused tape a residual
   * sum followed by it becomes SkipSimplifiedLayerNormalization (which also outputs the sum).
   * Backward: with r = 1/√(mean(x²) + ε), x̂ = x·r, g = dy·γ: dx = r·(g − x̂·mean(g·x̂)), dγ = Σ dy·x̂.
   */
  rmsNorm(x: string, gamma: string, C: number, eps: number): string {
    if (this.fusable([x, gamma])) {
      const terms = this.sums.get(x);
      if (terms && !this.g.isConsumed(x)) {
        this.g.removeProducer(x);
        return this.g.opN(
          'SkipSimplifiedLayerNormalization',
          [terms.a, terms.b, gamma],
          { epsilon: eps },
          { outputs: 4, floats: ['epsilon'], domain: MS, names: [undefined, undefined, undefined, x] },
        )[0] as string;
      }
      return this.g.op('SimplifiedLayerNormalization', [x, gamma], { axis: -1, epsilon: eps }, { floats: ['epsilon'] }); // ORT's, in the default domain
    }
    const r = this.g.op('Reciprocal', [this.g.op('Sqrt', [this.g.op('Add', [this.g.op('ReduceMean', [this.g.op('Mul', [x, x])], { axes: [-1], keepdims: 1 }), this.scalar(eps)])])]); // [.., 1]
    const xhat = this.g.op('Mul', [x, r]);
    const y = this.g.op('Mul', [xhat, gamma]);
    return this.record([x, gamma], y, (gy, needs) => {
      const out: (string | undefined)[] = [undefined, needs(1) ? this.sum(this.g.op('Mul', [this.to2d(gy, C), this.to2d(xhat, C)]), [0]) : undefined];
      if (needs(0)) {
        const g = this.g.op('Mul', [gy, gamma]);
        const meanGX = this.g.op('ReduceMean', [this.g.op('Mul', [g, xhat])], { axes: [-1], keepdims: 1 });
        out[0] = this.g.op('Mul', [this.g.op('Sub', [g, this.g.op('Mul', [xhat, meanGX])]), r]);
      }
      return out;
    });
  }

  /** A rotary table's cos and sin gathered at its positions ([.., T, 1, D/2]), once for every layer that reads them. */
  private readonly rotaryRows = new Map<string, { cos: string; sin: string }>();

  /**
   * Rotary position embedding of x [B, T, H·D] (HF's rotate_half layout: the first half of each
   * head pairs with the second): y₁ = x₁·cos − x₂·sin, y₂ = x₂·cos + x₁·sin. The backward rotates
   * by −θ. On a fused tape: ONNX Runtime's RotaryEmbedding, which reads the tables itself.
   */
  rotary(x: string, table: RotaryTable, H: number, D: number): string {
    if (this.fusable([x])) return this.g.op('RotaryEmbedding', [x, table.positions, table.cos, table.sin], { num_heads: H, interleaved: 0 }, { domain: MS });
    let rows = this.rotaryRows.get(table.positions);
    if (!rows) {
      const at = (t: string): string => this.g.op('Unsqueeze', [this.g.op('Gather', [t, table.positions]), this.ints([-2])]); // [.., T, 1, D/2]
      this.rotaryRows.set(table.positions, (rows = { cos: at(table.cos), sin: at(table.sin) }));
    }
    const { cos, sin } = rows;
    const rotate = (v: string, sign: 1 | -1): string => {
      const [a, b] = this.g.opN('Split', [this.g.op('Reshape', [v, this.ints([0, 0, H, D])])], { axis: -1 }, { outputs: 2 }) as [string, string]; // 2 × [B, T, H, D/2]
      const [minus, plus] = sign === 1 ? ['Sub', 'Add'] : ['Add', 'Sub'];
      const y1 = this.g.op(minus, [this.g.op('Mul', [a, cos]), this.g.op('Mul', [b, sin])]);
      const y2 = this.g.op(plus, [this.g.op('Mul', [b, cos]), this.g.op('Mul', [a, sin])]);
      return this.g.op('Reshape', [this.g.op('Concat', [y1, y2], { axis: -1 }), this.ints([0, 0, H * D])]);
    };
    return this.record([x], rotate(x, 1), (gy) => [rotate(gy, -1)]);
  }

  /** SwiGLU: silu(gate) · up, silu(a) = a·σ(a). Backward: d gate = dy·up·σ(a)·(1 + a·(1 − σ(a))), d up = dy·silu(a). */
  swiglu(gate: string, up: string): string {
    const y = this.g.op('Mul', [this.g.op('Mul', [gate, this.g.op('Sigmoid', [gate])]), up]);
    return this.record([gate, up], y, (gy, needs) => {
      // σ recomputed from the gate rather than kept from the forward: only gate and up stay alive.
      const s = this.g.op('Sigmoid', [gate]);
      const silu = this.g.op('Mul', [gate, s]);
      const dsilu = this.g.op('Mul', [s, this.g.op('Add', [this.scalar(1), this.g.op('Sub', [gate, silu])])]); // σ·(1 + a − a·σ)
      return [needs(0) ? this.g.op('Mul', [this.g.op('Mul', [gy, up]), dsilu]) : undefined, needs(1) ? this.g.op('Mul', [gy, silu]) : undefined];
    });
  }

  /** `bias` [.., 1, T, S] repeated G times along the query rows → [.., 1, G·T, S] (rows ordered g, t). */
  private readonly groupedBiases = new Map<string, string>();

  /**
   * Causal grouped-query attention: q [B, T, H·D], k and v [B, T, KV·D] (query head h reads KV head
   * ⌊h / (H/KV)⌋, as HF's repeat_kv), scores scaled by `scale` plus `bias` [.., 1, T, P+T] (causal
   * and padding). The keys are never repeated: the G = H/KV query heads of a KV head are stacked
   * as rows, [B, KV, G·T, D], so one batched matmul per KV head covers them, and the backward sums
   * their key and value gradients by the same matmuls. With a `cache` (inference) the keys and
   * values [B, KV, P+T, D] go after the past ones and come out as the present ones.
   * Backward (no cache): dV = Pᵀ·dY, dP = dY·Vᵀ, dS = P∘(dP − rowsum(dP∘P)), dQ = s·dS·K, dK = s·dSᵀ·Q.
   */
  groupedAttention(q: string, k: string, v: string, bias: string, heads: { H: number; KV: number; D: number }, scale: number, cache?: LayerCache): string {
    const { H, KV, D } = heads;
    const G = H / KV;
    // GroupQueryAttention takes heads whose width is a multiple of 8 (all released models' are).
    if (cache && this.fusable([q, k, v]) && D % 8 === 0) return this.fusedGroupedAttention(q, k, v, bias, heads, scale, cache);
    if (cache && [q, k, v].some((x) => this.live.has(x))) throw new Error('Tape.groupedAttention: no gradient through a KV cache');
    const split = (x: string, n: number): string => this.g.op('Transpose', [this.g.op('Reshape', [x, this.ints([0, 0, n, D])])], { perm: [0, 2, 1, 3] }); // [B, T, n·D] → [B, n, T, D]
    const merge = (x: string, n: number): string => this.g.op('Reshape', [this.g.op('Transpose', [x], { perm: [0, 2, 1, 3] }), this.ints([0, 0, n * D])]); // [B, n, T, D] → [B, T, n·D]
    const grouped = (x: string): string => this.g.op('Reshape', [x, this.ints([0, KV, -1, D])]); // [B, H, T, D] → [B, KV, G·T, D]
    const ungrouped = (x: string): string => this.g.op('Reshape', [x, this.ints([0, H, -1, D])]);
    const present = (past: string | undefined, x: string, name: string | undefined): string => (past ? (this.g.opN('Concat', [past, x], { axis: 2 }, { outputs: 1, names: [name] })[0] as string) : x);
    const qg = grouped(split(q, H)); // [B, KV, G·T, D]
    const kh = present(cache?.pastK, split(k, KV), cache?.presentK); // [B, KV, S, D], S = P+T
    const vh = present(cache?.pastV, split(v, KV), cache?.presentV);
    let biasG = this.groupedBiases.get(bias);
    if (!biasG) this.groupedBiases.set(bias, (biasG = G === 1 ? bias : this.g.op('Concat', Array<string>(G).fill(bias), { axis: -2 })));
    const s = this.g.op('Add', [this.g.op('Mul', [this.g.op('MatMul', [qg, this.g.op('Transpose', [kh], { perm: [0, 1, 3, 2] })]), this.scalar(scale)]), biasG]); // [B, KV, G·T, S]
    const p = this.g.op('Softmax', [s], { axis: -1 });
    const y = merge(ungrouped(this.g.op('MatMul', [p, vh])), H); // [B, T, H·D]
    return this.record([q, k, v], y, (gy, needs) => {
      const dy = grouped(split(gy, H)); // [B, KV, G·T, D]
      const dp = this.g.op('MatMul', [dy, this.g.op('Transpose', [vh], { perm: [0, 1, 3, 2] })]); // [B, KV, G·T, S]
      const ds = this.g.op('Mul', [this.g.op('Mul', [p, this.g.op('Sub', [dp, this.sum(this.g.op('Mul', [dp, p]), [-1], true)])]), this.scalar(scale)]);
      return [
        needs(0) ? merge(ungrouped(this.g.op('MatMul', [ds, kh])), H) : undefined,
        needs(1) ? merge(this.g.op('MatMul', [this.g.op('Transpose', [ds], { perm: [0, 1, 3, 2] }), qg]), KV) : undefined,
        needs(2) ? merge(this.g.op('MatMul', [this.g.op('Transpose', [p], { perm: [0, 1, 3, 2] }), dy]), KV) : undefined,
      ];
    });
  }

  /** int32 seqlens_k [B] (each row's P+T−1: the padding is masked by the bias, not by lengths) and total_sequence_length [], per mask. */
  private readonly gqaLengths = new Map<string, { seqlens: string; total: string }>();

  /**
   * ONNX Runtime's GroupQueryAttention: the cache concat, the causal mask, the KV-head sharing, the
   * scaled softmax and the head merge in one node. Every row counts as P+T long (seqlens_k); left
   * padding is masked by `bias`, which GroupQueryAttention adds to the scores as it is.
   */
  private fusedGroupedAttention(q: string, k: string, v: string, bias: string, heads: { H: number; KV: number }, scale: number, cache: LayerCache): string {
    let lengths = this.gqaLengths.get(cache.mask);
    if (!lengths) {
      const shape = this.shapeOf(cache.mask); // [B, P+T]
      const one = this.g.int64Const([1], []);
      const total = this.g.op('Gather', [shape, one], { axis: 0 }); // [] int64
      const rows = this.g.op('Slice', [shape, this.ints([0]), this.ints([1])]); // [1]: B
      const seqlens = this.g.op('Cast', [this.g.op('Expand', [this.g.op('Sub', [total, one]), rows])], { to: 6 }); // [B] int32
      this.gqaLengths.set(cache.mask, (lengths = { seqlens, total: this.g.op('Cast', [total], { to: 6 }) }));
    }
    const inputs = [q, k, v, cache.pastK, cache.pastV, lengths.seqlens, lengths.total, '', '', '', bias];
    const attrs = { num_heads: heads.H, kv_num_heads: heads.KV, scale };
    return this.g.opN('GroupQueryAttention', inputs, attrs, { outputs: 3, floats: ['scale'], domain: MS, names: [undefined, cache.presentK, cache.presentV] })[0] as string;
  }
}
