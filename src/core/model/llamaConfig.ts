/**
 * The Llama family's configuration — LlamaForCausalLM (Llama 3.x, SmolLM2), Qwen2ForCausalLM
 * (Qwen2, Qwen2.5) and Qwen3ForCausalLM — with the fields and names of transformers' LlamaConfig,
 * Qwen2Config and Qwen3Config, so a config.json from the Hub reads as is. One architecture:
 * RMSNorm, rotary position embeddings, grouped-query attention, a SwiGLU MLP; the three differ in
 * where the attention has biases and in Qwen3's per-head q/k RMSNorm.
 *
 * Parameter names are the checkpoints' own (`model.layers.0.self_attn.q_proj.weight`, …), every
 * projection in torch.nn.Linear's [out, in] layout.
 */
import { UserError } from '../errors';

export type LlamaArchitecture = 'llama' | 'qwen2' | 'qwen3';

/** How rotary frequencies are rescaled for long contexts (transformers' `rope_scaling`); null: unscaled. */
export type RopeScaling =
  | {
      /** Llama 3.1's: low frequencies divided by `factor`, high ones kept, a smooth blend between. */
      readonly rope_type: 'llama3';
      readonly factor: number;
      readonly low_freq_factor: number;
      readonly high_freq_factor: number;
      readonly original_max_position_embeddings: number;
    }
  | {
      /** Position interpolation: every frequency divided by `factor`. */
      readonly rope_type: 'linear';
      readonly factor: number;
    };

export interface LlamaConfig {
  /** Which of the three (from `architectures`, else `model_type`): decides the attention biases and the q/k norms. */
  readonly architecture: LlamaArchitecture;
  readonly vocab_size: number;
  /** Width of the residual stream. */
  readonly hidden_size: number;
  /** The MLP's inner width (gate_proj, up_proj). */
  readonly intermediate_size: number;
  readonly num_hidden_layers: number;
  /** Query heads. */
  readonly num_attention_heads: number;
  /** Key/value heads (grouped-query attention); divides num_attention_heads. */
  readonly num_key_value_heads: number;
  /** Width of one head; Qwen3 sets it explicitly (it need not equal hidden_size / num_attention_heads). */
  readonly head_dim: number;
  /** The longest context the model was trained for (the sampler's bound). */
  readonly max_position_embeddings: number;
  readonly rms_norm_eps: number;
  /** RoPE base. */
  readonly rope_theta: number;
  readonly rope_scaling: RopeScaling | null;
  /** Llama, Qwen3: biases on q, k, v and o. Qwen2 always has q/k/v biases and none on o (this reads true). */
  readonly attention_bias: boolean;
  /** Biases on gate/up/down (Llama only). */
  readonly mlp_bias: boolean;
  /** The LM head is the token embedding (no `lm_head.weight`). */
  readonly tie_word_embeddings: boolean;
  readonly hidden_act: 'silu';
  readonly bos_token_id: number | null;
  /** One id or several (Llama 3 Instruct stops at any of three). */
  readonly eos_token_id: number | readonly number[] | null;
  readonly pad_token_id: number | null;
}

/** Which projections carry a bias. */
export function attentionBiases(c: LlamaConfig): { readonly qkv: boolean; readonly o: boolean } {
  if (c.architecture === 'qwen2') return { qkv: true, o: false };
  return { qkv: c.attention_bias, o: c.attention_bias };
}

