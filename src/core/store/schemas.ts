/**
 * Every record the store reads or writes, as zod schemas (the types are inferred from them).
 * Records are strict: an unknown field is an error, so a typo or a record from a newer version
 * of the extension is caught instead of silently dropped. `v` is the record's format version.
 */
import { CHAT_ROLES } from '../../protocol/chat';
import { STAGE_NAMES } from '../../protocol/stages';
import { z } from 'zod';
import { idSchema, labelerSchema } from './ids';

const time = z.iso.datetime({ offset: true });
const text = (max: number) => z.string().max(max);

/** Longest accepted prompt and completion, in UTF-16 units. */
export const MAX_PROMPT_CHARS = 100_000;
export const MAX_COMPLETION_CHARS = 200_000;
export const MAX_NOTE_CHARS = 10_000;
/** Most completions one batch (and so one ranking) may hold. */
export const MAX_K = 64;

/** Most messages one chat prompt may hold. */
export const MAX_CHAT_MESSAGES = 256;

export const chatMessage = z.strictObject({ role: z.enum(CHAT_ROLES), content: text(MAX_PROMPT_CHARS) });

/**
 * A chat prompt's messages: a system message only first, then user and assistant turns, the
 * last one the user's (the model answers it). Every message has text.
 */
export const chatMessages = z
  .array(chatMessage)
  .min(1)
  .max(MAX_CHAT_MESSAGES)
  .superRefine((ms, ctx) => {
    ms.forEach((m, i) => {
      if (m.content.trim() === '') ctx.addIssue({ code: 'custom', path: [i, 'content'], message: `message ${i + 1} (${m.role}) is empty` });
      if (m.role === 'system' && i > 0) ctx.addIssue({ code: 'custom', path: [i, 'role'], message: 'a system message may only come first' });
    });
    if (ms[ms.length - 1]?.role !== 'user') ctx.addIssue({ code: 'custom', path: [ms.length - 1, 'role'], message: "the last message must be the user's (the model answers it)" });
  });

export const promptRecord = z.strictObject({
  v: z.literal(1),
  id: idSchema,
  /**
   * The prompt's text. For a chat prompt, its plain transcript (plainChatText in
   * core/tokenizer/chat.ts: "system: …\nuser: …\nassistant:"), so every reader of `text` still
   * has the whole prompt; what a model reads comes from promptInputText.
   */
  text: text(MAX_PROMPT_CHARS).min(1),
  /** Set for a chat prompt: its messages (the id is derived from them, not from `text`). */
  messages: chatMessages.optional(),
  time,
  /** Where it came from: a file name, `ui`, `trl`, `hh` … */
  source: z.string().max(500).optional(),
});
export type PromptRecord = z.infer<typeof promptRecord>;

export const samplingRecord = z.strictObject({
  temperature: z.number().min(0).max(100),
  topK: z.int().min(0),
  topP: z.number().gt(0).max(1),
  maxNewTokens: z.int().min(1),
  eosTokenId: z.int().min(0).nullable().optional(),
  stopStrings: z.array(z.string().max(1000)).max(64).optional(),
});
export type SamplingRecord = z.infer<typeof samplingRecord>;

export const completionRecord = z.strictObject({
  id: idSchema,
  text: text(MAX_COMPLETION_CHARS),
  tokens: z.array(z.int().min(0)).optional(),
  /** log p(token) per generated token, under the model that sampled it. */
  logprobs: z.array(z.number()).optional(),
  finishReason: z.enum(['eos', 'stop', 'length']).optional(),
  /** Set when this completion used other sampling than its batch's (varied temperatures). */
  sampling: samplingRecord.partial().optional(),
});
export type CompletionRecord = z.infer<typeof completionRecord>;

export const batchRecord = z
  .strictObject({
    v: z.literal(1),
    id: idSchema,
    promptId: idSchema,
    time,
    /**
     * The model that sampled: its folder, and the checkpoint (run id / step) when from a run.
     * Imported batches have `path: 'import:<format>:<file name>'`.
     */
    model: z.strictObject({ path: z.string().max(4096), checkpoint: z.string().max(4096).optional() }),
    /** How it was sampled; absent for imported batches (TRL/HH files do not say). */
    sampling: samplingRecord.optional(),
    seed: z.int().optional(),
    completions: z.array(completionRecord).min(1).max(MAX_K),
  })
  .refine((b) => new Set(b.completions.map((c) => c.id)).size === b.completions.length, {
    message: 'completion ids must be unique',
    path: ['completions'],
  });
export type BatchRecord = z.infer<typeof batchRecord>;

/** Who produced a label: a person, the simulated labeler, or the inline-completion provider. */
export const labelSource = z.enum(['human', 'simulated', 'implicit', 'imported']);
export type LabelSource = z.infer<typeof labelSource>;

const eventBase = {
  v: z.literal(1),
  id: idSchema,
  time,
  /** The raw labeler (e.g. git user.email); the file name is derived from it. */
  labeler: labelerSchema,
  source: labelSource,
};

/**
 * A ranking of the K completions of one batch. `ranks[i]` is the rank of `completionIds[i]`:
 * 1 = best, equal numbers = a tie. `skip` (not judged) and `allBad` (none acceptable) carry no
 * ranks. A later rank event for the same labeler and batch is an edit; `replaces` names the event
 * it supersedes, for the audit trail only (the latest event wins either way).
 */
