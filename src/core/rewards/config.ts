/**
 * The `rewards` array of a policy config (GRPO): which reward functions score each completion,
 * and each one's weight in the summed reward. Five kinds:
 *
 *   module       a workspace file (.rlhf/rewards/*.ts|js) exporting
 *                `(samples: { prompt, completion, ...columns }[]) => number[] | Promise<number[]>`,
 *                bundled with esbuild and run in a worker with a time and a memory limit
 *                (trusted workspaces only);
 *   regex        1 when the completion matches a pattern, else 0;
 *   length       a length penalty in [-1, 0]: 0 up to `target`, falling linearly to -1 at `max`;
 *   command      a shell command run on the completion written to a temp file: 1 on exit code 0,
 *                else 0 (opt-in, trusted workspaces only, with a timeout);
 *   rewardModel  the reward model trained from human rankings (built by the policy stage).
 *
 * Every entry has an optional `name` (unique in the run; the metric is `rewards/<name>/mean`) and
 * `weight` (default 1). The JSON schema of the config files is generated from these `.describe()`s.
 */
import { z } from 'zod';
import { SAFE_ID } from '../../protocol/guards';

/** A module's time limit per batch when its entry sets none. */
export const DEFAULT_MODULE_TIMEOUT_MS = 10_000;
/** A module worker's JS heap limit (MB) when its entry sets none. */
export const DEFAULT_MODULE_MEMORY_MB = 256;
/** A command's time limit per sample when its entry sets none. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
/** The length penalty's free length when its entry sets none (characters or words, per `unit`). */
export const DEFAULT_LENGTH_TARGET = 200;

const common = {
  name: z
    .string()
    .regex(SAFE_ID, 'letters, digits, _ . - only (starting with a letter or digit, no ..)')
    .max(64)
    .optional()
    .describe('Unique within the run; its metric is rewards/<name>/mean. Default: the file name (plus ".<export>" for a named export) or the kind, numbered when taken.'),
  weight: z.number().min(-1e6).max(1e6).optional().describe('Its weight in the summed reward (negative: a penalty). Default 1.'),
};

const moduleSpec = z.strictObject({
  type: z.literal('module'),
  file: z
    .string()
    .min(1)
    .regex(/\.(c|m)?(t|j)s$/, 'a .ts or .js file')
    .describe('The module, relative to the project\'s .rlhf/ folder (e.g. "rewards/format.ts" is .rlhf/rewards/format.ts), or absolute. Its own imports are bundled; Node built-ins are allowed.'),
  export: z
    .string()
    .regex(/^[A-Za-z_$][\w$]*$/, 'a JavaScript identifier')
    .optional()
    .describe('The exported function to call: "default" (default; also a CommonJS `module.exports = fn`) or a named export.'),
  timeoutMs: z
    .int()
    .min(10)
    .max(600_000)
    .optional()
    .describe(`Time limit per batch, ms (default ${DEFAULT_MODULE_TIMEOUT_MS}). Past it the worker is stopped, the batch's samples are skipped, and a fresh worker scores the next batch.`),
  memoryMb: z.int().min(16).max(16_384).optional().describe(`The worker's JS heap limit, MB (default ${DEFAULT_MODULE_MEMORY_MB}). A batch that exceeds it is skipped and the worker restarted.`),
  ...common,
});

const regexSpec = z
  .strictObject({
    type: z.literal('regex'),
    pattern: z.string().min(1).max(10_000).describe('A JavaScript regular expression (without slashes). Reward 1 when the completion matches, else 0.'),
    flags: z
      .string()
      .regex(/^[dimsuv]*$/, 'RegExp flags among d i m s u v (g and y have no meaning here)')
      .optional()
      .describe('RegExp flags, e.g. "i" or "ms".'),
    match: z.enum(['search', 'full']).optional().describe('"search" (default): the pattern occurs anywhere in the completion; "full": it matches the whole completion.'),
    ...common,
  })
  .superRefine((s, ctx) => {
    try {
      new RegExp(s.pattern, s.flags);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['pattern'], message: `is not a valid regular expression (${err instanceof Error ? err.message : String(err)})` });
    }
  });

const lengthSpec = z
  .strictObject({
    type: z.literal('length'),
    target: z.int().min(1).max(1_000_000).optional().describe(`The longest completion with no penalty (default ${DEFAULT_LENGTH_TARGET}).`),
    max: z.int().min(2).max(2_000_000).optional().describe('Where the penalty reaches -1 and stays (default 2 × target). Between target and max the reward is -(length - target) / (max - target).'),
    unit: z.enum(['chars', 'words']).optional().describe('"chars" (default; Unicode code points) or "words" (runs of non-whitespace).'),
    ...common,
  })
  .refine((s) => s.max === undefined || s.max > (s.target ?? DEFAULT_LENGTH_TARGET), { path: ['max'], message: 'must be greater than target' });

const commandSpec = z.strictObject({
  type: z.literal('command'),
  command: z
    .string()
    .min(1)
    .max(10_000)
    .describe(
      'A shell command, run in the workspace folder with the completion written to a temp file: {file} is replaced by its (quoted) path, also in env RLHF_COMPLETION_FILE; the prompt is in env RLHF_PROMPT_FILE (and RLHF_PROMPT when short). Reward 1 on exit code 0, else 0. E.g. "npx tsc --noEmit --strict {file}".',
    ),
  extension: z
    .string()
    .regex(/^\.[A-Za-z0-9_-]{1,16}$/, 'a file extension such as ".ts"')
    .optional()
    .describe('The temp file\'s extension (default ".txt"), e.g. ".ts" for a type check.'),
  timeoutMs: z
    .int()
    .min(10)
    .max(3_600_000)
    .optional()
    .describe(`Time limit per sample, ms (default ${DEFAULT_COMMAND_TIMEOUT_MS}). Past it the command's whole process group is killed and the sample is skipped.`),
  ...common,
});

const rewardModelSpec = z.strictObject({
  type: z.literal('rewardModel'),
  path: z.string().min(1).optional().describe('A reward-model folder (relative to this config file). Default: the config\'s "rewardModel".'),
  ...common,
});

/** One entry of a config's `rewards` array. */
export const rewardSpecSchema = z.discriminatedUnion('type', [moduleSpec, regexSpec, lengthSpec, commandSpec, rewardModelSpec]);

/** A config's `rewards` array (at least one entry). */
export const rewardsSchema = z
  .array(rewardSpecSchema)
  .min(1)
  .max(32)
  .describe(
    'The reward functions and their weights; the reward is their weighted sum. Kinds: module (a .rlhf/rewards/*.ts file), regex, length, command (both module and command run only in a trusted workspace), rewardModel.',
  );

export type RewardSpec = z.infer<typeof rewardSpecSchema>;
export type ModuleRewardSpec = z.infer<typeof moduleSpec>;
export type RegexRewardSpec = z.infer<typeof regexSpec>;
export type LengthRewardSpec = z.infer<typeof lengthSpec>;
export type CommandRewardSpec = z.infer<typeof commandSpec>;
export type RewardModelSpec = z.infer<typeof rewardModelSpec>;
