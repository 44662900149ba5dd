/**
 * Checkpoints are Hugging Face folders: config.json, model.safetensors, tokenizer.json,
 * generation_config.json. We load any GPT-2-architecture folder transformers saved (with or
 * without the `transformer.` prefix, tied `lm_head.weight`, old `attn.bias` buffers) and write
 * folders that GPT2LMHeadModel / GPT2ForSequenceClassification load as is.
 */
import { errorMessage } from '../../protocol/guards';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GPT2Config } from './config';
import { parameterShapes } from './config';
import { parseModelConfig } from './architecture';
import type { LlamaConfig } from './llamaConfig';
import { llamaHfConfig } from './llamaHfConfig';
import type { ModelConfig } from './modelConfig';
import { isLlama, modelParameterShapes, modelWidth } from './modelConfig';
import type { NamedTensor } from './safetensors';
import { readSafetensors, serializeSafetensors } from './safetensors';
import { writeFileAtomic } from '../store/fsx';
import type { WeightsLayout } from './shards';
import { readModelWeights, storedDtype, writeModelWeights } from './shards';
import type { Tokenizer, TokenizerJson } from '../tokenizer/tokenizer';
import { loadTokenizer } from '../tokenizer/tokenizer';
import { UserError } from '../errors';
import { ARCHITECTURE, generationConfig, hfConfig, parseConfig, tokenizerConfig } from './hfConfig';

/** What sits on top of the transformer: the tied LM head, a scalar reward head, or LM + value head. */
export type HeadKind = 'lm' | 'reward' | 'value';

/**
 * Weights keyed by GPT2Model names (`wte.weight`, `h.0.attn.c_attn.weight`, …, HF layouts),
 * plus the head: `score.weight` [1, C] (reward) or `v_head.summary.weight` [1, C] and
 * `v_head.summary.bias` [1] (value, as TRL names them).
 */
export type Weights = Map<string, NamedTensor>;

export interface Checkpoint {
  readonly dir: string;
  readonly config: ModelConfig;
  readonly kind: HeadKind;
  readonly weights: Weights;
  readonly tokenizer: Tokenizer;
  /** How the folder stored its weights (files, dtypes, stored names), to save them back the same way. */
  readonly layout?: WeightsLayout;
  /** A Llama-family folder's config.json and generation_config.json as read, to write back with their own fields. */
  readonly source?: SourceConfigs;
}

/** The configs of the folder a model came from, as read. */
export interface SourceConfigs {
  readonly config: Readonly<Record<string, unknown>>;
  readonly generation?: Readonly<Record<string, unknown>>;
}

export interface SaveOptions {
  readonly config: ModelConfig;
  readonly kind: HeadKind;
  readonly weights: ReadonlyMap<string, NamedTensor>;
  /** A loaded tokenizer or a tokenizer.json object to write beside the weights. */
  readonly tokenizer: Tokenizer | TokenizerJson;
  /** Save the weights as a loaded checkpoint stored them (its `layout`); default: one F32 model.safetensors. */
  readonly layout?: WeightsLayout;
  /** Llama family: the source folder's configs, written back with the architecture's fields as read. */
  readonly source?: SourceConfigs;
}

/** Head tensors per kind, with their shapes given the width C. */
export function headShapes(kind: HeadKind, C: number): Map<string, readonly number[]> {
  if (kind === 'reward') return new Map([['score.weight', [1, C]]]);
  if (kind === 'value')
    return new Map<string, readonly number[]>([
      ['v_head.summary.weight', [1, C]],
      ['v_head.summary.bias', [1]],
    ]);
  return new Map();
}

/** Tensors transformers keeps in older checkpoints that are buffers, not parameters. */
const IGNORED = /(^|\.)attn\.(bias|masked_bias)$/;

/** A model folder's config.json alone (no weights read). */
export function loadModelConfig(dir: string): ModelConfig {
  const configFile = path.join(dir, 'config.json');
  return parseModelConfig(readJson(configFile), configFile).config;
}

/**
 * A Llama-family model as `kind` reads it: a reward model (XForSequenceClassification) has no LM
 * head, so an untied config is read as tied (no `lm_head.weight` to load, train or save).
 */
export function configForKind(config: ModelConfig, kind: HeadKind): ModelConfig {
  return isLlama(config) && kind === 'reward' && !config.tie_word_embeddings ? { ...config, tie_word_embeddings: true } : config;
}

