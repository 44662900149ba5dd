/**
 * TRL's preference formats (one JSON object per line):
 * - standard:       {"prompt": "…", "chosen": "…", "rejected": "…"}
 * - conversational: {"prompt": [{"role": "user", "content": "…"}],
 *                    "chosen": [{"role": "assistant", "content": "…"}], "rejected": [ … ]}
 * A conversational prompt of exactly one user message imports as a plain-text prompt (as it always
 * has, so its id is stable); one with a system message or several turns imports as a chat prompt
 * (its messages). A completion is one assistant turn, so rows whose chosen/rejected are not
 * exactly one assistant message, or with an implicit prompt (prompt inside chosen/rejected),
 * cannot be held: they are skipped and reported, never guessed at.
 */
import { z } from 'zod';
import type { ChatMessage } from '../../protocol/chat';
import type { TextPair } from './interchange';
import { chatMessages } from './schemas';

const message = z.strictObject({ role: z.string().max(64), content: z.string() });
const turn = z.union([z.string(), z.array(message).max(1024)]);

export const trlRow = z.looseObject({ prompt: turn.optional(), chosen: turn, rejected: turn });
export type TrlRow = z.infer<typeof trlRow>;

export const TRL_FIELDS = ['prompt', 'chosen', 'rejected'];

type Turn = z.infer<typeof turn>;

function single(t: Turn, role: string): string | undefined {
  if (typeof t === 'string') return undefined;
  return t.length === 1 && t[0]?.role === role ? t[0].content : undefined;
}

/** The pair a row holds, or why the project cannot hold it. */
export function pairFromTrl(row: TrlRow): TextPair | { skip: string } {
  if (row.prompt === undefined) return { skip: "no 'prompt' field (implicit-prompt rows are not supported; split the prompt out into 'prompt')" };
  const kinds = [row.prompt, row.chosen, row.rejected].map((t) => typeof t === 'string');
  if (kinds.every((k) => k)) return { prompt: row.prompt as string, chosen: row.chosen as string, rejected: row.rejected as string };
  if (kinds.some((k) => k)) return { skip: 'mixes plain-text and conversational fields' };
  const chosen = single(row.chosen, 'assistant');
  const rejected = single(row.rejected, 'assistant');
  if (chosen === undefined || rejected === undefined) return { skip: "'chosen' or 'rejected' is not exactly one assistant message" };
  const prompt = single(row.prompt, 'user');
  if (prompt !== undefined) return { prompt, chosen, rejected };
  const chat = chatMessages.safeParse(row.prompt);
  if (!chat.success) {
    return { skip: `the prompt is not a conversation the project can hold (${chat.error.issues[0]?.message ?? 'invalid'}): roles system (first only), user and assistant, ending with a user message` };
  }
  const messages: ChatMessage[] = chat.data.map((m) => ({ role: m.role, content: m.content }));
  return { prompt: '', messages, chosen, rejected };
}

export function trlFromPair(pair: TextPair, conversational: boolean): Record<string, unknown> {
  if (!conversational) return { prompt: pair.prompt, chosen: pair.chosen, rejected: pair.rejected };
  return {
    prompt: pair.messages ? pair.messages.map((m) => ({ role: m.role, content: m.content })) : [{ role: 'user', content: pair.prompt }],
    chosen: [{ role: 'assistant', content: pair.chosen }],
    rejected: [{ role: 'assistant', content: pair.rejected }],
  };
}
