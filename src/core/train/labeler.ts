/**
 * The simulated labeler used by the demo, tests and benchmarks: it ranks the K completions of a
 * batch by a scorer — by default the AFINN-165 sentiment of the text (the "make continuations
 * positive" task of Ziegler et al. 2019) — with optional Gaussian noise to mimic human
 * disagreement. Its rankings are stored with source 'simulated' under its own labeler name, so
 * they are always told apart from human ones.
 */
import Sentiment from 'sentiment';
import type { Project } from '../store/project';
import type { RankEvent } from '../store/schemas';
import { seededRandom } from '../sample/pick';

export type Scorer = (text: string) => number;

export interface SimulatedLabelerConfig {
  /** The labeler name its events carry. */
  readonly labeler: string;
  /** Standard deviation of Gaussian noise added to each score before ranking (0: exact). */
  readonly noise: number;
  /** Scores closer than this are a tie (no pair). */
  readonly tieEpsilon: number;
  readonly seed: number;
}

export const DEFAULT_SIMULATED_LABELER: SimulatedLabelerConfig = {
  labeler: 'simulated:afinn',
  noise: 0,
  tieEpsilon: 1e-9,
  seed: 0,
};

let afinn: Sentiment | undefined;

/**
 * AFINN-165 sentiment per word, as `sentiment`'s comparative score (sum over words / word count),
 * so longer texts are not favoured just for length.
 */
export const afinnScore: Scorer = (text) => {
  afinn ??= new Sentiment();
  return afinn.analyze(text).comparative;
};

/** Ranks (1 = best, equal = tie) of `scores`, after noise; dense ranking. */
export function ranksFromScores(scores: readonly number[], tieEpsilon: number): number[] {
  const order = scores.map((s, i) => ({ s, i })).sort((a, b) => b.s - a.s);
  const ranks = new Array<number>(scores.length);
  let rank = 0;
  let prev = Infinity;
  for (const { s, i } of order) {
    if (prev - s > tieEpsilon) rank += 1;
    ranks[i] = rank;
    prev = s;
  }
  return ranks;
}

/** Box–Muller normal from a uniform generator. */
function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export interface LabelResult {
  readonly ranked: number;
  /** Batches where every completion scored the same: stored as a ranking of all-ties. */
  readonly allTied: number;
  readonly events: RankEvent[];
}

/**
 * Ranks every batch this labeler has not ranked yet (optionally only `batchIds`) and stores the
 * rankings, each fsync'd like a human label.
 */
export async function labelUnranked(project: Project, scorer: Scorer = afinnScore, config: SimulatedLabelerConfig = DEFAULT_SIMULATED_LABELER, batchIds?: ReadonlySet<string>): Promise<LabelResult> {
  const random = seededRandom(config.seed);
  const events: RankEvent[] = [];
  let allTied = 0;
  for (const batch of project.rankings.unranked(config.labeler, 'simulated')) {
    if (batchIds && !batchIds.has(batch.id)) continue;
    if (batch.completions.length < 2) continue;
    const scores = batch.completions.map((c) => scorer(c.text) + (config.noise > 0 ? config.noise * gaussian(random) : 0));
    const ranks = ranksFromScores(scores, config.tieEpsilon);
    if (ranks.every((r) => r === 1)) allTied += 1;
    events.push(
      await project.rankings.submit(
        { batchId: batch.id, completionIds: batch.completions.map((c) => c.id), ranks, note: `scores: ${scores.map((s) => s.toFixed(3)).join(', ')}` },
        { labeler: config.labeler, source: 'simulated' },
      ),
    );
  }
  return { ranked: events.length, allTied, events };
}