export function loadCheckpoint(dir: string): Checkpoint {
  const configFile = path.join(dir, 'config.json');
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new UserError(`${dir}: no such model folder. Point --model at a folder with config.json, model.safetensors and tokenizer.json.`);
  }
  const raw = readJson(configFile);
  const family = parseModelConfig(raw, configFile);
  if (family.family === 'llama') return loadLlamaCheckpoint(dir, raw, family.config, family.head);
  const config = parseConfig(raw, configFile);
  const archs = Array.isArray(raw.architectures) ? (raw.architectures as unknown[]) : [];
  const stored = readModelWeights(dir);
  const { file } = stored;
  const tensors = stripPrefix(stored.weights);
  const kind: HeadKind = archs.includes('GPT2ForSequenceClassification') ? 'reward' : tensors.has('v_head.summary.weight') ? 'value' : 'lm';

  const expected = parameterShapes(config);
  for (const [name, shape] of headShapes(kind, config.n_embd)) expected.set(name, shape);
  const weights: Weights = new Map();
  for (const [name, shape] of expected) {
    const t = tensors.get(name);
    if (!t)
      throw new UserError(`${file}: tensor '${name}' is missing (config.json describes ${config.n_layer} layers of width ${config.n_embd}). Is this a GPT-2 checkpoint that matches its config.json?`);
    if (!sameShape(t.shape, shape)) throw new UserError(`${file}: tensor '${name}' has shape [${t.shape.join(', ')}] but config.json implies [${shape.join(', ')}].`);
    weights.set(name, t);
  }
  for (const [name, t] of tensors) {
    if (expected.has(name) || IGNORED.test(name)) continue;
    if (name === 'lm_head.weight' && kind !== 'reward') {
      if (!sameValues(t.data, weights.get('wte.weight')?.data)) throw new UserError(`${file}: 'lm_head.weight' differs from 'wte.weight'; only GPT-2's tied LM head is supported.`);
      continue;
    }
    throw new UserError(`${file}: unexpected tensor '${name}' for a GPT-2 ${ARCHITECTURE[kind]}. Remove it or check the architecture in config.json.`);
  }
  const tokenizer = loadTokenizer(path.join(dir, 'tokenizer.json'));
  if (tokenizer.vocabSize > config.vocab_size) {
    throw new UserError(`${tokenizer.name}: the tokenizer has ${tokenizer.vocabSize} tokens but config.json's vocab_size is ${config.vocab_size}.`);
  }
  return { dir, config, kind, weights, tokenizer, layout: stored.layout };
}

/** Tensors transformers keeps in older Llama checkpoints that are buffers, not parameters. */
const LLAMA_IGNORED = /(^|\.)rotary_emb\.inv_freq$/;

/** A Llama-family folder (LlamaForCausalLM, Qwen2/Qwen3, their sequence classifiers): tensors under their own names. */
function loadLlamaCheckpoint(dir: string, raw: Record<string, unknown>, read: LlamaConfig, head: 'lm' | 'reward'): Checkpoint {
  const stored = readModelWeights(dir);
  const { file } = stored;
  const tensors = stored.weights;
  const kind: HeadKind = head === 'reward' ? 'reward' : tensors.has('v_head.summary.weight') ? 'value' : 'lm';
  const config = configForKind(read, kind) as LlamaConfig;
  const expected = modelParameterShapes(config);
  for (const [name, shape] of headShapes(kind, config.hidden_size)) expected.set(name, shape);
  const weights: Weights = new Map();
  for (const [name, shape] of expected) {
    const t = tensors.get(name);
    if (!t) {
      throw new UserError(
        `${file}: tensor '${name}' is missing (config.json describes a ${config.architecture} model of ${config.num_hidden_layers} layers, width ${config.hidden_size}). Does the folder match its config.json?`,
      );
    }
    if (!sameShape(t.shape, shape)) throw new UserError(`${file}: tensor '${name}' has shape [${t.shape.join(', ')}] but config.json implies [${shape.join(', ')}].`);
    weights.set(name, t);
  }
  for (const [name, t] of tensors) {
    if (expected.has(name) || LLAMA_IGNORED.test(name)) continue;
    // A tied head some savers store anyway; a classifier's folder may keep its base's LM head.
    if (name === 'lm_head.weight' && (kind === 'reward' || sameValues(t.data, weights.get('model.embed_tokens.weight')?.data))) continue;
    throw new UserError(`${file}: unexpected tensor '${name}' for a ${config.architecture} model (${kind}). Remove it or check the architecture in config.json.`);
  }
  const tokenizer = loadTokenizer(path.join(dir, 'tokenizer.json'));
  if (tokenizer.vocabSize > config.vocab_size) {
    throw new UserError(`${tokenizer.name}: the tokenizer has ${tokenizer.vocabSize} tokens but config.json's vocab_size is ${config.vocab_size}.`);
  }
  // Training state: a mid-run checkpoint of a model stored below F32 keeps its exact F32 weights beside it.
  const masterFile = path.join(dir, MASTER_WEIGHTS_FILE);
  if (fs.existsSync(masterFile)) {
    for (const [name, t] of readSafetensors(masterFile).tensors) {
      const stored = weights.get(name);
      if (!stored || !sameShape(stored.shape, t.shape)) throw new UserError(`${masterFile}: tensor '${name}' does not match the model's weights (shape [${t.shape.join(', ')}]).`);
      weights.set(name, t);
    }
  }
  const generationFile = path.join(dir, 'generation_config.json');
  const generation = fs.existsSync(generationFile) ? readJson(generationFile) : undefined;
  return { dir, config, kind, weights, tokenizer, layout: stored.layout, source: { config: raw, ...(generation ? { generation } : {}) } };
}