/** Parameter names of the model and the LM head (none when tied), HF layouts ([out, in] for linears). */
export function llamaParameterShapes(c: LlamaConfig): Map<string, readonly number[]> {
  const C = c.hidden_size;
  const D = c.head_dim;
  const Q = c.num_attention_heads * D;
  const KV = c.num_key_value_heads * D;
  const F = c.intermediate_size;
  const bias = attentionBiases(c);
  const shapes = new Map<string, readonly number[]>([['model.embed_tokens.weight', [c.vocab_size, C]]]);
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const l = `model.layers.${i}.`;
    shapes.set(`${l}input_layernorm.weight`, [C]);
    for (const [name, out] of [
      ['q', Q],
      ['k', KV],
      ['v', KV],
    ] as const) {
      shapes.set(`${l}self_attn.${name}_proj.weight`, [out, C]);
      if (bias.qkv) shapes.set(`${l}self_attn.${name}_proj.bias`, [out]);
    }
    shapes.set(`${l}self_attn.o_proj.weight`, [C, Q]);
    if (bias.o) shapes.set(`${l}self_attn.o_proj.bias`, [C]);
    if (c.architecture === 'qwen3') shapes.set(`${l}self_attn.q_norm.weight`, [D]).set(`${l}self_attn.k_norm.weight`, [D]);
    shapes.set(`${l}post_attention_layernorm.weight`, [C]);
    shapes.set(`${l}mlp.gate_proj.weight`, [F, C]).set(`${l}mlp.up_proj.weight`, [F, C]);
    if (c.mlp_bias) shapes.set(`${l}mlp.gate_proj.bias`, [F]).set(`${l}mlp.up_proj.bias`, [F]);
    shapes.set(`${l}mlp.down_proj.weight`, [C, F]);
    if (c.mlp_bias) shapes.set(`${l}mlp.down_proj.bias`, [C]);
  }
  shapes.set('model.norm.weight', [C]);
  if (!c.tie_word_embeddings) shapes.set('lm_head.weight', [c.vocab_size, C]);
  return shapes;
}

