/**
 * The embedded default demo, end to end on the shipped tiny model:
 *   base → SFT → sample K=4 per prompt → simulated (AFINN sentiment) ranking → reward model
 *   → PPO against the reward model,
 * as one run in a project, resumable like any other. The policy is measured by the AFINN
 * scorer and its KL to the SFT model before and after PPO. It returns a summary; callers print it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MetricRecord } from '../../protocol/metrics';
import { Project } from '../store/project';
import { newRunId } from '../store/ids';
import { generateCompletions, DEFAULT_GENERATE } from '../sample/generate';
import type { GenerateConfig } from '../sample/generate';
import { afinnScore, DEFAULT_SIMULATED_LABELER, labelUnranked } from '../train/labeler';
import type { SimulatedLabelerConfig } from '../train/labeler';
import { ppoJob, rewardJob, sftJob } from '../train/run/jobs';
import { DEFAULT_PPO } from '../train/stages/ppo';
import type { PpoConfig } from '../train/stages/ppo';
import { evaluatePolicy } from '../train/evaluate';
import type { EvaluateOptions, PolicyEvaluation } from '../train/evaluate';
import { runPipeline } from '../train/run/runner';
import type { RunnerEvent } from '../train/run/runner';
import { DEFAULT_SFT } from '../train/stages/sft';
import type { SftConfig } from '../train/stages/sft';
import { DEFAULT_REWARD } from '../train/stages/reward';
import type { RewardConfig } from '../train/stages/reward';
import type { SftExample } from '../train/data/batches';
import { mobyDickText, sentences } from './corpus';

/** Where the shipped assets live (models/, assets/), found from this file or the bundle. */
export function assetRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'models', 'tiny-default', 'config.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error('The shipped default model (models/tiny-default) was not found next to the code.');
  }
}

export interface DemoConfig {
  /** Base model folder; default: the shipped tiny default. */
  readonly baseModel?: string;
  readonly sft: SftConfig;
  /** SFT examples drawn from the corpus (prompt = first words of a sentence, completion = the rest). */
  readonly sftExamples: number;
  readonly generate: GenerateConfig;
  readonly labeler: SimulatedLabelerConfig;
  readonly reward: RewardConfig;
  /** Fraction of ranked prompts held out to measure the reward model. */
  readonly rewardEvalFraction: number;
  readonly ppo: PpoConfig;
  /** How the policy is measured before and after PPO (same prompts, same seed). */
  readonly evaluation: EvaluateOptions;
  /** Prompts (the first of the set) the policy is measured on. */
  readonly evaluationPrompts: number;
}

export const DEFAULT_DEMO: DemoConfig = {
  sft: { ...DEFAULT_SFT, steps: 150, batchSize: 8, maxLen: 64, evalEvery: 50, checkpointEvery: 50, optim: { ...DEFAULT_SFT.optim, lr: 1e-3, totalSteps: 150 } },
  sftExamples: 1000,
  // Close temperatures: wide ones make fluency, not sentiment, the main difference between the K.
  generate: { ...DEFAULT_GENERATE, k: 4, maxNewTokens: 48, temperatures: [0.8, 0.85, 0.9, 0.95] },
  labeler: DEFAULT_SIMULATED_LABELER,
  reward: { ...DEFAULT_REWARD, steps: 200, batchSize: 8, maxLen: 72, evalEvery: 50, checkpointEvery: 100, optim: { ...DEFAULT_REWARD.optim, lr: 1e-4, totalSteps: 200, weightDecay: 0.01 } },
  rewardEvalFraction: 0.2,
  ppo: {
    ...DEFAULT_PPO,
    iterations: 30,
    rolloutBatch: 32,
    miniBatches: 4,
    ppoEpochs: 2,
    maxNewTokens: 32,
    klCoef: 0.05,
    sampleEvery: 5,
    checkpointEvery: 10,
    optim: { ...DEFAULT_PPO.optim, lr: 5e-5, totalSteps: 30 * 2 * 4 },
  },
  evaluation: { temperature: 0.7, maxNewTokens: 32, seed: 12345, n: 2 },
  evaluationPrompts: 128,
};

export type DemoEvent = RunnerEvent | { readonly type: 'demo'; readonly message: string };

export interface DemoSummary {
  readonly runId: string;
  readonly runDir: string;
  readonly project: string;
  readonly sftFinal: string;
  readonly rewardFinal: string;
  readonly finalSftEvalLoss?: number;
  readonly rewardEvalAccuracy?: number;
  readonly policyFinal: string;
  /** The SFT model and the PPO policy, measured alike: mean AFINN score and KL to the SFT model. */
  readonly before: { readonly score: number; readonly kl: number };
  readonly after: { readonly score: number; readonly kl: number };
  readonly beforeAfter: readonly { prompt: string; before: string; beforeScore: number; after: string; afterScore: number }[];
  readonly examples: readonly { prompt: string; best: string; bestScore: number; worst: string; worstScore: number }[];
}

