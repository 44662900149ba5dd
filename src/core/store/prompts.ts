/**
 * Prompts: `prompts.jsonl`, one record per prompt. The id is a hash of the exact text (of a chat
 * prompt: of its messages), so the same prompt added twice (or imported on two machines) is one
 * prompt with one id.
 */
import type { ChatMessage } from '../../protocol/chat';
import { UserError } from '../errors';
import { plainChatText } from '../tokenizer/chat';
import { promptIdFor } from './ids';
import { JsonlLog } from './log';
import type { StoreContext } from './project';
import { chatMessages, MAX_PROMPT_CHARS, promptRecord } from './schemas';
import type { PromptRecord } from './schemas';

/** A prompt to add: plain text, or chat messages (system + user, or more turns ending with the user's). */
export type PromptInput = string | { readonly messages: readonly ChatMessage[] };

export interface AddPromptsResult {
  /** Ids of every given text, in order (existing or new). */
  readonly ids: string[];
  readonly added: number;
  /** Texts already in the store (or repeated in the input). */
  readonly duplicates: number;
}

export class PromptStore {
  readonly log: JsonlLog<PromptRecord>;

  constructor(private readonly ctx: StoreContext) {
    this.log = new JsonlLog(ctx.paths.prompts, promptRecord);
  }

  list(): PromptRecord[] {
    return this.log.read().records.map((r) => r.value);
  }

  /** id → prompt. */
  byId(): Map<string, PromptRecord> {
    return new Map(this.list().map((p) => [p.id, p]));
  }

  get(id: string): PromptRecord | undefined {
    return this.byId().get(id);
  }

  /**
   * Adds prompts, skipping those already stored. `where(i)` names the input position of prompt i
   * in error messages (e.g. `prompts.csv:12`). Nothing is written if any prompt is invalid.
   */
  async add(prompts: readonly PromptInput[], source?: string, where: (i: number) => string = (i) => `prompt ${i + 1}`): Promise<AddPromptsResult> {
    const fields = prompts.map((p, i) => promptFields(p, where(i)));
    return this.ctx.lock(() => {
      const known = new Set(this.list().map((p) => p.id));
      const time = new Date().toISOString();
      const fresh: PromptRecord[] = [];
      const ids = fields.map((f) => {
        if (!known.has(f.id)) {
          known.add(f.id);
          fresh.push({ v: 1, ...f, time, ...(source !== undefined ? { source: source.slice(0, 500) } : {}) });
        }
        return f.id;
      });
      this.log.append(fresh);
      return { ids, added: fresh.length, duplicates: prompts.length - fresh.length };
    });
  }
}

/** Stable across machines: the same messages always get the same id, never one a text prompt can have (no text holds a NUL). */
export function chatPromptIdFor(messages: readonly ChatMessage[]): string {
  return promptIdFor(`\u0000chat\u0000${JSON.stringify(messages.map((m) => [m.role, m.content]))}`);
}

/** The record fields of a prompt to add, checked: its id, text, and messages for a chat prompt. */
function promptFields(p: PromptInput, where: string): Pick<PromptRecord, 'id' | 'text' | 'messages'> {
  if (typeof p === 'string') {
    checkPromptText(p, where);
    return { id: promptIdFor(p), text: p };
  }
  const messages = checkChatMessages(p?.messages, where);
  const text = plainChatText(messages);
  checkPromptText(text, where);
  return { id: chatPromptIdFor(messages), text, messages };
}

/** Chat messages as the store keeps them (exactly role and content), or a UserError saying what is wrong. */
export function checkChatMessages(messages: unknown, where: string): ChatMessage[] {
  const parsed = chatMessages.safeParse(messages);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const [index, ...field] = issue?.path ?? [];
    const at = typeof index === 'number' ? ` (message ${index + 1}${field.length ? `, ${field.join('.')}` : ''})` : '';
    throw new UserError(
      `${where}: not a chat prompt the project can hold: ${issue?.message ?? 'invalid'}${at}. Give messages as [{"role": "system" | "user" | "assistant", "content": "…"}], a system message only first, ending with a user message.`,
    );
  }
  for (const m of parsed.data) if (m.content.includes('\u0000')) throw new UserError(`${where}: a message contains a NUL character. Remove it.`);
  return parsed.data.map((m) => ({ role: m.role, content: m.content }));
}

export function checkPromptText(text: string, where: string): void {
  if (typeof text !== 'string' || text.trim() === '') throw new UserError(`${where}: the prompt is empty. Remove that entry or give it text.`);
  if (text.length > MAX_PROMPT_CHARS) {
    throw new UserError(`${where}: the prompt has ${text.length} characters, more than the ${MAX_PROMPT_CHARS} allowed. Shorten it.`);
  }
  if (text.includes('\u0000')) throw new UserError(`${where}: the prompt contains a NUL character. Remove it.`);
}
