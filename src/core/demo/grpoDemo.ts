/**
 * The second built-in demo: GRPO with verifiable rewards, no human ranking needed. On the shipped
 * tiny model: base → SFT on Moby-Dick sentences → GRPO, rewarded by two functions a program
 * checks:
 *   nautical  the workspace module .rlhf/rewards/nautical.ts (copied from assets/demo/rewards/ when
 *             the project has none): 1 when the completion speaks of the sea (sea, whale, ship …);
 *   sentence  a built-in regex: 0.5 when the completion ends a sentence (". ", "!", "?").
 * The policy is measured before and after GRPO on fixed prompts with a fixed seed: each function's
 * mean, the share of completions that pass both checks, and the KL to the SFT model.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MetricRecord } from '../../protocol/metrics';
import type { Project } from '../store/project';
import { newRunId } from '../store/ids';
import type { RewardSpec } from '../rewards/config';
import { loadRewardFunctions } from '../rewards/load';
import type { RewardFunction } from '../rewards/types';
import { evaluatePolicy } from '../train/evaluate';
import type { EvaluateOptions } from '../train/evaluate';
import { grpoJob, sftJob } from '../train/run/jobs';
import { runPipeline } from '../train/run/runner';
import { DEFAULT_GRPO } from '../train/stages/grpo';
import type { GrpoConfig } from '../train/stages/grpo';
import type { SftConfig } from '../train/stages/sft';
import type { SftExample } from '../train/data/batches';
import { mean } from '../train/stats';
import { assetRoot, corpusSftExamples, DEFAULT_DEMO, openDemoProject, unfinishedDemoRun } from './demo';
import type { DemoEvent } from './demo';

export interface GrpoDemoConfig {
  /** Tells this demo's config from the sentiment demo's (presets, resume). */
  readonly task: 'grpo';
  /** Base model folder; default: the shipped tiny default. */
  readonly baseModel?: string;
  readonly sft: SftConfig;
  /** SFT examples drawn from the corpus (prompt = first words of a sentence, completion = the rest). */
  readonly sftExamples: number;
  readonly grpo: GrpoConfig;
  /** How the policy is measured before and after GRPO (same prompts, same seed). */
  readonly evaluation: EvaluateOptions;
  readonly evaluationPrompts: number;
}

export const DEFAULT_GRPO_DEMO: GrpoDemoConfig = {
  task: 'grpo',
  sft: DEFAULT_DEMO.sft,
  sftExamples: 1000,
  grpo: {
    ...DEFAULT_GRPO,
    iterations: 80,
    promptsPerIteration: 8,
    numGenerations: 4,
    miniBatches: 2,
    maxNewTokens: 32,
    temperature: 1,
    // A small KL term keeps the policy near fluent English while the rewards pull it.
    beta: 0.04,
    sampleEvery: 5,
    checkpointEvery: 20,
    optim: { ...DEFAULT_GRPO.optim, lr: 1e-4, totalSteps: 80 * 2 },
  },
  evaluation: { temperature: 1, maxNewTokens: 32, seed: 12345, n: 2 },
  evaluationPrompts: 128,
};

export const isGrpoDemo = (c: object): c is GrpoDemoConfig => (c as { task?: unknown }).task === 'grpo';

/** Percent, for summaries. */
export const pct = (x: number): string => `${(100 * x).toFixed(0)}%`;

/** The rewards: the workspace module (a file the user can read and edit) and a built-in. */
export const GRPO_DEMO_REWARDS: readonly RewardSpec[] = [
  { type: 'module', file: 'rewards/nautical.ts', name: 'nautical', weight: 1 },
  { type: 'regex', pattern: '[.!?](\\s|$)', name: 'sentence', weight: 0.5 },
];

/** One side of the before/after: each function's mean (0..1), the share passing every check, the KL to SFT. */
export interface GrpoDemoMeasure {
  readonly reward: number;
  readonly perFunction: Readonly<Record<string, number>>;
  readonly passAll: number;
  readonly kl: number;
}

export interface GrpoDemoSummary {
  readonly runId: string;
  readonly runDir: string;
  readonly project: string;
  readonly sftFinal: string;
  readonly policyFinal: string;
  /** Where the nautical reward lives, and whether this run wrote it (false: the project's own copy was used). */
  readonly rewardFile: string;
  readonly rewardFileWritten: boolean;
  readonly before: GrpoDemoMeasure;
  readonly after: GrpoDemoMeasure;
  readonly beforeAfter: readonly { prompt: string; before: string; after: string; beforeReward: number; afterReward: number }[];
}