/**
 * SFT pairs from corpus sentences that carry sentiment in their continuation (by the same AFINN
 * lexicon the simulated labeler uses) and are not demo prompts. The demo's task, as in Ziegler et
 * al.'s IMDB continuations, needs a policy that writes evaluative words at all; SFT on such
 * sentences gives the labeler something to tell apart, and the reward model something to learn.
 */
export function demoSftExamples(n: number, exclude: ReadonlySet<string>): { prompt: string; completion: string }[] {
  return corpusSftExamples(n, exclude, (completion) => afinnScore(completion) !== 0);
}

/** SFT pairs from corpus sentences of 8+ words (prompt = the first 4, completion = up to 60 characters of the rest) that `keep` accepts, none a demo prompt. */
export function corpusSftExamples(n: number, exclude: ReadonlySet<string>, keep: (completion: string) => boolean): { prompt: string; completion: string }[] {
  const out: { prompt: string; completion: string }[] = [];
  for (const s of sentences(mobyDickText())) {
    const words = s.split(' ');
    if (words.length < 8) continue;
    const prompt = words.slice(0, 4).join(' ');
    const completion = ' ' + words.slice(4).join(' ').slice(0, 60);
    if (exclude.has(prompt) || !keep(completion)) continue;
    out.push({ prompt, completion });
    if (out.length >= n) break;
  }
  return out;
}

/**
 * The demo project in `workspace` (created on first use, with the simulated labels usable for
 * training) and its prompts (the shipped Moby-Dick openings, added once).
 */
