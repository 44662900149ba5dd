/**
 * Turning token ids into training batches: corpus windows (pretraining), prompt+response rows
 * with a response mask (SFT), and ranked groups with their pairs (reward model). Plain arrays
 * here; the stages turn them into tensors. Batch s is drawn from a generator seeded by
 * (seed, s), so a resumed run sees exactly the batches it would have seen.
 */
import { seededRandom, sequenceSeed } from '../../sample/pick';

export const batchRandom = (seed: number, step: number): (() => number) => seededRandom(sequenceSeed(seed, step));

/** `batchSize` random windows of `blockSize + 1` tokens from a corpus: inputs and next-token targets. */
export function corpusBatch(tokens: Int32Array, blockSize: number, batchSize: number, random: () => number): { ids: Int32Array; targets: Int32Array } {
  if (tokens.length < blockSize + 1) throw new Error(`corpus has ${tokens.length} tokens, fewer than one window of ${blockSize + 1}`);
  const ids = new Int32Array(batchSize * blockSize);
  const targets = new Int32Array(batchSize * blockSize);
  for (let b = 0; b < batchSize; b++) {
    const start = Math.floor(random() * (tokens.length - blockSize));
    ids.set(tokens.subarray(start, start + blockSize), b * blockSize);
    targets.set(tokens.subarray(start + 1, start + blockSize + 1), b * blockSize);
  }
  return { ids, targets };
}

export interface SftExample {
  readonly prompt: readonly number[];
  readonly response: readonly number[];
}

export interface SftBatch {
  readonly B: number;
  readonly T: number;
  /** [B, T] inputs (right padded with `pad`). */
  readonly ids: Int32Array;
  /** [B, T] next-token targets. */
  readonly targets: Int32Array;
  /** [B, T] 1 where the target is a response token (the loss is masked to the response). */
  readonly mask: Float32Array;
}

/**
 * Rows of prompt+response, next-token targets, loss masked to the response. A row longer than
 * `maxLen + 1` tokens keeps all of the response it can and the end of the prompt.
 */
export function sftBatch(examples: readonly SftExample[], maxLen: number, pad: number): SftBatch {
  const rows = examples.map((e) => {
    const response = e.response.slice(0, maxLen);
    const room = maxLen + 1 - response.length;
    const prompt = room > 0 ? e.prompt.slice(Math.max(0, e.prompt.length - room)) : [];
    return { seq: [...prompt, ...response], promptLen: prompt.length };
  });
  const T = Math.max(1, ...rows.map((r) => r.seq.length - 1));
  const B = rows.length;
  const ids = new Int32Array(B * T).fill(pad);
  const targets = new Int32Array(B * T).fill(pad);
  const mask = new Float32Array(B * T);
  rows.forEach((r, b) => {
    for (let t = 0; t + 1 < r.seq.length; t++) {
      ids[b * T + t] = r.seq[t] as number;
      targets[b * T + t] = r.seq[t + 1] as number;
      // Target t is token t+1: a response token when t+1 ≥ promptLen.
      if (t + 1 >= r.promptLen) mask[b * T + t] = 1;
    }
  });
  return { B, T, ids, targets, mask };
}

/** One ranked prompt for the reward model: K completions and the pairs the ranking implies. */
export interface RankedGroup {
  readonly prompt: readonly number[];
  readonly completions: readonly (readonly number[])[];
  /** [winner, loser] indices into `completions` (ties give no pair). */
  readonly pairs: readonly (readonly [number, number])[];
}

export interface RewardBatch {
  /** Sequences in the batch (all completions of all groups), and their padded length. */
  readonly S: number;
  readonly T: number;
  /** [S, T] prompt+completion, right padded. */
  readonly ids: Int32Array;
  /** [S, T] 1 for real tokens. */
  readonly mask: Float32Array;
  /** Pair p compares sequence winners[p] against losers[p]; group[p] is its group in the batch. */
  readonly winners: Int32Array;
  readonly losers: Int32Array;
  readonly pairGroup: Int32Array;
  readonly groups: number;
}

/**
 * All completions of each group in one batch element, as InstructGPT does: every pair of a
 * ranking shares one forward of its K sequences. Sequences longer than `maxLen` keep the end
 * of the prompt and as much completion as fits.
 */
export function rewardBatch(groups: readonly RankedGroup[], maxLen: number, pad: number): RewardBatch {
  const seqs: number[][] = [];
  const winners: number[] = [];
  const losers: number[] = [];
  const pairGroup: number[] = [];
  groups.forEach((g, gi) => {
    const base = seqs.length;
    for (const c of g.completions) {
      const completion = c.slice(0, maxLen);
      const room = maxLen - completion.length;
      seqs.push([...(room > 0 ? g.prompt.slice(Math.max(0, g.prompt.length - room)) : []), ...completion]);
    }
    for (const [w, l] of g.pairs) {
      winners.push(base + w);
      losers.push(base + l);
      pairGroup.push(gi);
    }
  });
  const S = seqs.length;
  const T = Math.max(1, ...seqs.map((s) => s.length));
  const ids = new Int32Array(S * T).fill(pad);
  const mask = new Float32Array(S * T);
  seqs.forEach((s, i) => {
    // An empty sequence still needs one real position to read a score from.
    const row = s.length ? s : [pad];
    row.forEach((tok, t) => {
      ids[i * T + t] = tok;
      mask[i * T + t] = 1;
    });
  });
  return { S, T, ids, mask, winners: Int32Array.from(winners), losers: Int32Array.from(losers), pairGroup: Int32Array.from(pairGroup), groups: groups.length };
}

/** Pick `n` items for step s without replacement within the batch (seeded). */
export function sampleBatch<T>(items: readonly T[], n: number, random: () => number): T[] {
  if (items.length === 0) throw new Error('no training examples');
  const idx = Array.from({ length: items.length }, (_, i) => i);
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    if (i % idx.length === 0) shuffle(idx, random);
    out.push(items[idx[i % idx.length] as number] as T);
  }
  return out;
}

export function shuffle<T>(a: T[], random: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
}

/** Deterministic train/eval split by index hash: `evalFraction` of the items (at least 1 when possible) held out. */
export function splitHeldOut<T>(items: readonly T[], evalFraction: number, seed: number): { train: T[]; eval: T[] } {
  if (evalFraction <= 0 || items.length < 2) return { train: [...items], eval: [] };
  const order = shuffle(
    Array.from({ length: items.length }, (_, i) => i),
    seededRandom(seed ^ 0x5bd1e995),
  );
  const nEval = Math.min(items.length - 1, Math.max(1, Math.round(items.length * evalFraction)));
  const evalSet = new Set(order.slice(0, nEval));
  return { train: items.filter((_, i) => !evalSet.has(i)), eval: items.filter((_, i) => evalSet.has(i)) };
}
