/**
 * Word-level differences between two completions: the words of `text` that are not in the
 * longest common subsequence with `other`. Whitespace is kept so the pieces rejoin to `text`.
 */
export interface Piece {
  readonly text: string;
  readonly changed: boolean;
}

/** Above this many words a side, no highlighting (the LCS table grows as the product). */
const MAX_WORDS = 600;

export function wordDiff(text: string, other: string): Piece[] {
  const a = text.split(/(\s+)/).filter((s) => s !== '');
  const b = other.split(/(\s+)/).filter((s) => s !== '' && !/^\s+$/.test(s));
  const words = a.filter((s) => !/^\s+$/.test(s));
  if (words.length > MAX_WORDS || b.length > MAX_WORDS) return [{ text, changed: false }];
  // lcs[i][j]: LCS length of words[i..] and b[j..].
  const lcs = Array.from({ length: words.length + 1 }, () => new Uint16Array(b.length + 1));
  for (let i = words.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = words[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const common = new Set<number>();
  for (let i = 0, j = 0; i < words.length && j < b.length; ) {
    if (words[i] === b[j]) {
      common.add(i);
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) i++;
    else j++;
  }
  const pieces: Piece[] = [];
  let w = 0;
  for (const s of a) {
    const changed = /^\s+$/.test(s) ? false : !common.has(w++);
    const last = pieces[pieces.length - 1];
    if (last && last.changed === changed) pieces[pieces.length - 1] = { text: last.text + s, changed };
    else pieces.push({ text: s, changed });
  }
  return pieces;
}
