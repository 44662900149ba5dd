import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CliCommand, FlagValues } from '../command';
import { UsageError, numberFlag, stringFlag } from '../command';
import type { Checkpoint } from '../../core/model/checkpoint';
import { loadCheckpoint } from '../../core/model/checkpoint';
import { UserError } from '../../core/errors';
import type { Completion, SamplingOptions } from '../../core/sample/types';
import { DEFAULT_SAMPLING } from '../../core/sample/types';
import { eosIds, gpt2Only } from '../../core/model/modelConfig';
import { promptInputText } from '../../core/tokenizer/chat';

export const sampleCommand: CliCommand = {
  name: ['sample'],
  summary: 'Generate completions from a model folder (onnxruntime with a KV cache, or tfjs).',
  usage: '--model DIR (--prompt TEXT … | --prompts FILE) [--n N] [--max-new-tokens M] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--stop TEXT …] [--sampler ort|tfjs] [--json]',
  help: [
    '  --model DIR          a model folder (GPT-2, Llama, Qwen2/2.5, Qwen3)',
    '  --prompt TEXT        a prompt; repeat the flag for several',
    '  --prompts FILE       prompts, one per line (blank lines skipped); a .jsonl file takes each line\'s "prompt" field',
    '  --n N                completions per prompt (default 1)',
    `  --max-new-tokens M   tokens to generate at most (default ${DEFAULT_SAMPLING.maxNewTokens})`,
    '  --temperature T      0 = greedy (default 1)',
    '  --top-k K            keep the K most likely tokens; 0 = off (default 0)',
    '  --top-p P            nucleus sampling; 1 = off (default 1)',
    '  --seed S             same seed, same completions (default 0)',
    '  --stop TEXT          stop a completion at this text (cut before it); repeatable',
    '  --sampler ort|tfjs   onnxruntime (CUDA when it loads, else CPU; default) or TensorFlow.js',
    '  --json               JSON Lines: one object per completion with prompt, completion, tokens,',
    '                       logprobs (natural log, per token), finish_reason, prompt_index, sample',
  ].join('\n'),
  options: {
    model: { type: 'string' },
    prompt: { type: 'string', multiple: true },
    prompts: { type: 'string' },
    n: { type: 'string' },
    'max-new-tokens': { type: 'string' },
    temperature: { type: 'string' },
    'top-k': { type: 'string' },
    'top-p': { type: 'string' },
    seed: { type: 'string' },
    stop: { type: 'string', multiple: true },
    sampler: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(flags, _positionals, io) {
    const modelDir = stringFlag(flags, 'model');
    if (!modelDir) throw new UsageError('--model DIR is required.');
    const sampler = stringFlag(flags, 'sampler') ?? 'ort';
    if (sampler !== 'ort' && sampler !== 'tfjs') throw new UsageError(`--sampler must be ort or tfjs, got '${sampler}'.`);
    const n = numberFlag(flags, 'n', { integer: true, min: 1, max: 1024 }) ?? 1;
    const texts = readPrompts(flags, io.cwd);
    const ckpt = loadCheckpoint(path.resolve(io.cwd, modelDir));
    if (ckpt.kind === 'reward') throw new UserError(`${ckpt.dir}: is a reward model; sample from a language model (policy) folder.`);
    const options: SamplingOptions = {
      temperature: numberFlag(flags, 'temperature', { min: 0 }) ?? DEFAULT_SAMPLING.temperature,
      topK: numberFlag(flags, 'top-k', { integer: true, min: 0 }) ?? DEFAULT_SAMPLING.topK,
      topP: numberFlag(flags, 'top-p', { min: Number.MIN_VALUE, max: 1 }) ?? DEFAULT_SAMPLING.topP,
      maxNewTokens: numberFlag(flags, 'max-new-tokens', { integer: true, min: 1 }) ?? DEFAULT_SAMPLING.maxNewTokens,
      eosTokenId: ckpt.tokenizer.eosTokenId ?? eosIds(ckpt.config)[0] ?? null,
      stopTokenIds: ckpt.tokenizer.stopTokenIds,
      stopStrings: (flags.stop as string[] | undefined) ?? [],
      seed: numberFlag(flags, 'seed', { integer: true }) ?? DEFAULT_SAMPLING.seed,
    };
    // n completions of a prompt are n rows of the batch; each row has its own seeded stream.
    const rows = texts.flatMap((text, p) => Array.from({ length: n }, (_, s) => ({ text, p, s })));
    const ids = rows.map((r) => ckpt.tokenizer.encode(promptInputText({ text: r.text }, ckpt.tokenizer)));
    const decode = (t: readonly number[]): string => ckpt.tokenizer.decode(t);
    const completions = sampler === 'ort' ? await sampleOrt(ckpt, ids, options, decode, io.signal) : await sampleWithTfjs(ckpt, ids, options, decode, io.signal);
    completions.forEach((c, i) => {
      const row = rows[i] as { text: string; p: number; s: number };
      if (flags.json) {
        io.out(JSON.stringify({ prompt: row.text, completion: c.text, tokens: c.tokens, logprobs: c.logprobs, finish_reason: c.finishReason, prompt_index: row.p, sample: row.s }));
      } else {
        io.out(`── prompt ${row.p + 1}${n > 1 ? `, sample ${row.s + 1}` : ''} (${c.tokens.length} tokens, ${c.finishReason})\n${row.text}${c.text}`);
      }
    });
    return 0;
  },
};

async function sampleOrt(ckpt: Checkpoint, ids: number[][], options: SamplingOptions, decode: (t: readonly number[]) => string, signal: AbortSignal): Promise<Completion[]> {
  const { OrtSampler } = await import('../../core/sample/ortSampler');
  const sampler = await OrtSampler.create({ config: ckpt.config, weights: ckpt.weights });
  try {
    return await sampler.sample(ids, options, decode, signal);
  } finally {
    await sampler.dispose();
  }
}

async function sampleWithTfjs(ckpt: Checkpoint, ids: number[][], options: SamplingOptions, decode: (t: readonly number[]) => string, signal: AbortSignal): Promise<Completion[]> {
  const { initCompute } = await import('../../core/compute/backend');
  const { sampleTfjs } = await import('../../core/sample/tfjsSampler');
  const { weightsToParams } = await import('../../core/model/gpt2');
  const { tf } = await initCompute('auto');
  const params = weightsToParams(ckpt.weights);
  try {
    return await sampleTfjs({ params, config: gpt2Only(ckpt.config, 'The tfjs sampler') }, ids, options, decode, signal);
  } finally {
    tf.dispose(Object.values(params));
  }
}

function readPrompts(flags: FlagValues, cwd: string): string[] {
  const inline = (flags.prompt as string[] | undefined) ?? [];
  const file = stringFlag(flags, 'prompts');
  if (inline.length === 0 && !file) throw new UsageError('give --prompt TEXT or --prompts FILE.');
  const out = [...inline];
  if (file) {
    const full = path.resolve(cwd, file);
    let text: string;
    try {
      text = fs.readFileSync(full, 'utf8');
    } catch {
      throw new UserError(`${full}: cannot read the prompts file.`);
    }
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      if (!full.endsWith('.jsonl')) return void out.push(line.replace(/\r$/, ''));
      let prompt: unknown;
      try {
        prompt = (JSON.parse(line) as { prompt?: unknown }).prompt;
      } catch {
        throw new UserError(`${full}:${i + 1}: not valid JSON.`);
      }
      if (typeof prompt !== 'string') throw new UserError(`${full}:${i + 1}: no "prompt" string field.`);
      out.push(prompt);
    });
    if (out.length === inline.length) throw new UserError(`${full}: holds no prompts.`);
  }
  return out;
}