/**
 * Beside a mid-run checkpoint (the one with optimizer state), the F32 values of the weights the
 * folder stores at lower precision (a BF16 or F16 source keeps its dtype in the HF weights), so a
 * resume continues from exactly the trained values; loadCheckpoint prefers them. Final
 * checkpoints have none: they are what the source was, in its dtype.
 */
export const MASTER_WEIGHTS_FILE = 'master_weights.safetensors';

export function writeMasterWeights(dir: string, weights: ReadonlyMap<string, NamedTensor>, layout: WeightsLayout | undefined): void {
  if (!layout) return;
  // New tensors (a fresh value or score head) are written as the model's dtype, so they count too.
  const below = new Map([...weights].filter(([name]) => storedDtype(layout, name) !== 'F32'));
  if (below.size === 0) return;
  writeFileAtomic(path.join(dir, MASTER_WEIGHTS_FILE), serializeSafetensors(below, { format: 'rlhf-workbench-master-weights' }));
}

/** Write a checkpoint folder atomically: built in a sibling temp folder, then swapped in. */
export function saveCheckpoint(dir: string, opts: SaveOptions): void {
  if (isLlama(opts.config)) return saveLlamaCheckpoint(dir, { ...opts, config: opts.config });
  const config: GPT2Config = opts.config;
  const { kind } = opts;
  const expected = parameterShapes(config);
  for (const [name, shape] of headShapes(kind, config.n_embd)) expected.set(name, shape);
  const ordered = new Map<string, NamedTensor>();
  for (const [name, shape] of expected) {
    const t = opts.weights.get(name);
    if (!t) throw new Error(`saveCheckpoint: weight '${name}' is missing for a '${kind}' checkpoint`);
    if (!sameShape(t.shape, shape)) throw new Error(`saveCheckpoint: weight '${name}' has shape [${t.shape}] but the config implies [${shape}]`);
    // transformers' names: GPT2Model parameters live under `transformer.`; heads at the top. A
    // loaded folder's own names win (the Hub's gpt2 stores `h.0.…` without the prefix).
    const prefixed = name.startsWith('score.') || name.startsWith('v_head.') ? name : `transformer.${name}`;
    ordered.set(opts.layout?.tensors.has(name) && !opts.layout.tensors.has(prefixed) ? name : prefixed, t);
  }
  // A folder that stored the tied head keeps it (transformers drops it on its own saves).
  const wte = ordered.get('transformer.wte.weight') ?? ordered.get('wte.weight');
  if (kind !== 'reward' && wte && opts.layout?.tensors.has('lm_head.weight')) ordered.set('lm_head.weight', wte);
  const tokenizerJson = isTokenizer(opts.tokenizer) ? opts.tokenizer.json : opts.tokenizer;
  const files: [string, FileContent][] = [
    ['config.json', json(hfConfig(config, kind))],
    ['generation_config.json', json(generationConfig(config))],
    ['tokenizer.json', json(tokenizerJson)],
    ['tokenizer_config.json', json(tokenizerConfig(config, tokenizerJson))],
  ];
  writeModelWeights(files, ordered, opts.layout);
  writeFolderAtomically(dir, files);
}

