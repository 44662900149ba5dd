/**
 * config.json for a Llama-family folder the workbench saves: the source folder's fields as read
 * (so whatever else transformers wrote there — torch_dtype, rope_parameters, initializer_range —
 * stays), the class of the head kind (XForCausalLM, or XForSequenceClassification with one label
 * and a pad id, which it needs to find each row's last real token), and the fields our config
 * carries. Without a source, every field of LlamaConfig under transformers' names.
 */
import type { HeadKind } from './checkpoint';
import type { LlamaArchitecture, LlamaConfig } from './llamaConfig';

const CLASS_PREFIX: Record<LlamaArchitecture, string> = { llama: 'Llama', qwen2: 'Qwen2', qwen3: 'Qwen3' };

/** The transformers class a Llama-family model of `kind` saves as (a value head rides in the causal LM's folder, as TRL does). */
export const llamaClass = (c: LlamaConfig, kind: HeadKind): string => `${CLASS_PREFIX[c.architecture]}${kind === 'reward' ? 'ForSequenceClassification' : 'ForCausalLM'}`;

export function llamaHfConfig(c: LlamaConfig, kind: HeadKind, source: Readonly<Record<string, unknown>> | undefined, pad: number | null): Record<string, unknown> {
  const out: Record<string, unknown> = source
    ? { ...source }
    : {
        model_type: c.architecture,
        vocab_size: c.vocab_size,
        hidden_size: c.hidden_size,
        intermediate_size: c.intermediate_size,
        num_hidden_layers: c.num_hidden_layers,
        num_attention_heads: c.num_attention_heads,
        num_key_value_heads: c.num_key_value_heads,
        head_dim: c.head_dim,
        max_position_embeddings: c.max_position_embeddings,
        rms_norm_eps: c.rms_norm_eps,
        rope_theta: c.rope_theta,
        rope_scaling: c.rope_scaling,
        attention_bias: c.attention_bias,
        ...(c.architecture === 'llama' ? { mlp_bias: c.mlp_bias } : {}),
        hidden_act: c.hidden_act,
        bos_token_id: c.bos_token_id,
        eos_token_id: c.eos_token_id,
        pad_token_id: c.pad_token_id,
        torch_dtype: 'float32',
        use_cache: true,
      };
  out.architectures = [llamaClass(c, kind)];
  // A reward model has no LM head, so it is read as tied (checkpoint.ts's configForKind); the source's value stays.
  if (!(kind === 'reward' && source && 'tie_word_embeddings' in source)) out.tie_word_embeddings = c.tie_word_embeddings;
  if (kind === 'reward') {
    Object.assign(out, { num_labels: 1, id2label: { '0': 'LABEL_0' }, label2id: { LABEL_0: 0 } });
    if (out.pad_token_id === undefined || out.pad_token_id === null) out.pad_token_id = pad;
  }
  return out;
}
