/**
 * How much labelers agree, on the batches two or more of them ranked. The unit of judgment is a
 * pair of completions of one batch; each labeler's value for it is 'first' better, 'second'
 * better, 'tie', or 'allBad'. Skips give no value. Reported: raw pairwise agreement, Krippendorff's
 * α (nominal; handles any number of labelers and missing values), and Cohen's κ per labeler pair.
 */
import type { CurrentRanking } from './rankings';

type Judgment = 'first' | 'second' | 'tie' | 'allBad';

export interface LabelerPairAgreement {
  readonly a: string;
  readonly b: string;
  /** Pair-units both judged. */
  readonly units: number;
  readonly agreement: number | null;
  readonly cohenKappa: number | null;
}

export interface AgreementReport {
  readonly labelers: string[];
  /** Prompts with a batch ranked by two or more labelers. */
  readonly sharedPrompts: number;
  /** Pair-units judged by two or more labelers. */
  readonly units: number;
  /** Over all labeler pairs and shared units: the fraction where both gave the same judgment. */
  readonly pairwiseAgreement: number | null;
  /** null when undefined (no shared units, or everyone always gave the same single value). */
  readonly krippendorffAlpha: number | null;
  readonly byLabelerPair: LabelerPairAgreement[];
}

/** Who judged: the labeler, marked when not a person's explicit ranking (`bot [simulated]`). */
function coder(e: CurrentRanking['event']): string {
  return e.source === 'simulated' || e.source === 'implicit' ? `${e.labeler} [${e.source}]` : e.labeler;
}

/** unit key → coder → judgment. */
function judgments(rankings: readonly CurrentRanking[]): Map<string, Map<string, Judgment>> {
  const units = new Map<string, Map<string, Judgment>>();
  for (const { event: e } of rankings) {
    if (e.verdict === 'skip') continue;
    const rank = new Map(e.completionIds.map((id, i) => [id, e.ranks?.[i]]));
    const ids = [...e.completionIds].sort();
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        const x = ids[i] as string;
        const y = ids[j] as string;
        const rx = rank.get(x);
        const ry = rank.get(y);
        const value: Judgment = e.verdict === 'allBad' || rx === undefined || ry === undefined ? 'allBad' : rx < ry ? 'first' : rx > ry ? 'second' : 'tie';
        const key = `${e.promptId}\u0000${x}\u0000${y}`;
        let u = units.get(key);
        if (!u) units.set(key, (u = new Map()));
        u.set(coder(e), value);
      }
    }
  }
  return units;
}

/**
 * Krippendorff's α for nominal data. `units` holds each unit's values (one per coder who coded it);
 * units with fewer than two values carry no information and are ignored.
 */
export function krippendorffAlphaNominal(units: readonly (readonly string[])[]): number | null {
  const coincidence = new Map<string, number>(); // "c\u0000k" → o_ck
  const nc = new Map<string, number>();
  let n = 0;
  for (const values of units) {
    const m = values.length;
    if (m < 2) continue;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) {
        if (i === j) continue;
        const c = values[i] as string;
        const k = values[j] as string;
        const key = `${c}\u0000${k}`;
        coincidence.set(key, (coincidence.get(key) ?? 0) + 1 / (m - 1));
      }
      nc.set(values[i] as string, (nc.get(values[i] as string) ?? 0) + 1);
      n++;
    }
  }
  let observed = 0; // Σ_{c≠k} o_ck
  for (const [key, o] of coincidence) {
    const [c, k] = key.split('\u0000');
    if (c !== k) observed += o;
  }
  let expected = 0; // Σ_{c≠k} n_c n_k
  const counts = [...nc.values()];
  for (let i = 0; i < counts.length; i++) for (let j = 0; j < counts.length; j++) if (i !== j) expected += (counts[i] as number) * (counts[j] as number);
  if (n < 2 || expected === 0) return null;
  return 1 - ((n - 1) * observed) / expected;
}

/** Cohen's κ for two coders over the same units (parallel arrays). */
export function cohenKappa(a: readonly string[], b: readonly string[]): number | null {
  if (a.length !== b.length || a.length === 0) return null;
  const n = a.length;
  let same = 0;
  const fa = new Map<string, number>();
  const fb = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) same++;
    fa.set(a[i] as string, (fa.get(a[i] as string) ?? 0) + 1);
    fb.set(b[i] as string, (fb.get(b[i] as string) ?? 0) + 1);
  }
  const po = same / n;
  let pe = 0;
  for (const [c, x] of fa) pe += (x / n) * ((fb.get(c) ?? 0) / n);
  return pe === 1 ? null : (po - pe) / (1 - pe);
}

export function agreement(rankings: readonly CurrentRanking[]): AgreementReport {
  const units = judgments(rankings);
  const labelers = [...new Set(rankings.map((r) => coder(r.event)))].sort();
  const shared = [...units.entries()].filter(([, u]) => u.size >= 2);
  const sharedPrompts = new Set(shared.map(([key]) => key.split('\u0000')[0])).size;
  const byLabelerPair: LabelerPairAgreement[] = [];
  let agree = 0;
  let compared = 0;
  for (let i = 0; i < labelers.length; i++) {
    for (let j = i + 1; j < labelers.length; j++) {
      const a = labelers[i] as string;
      const b = labelers[j] as string;
      const va: string[] = [];
      const vb: string[] = [];
      for (const [, u] of shared) {
        const x = u.get(a);
        const y = u.get(b);
        if (x !== undefined && y !== undefined) {
          va.push(x);
          vb.push(y);
        }
      }
      if (va.length === 0) continue;
      const same = va.filter((x, k) => x === vb[k]).length;
      agree += same;
      compared += va.length;
      byLabelerPair.push({ a, b, units: va.length, agreement: same / va.length, cohenKappa: cohenKappa(va, vb) });
    }
  }
  return {
    labelers,
    sharedPrompts,
    units: shared.length,
    pairwiseAgreement: compared ? agree / compared : null,
    krippendorffAlpha: krippendorffAlphaNominal(shared.map(([, u]) => [...u.values()])),
    byLabelerPair,
  };
}
