/**
 * The one tokenizer interface the project uses: any Hugging Face tokenizer.json, loaded through
 * @huggingface/tokenizers (pure JS, offline), with what the folder's other files say about it:
 * tokenizer_config.json (special tokens, added tokens, the chat template, add_bos_token),
 * special_tokens_map.json, chat_template.jinja, generation_config.json and config.json (the
 * end-of-sequence ids generation stops at). The tiny default model's byte-level tokenizer is
 * itself a tokenizer.json (see byteLevel.ts), so every model folder looks the same.
 *
 * The BOS rule (as transformers has it): `encode` never adds special tokens. A chat template
 * writes the BOS into its text when the model wants one (Llama 3's `{{ bos_token }}`), so a
 * templated prompt is encoded as it is and its BOS appears once. A plain-text prompt gets the BOS
 * prepended as text when `addBosToken` says the tokenizer adds one (tokenizer_config.json's
 * add_bos_token, else a post-processor that starts every sequence with it) and the text does not
 * already start with it; see promptInputText in chat.ts. GPT-2 and the byte-level default add none.
 */
import { errorMessage, isRecord } from '../../protocol/guards';
import type { ChatMessage } from '../../protocol/chat';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Template } from '@huggingface/jinja';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { UserError } from '../errors';
import { bpeTokenizerJson } from './byteLevel';
import { compileChatTemplate } from './jinja';

export interface ChatTemplateOptions {
  /** End with the opening of an assistant turn, for the model to write the reply (transformers' add_generation_prompt). */
  readonly addGenerationPrompt: boolean;
  /** Further template variables, as apply_chat_template's keyword arguments (e.g. Qwen3's enable_thinking). */
  readonly variables?: Readonly<Record<string, unknown>>;
}

export interface Tokenizer {
  /** Where it came from (a file path or a built-in name), for reports. */
  readonly name: string;
  /** Rows the embedding needs: the largest id (added tokens included) + 1. */
  readonly vocabSize: number;
  /** The end-of-sequence token (tokenizer_config.json's eos_token, else the configs' eos id, else a known name), or null. */
  readonly eosTokenId: number | null;
  /** The beginning-of-sequence token (bos_token, else config.json's bos_token_id), or null. */
  readonly bosTokenId: number | null;
  /** The padding token (pad_token, else config.json's pad_token_id), or null. */
  readonly padTokenId: number | null;
  /**
   * Every token that ends a reply, eos first: the eos, every eos_token_id of generation_config.json
   * and config.json (a number or a list), and the end-of-turn tokens the chat template writes
   * (`<|im_end|>`, `<|eot_id|>`, `<|end_of_text|>`, `<end_of_turn>`). Ids the tokenizer does not
   * have are left out.
   */
  readonly stopTokenIds: readonly number[];
  /** Whether plain text is encoded after a BOS (see the BOS rule above). */
  readonly addBosToken: boolean;
  /** The chat template (Jinja), or null when the folder has none: a prompt is then its text. */
  readonly chatTemplate: string | null;
  /**
   * The conversation rendered with the chat template by @huggingface/jinja, with the variables
   * transformers passes (messages, add_generation_prompt, the special tokens bos_token, eos_token,
   * pad_token… as strings; raise_exception and strftime_now are the library's). Throws a UserError
   * when there is no template or it fails (a template may refuse a conversation by raise_exception).
   */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions): string;
  /** Text → ids, without added special tokens (a special token written in the text is that token). */
  encode(text: string): number[];
  /** Ids → text; special tokens are kept so that decode(encode(x)) === x. */
  decode(ids: readonly number[]): string;
  /** The tokenizer.json this was built from, to copy into checkpoints and exports. */
  readonly json: TokenizerJson;
  /** tokenizer_config.json as read (with the chat template it used), or null when there was none; to copy into checkpoints. */
  readonly config: Readonly<Record<string, unknown>> | null;
}

/** A parsed tokenizer.json; only the parts we read are typed. */
export interface TokenizerJson {
  readonly model?: { readonly type?: string; readonly [key: string]: unknown };
  readonly added_tokens?: readonly { readonly id: number; readonly content: string; readonly [key: string]: unknown }[];
  readonly [key: string]: unknown;
}

