/**
 * Anthropic HH-RLHF rows: {"chosen": transcript, "rejected": transcript}, where a transcript is
 * "\n\nHuman: …\n\nAssistant: …" and the two differ only in the last Assistant turn. The prompt
 * is everything up to and including the last "\n\nAssistant:"; the completion is the rest, so an
 * HH file round-trips byte for byte. Plain project prompts are wrapped as one Human turn on export.
 */
import { z } from 'zod';
import type { TextPair } from './interchange';

export const hhRow = z.looseObject({ chosen: z.string(), rejected: z.string() });
export type HhRow = z.infer<typeof hhRow>;

export const HH_FIELDS = ['chosen', 'rejected'];

const HUMAN = '\n\nHuman:';
const ASSISTANT = '\n\nAssistant:';

function split(transcript: string): [string, string] | undefined {
  const i = transcript.lastIndexOf(ASSISTANT);
  if (i < 0) return undefined;
  return [transcript.slice(0, i + ASSISTANT.length), transcript.slice(i + ASSISTANT.length)];
}

export function pairFromHh(row: HhRow): TextPair | { skip: string } {
  const c = split(row.chosen);
  const r = split(row.rejected);
  if (!c || !r) return { skip: "a transcript has no '\\n\\nAssistant:' turn" };
  if (c[0] !== r[0]) return { skip: "'chosen' and 'rejected' differ before their last Assistant turn" };
  return { prompt: c[0], chosen: c[1], rejected: r[1] };
}

/** Whether a prompt is already an HH transcript awaiting the Assistant's reply. */
export function isHhPrompt(prompt: string): boolean {
  return prompt.startsWith(HUMAN) && prompt.endsWith(ASSISTANT);
}

/** The HH row for a pair, and what had to change to fit the format. */
export function hhFromPair(pair: TextPair): { row: HhRow; wrapped: boolean; spaced: number } {
  const wrapped = !isHhPrompt(pair.prompt);
  const prefix = wrapped ? `${HUMAN} ${pair.prompt}${ASSISTANT}` : pair.prompt;
  // HH puts a space after "Assistant:"; a completion without leading whitespace gets one.
  const fit = (c: string) => (c === '' || /^\s/.test(c) ? c : ` ${c}`);
  const chosen = fit(pair.chosen);
  const rejected = fit(pair.rejected);
  return { row: { chosen: prefix + chosen, rejected: prefix + rejected }, wrapped, spaced: Number(chosen !== pair.chosen) + Number(rejected !== pair.rejected) };
}
