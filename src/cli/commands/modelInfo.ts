import type { CliCommand } from '../command';
import { UsageError } from '../command';
import { loadCheckpoint } from '../../core/model/checkpoint';
import { eosIds, isLlama } from '../../core/model/modelConfig';
import { llamaClass } from '../../core/model/llamaHfConfig';

export const modelInfoCommand: CliCommand = {
  name: ['model', 'info'],
  summary: 'Describe a model folder: config, head, parameter count, tokenizer.',
  usage: 'DIR [--json]',
  help: '  DIR      a Hugging Face model folder (GPT-2, Llama, Qwen2/2.5, Qwen3: config.json, safetensors weights, tokenizer.json)\n  --json   print the description as one JSON object',
  options: { json: { type: 'boolean' } },
  positionals: true,
  async run(flags, positionals, io) {
    if (positionals.length !== 1) throw new UsageError('give exactly one model folder.');
    const ckpt = loadCheckpoint(positionals[0] as string);
    let parameters = 0;
    for (const t of ckpt.weights.values()) parameters += t.data.length;
    const info = {
      dir: ckpt.dir,
      kind: ckpt.kind,
      parameters,
      config: ckpt.config,
      tokenizer: { file: ckpt.tokenizer.name, vocabSize: ckpt.tokenizer.vocabSize, eosTokenId: ckpt.tokenizer.eosTokenId },
    };
    if (flags.json) {
      io.out(JSON.stringify(info, null, 2));
      return 0;
    }
    const c = ckpt.config;
    const head = isLlama(c)
      ? { lm: `language model (${llamaClass(c, 'lm')})`, reward: `reward model (${llamaClass(c, 'reward')}, 1 label)`, value: 'language model + value head' }[ckpt.kind]
      : { lm: 'language model (GPT2LMHeadModel)', reward: 'reward model (GPT2ForSequenceClassification, 1 label)', value: 'language model + value head' }[ckpt.kind];
    const shape = isLlama(c)
      ? `${c.num_hidden_layers} layers, width ${c.hidden_size}, ${c.num_attention_heads} heads (${c.num_key_value_heads} key/value) of ${c.head_dim}, MLP ${c.intermediate_size}, context ${c.max_position_embeddings}`
      : `${c.n_layer} layers, width ${c.n_embd}, ${c.n_head} heads, MLP ${c.n_inner ?? 4 * c.n_embd}, context ${c.n_positions}`;
    io.out(
      [
        `model:       ${ckpt.dir}`,
        `head:        ${head}`,
        `parameters:  ${parameters.toLocaleString('en-US')}`,
        `shape:       ${shape}`,
        `vocabulary:  ${c.vocab_size} (bos ${c.bos_token_id}, eos ${eosIds(c).join(', ') || 'none'})`,
        `tokenizer:   ${ckpt.tokenizer.name} (${ckpt.tokenizer.vocabSize} tokens, end-of-text ${ckpt.tokenizer.eosTokenId ?? 'none'})`,
      ].join('\n'),
    );
    return 0;
  },
};
