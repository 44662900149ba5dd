/**
 * The curves' data: every run's metric points keyed by (stage, step), so an append for a step the
 * page already has replaces its values (a resumed run redoes the steps after its last
 * checkpoint) and adds the ones it lacked (eval metrics come as a second record at a step), and
 * a snapshot replaces the whole run. Columns for a chart are derived from it on demand.
 */
import type { MetricPoint } from '../../src/protocol/engineTraining';

/** One line on a chart: one run's values of one metric in one stage, sorted by step. */
export interface Line {
  readonly runId: string;
  readonly stage: string;
  readonly steps: number[];
  /** Seconds since the Unix epoch (uPlot's time unit). */
  readonly times: number[];
  readonly values: (number | null)[];
}

const key = (p: { stage: string; step: number }): string => `${p.stage}\u0000${p.step}`;

export class RunSeries {
  private readonly points = new Map<string, MetricPoint>();
  private sorted: MetricPoint[] | undefined;

  replaceAll(points: readonly MetricPoint[]): void {
    this.points.clear();
    this.append(points);
  }

  /**
   * Points for a (stage, step) the series has merge into it, metric by metric, the later value
   * winning: a stage logs eval metrics as a second record at the same step, and a resumed run
   * redoes the steps after its checkpoint with new values.
   */
  append(points: readonly MetricPoint[]): void {
    for (const p of points) {
      const k = key(p);
      const old = this.points.get(k);
      this.points.set(k, old ? { ...p, values: { ...old.values, ...p.values } } : p);
    }
    this.sorted = undefined;
  }

  get size(): number {
    return this.points.size;
  }

  /** Every point, by stage (in order of first appearance in time) then step. */
  all(): MetricPoint[] {
    if (!this.sorted) this.sorted = [...this.points.values()].sort((a, b) => (a.stage === b.stage ? a.step - b.step : a.time - b.time));
    return this.sorted;
  }

  /** The metric names present, in first-seen order. */
  metricNames(): string[] {
    const names = new Set<string>();
    for (const p of this.all()) for (const k of Object.keys(p.values)) names.add(k);
    return [...names];
  }

  /** One line per stage that logged `metric`. */
  lines(runId: string, metric: string): Line[] {
    const byStage = new Map<string, Line>();
    for (const p of this.all()) {
      if (!(metric in p.values)) continue;
      let line = byStage.get(p.stage);
      if (!line) byStage.set(p.stage, (line = { runId, stage: p.stage, steps: [], times: [], values: [] }));
      line.steps.push(p.step);
      line.times.push(p.time / 1000);
      line.values.push(p.values[metric] ?? null);
    }
    return [...byStage.values()];
  }

  /** The newest value of `metric`, if any. */
  latest(metric: string): number | undefined {
    const all = this.all();
    for (let i = all.length - 1; i >= 0; i--) {
      const v = all[i]?.values[metric];
      if (typeof v === 'number') return v;
    }
    return undefined;
  }
}

/**
 * Exponential moving average with TensorBoard's debiasing (divide by 1 − w^n), so the start of
 * the smoothed line is not dragged toward zero. Gaps (null) stay gaps.
 */
export function ema(values: readonly (number | null)[], weight: number): (number | null)[] {
  if (weight <= 0) return [...values];
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return null;
    last = last * weight + (1 - weight) * v;
    n++;
    return last / (1 - weight ** n);
  });
}

const csvField = (s: string): string => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** Long-format CSV of the raw values: run, stage, step, time (ISO), metric, value. */
export function toCsv(runs: ReadonlyMap<string, RunSeries>): string {
  const rows = ['run,stage,step,time,metric,value'];
  for (const [runId, series] of runs) {
    for (const p of series.all()) {
      const time = new Date(p.time).toISOString();
      for (const [metric, value] of Object.entries(p.values)) {
        rows.push([runId, p.stage, String(p.step), time, metric, value === null ? '' : String(value)].map(csvField).join(','));
      }
    }
  }
  return rows.join('\n') + '\n';
}
