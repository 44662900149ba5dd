/**
 * Completion batches: `completions.jsonl`, one line per batch of K completions sampled for one
 * prompt, with what sampled them (model folder, checkpoint, sampling parameters, seed) so a batch
 * can be reproduced and told apart from one sampled by a later policy.
 */
import { UserError } from '../errors';
import { completionIdFor, newBatchId } from './ids';
import { describeIssue } from './jsonl';
import { JsonlLog } from './log';
import { PromptStore } from './prompts';
import type { StoreContext } from './project';
import { batchRecord } from './schemas';
import type { BatchRecord, CompletionRecord, SamplingRecord } from './schemas';

export interface NewCompletion {
  readonly text: string;
  readonly tokens?: readonly number[];
  readonly logprobs?: readonly number[];
  readonly finishReason?: 'eos' | 'stop' | 'length';
  readonly sampling?: Partial<SamplingRecord>;
}

export interface NewBatch {
  /** Default: a fresh `b-<time>-<random>` id. */
  readonly id?: string;
  readonly promptId: string;
  readonly model: { readonly path: string; readonly checkpoint?: string };
  /** Absent only for imported batches. */
  readonly sampling?: SamplingRecord;
  readonly seed?: number;
  readonly completions: readonly NewCompletion[];
}

export class CompletionStore {
  readonly log: JsonlLog<BatchRecord>;

  constructor(private readonly ctx: StoreContext) {
    this.log = new JsonlLog(ctx.paths.completions, batchRecord);
  }

  list(): BatchRecord[] {
    return this.log.read().records.map((r) => r.value);
  }

  forPrompt(promptId: string): BatchRecord[] {
    return this.list().filter((b) => b.promptId === promptId);
  }

  byId(): Map<string, BatchRecord> {
    return new Map(this.list().map((b) => [b.id, b]));
  }

  /** Stores a batch for a known prompt; completion ids are `<batchId>.<index>`. */
  async addBatch(batch: NewBatch): Promise<BatchRecord> {
    const [record] = await this.addBatches([batch]);
    return record as BatchRecord;
  }

  /**
   * Stores batches in one locked append. A batch whose `id` is already stored is skipped (imports
   * use ids derived from content, so importing a file twice adds nothing); the result lists
   * only the batches added.
   */
  async addBatches(batches: readonly NewBatch[]): Promise<BatchRecord[]> {
    const time = new Date().toISOString();
    const records = batches.map((b) => toRecord(b, time));
    return this.ctx.lock(() => {
      const prompts = new PromptStore(this.ctx).byId();
      const known = new Set(this.list().map((b) => b.id));
      const fresh: BatchRecord[] = [];
      for (const r of records) {
        if (!prompts.has(r.promptId)) throw new UserError(`Prompt ${r.promptId} is not in the project; add the prompt before its completions.`);
        if (known.has(r.id)) continue;
        known.add(r.id);
        fresh.push(r);
      }
      this.log.append(fresh);
      return fresh;
    });
  }
}

function toRecord(batch: NewBatch, time: string): BatchRecord {
  const id = batch.id ?? newBatchId();
  const completions: CompletionRecord[] = batch.completions.map((c, i) => ({
    id: completionIdFor(id, i),
    text: c.text,
    ...(c.tokens ? { tokens: [...c.tokens] } : {}),
    ...(c.logprobs ? { logprobs: [...c.logprobs] } : {}),
    ...(c.finishReason ? { finishReason: c.finishReason } : {}),
    ...(c.sampling ? { sampling: c.sampling } : {}),
  }));
  const candidate = {
    v: 1,
    id,
    promptId: batch.promptId,
    time,
    model: batch.model,
    ...(batch.sampling ? { sampling: batch.sampling } : {}),
    ...(batch.seed !== undefined ? { seed: batch.seed } : {}),
    completions,
  };
  const parsed = batchRecord.safeParse(candidate);
  if (!parsed.success) throw new UserError(`The completion batch for prompt ${batch.promptId} is invalid: ${describeIssue(parsed.error)}.`);
  for (const [i, c] of completions.entries()) {
    if (c.logprobs && c.tokens && c.logprobs.length !== c.tokens.length) {
      throw new UserError(`Completion ${i} of the batch for prompt ${batch.promptId} has ${c.tokens.length} tokens but ${c.logprobs.length} log-probs.`);
    }
  }
  return parsed.data;
}
