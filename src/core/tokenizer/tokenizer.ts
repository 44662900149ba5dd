/**
 * The one tokenizer interface the project uses: any Hugging Face tokenizer.json, loaded through
 * @huggingface/tokenizers (pure JS, offline). The tiny default model's byte-level tokenizer is
 * itself a tokenizer.json (see byteLevel.ts), so every model folder looks the same.
 */
import { errorMessage } from '../../protocol/guards';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { UserError } from '../errors';
import { bpeTokenizerJson } from './byteLevel';

export interface Tokenizer {
  /** Where it came from (a file path or a built-in name), for reports. */
  readonly name: string;
  /** Rows the embedding needs: the largest id (added tokens included) + 1. */
  readonly vocabSize: number;
  /** The end-of-text token, or null when the tokenizer has none. */
  readonly eosTokenId: number | null;
  /** Text → ids, without added special tokens (GPT-2 adds none anyway). */
  encode(text: string): number[];
  /** Ids → text; special tokens are kept so that decode(encode(x)) === x. */
  decode(ids: readonly number[]): string;
  /** The tokenizer.json this was built from, to copy into checkpoints and exports. */
  readonly json: TokenizerJson;
}

/** A parsed tokenizer.json; only the parts we read are typed. */
export interface TokenizerJson {
  readonly model?: { readonly type?: string; readonly [key: string]: unknown };
  readonly added_tokens?: readonly { readonly id: number; readonly content: string; readonly [key: string]: unknown }[];
  readonly [key: string]: unknown;
}

/** Names GPT-2-family tokenizers use for the end-of-text token, most common first. */
const EOS_NAMES = ['<|endoftext|>', '</s>', '<eos>'];

/** Build a Tokenizer from a parsed tokenizer.json; `name` says where it came from. */
export function tokenizerFromJson(json: TokenizerJson, name: string): Tokenizer {
  if (typeof json !== 'object' || json === null || typeof json.model !== 'object' || json.model === null) {
    throw new UserError(`${name}: not a Hugging Face tokenizer.json (no "model" object). Save the tokenizer with transformers' save_pretrained, or use the byte-level default.`);
  }
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer(json, {});
  } catch (err) {
    throw new UserError(`${name}: the tokenizer could not be built (${errorMessage(err)}).`);
  }
  const vocab = hf.get_vocab(true);
  let maxId = -1;
  for (const id of vocab.values()) if (id > maxId) maxId = id;
  let eos: number | null = null;
  for (const tokenName of EOS_NAMES) {
    const id = hf.token_to_id(tokenName);
    if (id !== undefined) {
      eos = id;
      break;
    }
  }
  return {
    name,
    vocabSize: maxId + 1,
    eosTokenId: eos,
    encode: (text) => hf.encode(text, { add_special_tokens: false }).ids,
    // The library refuses an empty list; an empty completion is ordinary for us.
    decode: (ids) => (ids.length === 0 ? '' : hf.decode([...ids], { skip_special_tokens: false, clean_up_tokenization_spaces: false })),
    json,
  };
}

/**
 * Load `<dir>/tokenizer.json` (or a tokenizer.json path). A folder saved by older
 * transformers with only the slow tokenizer's vocab.json + merges.txt is built into one.
 */
export function loadTokenizer(fileOrDir: string): Tokenizer {
  const isDir = fs.existsSync(fileOrDir) && fs.statSync(fileOrDir).isDirectory();
  const file = isDir ? path.join(fileOrDir, 'tokenizer.json') : fileOrDir;
  if (isDir && !fs.existsSync(file) && fs.existsSync(path.join(fileOrDir, 'vocab.json')) && fs.existsSync(path.join(fileOrDir, 'merges.txt'))) {
    return slowTokenizerFiles(fileOrDir);
  }
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new UserError(`${file}: no tokenizer.json there. A model folder needs config.json, model.safetensors and tokenizer.json.`);
  }
  return tokenizerFromJson(parseJson(text, file) as TokenizerJson, file);
}

/** GPT-2's slow-tokenizer files: vocab.json (token → id) and merges.txt ("#version" line, then "a b" rules). */
function slowTokenizerFiles(dir: string): Tokenizer {
  const vocabFile = path.join(dir, 'vocab.json');
  const vocab = parseJson(fs.readFileSync(vocabFile, 'utf8'), vocabFile);
  if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab)) throw new UserError(`${vocabFile}: not a JSON object of token → id.`);
  const merges = fs
    .readFileSync(path.join(dir, 'merges.txt'), 'utf8')
    .split('\n')
    .filter((line) => line.length > 0 && !line.startsWith('#version'));
  return tokenizerFromJson(bpeTokenizerJson({ vocab: vocab as Record<string, number>, merges, useRegex: true }), vocabFile);
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UserError(`${file}: not valid JSON (${errorMessage(err)}).`);
  }
}