/** The files beside tokenizer.json that say more about it, parsed; any may be absent. */
export interface TokenizerFiles {
  readonly tokenizerConfig?: Readonly<Record<string, unknown>>;
  readonly specialTokensMap?: Readonly<Record<string, unknown>>;
  readonly generationConfig?: Readonly<Record<string, unknown>>;
  /** config.json: only its bos_token_id, eos_token_id and pad_token_id are read. */
  readonly modelConfig?: Readonly<Record<string, unknown>>;
  /** chat_template.jinja (newer transformers save the template there); wins over tokenizer_config.json's. */
  readonly chatTemplate?: string;
}

/** Names GPT-2-family tokenizers use for the end-of-text token, most common first (when no config names one). */
const EOS_NAMES = ['<|endoftext|>', '</s>', '<eos>'];
/** End-of-turn tokens: a stop when the chat template writes them (ChatML, Llama 3, Gemma). */
const END_OF_TURN = ['<|im_end|>', '<|eot_id|>', '<|end_of_text|>', '<end_of_turn>'];
/** The special-token variables transformers passes to a chat template (its special_tokens_map). */
const SPECIAL_TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;

/** A special token as the config files write it: a string, or an AddedToken object `{content, …}`. */
function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (isRecord(v) && typeof v.content === 'string') return v.content;
  return null;
}

/** An id field of generation_config.json / config.json: a number or a list of numbers. */
function idList(v: unknown): number[] {
  const all = Array.isArray(v) ? v : [v];
  return all.filter((x): x is number => Number.isSafeInteger(x) && (x as number) >= 0);
}

/** The chat template a tokenizer_config.json holds: a string, or a list of {name, template} (the one named 'default', else the first). */
function configTemplate(v: unknown, name: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const named = v.filter((t): t is { name: unknown; template: string } => isRecord(t) && typeof t.template === 'string');
    if (named.length === v.length && named.length > 0) return (named.find((t) => t.name === 'default') ?? (named[0] as { template: string })).template;
  }
  throw new UserError(`${name}: chat_template in tokenizer_config.json is neither a string nor a list of {name, template}.`);
}

/** Whether a tokenizer.json post-processor starts every sequence with `bos` (Llama 3's TemplateProcessing does). */
function postProcessorAddsBos(pp: unknown, bos: string | null): boolean {
  if (!isRecord(pp) || bos === null) return false;
  if (pp.type === 'Sequence' && Array.isArray(pp.processors)) return pp.processors.some((p) => postProcessorAddsBos(p, bos));
  if (pp.type !== 'TemplateProcessing' || !Array.isArray(pp.single)) return false;
  const first: unknown = pp.single[0];
  return isRecord(first) && isRecord(first.SpecialToken) && first.SpecialToken.id === bos;
}

/**
 * tokenizer.json with the added tokens of tokenizer_config.json's added_tokens_decoder that it
 * lacks (transformers adds them on load too); an id both files give different tokens is an error.
 */
function withConfigAddedTokens(json: TokenizerJson, config: Readonly<Record<string, unknown>> | undefined, name: string): TokenizerJson {
  const decoder = config?.added_tokens_decoder;
  if (!isRecord(decoder)) return json;
  const have = new Map((json.added_tokens ?? []).map((t) => [t.id, t.content]));
  const extra: NonNullable<TokenizerJson['added_tokens']>[number][] = [];
  for (const [key, value] of Object.entries(decoder)) {
    const id = Number(key);
    const content = tokenContent(value);
    if (!Number.isSafeInteger(id) || id < 0 || content === null) continue;
    const known = have.get(id);
    if (known === undefined) {
      const flags = value as Record<string, unknown>;
      extra.push({
        id,
        content,
        single_word: flags.single_word === true,
        lstrip: flags.lstrip === true,
        rstrip: flags.rstrip === true,
        normalized: flags.normalized === true,
        special: flags.special !== false,
      });
      have.set(id, content);
    } else if (known !== content) {
      throw new UserError(
        `${name}: tokenizer.json has ${JSON.stringify(known)} as token ${id} but tokenizer_config.json's added_tokens_decoder has ${JSON.stringify(content)}. The files are from different tokenizers.`,
      );
    }
  }
  return extra.length === 0 ? json : { ...json, added_tokens: [...(json.added_tokens ?? []), ...extra] };
}

