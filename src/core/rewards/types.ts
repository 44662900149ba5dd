/**
 * Reward functions: what GRPO (and any policy stage that takes them) scores completions with,
 * beside or instead of the reward model trained from human rankings. A function scores a batch
 * of samples; a sample it cannot score (its code threw, timed out, returned a wrong length or a
 * non-finite value) is `null` and reported as a RewardProblem — the run goes on without it.
 */

/** One sample a reward function scores: the prompt, the completion, and the prompt's extra columns (e.g. an expected answer). */
export interface RewardSample {
  readonly prompt: string;
  readonly completion: string;
  readonly [column: string]: unknown;
}

/** Why a sample was not scored, naming where: the file and export (or built-in), and the sample. */
export interface RewardProblem {
  /** The function's name (its metric is `rewards/<name>/mean`). */
  readonly name: string;
  /** The file it came from (a workspace module), or the built-in's kind ("regex", "command", ...). */
  readonly source: string;
  /** Index of the sample in the batch, or null when the whole batch failed. */
  readonly sample: number | null;
  readonly message: string;
}

/** A configured reward function, ready to score. */
export interface RewardFunction {
  /** Unique within a run; the metric `rewards/<name>/mean` and the samples table's column. */
  readonly name: string;
  /** Its weight in the summed reward. */
  readonly weight: number;
  /**
   * Scores a batch, one entry per sample (null: not scored, with a problem reported through
   * `report`). Never throws for a sample's fault; rejects only when cancelled through `signal`.
   */
  score(samples: readonly RewardSample[], report: (problem: RewardProblem) => void, signal?: AbortSignal): Promise<(number | null)[]>;
  /** Frees its worker, session or temp files. */
  dispose(): Promise<void>;
}
