/**
 * Engine requests about the workspace project: opening it, prompts, generating completions,
 * rankings (the ranking panel and sidebar), inline completions, exports. Declared here once; the
 * engine implements them in src/engine/projectHandlers.ts, the host calls them through the
 * EngineClient. Every request names the workspace folder that holds `.rlhf/`.
 */
import type { ChatMessage } from './chat';

/** One stage's model as the sidebar shows it: where it is and where that came from. */
export interface ModelView {
  readonly path: string;
  /** 'run <id>' for a run's final checkpoint, 'project.json' for a configured folder. */
  readonly from: string;
  /** The transformers class config.json names (e.g. Qwen2ForCausalLM); absent when the folder cannot be read. */
  readonly architecture?: string;
  /** Parameters of the transformer (heads excluded), from config.json. */
  readonly parameters?: number;
}

export interface RunView {
  readonly id: string;
  readonly stage: string;
  readonly state: 'running' | 'completed' | 'failed' | 'cancelled';
  readonly step: number;
  readonly updatedAt: string;
}

/** The project at a glance (sidebar). */
export interface ProjectOverview {
  readonly workspace: string;
  readonly name?: string;
  readonly models: {
    readonly base?: ModelView;
    readonly sft?: ModelView;
    readonly reward?: ModelView;
    /** The model completions are sampled from (see currentPolicy in the engine). */
    readonly policy?: ModelView;
  };
  readonly prompts: number;
  readonly batches: number;
  /** Batches this labeler has ranked or marked all bad (human source; skips are counted apart). */
  readonly ranked: number;
  /** Batches this labeler skipped. */
  readonly skipped: number;
  /** Batches this labeler has not ranked yet. */
  readonly unranked: number;
  /** Training pairs from the project's training sources. */
  readonly pairs: number;
  /** Implicit preferences recorded by the inline completion provider. */
  readonly implicit: number;
  readonly includeImplicit: boolean;
  readonly labeler: string;
  readonly labelers: readonly string[];
  /**
   * Where the RLHF loop stands: when the newest reward model and trained policy were finished,
   * and how many prompts this labeler ranked since that reward model (the next round's data).
   */
  readonly loop: { readonly rewardAt?: string; readonly policyAt?: string; readonly rankedSinceReward: number };
  readonly runs: readonly RunView[];
  /** Damaged log tails moved aside when the project was opened. */
  readonly repairs: readonly string[];
}

/** One batch to rank: the prompt and its K completions. */
export interface RankingItem {
  readonly batchId: string;
  readonly promptId: string;
  /** The prompt's text (a chat prompt's plain transcript). */
  readonly prompt: string;
  /** Set for a chat prompt: its messages, shown as a conversation; the completions are the assistant's replies. */
  readonly messages?: readonly ChatMessage[];
  readonly completions: readonly { readonly id: string; readonly text: string; readonly temperature?: number }[];
  /** The model that sampled it. */
  readonly model: string;
}

export interface RankingQueue {
  /** The next batch to rank (or the one asked for), undefined when none is left. */
  readonly item?: RankingItem;
  /** Batches ranked by this labeler, and all batches. */
  readonly done: number;
  readonly total: number;
  readonly guidelines: string;
  /** The model new completions would come from, when one is known. */
  readonly policy?: ModelView;
}

export interface SubmitParams {
  readonly workspace: string;
  readonly batchId: string;
  readonly verdict: 'ranked' | 'skip' | 'allBad';
  readonly completionIds: readonly string[];
  readonly ranks?: readonly number[];
  readonly note?: string;
}

export interface GenerateParams {
  readonly workspace: string;
  /** Prompts to sample for; default: up to `limit` prompts with no unranked batch, oldest first. */
  readonly promptIds?: readonly string[];
  /** A prompt text to add first (RLHF: Rank Completions for Selection). */
  readonly promptText?: string;
  readonly limit?: number;
  /** Completions per prompt (2..16, default 4). */
  readonly k?: number;
  readonly maxNewTokens?: number;
}

export interface ProjectRequests {
  /** The project in `workspace`, or `{ exists: false }` when there is none. */
  'project.overview': { params: { workspace: string }; result: { exists: false } | { exists: true; overview: ProjectOverview } };
  /** Creates a project; with `demo`, adds the demo prompts and points the base model at `demo.model`. */
  'project.create': {
    params: { workspace: string; name?: string; demo?: { model: string; promptsFile: string; guidelines: string } };
    result: ProjectOverview;
  };
  'project.importPrompts': {
    params: { workspace: string; file: string; format?: 'txt' | 'jsonl' | 'csv' };
    /** `tooLong`: prompts longer than the current policy's context leaves room for (`first`: file:line of one). */
    result: { added: number; duplicates: number; total: number; tooLong?: { count: number; room: number; nPositions: number; first: string } };
  };
  /** Samples K completions per prompt from the current policy and stores them as batches. */
  'project.generate': {
    params: GenerateParams;
    /** `promptsCut`: prompts longer than the `promptRoom` tokens the context leaves, continued from their end. */
    result: { batchIds: string[]; promptIds: string[]; tokens: number; seconds: number; provider: string; model: string; promptsCut: number; promptRoom: number };
  };
  /** The next batch to rank (or `batchId`), with progress. */
  'ranking.next': { params: { workspace: string; batchId?: string }; result: RankingQueue };
  /** Stores a ranking durably (fsync'd) before answering. */
  'ranking.submit': { params: SubmitParams; result: { eventId: string } };
  /** Takes back a submitted ranking (default: the labeler's latest). */
  'ranking.undo': { params: { workspace: string; eventId?: string }; result: { undone?: string; batchId?: string } };
  /** One short completion of `text` for ghost text; `id` names the pending suggestion. */
  'inline.complete': {
    /** `file`: the document the text comes from (refused outside the workspace, in .rlhf/, .vscode/, .git/ or a settings file). */
    params: { workspace: string; file: string; text: string; n?: number; maxNewTokens?: number };
    result: { id: string; completions: string[]; model: string };
  };
  /** Records what became of an inline suggestion: accepted (its index) or shown and not accepted (null). */
  'inline.record': { params: { workspace: string; id: string; accepted: number | null }; result: { eventId?: string } };
  'project.exportPreferences': {
    params: { workspace: string; format: 'trl' | 'hh'; out: string; includeImplicit?: boolean };
    result: { rows: number; out: string; notHeld: string[] };
  };
  /** Exports the current policy: an HF folder copy, or ONNX. */
  'project.exportModel': { params: { workspace: string; format: 'hf' | 'onnx'; out: string }; result: { out: string; files: string[]; model: string } };
}
