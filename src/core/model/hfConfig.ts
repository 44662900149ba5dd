/**
 * config.json and friends: reading transformers' GPT2Config into ours (with HF's defaults for
 * absent fields, refusing variants we cannot run) and writing the fields transformers expects
 * for GPT2LMHeadModel / GPT2ForSequenceClassification folders.
 */
import type { HeadKind } from './checkpoint';
import type { GPT2Config } from './config';
import type { TokenizerJson } from '../tokenizer/tokenizer';
import { UserError } from '../errors';

/** The transformers class each kind saves as (a value head rides along in a GPT2LMHeadModel folder, as TRL does). */
export const ARCHITECTURE: Record<HeadKind, string> = { lm: 'GPT2LMHeadModel', reward: 'GPT2ForSequenceClassification', value: 'GPT2LMHeadModel' };

/** config.json fields as transformers' GPT2Config writes them. */
export function hfConfig(c: GPT2Config, kind: HeadKind): Record<string, unknown> {
  const base: Record<string, unknown> = {
    architectures: [ARCHITECTURE[kind]],
    model_type: 'gpt2',
    ...c,
    n_ctx: c.n_positions,
    attn_pdrop: 0.1,
    embd_pdrop: 0.1,
    resid_pdrop: 0.1,
    initializer_range: 0.02,
    scale_attn_by_inverse_layer_idx: false,
    reorder_and_upcast_attn: false,
    summary_activation: null,
    summary_first_dropout: 0.1,
    summary_proj_to_labels: true,
    summary_type: 'cls_index',
    summary_use_proj: true,
    torch_dtype: 'float32',
    use_cache: true,
  };
  // GPT2ForSequenceClassification scores the last non-pad token, so it needs a pad id.
  if (kind === 'reward') Object.assign(base, { id2label: { '0': 'LABEL_0' }, label2id: { LABEL_0: 0 }, pad_token_id: c.eos_token_id });
  return base;
}

export function tokenizerConfig(c: GPT2Config, tok: TokenizerJson): Record<string, unknown> {
  const eos = tok.added_tokens?.find((t) => t.id === c.eos_token_id)?.content ?? '<|endoftext|>';
  return { tokenizer_class: 'GPT2Tokenizer', bos_token: eos, eos_token: eos, unk_token: eos, model_max_length: c.n_positions, add_prefix_space: false };
}

/** Validate config.json as a GPT-2 config we can run; fills HF's defaults for absent fields. */
export function parseConfig(raw: Record<string, unknown>, file: string): GPT2Config {
  const bad = (what: string): never => {
    throw new UserError(`${file}: ${what}`);
  };
  if (raw.model_type !== 'gpt2') bad(`model_type is ${JSON.stringify(raw.model_type)}, but only GPT-2-architecture models ("gpt2") are supported.`);
  const activation = raw.activation_function ?? 'gelu_new';
  // gelu_pytorch_tanh is the same tanh approximation under another name.
  if (activation !== 'gelu_new' && activation !== 'gelu_pytorch_tanh') bad(`activation_function ${JSON.stringify(activation)} is not supported (only gelu_new).`);
  if (raw.scale_attn_by_inverse_layer_idx === true || raw.add_cross_attention === true) bad('scale_attn_by_inverse_layer_idx / add_cross_attention are not supported.');
  if (raw.scale_attn_weights === false) bad('scale_attn_weights false is not supported (GPT-2 scales attention by 1/sqrt(head_dim)).');
  const int = (key: string, fallback: number, min = 1): number => {
    const v = raw[key] ?? fallback;
    if (!Number.isSafeInteger(v) || (v as number) < min) bad(`${key} must be an integer ≥ ${min}, got ${JSON.stringify(v)}.`);
    return v as number;
  };
  const n_embd = int('n_embd', 768);
  const n_head = int('n_head', 12);
  if (n_embd % n_head !== 0) bad(`n_embd (${n_embd}) must be divisible by n_head (${n_head}).`);
  const inner = raw.n_inner ?? null;
  if (inner !== null && (!Number.isSafeInteger(inner) || (inner as number) < 1)) bad(`n_inner must be null or a positive integer, got ${JSON.stringify(inner)}.`);
  const eps = raw.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0)) bad(`layer_norm_epsilon must be a positive number, got ${JSON.stringify(eps)}.`);
  return {
    vocab_size: int('vocab_size', 50257),
    n_positions: int('n_positions', 1024),
    n_embd,
    n_layer: int('n_layer', 12),
    n_head,
    n_inner: inner as number | null,
    layer_norm_epsilon: eps as number,
    activation_function: 'gelu_new',
    bos_token_id: int('bos_token_id', 50256, 0),
    eos_token_id: int('eos_token_id', 50256, 0),
    scale_attn_weights: true,
  };
}

/** generation_config.json as transformers derives it from the model config. */
export function generationConfig(c: GPT2Config): Record<string, unknown> {
  return { _from_model_config: true, bos_token_id: c.bos_token_id, eos_token_id: c.eos_token_id };
}