/** Build a Tokenizer from a parsed tokenizer.json and the files beside it; `name` says where it came from. */
export function tokenizerFromJson(rawJson: TokenizerJson, name: string, files: TokenizerFiles = {}): Tokenizer {
  if (typeof rawJson !== 'object' || rawJson === null || typeof rawJson.model !== 'object' || rawJson.model === null) {
    throw new UserError(`${name}: not a Hugging Face tokenizer.json (no "model" object). Save the tokenizer with transformers' save_pretrained, or use the byte-level default.`);
  }
  const json = withConfigAddedTokens(rawJson, files.tokenizerConfig, name);
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer(json, {});
  } catch (err) {
    throw new UserError(`${name}: the tokenizer could not be built (${errorMessage(err)}).`);
  }
  const vocab = hf.get_vocab(true);
  let maxId = -1;
  for (const id of vocab.values()) if (id > maxId) maxId = id;
  const vocabSize = maxId + 1;
  const known = (id: number | undefined): id is number => id !== undefined && id >= 0 && id < vocabSize;

  const tc = files.tokenizerConfig ?? {};
  const stm = files.specialTokensMap ?? {};
  const gen = files.generationConfig ?? {};
  const model = files.modelConfig ?? {};
  // tokenizer_config.json wins over special_tokens_map.json, as in transformers.
  const special = (key: string): string | null => tokenContent(tc[key]) ?? tokenContent(stm[key]);
  const idOf = (content: string | null): number | undefined => (content === null ? undefined : hf.token_to_id(content));
  const firstKnown = (...candidates: (number | undefined)[]): number | null => candidates.find(known) ?? null;

  const eos = firstKnown(idOf(special('eos_token')), ...idList(gen.eos_token_id), ...idList(model.eos_token_id), ...EOS_NAMES.map((n) => hf.token_to_id(n)));
  const bosName = special('bos_token');
  const bos = firstKnown(idOf(bosName), ...idList(model.bos_token_id), ...idList(gen.bos_token_id));
  const pad = firstKnown(idOf(special('pad_token')), ...idList(model.pad_token_id), ...idList(gen.pad_token_id));

  const chatTemplate = files.chatTemplate ?? configTemplate(tc.chat_template, name);
  const stops = new Set<number>();
  for (const id of [eos, ...idList(gen.eos_token_id), ...idList(model.eos_token_id)]) if (known(id ?? undefined)) stops.add(id as number);
  if (chatTemplate !== null) {
    for (const t of END_OF_TURN) {
      const id = hf.token_to_id(t);
      if (chatTemplate.includes(t) && known(id)) stops.add(id);
    }
  }
  const bosText = bos === null ? null : (bosName ?? hf.id_to_token(bos) ?? null);
  const addBosToken = typeof tc.add_bos_token === 'boolean' ? tc.add_bos_token && bos !== null : postProcessorAddsBos(json.post_processor, bosText);

  // The variables transformers passes: its special_tokens_map (the tokens that are set) and additional_special_tokens.
  const templateTokens: Record<string, unknown> = {};
  for (const key of SPECIAL_TOKEN_KEYS) {
    const v = special(key);
    if (v !== null) templateTokens[key] = v;
  }
  const additional = tc.additional_special_tokens ?? stm.additional_special_tokens;
  if (Array.isArray(additional)) templateTokens.additional_special_tokens = additional.map(tokenContent).filter((t) => t !== null);
  let compiled: Template | undefined;

  return {
    name,
    vocabSize,
    eosTokenId: eos,
    bosTokenId: bos,
    padTokenId: pad,
    stopTokenIds: [...stops],
    addBosToken,
    chatTemplate,
    applyChatTemplate(messages, options) {
      if (chatTemplate === null) throw new UserError(`${name}: this tokenizer has no chat template (no chat_template in tokenizer_config.json, no chat_template.jinja).`);
      try {
        compiled ??= compileChatTemplate(chatTemplate);
        return compiled.render({
          ...templateTokens,
          ...options.variables,
          messages: messages.map((m) => ({ role: m.role, content: m.content })),
          add_generation_prompt: options.addGenerationPrompt,
        });
      } catch (err) {
        throw new UserError(`${name}: the chat template could not render the conversation (${errorMessage(err)}).`);
      }
    },
    encode: (text) => hf.encode(text, { add_special_tokens: false }).ids,
    // The library refuses an empty list; an empty completion is ordinary for us.
    decode: (ids) => (ids.length === 0 ? '' : hf.decode([...ids], { skip_special_tokens: false, clean_up_tokenization_spaces: false })),
    json,
    config: files.tokenizerConfig ? { ...files.tokenizerConfig, ...(chatTemplate !== null ? { chat_template: chatTemplate } : {}) } : null,
  };
}

