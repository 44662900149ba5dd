/**
 * Word-level differences among completions: the words of `text` that no other completion has,
 * i.e. outside its longest common subsequence with each of `others`, so only where it differs
 * from all of them is marked. Whitespace is kept so the pieces rejoin to `text`.
 */
export interface Piece {
  readonly text: string;
  readonly changed: boolean;
}

/** Above this many words, no highlighting (the LCS table grows as the product). */
const MAX_WORDS = 600;

const isSpace = (s: string): boolean => /^\s+$/.test(s);
const wordsOf = (text: string): string[] => text.split(/\s+/).filter((s) => s !== '');

export function wordDiff(text: string, others: readonly string[]): Piece[] {
  const a = text.split(/(\s+)/).filter((s) => s !== '');
  const words = a.filter((s) => !isSpace(s));
  if (words.length > MAX_WORDS || others.length === 0) return [{ text, changed: false }];
  const shared = new Set<number>();
  for (const other of others) for (const i of commonWords(words, wordsOf(other))) shared.add(i);
  let w = 0;
  const flags = a.map((s) => (isSpace(s) ? null : !shared.has(w++)));
  const pieces: Piece[] = [];
  for (const [i, s] of a.entries()) {
    // Whitespace between two changed words goes with them: a changed phrase is one piece.
    const changed = flags[i] ?? (flags[i - 1] === true && flags[i + 1] === true);
    const last = pieces[pieces.length - 1];
    if (last && last.changed === changed) pieces[pieces.length - 1] = { text: last.text + s, changed };
    else pieces.push({ text: s, changed });
  }
  return pieces;
}

/** Indices of `words` in a longest common subsequence with `b`; past MAX_WORDS, those that occur in `b` at all. */
function commonWords(words: readonly string[], b: readonly string[]): Set<number> {
  if (b.length > MAX_WORDS) {
    const present = new Set(b);
    return new Set(words.flatMap((word, i) => (present.has(word) ? [i] : [])));
  }
  // lcs[i][j]: LCS length of words[i..] and b[j..].
  const lcs = Array.from({ length: words.length + 1 }, () => new Uint16Array(b.length + 1));
  for (let i = words.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = words[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const common = new Set<number>();
  for (let i = 0, j = 0; i < words.length && j < b.length;) {
    if (words[i] === b[j]) {
      common.add(i);
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) i++;
    else j++;
  }
  return common;
}
