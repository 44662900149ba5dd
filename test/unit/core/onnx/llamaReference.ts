/**
 * An independent Llama / Qwen2 / Qwen3 forward for the graph tests: plain loops in float64, written
 * from the math of transformers' modeling_llama, modeling_qwen2 and modeling_qwen3, one position at
 * a time, no KV cache, no graph code. Shares nothing with src/core/onnx but the config's type.
 */
import type { LlamaConfig } from '../../../../src/core/model/llamaConfig';

/** Weights by HF name: any array of numbers (Float32Array from a checkpoint, Float64Array when perturbed). */
export type RefWeights = ReadonlyMap<string, ArrayLike<number>>;

/** RoPE inverse frequencies, with llama3 or linear rescaling (transformers' _compute_*_parameters). */
function inverseFrequencies(c: LlamaConfig): number[] {
  const D = c.head_dim;
  const out: number[] = [];
  for (let i = 0; i < D; i += 2) {
    let f = 1 / c.rope_theta ** (i / D);
    const s = c.rope_scaling;
    if (s?.rope_type === 'linear') f /= s.factor;
    if (s?.rope_type === 'llama3') {
      const wavelen = (2 * Math.PI) / f;
      const old = s.original_max_position_embeddings;
      if (wavelen > old / s.low_freq_factor) f /= s.factor;
      else if (wavelen >= old / s.high_freq_factor) {
        const smooth = (old / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        f = (1 - smooth) * (f / s.factor) + smooth * f;
      }
    }
    out.push(f);
  }
  return out;
}

/** y = W x (+ b), W [out, in] row-major. */
function project(w: ArrayLike<number>, b: ArrayLike<number> | undefined, x: readonly number[], out: number): number[] {
  const n = x.length;
  const y: number[] = [];
  for (let o = 0; o < out; o++) {
    let s = b ? (b[o] as number) : 0;
    for (let i = 0; i < n; i++) s += (w[o * n + i] as number) * (x[i] as number);
    y.push(s);
  }
  return y;
}

function rmsNorm(x: readonly number[], gamma: ArrayLike<number>, eps: number, offset = 0, n = x.length): number[] {
  let ms = 0;
  for (let i = 0; i < n; i++) ms += (x[offset + i] as number) ** 2;
  const r = 1 / Math.sqrt(ms / n + eps);
  return Array.from({ length: n }, (_, i) => (gamma[i] as number) * (x[offset + i] as number) * r);
}

/** Rotate each head of `v` (n heads of D) by position `pos`: pairs (i, i + D/2). */
function rope(v: number[], n: number, D: number, pos: number, freqs: readonly number[]): number[] {
  const out = v.slice();
  for (let h = 0; h < n; h++) {
    for (let i = 0; i < D / 2; i++) {
      const a = v[h * D + i] as number;
      const b = v[h * D + i + D / 2] as number;
      const cos = Math.cos(pos * (freqs[i] as number));
      const sin = Math.sin(pos * (freqs[i] as number));
      out[h * D + i] = a * cos - b * sin;
      out[h * D + i + D / 2] = b * cos + a * sin;
    }
  }
  return out;
}

/**
 * Logits [B][T][V] of rows of token ids (equal lengths; `mask` 0 at left padding). Positions count
 * each row's real tokens from 0; a query attends to the real keys at or before it. Positions
 * that are padding come out as null.
 */
export function referenceLogits(c: LlamaConfig, w: RefWeights, ids: readonly (readonly number[])[], mask?: readonly (readonly number[])[]): (number[] | null)[][] {
  const get = (name: string): ArrayLike<number> => {
    const v = w.get(name);
    if (!v) throw new Error(`reference: no weight ${name}`);
    return v;
  };
  const opt = (name: string): ArrayLike<number> | undefined => w.get(name);
  const { hidden_size: C, num_attention_heads: H, num_key_value_heads: KV, head_dim: D, intermediate_size: F, rms_norm_eps: eps } = c;
  const freqs = inverseFrequencies(c);
  const head = w.get('lm_head.weight') ?? get('model.embed_tokens.weight');
  return ids.map((row, b) => {
    const real = mask?.[b] ?? row.map(() => 1);
    const T = row.length;
    const positions: number[] = [];
    let seen = 0;
    for (let t = 0; t < T; t++) positions.push(real[t] ? seen++ : 0);
    const embed = get('model.embed_tokens.weight');
    let x = row.map((id) => Array.from({ length: C }, (_, i) => embed[id * C + i] as number)); // [T][C]
    for (let l = 0; l < c.num_hidden_layers; l++) {
      const p = `model.layers.${l}.`;
      const qs: number[][] = [];
      const ks: number[][] = [];
      const vs: number[][] = [];
      for (let t = 0; t < T; t++) {
        const h = rmsNorm(x[t] as number[], get(`${p}input_layernorm.weight`), eps);
        let q = project(get(`${p}self_attn.q_proj.weight`), opt(`${p}self_attn.q_proj.bias`), h, H * D);
        let k = project(get(`${p}self_attn.k_proj.weight`), opt(`${p}self_attn.k_proj.bias`), h, KV * D);
        const v = project(get(`${p}self_attn.v_proj.weight`), opt(`${p}self_attn.v_proj.bias`), h, KV * D);
        if (c.architecture === 'qwen3') {
          q = Array.from({ length: H }, (_, hh) => rmsNorm(q, get(`${p}self_attn.q_norm.weight`), eps, hh * D, D)).flat();
          k = Array.from({ length: KV }, (_, hh) => rmsNorm(k, get(`${p}self_attn.k_norm.weight`), eps, hh * D, D)).flat();
        }
        qs.push(rope(q, H, D, positions[t] as number, freqs));
        ks.push(rope(k, KV, D, positions[t] as number, freqs));
        vs.push(v);
      }
      const next: number[][] = [];
      for (let t = 0; t < T; t++) {
        const attn = new Array<number>(H * D).fill(0);
        for (let h = 0; h < H; h++) {
          const kvh = Math.floor(h / (H / KV));
          const keys = Array.from({ length: t + 1 }, (_, s) => s).filter((s) => real[s]);
          if (keys.length === 0) continue; // a padding query: its output is never read
          const scores = keys.map((s) => {
            let dot = 0;
            for (let d = 0; d < D; d++) dot += (qs[t]?.[h * D + d] as number) * (ks[s]?.[kvh * D + d] as number);
            return dot / Math.sqrt(D);
          });
          const top = Math.max(...scores);
          const e = scores.map((z) => Math.exp(z - top));
          const sum = e.reduce((a, v) => a + v, 0);
          keys.forEach((s, j) => {
            for (let d = 0; d < D; d++) attn[h * D + d] += ((e[j] as number) / sum) * (vs[s]?.[kvh * D + d] as number);
          });
        }
        const o = project(get(`${p}self_attn.o_proj.weight`), opt(`${p}self_attn.o_proj.bias`), attn, C);
        const x1 = (x[t] as number[]).map((v, i) => v + (o[i] as number));
        const h2 = rmsNorm(x1, get(`${p}post_attention_layernorm.weight`), eps);
        const gate = project(get(`${p}mlp.gate_proj.weight`), opt(`${p}mlp.gate_proj.bias`), h2, F);
        const up = project(get(`${p}mlp.up_proj.weight`), opt(`${p}mlp.up_proj.bias`), h2, F);
        const act = gate.map((a, i) => (a / (1 + Math.exp(-a))) * (up[i] as number));
        const down = project(get(`${p}mlp.down_proj.weight`), opt(`${p}mlp.down_proj.bias`), act, C);
        next.push(x1.map((v, i) => v + (down[i] as number)));
      }
      x = next;
    }
    return x.map((xt, t) => (real[t] ? project(head, undefined, rmsNorm(xt, get('model.norm.weight'), eps), c.vocab_size) : null));
  });
}

/** Mean next-token cross-entropy over the positions whose `lossMask` is 1 (rows unpadded, as the training graph). */
export function referenceLoss(c: LlamaConfig, w: RefWeights, ids: readonly (readonly number[])[], targets: readonly (readonly number[])[], lossMask: readonly (readonly number[])[]): number {
  const logits = referenceLogits(c, w, ids);
  let total = 0;
  let count = 0;
  logits.forEach((row, b) =>
    row.forEach((z, t) => {
      if (!lossMask[b]?.[t] || !z) return;
      const top = Math.max(...z);
      const logSum = top + Math.log(z.reduce((a, v) => a + Math.exp(v - top), 0));
      total += logSum - (z[targets[b]?.[t] as number] as number);
      count++;
    }),
  );
  return count ? total / count : 0;
}

/** Greedy continuation: `steps` tokens per row, each the argmax of the whole sequence's last logits. */
export function referenceGreedy(c: LlamaConfig, w: RefWeights, prompts: readonly (readonly number[])[], steps: number): number[][] {
  const P = Math.max(...prompts.map((r) => r.length));
  const rows = prompts.map((r) => [...new Array<number>(P - r.length).fill(0), ...r]);
  const masks = prompts.map((r) => [...new Array<number>(P - r.length).fill(0), ...r.map(() => 1)]);
  const out: number[][] = prompts.map(() => []);
  for (let s = 0; s < steps; s++) {
    const logits = referenceLogits(c, w, rows, masks);
    logits.forEach((row, b) => {
      const z = row[row.length - 1] as number[];
      // A loop, not Math.max(...z): a real vocabulary (150k) overflows the call stack as arguments.
      const next = z.reduce((best, v, i) => (v > (z[best] as number) ? i : best), 0);
      out[b]?.push(next);
      rows[b]?.push(next);
      masks[b]?.push(1);
    });
  }
  return out;
}