export const rankEvent = z
  .strictObject({
    ...eventBase,
    type: z.literal('rank'),
    promptId: idSchema,
    batchId: idSchema,
    verdict: z.enum(['ranked', 'skip', 'allBad']),
    completionIds: z.array(idSchema).min(2).max(MAX_K),
    ranks: z.array(z.int().min(1).max(MAX_K)).max(MAX_K).optional(),
    note: text(MAX_NOTE_CHARS).optional(),
    replaces: idSchema.optional(),
  })
  .superRefine((e, ctx) => {
    if (new Set(e.completionIds).size !== e.completionIds.length) {
      ctx.addIssue({ code: 'custom', path: ['completionIds'], message: 'completion ids must be unique' });
    }
    if (e.verdict === 'ranked') {
      if (!e.ranks || e.ranks.length !== e.completionIds.length) {
        ctx.addIssue({ code: 'custom', path: ['ranks'], message: 'a ranked verdict needs one rank per completion' });
      } else if (e.ranks.some((r) => r > e.completionIds.length)) {
        ctx.addIssue({ code: 'custom', path: ['ranks'], message: `ranks must be between 1 and K=${e.completionIds.length}` });
      }
    } else if (e.ranks !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['ranks'], message: `a '${e.verdict}' verdict has no ranks` });
    }
  });
export type RankEvent = z.infer<typeof rankEvent>;

/** Takes back one earlier rank event of the same labeler; the one before it (if any) applies again. */
export const undoEvent = z.strictObject({ ...eventBase, type: z.literal('undo'), target: idSchema });
export type UndoEvent = z.infer<typeof undoEvent>;

export const rankingEvent = z.discriminatedUnion('type', [rankEvent, undoEvent]);
export type RankingEvent = z.infer<typeof rankingEvent>;

export const runState = z.enum(['running', 'completed', 'failed', 'cancelled']);
export type RunState = z.infer<typeof runState>;

export const checkpointRecord = z.strictObject({
  stage: z.string().min(1).max(64),
  step: z.int().min(0),
  /** Relative to the run folder when inside it. */
  path: z.string().min(1).max(4096),
  time,
});
export type CheckpointRecord = z.infer<typeof checkpointRecord>;

export const runRecord = z.strictObject({
  v: z.literal(1),
  id: idSchema,
  stage: z.string().min(1).max(64),
  state: runState,
  createdAt: time,
  updatedAt: time,
  step: z.int().min(0),
  checkpoints: z.array(checkpointRecord),
  /** Why a run failed or was cancelled. */
  message: z.string().max(10_000).optional(),
});
export type RunRecord = z.infer<typeof runRecord>;

/**
 * One metrics.jsonl line: every metric logged at one step, name → value. `null` stands for a
 * non-finite value (NaN/Infinity have no JSON form). Metric names are declared by the training code.
 */
export const metricRecord = z.strictObject({
  /** The stage that logged it, in a run of several stages (steps count per stage). */
  stage: z.enum(STAGE_NAMES).optional(),
  step: z.int().min(0),
  time,
  values: z.record(z.string().min(1).max(200), z.number().nullable()),
});
export type MetricRecord = z.infer<typeof metricRecord>;

/**
 * One samples.jsonl line: what the policy wrote for a prompt at an iteration, with its score
 * and its KL to the reference (so reward hacking shows: high score, drifting KL).
 */
export const sampleRecord = z.strictObject({
  stage: z.enum(STAGE_NAMES).optional(),
  iteration: z.int().min(0),
  time,
  promptId: idSchema.optional(),
  prompt: text(MAX_PROMPT_CHARS),
  completion: text(MAX_COMPLETION_CHARS),
  score: z.number().nullable().optional(),
  kl: z.number().nullable().optional(),
  /** Each reward function's value (GRPO), by function name; null: it could not score this one. */
  rewards: z.record(z.string().min(1).max(200), z.number().nullable()).optional(),
});
export type SampleRecord = z.infer<typeof sampleRecord>;

/** Schema version of project.json that this code writes. Older ones are migrated on open. */
export const PROJECT_SCHEMA_VERSION = 1;

export const projectRecord = z.strictObject({
  schemaVersion: z.literal(PROJECT_SCHEMA_VERSION),
  name: z.string().max(200).optional(),
  createdAt: time,
  /** Model folders (absolute, or relative to the workspace folder). */
  models: z.strictObject({
    base: z.string().max(4096).optional(),
    sft: z.string().max(4096).optional(),
    reward: z.string().max(4096).optional(),
    policy: z.string().max(4096).optional(),
  }),
  settings: z.strictObject({
    /** Overrides git user.email as the labeler of this workspace. */
    labeler: labelerSchema.optional(),
    /** Train on implicit preferences (accepted/rejected inline completions) too. Default false. */
    includeImplicit: z.boolean(),
    /** Train on simulated labels too. Default true (that is what they are for). */
    includeSimulated: z.boolean(),
  }),
  /** Labeling guidelines shown beside the ranking panel (Markdown). */
  guidelines: z.string().max(100_000),
});
export type ProjectRecord = z.infer<typeof projectRecord>;
