/**
 * The GPT-2 architecture's configuration, with the fields and names of Hugging Face's
 * `GPT2Config` (config.json), so a folder saved by transformers loads as is.
 */
export interface GPT2Config {
  /** Tokens in the vocabulary (rows of `wte`). */
  readonly vocab_size: number;
  /** Longest sequence the position table covers (rows of `wpe`). */
  readonly n_positions: number;
  /** Width of the residual stream. */
  readonly n_embd: number;
  /** Transformer blocks. */
  readonly n_layer: number;
  /** Attention heads; n_embd must divide evenly. */
  readonly n_head: number;
  /** Inner MLP width; null means 4 × n_embd (as in HF). */
  readonly n_inner: number | null;
  /** LayerNorm epsilon. */
  readonly layer_norm_epsilon: number;
  /** Only 'gelu_new' (the tanh approximation) is supported, as GPT-2 uses. */
  readonly activation_function: 'gelu_new';
  readonly bos_token_id: number;
  readonly eos_token_id: number;
  /** GPT-2 scales attention by 1/sqrt(head_dim); kept for config fidelity. */
  readonly scale_attn_weights: boolean;
}

/** The shipped tiny default: byte-level vocabulary (256 bytes + <|endoftext|> = 257), 2 layers of width 128. */
export const TINY_CONFIG: GPT2Config = {
  vocab_size: 257,
  n_positions: 128,
  n_embd: 128,
  n_layer: 2,
  n_head: 4,
  n_inner: null,
  layer_norm_epsilon: 1e-5,
  activation_function: 'gelu_new',
  bos_token_id: 256,
  eos_token_id: 256,
  scale_attn_weights: true,
};

export const innerDim = (c: GPT2Config): number => c.n_inner ?? 4 * c.n_embd;
export const headDim = (c: GPT2Config): number => c.n_embd / c.n_head;

/**
 * Parameter names of `GPT2Model` (no `transformer.` prefix), with shapes in HF layout.
 * Conv1D weights are [in, out]. The LM head is tied to `wte.weight` and has no entry.
 */
export function parameterShapes(c: GPT2Config): Map<string, readonly number[]> {
  const C = c.n_embd;
  const F = innerDim(c);
  const shapes = new Map<string, readonly number[]>([
    ['wte.weight', [c.vocab_size, C]],
    ['wpe.weight', [c.n_positions, C]],
  ]);
  for (let i = 0; i < c.n_layer; i++) {
    const p = `h.${i}.`;
    shapes.set(`${p}ln_1.weight`, [C]).set(`${p}ln_1.bias`, [C]);
    shapes.set(`${p}attn.c_attn.weight`, [C, 3 * C]).set(`${p}attn.c_attn.bias`, [3 * C]);
    shapes.set(`${p}attn.c_proj.weight`, [C, C]).set(`${p}attn.c_proj.bias`, [C]);
    shapes.set(`${p}ln_2.weight`, [C]).set(`${p}ln_2.bias`, [C]);
    shapes.set(`${p}mlp.c_fc.weight`, [C, F]).set(`${p}mlp.c_fc.bias`, [F]);
    shapes.set(`${p}mlp.c_proj.weight`, [F, C]).set(`${p}mlp.c_proj.bias`, [C]);
  }
  shapes.set('ln_f.weight', [C]).set('ln_f.bias', [C]);
  return shapes;
}