export async function openDemoProject(
  workspace: string,
  baseModel: string | undefined,
  emit: (e: DemoEvent) => void,
): Promise<{ project: Project; base: string; promptTexts: string[]; promptIds: string[] }> {
  const root = assetRoot();
  const base = baseModel ?? path.join(root, 'models', 'tiny-default');
  fs.mkdirSync(workspace, { recursive: true });
  const project = fs.existsSync(path.join(workspace, '.rlhf', 'project.json'))
    ? await Project.open(workspace)
    : await Project.create(workspace, { name: 'RLHF Workbench demo', guidelines: 'Prefer continuations that are positive in tone (the demo ranks by AFINN sentiment).' });
  // The demo's labels are simulated: let training use them.
  if (!project.meta.settings.includeSimulated) await project.updateMeta((m) => ({ ...m, settings: { ...m.settings, includeSimulated: true } }));
  const promptTexts = fs
    .readFileSync(path.join(root, 'assets', 'demo', 'prompts.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const { ids: promptIds, added } = await project.prompts.add(promptTexts, 'demo');
  emit({ type: 'demo', message: `project ${project.paths.dir}: ${promptIds.length} prompts (${added} new)` });
  return { project, base, promptTexts, promptIds };
}

/**
 * The latest run of a demo (by its run-id kind: 'demo', 'demo-grpo') that did not complete, so
 * running the demo again after a stop or a crash continues it.
 */
export function unfinishedDemoRun(project: Project, kind: string): string | undefined {
  const id = new RegExp(`^\\d{8}-\\d{6}-${kind}-[0-9a-f]{6}$`);
  const open = project.runs.list().filter((r) => id.test(r.id) && r.state !== 'completed');
  return open[open.length - 1]?.id;
}

export async function runDemo(workspace: string, config: DemoConfig = DEFAULT_DEMO, options: { runId?: string; signal?: AbortSignal; onEvent?: (e: DemoEvent) => void } = {}): Promise<DemoSummary> {
  const emit = options.onEvent ?? (() => undefined);
  const { project, base, promptTexts, promptIds } = await openDemoProject(workspace, config.baseModel, emit);
  const runId = options.runId ?? unfinishedDemoRun(project, 'demo') ?? newRunId('demo');
  const sftData = demoSftExamples(config.sftExamples, new Set(promptTexts)).map((e) => ({ prompt: e.prompt, completion: e.completion }));
  const metrics: MetricRecord[] = [];
  const sft = sftJob(config.sft, (tokenizer): SftExample[] => sftData.map((e) => ({ prompt: tokenizer.encode(e.prompt), response: tokenizer.encode(e.completion) })), {
    model: base,
    evalFraction: 0.1,
  });
  const reward = {
    ...rewardJob(project, config.reward, { evalFraction: config.rewardEvalFraction, includeSimulated: true }),
    prepare: async (sftFinal: string | undefined, signal: AbortSignal | undefined) => {
      if (!sftFinal) throw new Error('demo: the reward stage needs the SFT model');
      const checkpoint = `${runId}/sft/final`;
      const have = new Set(
        project.completions
          .list()
          .filter((b) => b.model.checkpoint === checkpoint)
          .map((b) => b.promptId),
      );
      const todo = project.prompts.list().filter((p) => promptIds.includes(p.id) && !have.has(p.id));
      if (todo.length) {
        const g = await generateCompletions(project, sftFinal, todo, config.generate, { checkpoint, ...(signal ? { signal } : {}) });
        emit({ type: 'demo', message: `sampled ${g.batches.length}×${config.generate.k} completions (${g.tokens} tokens, ${(g.tokens / g.seconds).toFixed(0)} tok/s on ORT ${g.provider})` });
      }
      const batchIds = new Set(
        project.completions
          .list()
          .filter((b) => b.model.checkpoint === checkpoint)
          .map((b) => b.id),
      );
      const labeled = await labelUnranked(project, afinnScore, config.labeler, batchIds);
      emit({ type: 'demo', message: `simulated labeler (${config.labeler.labeler}) ranked ${labeled.ranked} batches (${labeled.allTied} all tied)` });
    },
  };
  const checkpoints = path.join(project.runs.dir(runId), 'checkpoints');
  const sftFinal = path.join(checkpoints, 'sft', 'final');
  const rmFinal = path.join(checkpoints, 'reward', 'final');
  const ppo = ppoJob(project, config.ppo, { model: sftFinal, scorer: rmFinal, prompts: promptTexts });
  const result = await runPipeline(
    project,
    runId,
    [sft, reward, ppo],
    { demo: config, base },
    {
      ...(options.signal ? { signal: options.signal } : {}),
      onEvent: (e) => {
        if (e.type === 'metrics') metrics.push(e.record);
        emit(e);
      },
    },
  );
  emit({ type: 'demo', message: 'measuring the SFT model and the PPO policy by the AFINN scorer…' });
  const measured = promptTexts.slice(0, config.evaluationPrompts);
  const before = await evaluatePolicy(sftFinal, sftFinal, measured, afinnScore, config.evaluation);
  const after = await evaluatePolicy(result.finals.ppo as string, sftFinal, measured, afinnScore, config.evaluation);
  return summarise(project, runId, { sft: sftFinal, reward: rmFinal, policy: result.finals.ppo as string }, metrics, before, after);
}

function summarise(project: Project, runId: string, finals: { sft: string; reward: string; policy: string }, streamed: MetricRecord[], before: PolicyEvaluation, after: PolicyEvaluation): DemoSummary {
  // Metrics from this process, or from metrics.jsonl when the stages were done earlier.
  const lines = streamed.length ? streamed.map((m) => ({ values: m.values as Record<string, number | null> })) : project.runs.readMetrics(runId).records;
  const last = (name: string): number | undefined => {
    for (let i = lines.length - 1; i >= 0; i--) {
      const v = lines[i]?.values[name];
      if (typeof v === 'number') return v;
    }
    return undefined;
  };
  const checkpoint = `${runId}/sft/final`;
  const prompts = project.prompts.byId();
  const batches = project.completions.list().filter((b) => b.model.checkpoint === checkpoint);
  const examples = batches.slice(0, 3).map((b) => {
    const scored = b.completions.map((c) => ({ text: c.text, score: afinnScore(c.text) })).sort((x, y) => y.score - x.score);
    const best = scored[0]!;
    const worst = scored[scored.length - 1]!;
    return { prompt: prompts.get(b.promptId)?.text ?? b.promptId, best: best.text, bestScore: best.score, worst: worst.text, worstScore: worst.score };
  });
  const evalAcc = last('reward/eval_accuracy');
  const sftEval = last('sft/eval_loss');
  return {
    runId,
    runDir: project.runs.dir(runId),
    project: project.paths.dir,
    sftFinal: finals.sft,
    rewardFinal: finals.reward,
    policyFinal: finals.policy,
    before: { score: before.meanScore, kl: before.meanKl },
    after: { score: after.meanScore, kl: after.meanKl },
    // The same prompt and seed before and after, so the change is the policy's.
    beforeAfter: before.samples
      .slice(0, 8)
      .filter((_, i) => i % 2 === 0)
      .map((b, i) => {
        const a = after.samples[i * 2]!;
        return { prompt: b.prompt, before: b.completion, beforeScore: b.score, after: a.completion, afterScore: a.score };
      }),
    ...(sftEval === undefined ? {} : { finalSftEvalLoss: sftEval }),
    ...(evalAcc === undefined ? {} : { rewardEvalAccuracy: evalAcc }),
    examples,
  };
}