/** Copies the demo's reward module into the project, unless the project has one there already (never overwritten). */
function installRewardModule(project: Project): { file: string; written: boolean } {
  const file = path.join(project.paths.dir, 'rewards', 'nautical.ts');
  if (fs.existsSync(file)) return { file, written: false };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.copyFileSync(path.join(assetRoot(), 'assets', 'demo', 'rewards', 'nautical.ts'), file);
  return { file, written: true };
}

export async function runGrpoDemo(
  workspace: string,
  config: GrpoDemoConfig = DEFAULT_GRPO_DEMO,
  options: { runId?: string; signal?: AbortSignal; onEvent?: (e: DemoEvent) => void; trusted?: boolean } = {},
): Promise<GrpoDemoSummary> {
  const emit = options.onEvent ?? (() => undefined);
  const { project, base, promptTexts } = await openDemoProject(workspace, config.baseModel, emit);
  const reward = installRewardModule(project);
  emit({ type: 'demo', message: reward.written ? `wrote the demo's reward function to ${reward.file}` : `using the project's reward function ${reward.file} (not overwritten)` });
  const runId = options.runId ?? unfinishedDemoRun(project, 'demo-grpo') ?? newRunId('demo-grpo');
  const sftData = corpusSftExamples(config.sftExamples, new Set(promptTexts), () => true);
  const sft = sftJob(config.sft, (tokenizer): SftExample[] => sftData.map((e) => ({ prompt: tokenizer.encode(e.prompt), response: tokenizer.encode(e.completion) })), {
    model: base,
    evalFraction: 0.1,
  });
  const sftFinal = path.join(project.runs.dir(runId), 'checkpoints', 'sft', 'final');
  // The CLI is trusted (the user ran it); the editor says whether the workspace is.
  const trusted = options.trusted ?? true;
  const grpo = grpoJob(project, config.grpo, { model: sftFinal, rewards: GRPO_DEMO_REWARDS, prompts: promptTexts, workspaceRoot: project.paths.workspace, trusted });
  const metrics: MetricRecord[] = [];
  const result = await runPipeline(
    project,
    runId,
    [sft, grpo],
    { demo: config, base },
    {
      ...(options.signal ? { signal: options.signal } : {}),
      onEvent: (e) => {
        if (e.type === 'metrics') metrics.push(e.record);
        emit(e);
      },
    },
  );
  const policyFinal = result.finals.grpo as string;
  emit({ type: 'demo', message: 'measuring the SFT model and the GRPO policy by the reward functions…' });
  const functions = await loadRewardFunctions(GRPO_DEMO_REWARDS, { workspaceRoot: project.paths.workspace, trusted });
  try {
    const measured = promptTexts.slice(0, config.evaluationPrompts);
    const before = await measure(sftFinal, sftFinal, measured, functions, config.evaluation, options.signal);
    const after = await measure(policyFinal, sftFinal, measured, functions, config.evaluation, options.signal);
    return {
      runId,
      runDir: project.runs.dir(runId),
      project: project.paths.dir,
      sftFinal,
      policyFinal,
      rewardFile: reward.file,
      rewardFileWritten: reward.written,
      before: before.measure,
      after: after.measure,
      beforeAfter: before.samples.slice(0, 4).map((b, i) => {
        const a = after.samples[i]!;
        return { prompt: b.prompt, before: b.completion, after: a.completion, beforeReward: b.reward, afterReward: a.reward };
      }),
    };
  } finally {
    await Promise.all(functions.map((f) => f.dispose()));
  }
}

/** Samples the policy on the prompts (fixed seed) and scores every completion with every function. */
async function measure(policy: string, reference: string, prompts: readonly string[], functions: readonly RewardFunction[], options: EvaluateOptions, signal: AbortSignal | undefined) {
  const evaluation = await evaluatePolicy(policy, reference, prompts, () => 0, options);
  const samples = evaluation.samples.map((s) => ({ prompt: s.prompt, completion: s.completion }));
  const problems: string[] = [];
  const values = await Promise.all(functions.map((f) => f.score(samples, (p) => problems.push(p.message), signal)));
  if (problems.length) throw new Error(`demo: the reward functions could not score the measured samples: ${problems.slice(0, 3).join('; ')}`);
  const perFunction: Record<string, number> = {};
  functions.forEach((f, j) => (perFunction[f.name] = mean(values[j]!.map((v) => v ?? 0))));
  const totals = samples.map((_, i) => functions.reduce((t, f, j) => t + f.weight * (values[j]![i] ?? 0), 0));
  const passAll = mean(samples.map((_, i) => (functions.every((_f, j) => (values[j]![i] ?? 0) > 0) ? 1 : 0)));
  return {
    measure: { reward: mean(totals), perFunction, passAll, kl: evaluation.meanKl },
    samples: samples.map((s, i) => ({ ...s, reward: totals[i]! })),
  };
}
