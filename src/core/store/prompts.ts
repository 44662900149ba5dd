/**
 * Prompts: `prompts.jsonl`, one record per prompt. The id is a hash of the exact text, so the
 * same prompt added twice (or imported on two machines) is one prompt with one id.
 */
import { UserError } from '../errors';
import { promptIdFor } from './ids';
import { JsonlLog } from './log';
import type { StoreContext } from './project';
import { MAX_PROMPT_CHARS, promptRecord } from './schemas';
import type { PromptRecord } from './schemas';

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
   * Adds prompts, skipping texts already stored. `where(i)` names the input position of text i in
   * error messages (e.g. `prompts.csv:12`). Nothing is written if any text is invalid.
   */
  async add(texts: readonly string[], source?: string, where: (i: number) => string = (i) => `prompt ${i + 1}`): Promise<AddPromptsResult> {
    texts.forEach((t, i) => checkPromptText(t, where(i)));
    return this.ctx.lock(() => {
      const known = new Set(this.list().map((p) => p.id));
      const time = new Date().toISOString();
      const fresh: PromptRecord[] = [];
      const ids = texts.map((text) => {
        const id = promptIdFor(text);
        if (!known.has(id)) {
          known.add(id);
          fresh.push({ v: 1, id, text, time, ...(source !== undefined ? { source: source.slice(0, 500) } : {}) });
        }
        return id;
      });
      this.log.append(fresh);
      return { ids, added: fresh.length, duplicates: texts.length - fresh.length };
    });
  }
}

export function checkPromptText(text: string, where: string): void {
  if (typeof text !== 'string' || text.trim() === '') throw new UserError(`${where}: the prompt is empty. Remove that entry or give it text.`);
  if (text.length > MAX_PROMPT_CHARS) {
    throw new UserError(`${where}: the prompt has ${text.length} characters, more than the ${MAX_PROMPT_CHARS} allowed. Shorten it.`);
  }
  if (text.includes('\u0000')) throw new UserError(`${where}: the prompt contains a NUL character. Remove it.`);
}