/**
 * Load `<dir>/tokenizer.json` (or a tokenizer.json path) with the files beside it
 * (tokenizer_config.json, special_tokens_map.json, chat_template.jinja, generation_config.json,
 * config.json). A folder saved by older transformers with only the slow tokenizer's vocab.json +
 * merges.txt is built into one.
 */
export function loadTokenizer(fileOrDir: string): Tokenizer {
  const isDir = fs.existsSync(fileOrDir) && fs.statSync(fileOrDir).isDirectory();
  const file = isDir ? path.join(fileOrDir, 'tokenizer.json') : fileOrDir;
  // The files beside it describe it only when it is a model folder's tokenizer.json.
  const dir = isDir || path.basename(file) === 'tokenizer.json' ? path.dirname(file) : undefined;
  const files = dir === undefined ? {} : folderFiles(dir);
  if (isDir && !fs.existsSync(file) && fs.existsSync(path.join(fileOrDir, 'vocab.json')) && fs.existsSync(path.join(fileOrDir, 'merges.txt'))) {
    return slowTokenizerFiles(fileOrDir, files);
  }
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new UserError(`${file}: no tokenizer.json there. A model folder needs config.json, model.safetensors and tokenizer.json.`);
  }
  return tokenizerFromJson(parseJson(text, file) as TokenizerJson, file, files);
}

/** The optional files of a model folder that say more about its tokenizer. */
function folderFiles(dir: string): TokenizerFiles {
  const object = (name: string): Record<string, unknown> | undefined => {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) return undefined;
    const v = parseJson(fs.readFileSync(file, 'utf8'), file);
    if (!isRecord(v)) throw new UserError(`${file}: not a JSON object.`);
    return v;
  };
  const jinja = path.join(dir, 'chat_template.jinja');
  const templateJson = object('chat_template.json');
  const chatTemplate = fs.existsSync(jinja) ? fs.readFileSync(jinja, 'utf8') : typeof templateJson?.chat_template === 'string' ? templateJson.chat_template : undefined;
  const files = {
    tokenizerConfig: object('tokenizer_config.json'),
    specialTokensMap: object('special_tokens_map.json'),
    generationConfig: object('generation_config.json'),
    modelConfig: object('config.json'),
    chatTemplate,
  };
  return Object.fromEntries(Object.entries(files).filter(([, v]) => v !== undefined)) as TokenizerFiles;
}

/** GPT-2's slow-tokenizer files: vocab.json (token → id) and merges.txt ("#version" line, then "a b" rules). */
function slowTokenizerFiles(dir: string, files: TokenizerFiles): Tokenizer {
  const vocabFile = path.join(dir, 'vocab.json');
  const vocab = parseJson(fs.readFileSync(vocabFile, 'utf8'), vocabFile);
  if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab)) throw new UserError(`${vocabFile}: not a JSON object of token → id.`);
  const merges = fs
    .readFileSync(path.join(dir, 'merges.txt'), 'utf8')
    .split('\n')
    .filter((line) => line.length > 0 && !line.startsWith('#version'));
  return tokenizerFromJson(bpeTokenizerJson({ vocab: vocab as Record<string, number>, merges, useRegex: true }), vocabFile, files);
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UserError(`${file}: not valid JSON (${errorMessage(err)}).`);
  }
}