/**
 * A Llama-family folder transformers loads: config.json with the source's fields and the class of
 * `kind`, the weights under their own names in the source's layout (dtype, shards) when there is
 * one, generation_config.json as read, tokenizer_config.json as the tokenizer read it (its chat
 * template kept).
 */
function saveLlamaCheckpoint(dir: string, opts: SaveOptions & { readonly config: LlamaConfig }): void {
  const { kind } = opts;
  const config = configForKind(opts.config, kind) as LlamaConfig;
  const expected = modelParameterShapes(config);
  for (const [name, shape] of headShapes(kind, modelWidth(config))) expected.set(name, shape);
  const ordered = new Map<string, NamedTensor>();
  for (const [name, shape] of expected) {
    const t = opts.weights.get(name);
    if (!t) throw new Error(`saveCheckpoint: weight '${name}' is missing for a '${kind}' ${config.architecture} checkpoint`);
    if (!sameShape(t.shape, shape)) throw new Error(`saveCheckpoint: weight '${name}' has shape [${t.shape}] but the config implies [${shape}]`);
    ordered.set(name, t);
  }
  const tokenizer = isTokenizer(opts.tokenizer) ? opts.tokenizer : undefined;
  const tokenizerJson = tokenizer ? tokenizer.json : (opts.tokenizer as TokenizerJson);
  const pad = config.pad_token_id ?? tokenizer?.padTokenId ?? tokenizer?.eosTokenId ?? null;
  const generation = opts.source?.generation ?? { bos_token_id: config.bos_token_id, eos_token_id: config.eos_token_id };
  const files: [string, FileContent][] = [
    ['config.json', json(llamaHfConfig(config, kind, opts.source?.config, pad))],
    ['generation_config.json', json(generation)],
    ['tokenizer.json', json(tokenizerJson)],
  ];
  if (tokenizer?.config) files.push(['tokenizer_config.json', json(tokenizer.config)]);
  writeModelWeights(files, ordered, opts.layout);
  writeFolderAtomically(dir, files);
}

/**
 * A file's content, or a function that makes it when it is written: whole, or as chunks (a
 * safetensors shard tensor by tensor), so a big file is never in memory whole, nor two at once.
 */
export type FileContent = string | Uint8Array | (() => string | Uint8Array | Iterable<Uint8Array>);

/**
 * Build the whole folder beside `dir`, fsync each file, then rename over the old one. A crash
 * leaves either the old folder or the new one under `dir` (or, between the two renames, both
 * complete beside it as `.<name>.tmp-*`), never a half-written checkpoint.
 */
export function writeFolderAtomically(dir: string, files: readonly [string, FileContent][]): void {
  const parent = path.dirname(path.resolve(dir));
  fs.mkdirSync(parent, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(parent, `.${path.basename(dir)}.tmp-`));
  try {
    for (const [name, file] of files) {
      const content = typeof file === 'function' ? file() : file;
      const chunks = typeof content === 'string' ? [Buffer.from(content, 'utf8')] : content instanceof Uint8Array ? [content] : content;
      const fd = fs.openSync(path.join(tmp, name), 'w');
      try {
        for (const bytes of chunks) {
          for (let done = 0; done < bytes.byteLength;) done += fs.writeSync(fd, bytes, done, bytes.byteLength - done);
        }
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
    const old = fs.existsSync(dir) ? `${tmp}.old` : undefined;
    if (old) fs.renameSync(dir, old);
    fs.renameSync(tmp, dir);
    syncDir(parent);
    if (old) fs.rmSync(old, { recursive: true, force: true });
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Make the renames durable (Linux/macOS; Windows cannot open folders, and needs no fsync there). */
function syncDir(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new UserError(`${file}: missing. A model folder needs config.json, model.safetensors and tokenizer.json.`);
  }
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new UserError(`${file}: not valid JSON (${errorMessage(err)}).`);
  }
}

function stripPrefix(tensors: Map<string, NamedTensor>): Map<string, NamedTensor> {
  const out = new Map<string, NamedTensor>();
  for (const [name, t] of tensors) out.set(name.startsWith('transformer.') ? name.slice('transformer.'.length) : name, t);
  return out;
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

function sameValues(a: Float32Array, b: Float32Array | undefined): boolean {
  if (!b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export const json = (v: unknown): string => JSON.stringify(v, null, 2) + '\n';

const isTokenizer = (t: Tokenizer | TokenizerJson): t is Tokenizer => typeof (t as Tokenizer).encode === 'function';