/** The LM head's weight: `lm_head.weight`, or the embedding when tied. */
export const llamaHeadName = (c: LlamaConfig): string => (c.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight');

/** The model_type each architecture writes. */
const MODEL_TYPES: Record<string, LlamaArchitecture> = { llama: 'llama', qwen2: 'qwen2', qwen3: 'qwen3' };
/** The transformers classes read as each architecture (their heads: causal LM, or a scalar score). */
export const LLAMA_CLASSES: Record<string, LlamaArchitecture> = {
  LlamaForCausalLM: 'llama',
  LlamaForSequenceClassification: 'llama',
  Qwen2ForCausalLM: 'qwen2',
  Qwen2ForSequenceClassification: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
  Qwen3ForSequenceClassification: 'qwen3',
};

/**
 * Validate config.json as a Llama-family config we can run, with transformers' defaults for absent
 * fields (those of LlamaConfig, Qwen2Config or Qwen3Config). transformers 5's `rope_parameters`
 * (which carries rope_theta) is read as well as 4.x's `rope_theta` + `rope_scaling`.
 */
export function parseLlamaConfig(raw: Record<string, unknown>, file: string): LlamaConfig {
  const bad = (what: string): never => {
    throw new UserError(`${file}: ${what}`);
  };
  const archs = Array.isArray(raw.architectures) ? raw.architectures.filter((a): a is string => typeof a === 'string') : [];
  const cls = archs.find((a) => a in LLAMA_CLASSES);
  const architecture = cls ? LLAMA_CLASSES[cls] : typeof raw.model_type === 'string' ? MODEL_TYPES[raw.model_type] : undefined;
  if (!architecture) {
    bad(`architecture ${JSON.stringify(archs[0] ?? raw.model_type)} is not a Llama-family model (${Object.keys(LLAMA_CLASSES).join(', ')}).`);
  }
  const arch = architecture as LlamaArchitecture;
  const int = (key: string, fallback: number | undefined, min = 1): number => {
    const v = raw[key] ?? fallback;
    if (v === undefined) bad(`${key} is missing.`);
    if (!Number.isSafeInteger(v) || (v as number) < min) bad(`${key} must be an integer ≥ ${min}, got ${JSON.stringify(v)}.`);
    return v as number;
  };
  const positive = (key: string, v: unknown): number => {
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) bad(`${key} must be a positive number, got ${JSON.stringify(v)}.`);
    return v as number;
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'boolean') bad(`${key} must be true or false, got ${JSON.stringify(v)}.`);
    return v as boolean;
  };
  const tokenId = (key: string): number | null => {
    const v = raw[key] ?? null;
    if (v !== null && (!Number.isSafeInteger(v) || (v as number) < 0)) bad(`${key} must be a token id or null, got ${JSON.stringify(v)}.`);
    return v as number | null;
  };

  const act = raw.hidden_act ?? 'silu';
  if (act !== 'silu') bad(`hidden_act ${JSON.stringify(act)} is not supported (only "silu", the SwiGLU MLP).`);
  if (raw.use_sliding_window === true) bad('use_sliding_window true (sliding-window attention) is not supported.');
  const qwenDefaults = arch !== 'llama';
  const hidden = int('hidden_size', 4096);
  const heads = int('num_attention_heads', 32);
  const kvHeads = int('num_key_value_heads', heads);
  if (heads % kvHeads !== 0) bad(`num_attention_heads (${heads}) must be a multiple of num_key_value_heads (${kvHeads}).`);
  // Qwen3Config's head_dim defaults to 128; LlamaConfig's and Qwen2's to hidden_size / heads.
  const explicitHead = raw.head_dim ?? (arch === 'qwen3' ? 128 : null);
  if (explicitHead === null && hidden % heads !== 0) bad(`hidden_size (${hidden}) must be divisible by num_attention_heads (${heads}) when head_dim is not given.`);
  const headDim = explicitHead === null ? hidden / heads : int('head_dim', 128);
  if (headDim % 2 !== 0) bad(`head_dim (${headDim}) must be even (rotary embeddings rotate pairs).`);

  // transformers 5 keeps rope_theta and the scaling together in rope_parameters.
  const ropeParams = raw.rope_parameters;
  const ropeSource = (ropeParams && typeof ropeParams === 'object' ? ropeParams : raw.rope_scaling) as Record<string, unknown> | null | undefined;
  const theta = positive('rope_theta', (ropeParams as Record<string, unknown> | undefined)?.rope_theta ?? raw.rope_theta ?? 10000);
  if (raw.partial_rotary_factor !== undefined && raw.partial_rotary_factor !== 1)
    bad(`partial_rotary_factor ${JSON.stringify(raw.partial_rotary_factor)} is not supported (rotary over the whole head only).`);
  let scaling: RopeScaling | null = null;
  if (ropeSource !== null && ropeSource !== undefined) {
    if (typeof ropeSource !== 'object') bad(`rope_scaling must be an object or null, got ${JSON.stringify(ropeSource)}.`);
    const type = ropeSource.rope_type ?? ropeSource.type ?? 'default';
    const num = (key: string): number => positive(`rope_scaling.${key}`, ropeSource[key]);
    if (type === 'llama3') {
      scaling = {
        rope_type: 'llama3',
        factor: num('factor'),
        low_freq_factor: num('low_freq_factor'),
        high_freq_factor: num('high_freq_factor'),
        original_max_position_embeddings: num('original_max_position_embeddings'),
      };
      if (scaling.high_freq_factor <= scaling.low_freq_factor) bad('rope_scaling.high_freq_factor must exceed low_freq_factor.');
    } else if (type === 'linear') {
      scaling = { rope_type: 'linear', factor: num('factor') };
    } else if (type !== 'default') {
      bad(`rope_scaling type ${JSON.stringify(type)} is not supported (supported: llama3, linear, or none).`);
    }
  }

  const eos = raw.eos_token_id ?? null;
  const ids = Array.isArray(eos) ? eos : [eos];
  if (eos !== null && (ids.length === 0 || ids.some((v) => !Number.isSafeInteger(v) || (v as number) < 0)))
    bad(`eos_token_id must be a token id, a list of them, or null, got ${JSON.stringify(eos)}.`);

  const config: LlamaConfig = {
    architecture: arch,
    vocab_size: int('vocab_size', qwenDefaults ? 151936 : 32000),
    hidden_size: hidden,
    intermediate_size: int('intermediate_size', arch === 'llama' ? 11008 : 22016),
    num_hidden_layers: int('num_hidden_layers', 32),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    max_position_embeddings: int('max_position_embeddings', arch === 'llama' ? 2048 : 32768),
    rms_norm_eps: positive('rms_norm_eps', raw.rms_norm_eps ?? 1e-6),
    rope_theta: theta,
    rope_scaling: scaling,
    attention_bias: arch === 'qwen2' ? true : flag('attention_bias', false),
    mlp_bias: arch === 'llama' ? flag('mlp_bias', false) : false,
    tie_word_embeddings: flag('tie_word_embeddings', false),
    hidden_act: 'silu',
    bos_token_id: tokenId('bos_token_id'),
    eos_token_id: Array.isArray(eos) ? (eos as number[]) : (eos as number | null),
    pad_token_id: tokenId('pad_token_id'),
  };
  for (const [key, id] of [['bos_token_id', config.bos_token_id], ['pad_token_id', config.pad_token_id], ...ids.map((v) => ['eos_token_id', v] as const)] as const) {
    if (typeof id === 'number' && id >= config.vocab_size) bad(`${key} ${id} is outside the vocabulary (vocab_size ${config.vocab_size}).`);
  }
  return config;
}
