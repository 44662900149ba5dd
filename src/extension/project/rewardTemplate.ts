/**
 * What "RLHF: New Reward Function" writes to .rlhf/rewards/<name>.ts: a typed, working example
 * (it rewards completions that end with a period) whose comments state the contract the engine
 * holds it to (src/core/rewards/module.ts). No vscode here, so a unit test bundles and scores it.
 */

/** A reward file's name: letters, digits, _ and -, starting with a letter or digit (it is also the metric's name). */
export const REWARD_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Where a reward function's file lives in a workspace, relative to its .rlhf/ folder (as a config names it). */
export const rewardFileOf = (name: string): string => `rewards/${name}.ts`;

export function rewardTemplate(name: string): string {
  return `/**
 * Reward function "${name}" for GRPO (RLHF Workbench). Use it in a GRPO config's "rewards":
 *
 *   { "type": "module", "file": "${rewardFileOf(name)}", "weight": 1 }
 *
 * The contract:
 * - It gets a batch of samples and returns one number per sample, in the same order; higher is
 *   better. It may be async (return a Promise of the numbers).
 * - A sample is the prompt, the completion, and the prompt's other columns (e.g. an expected answer).
 * - It runs in a worker thread, with a time limit per batch ("timeoutMs", default 10 s) and a
 *   memory limit ("memoryMb", default 256 MB). Its imports are bundled; Node's built-in modules
 *   (node:fs, node:child_process, ...) can be imported too.
 * - Errors are reported with this file, the export and the sample, and the sample is skipped; the
 *   run goes on. A throw, a timeout, running out of memory or returning the wrong number of scores
 *   skips the whole batch; NaN, Infinity or a non-number skips that one sample.
 */

/** One sample to score. */
export interface Sample {
  readonly prompt: string;
  readonly completion: string;
  readonly [column: string]: unknown;
}

/** 1 when the completion ends with a period (trailing whitespace aside), else 0. */
export default function score(samples: readonly Sample[]): number[] {
  return samples.map((s) => (s.completion.trimEnd().endsWith('.') ? 1 : 0));
}
`;
}
