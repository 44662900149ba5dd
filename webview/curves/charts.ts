/**
 * The charts: one uPlot per metric, in groups, every selected run overlaid. Each line is drawn
 * twice: the raw values faint behind, the EMA-smoothed values on top. A chart is rebuilt only
 * when its set of lines or its x-axis changes; otherwise new data goes in with setData, which
 * keeps long live series cheap. The board's DOM is rebuilt only when its groups change, and a
 * chart out of sight (scrolled away, or in a folded group) is made and redrawn when it comes
 * into view, not on load or on every append: a live run would otherwise keep a core of a
 * 2-core machine busy drawing charts nobody sees (npm run bench:curves). Colours come from VS Code's theme
 * (webview/curves/theme.ts); a theme change remakes the charts. On the wall-time axis a line
 * breaks where the run was stopped (a gap far longer than its usual spacing); by step it is
 * continuous.
 */
import uPlot from 'uplot';
import type { CurvesViewState } from '../../src/protocol/curves';
import { groupMetrics } from './groups';
import type { Line } from './series';
import { ema } from './series';
import type { ChartTheme, RunColors } from './theme';
import { readChartTheme } from './theme';

/** CSS pixels: grid lines and tick marks stay thinner than the raw line (1) and the smoothed one (2). */
const GRID_WIDTH = 0.5;

/** A wall-time gap this many times a line's usual spacing, and at least MIN_STOP_S, is a stop. */
const STOP_FACTOR = 10;
const MIN_STOP_S = 60;

/** A chart's columns ([x, raw, smoothed] per line, joined) and how many stops break its lines. */
interface Table {
  readonly data: uPlot.AlignedData;
  readonly breaks: number;
}

/** What a chart shows, as attributes (for tests and for assistive tools): x count, the last x, and the breaks at stops. */
function describe(root: HTMLElement, { data, breaks }: Table): void {
  const xs = data[0];
  root.dataset.points = String(xs.length - breaks);
  root.dataset.lastX = xs.length ? String(xs[xs.length - 1]) : '';
  root.dataset.lines = String((data.length - 1) / 2);
  root.dataset.breaks = String(breaks);
}

/** Indices of a time-sorted line's points that come after a stop. */
function stops(xs: readonly number[]): number[] {
  if (xs.length < 3) return [];
  const gaps = new Float64Array(xs.length - 1);
  for (let i = 1; i < xs.length; i++) gaps[i - 1] = (xs[i] as number) - (xs[i - 1] as number);
  const usual = gaps.slice().sort()[(gaps.length - 1) >> 1] as number;
  const limit = Math.max(MIN_STOP_S, STOP_FACTOR * usual);
  const out: number[] = [];
  for (let i = 0; i < gaps.length; i++) if ((gaps[i] as number) > limit) out.push(i + 1);
  return out;
}

/**
 * A wall-time line's columns with a null point inside each stop, where its series (spanGaps
 * off) break; its own nulls (non-finite values) become undefined, which uPlot still spans.
 */
function breakAtStops(xs: number[], raw: (number | null)[], smooth: (number | null)[]): Table {
  const after = stops(xs);
  if (after.length === 0) return { data: [xs, raw.map((v) => v ?? undefined), smooth.map((v) => v ?? undefined)], breaks: 0 };
  const x: number[] = [];
  const r: (number | null | undefined)[] = [];
  const s: (number | null | undefined)[] = [];
  let next = 0;
  xs.forEach((xi, i) => {
    if (after[next] === i) {
      x.push(((xs[i - 1] as number) + xi) / 2);
      r.push(null);
      s.push(null);
      next++;
    }
    x.push(xi);
    r.push(raw[i] ?? undefined);
    s.push(smooth[i] ?? undefined);
  });
  return { data: [x, r, s], breaks: after.length };
}

export const seriesKey = (l: { runId: string; stage: string }): string => `${l.runId} ${l.stage}`;

interface Chart {
  readonly root: HTMLElement;
  /** Made when the chart first comes into view (or for an export). */
  plot: uPlot | undefined;
  readonly make: (data: uPlot.AlignedData) => uPlot;
  readonly signature: string;
  readonly lines: readonly Line[];
}

/** The height a chart's box keeps before its plot is made (plot, title and legend), so the layout does not jump. */
const PLACEHOLDER_PX = 230;

export interface BoardInput {
  readonly view: CurvesViewState;
  /** Metric names present in the selected runs. */
  readonly metrics: ReadonlySet<string>;
  readonly linesOf: (metric: string) => Line[];
  /** Colour index of a run (its position in the selection). */
  readonly runIndex: (runId: string) => number;
  readonly runLabel: (runId: string) => string;
}

export class ChartBoard {
  private readonly charts = new Map<string, Chart>();
  private readonly resize = new ResizeObserver(() => this.fit());
  /** The groups, their metrics and folds the DOM was last built for. */
  private structure = '';
  private hidden: readonly string[] = [];
  private readonly inView = new Set<Element>();
  /** Data for charts out of view, drawn when they come into view (or before an export). */
  private readonly stale = new Map<Chart, uPlot.AlignedData>();
  private theme: ChartTheme = readChartTheme();
  /** Counts theme changes: part of every chart's signature, so a change remakes the charts. */
  private themeVersion = 0;
  private readonly seen = new IntersectionObserver(
    (entries) => {
      for (const e of entries) {
        if (e.isIntersecting) this.inView.add(e.target);
        else this.inView.delete(e.target);
      }
      for (const [chart, data] of this.stale) if (this.inView.has(chart.root)) this.draw(chart, data);
    },
    { rootMargin: '200px 0px' },
  );

  constructor(
    private readonly container: HTMLElement,
    private readonly onToggle: (key: string, shown: boolean) => void,
    private readonly onToggleGroup: (group: string, open: boolean) => void,
  ) {
    this.resize.observe(container);
  }

  render(input: BoardInput): void {
    this.hidden = input.view.hidden;
    const groups = groupMetrics(input.metrics);
    const wanted = new Set(groups.flatMap((g) => g.metrics));
    for (const [metric, chart] of this.charts) {
      if (!wanted.has(metric)) this.remove(metric, chart);
    }
    const structure = JSON.stringify(groups.map((g) => [g.group.id, g.metrics, input.view.collapsed.includes(g.group.id)]));
    let rebuilt = false;
    for (const { metrics } of groups) for (const metric of metrics) rebuilt = this.chart(metric, input) || rebuilt;
    if (!rebuilt && structure === this.structure && this.container.isConnected) return;
    this.structure = structure;
    const sections: HTMLElement[] = [];
    for (const { group, metrics } of groups) {
      const details = document.createElement('details');
      details.className = 'group';
      details.dataset.group = group.id;
      details.open = !input.view.collapsed.includes(group.id);
      const summary = document.createElement('summary');
      summary.textContent = group.title;
      details.append(summary);
      details.addEventListener('toggle', () => this.onToggleGroup(group.id, details.open));
      const grid = document.createElement('div');
      grid.className = 'grid';
      for (const metric of metrics) grid.append((this.charts.get(metric) as Chart).root);
      details.append(grid);
      sections.push(details);
    }
    this.container.replaceChildren(...sections);
    this.fit();
  }

  /**
   * Each chart's title and canvas (axes included), for the PNG export, once every chart has
   * drawn its latest data (uPlot draws in a microtask after setData).
   */
  async canvases(): Promise<{ metric: string; canvas: HTMLCanvasElement }[]> {
    for (const [chart, data] of this.stale) this.draw(chart, data);
    await new Promise((r) => setTimeout(r, 0));
    return [...this.charts].flatMap(([metric, c]) => (c.plot ? [{ metric, canvas: c.plot.ctx.canvas }] : []));
  }

  /** Re-read the theme's colours; true when they changed (the next render remakes the charts in them). */
  restyle(): boolean {
    const theme = readChartTheme();
    if (theme.key === this.theme.key) return false;
    this.theme = theme;
    this.themeVersion++;
    return true;
  }

  destroy(): void {
    this.resize.disconnect();
    this.seen.disconnect();
    for (const [metric, c] of this.charts) this.remove(metric, c);
  }

  private remove(metric: string, chart: Chart): void {
    chart.plot?.destroy();
    this.seen.unobserve(chart.root);
    this.inView.delete(chart.root);
    this.stale.delete(chart);
    this.charts.delete(metric);
  }

  private draw(chart: Chart, data: uPlot.AlignedData): void {
    this.stale.delete(chart);
    if (chart.plot) {
      chart.plot.setData(data);
      return;
    }
    chart.plot = chart.make(data);
    chart.root.style.minHeight = '';
    this.applyHidden(chart);
  }

  /** Create or update the chart of `metric`; true when it was created (the DOM needs it placed). */
  private chart(metric: string, input: BoardInput): boolean {
    const lines = input.linesOf(metric);
    const multiStage = new Set(lines.map((l) => l.stage)).size > 1;
    const names = lines.map((l) => `${input.runLabel(l.runId)}${multiStage ? ` · ${l.stage}` : ''}`);
    const signature = JSON.stringify([this.themeVersion, input.view.xAxis, names, lines.map((l) => input.runIndex(l.runId))]);
    const table = this.table(lines, input.view);
    const { data } = table;
    const existing = this.charts.get(metric);
    if (existing && existing.signature === signature) {
      if (this.inView.has(existing.root)) this.draw(existing, data);
      else this.stale.set(existing, data);
      this.applyHidden(existing);
      describe(existing.root, table);
      return false;
    }
    if (existing) this.remove(metric, existing);
    const root = document.createElement('div');
    root.className = 'chart';
    root.dataset.metric = metric;
    const title = document.createElement('h3');
    title.textContent = metric;
    root.append(title);
    const theme = this.theme;
    // By step a line spans every gap; by wall time it breaks at the nulls put in the stops.
    const spanGaps = input.view.xAxis === 'step';
    const series: uPlot.Series[] = [{ label: spanGaps ? 'step' : 'time' }];
    lines.forEach((l, i) => {
      const colors = theme.runs[input.runIndex(l.runId) % theme.runs.length] as RunColors;
      series.push(
        { label: `${names[i]} raw`, stroke: colors.raw, width: 1, spanGaps, points: { show: false } },
        { label: names[i] as string, stroke: colors.line, width: 2, spanGaps, points: { show: false } },
      );
    });
    const axis = (size?: number): uPlot.Axis => ({
      stroke: theme.text,
      grid: { stroke: theme.grid, width: GRID_WIDTH },
      ticks: { stroke: theme.border ?? theme.grid, width: GRID_WIDTH },
      ...(theme.border && { border: { show: true, stroke: theme.border, width: 1 } }),
      ...(size && { size }),
    });
    const make = (d: uPlot.AlignedData): uPlot =>
      new uPlot(
        {
          width: Math.max(200, this.chartWidth()),
          height: 170,
          scales: { x: { time: input.view.xAxis === 'time' } },
          axes: [axis(), axis(56)],
          series,
          legend: { live: true },
          cursor: { drag: { x: true, y: false } },
          hooks: {
            // A legend click on either line of a run toggles both, and is remembered.
            setSeries: [
              (u, idx) => {
                if (idx === null || idx === 0) return;
                const lineIdx = Math.floor((idx - 1) / 2);
                const line = lines[lineIdx];
                if (!line) return;
                const shown = u.series[idx]?.show !== false;
                const partner = idx % 2 === 1 ? idx + 1 : idx - 1;
                if (u.series[partner]?.show !== shown) u.setSeries(partner, { show: shown });
                this.onToggle(seriesKey(line), shown);
              },
            ],
          },
        },
        d,
        root,
      );
    root.style.minHeight = `${PLACEHOLDER_PX}px`;
    const made: Chart = { root, signature, lines, plot: undefined, make };
    this.charts.set(metric, made);
    // Drawn when it is seen: the observer reports it (in view or not) once it is placed.
    this.stale.set(made, data);
    this.seen.observe(root);
    describe(root, table);
    return true;
  }

  private table(lines: readonly Line[], view: CurvesViewState): Table {
    if (lines.length === 0) return { data: [[]], breaks: 0 };
    const tables: Table[] = lines.map((l) => {
      const xs = view.xAxis === 'step' ? l.steps : l.times;
      const order = xs.map((_, i) => i).sort((a, b) => (xs[a] as number) - (xs[b] as number));
      const x = order.map((i) => xs[i] as number);
      const raw = order.map((i) => l.values[i] ?? null);
      const smooth = ema(raw, view.smoothing);
      return view.xAxis === 'step' ? { data: [x, raw, smooth], breaks: 0 } : breakAtStops(x, raw, smooth);
    });
    const breaks = tables.reduce((n, t) => n + t.breaks, 0);
    return { data: tables.length === 1 ? (tables[0] as Table).data : uPlot.join(tables.map((t) => t.data)), breaks };
  }

  private applyHidden(chart: Chart): void {
    const plot = chart.plot;
    if (!plot) return;
    chart.lines.forEach((l, i) => {
      const show = !this.hidden.includes(seriesKey(l));
      for (const idx of [1 + 2 * i, 2 + 2 * i]) {
        if (plot.series[idx] && plot.series[idx].show !== show) plot.setSeries(idx, { show }, false);
      }
    });
  }

  private chartWidth(): number {
    const w = this.container.clientWidth || 600;
    // Two columns when there is room for them.
    return w >= 900 ? Math.floor((w - 24) / 2) : w - 8;
  }

  private fit(): void {
    const width = Math.max(200, this.chartWidth());
    for (const c of this.charts.values()) if (c.plot && Math.abs(c.plot.width - width) > 2) c.plot.setSize({ width, height: 170 });
  }
}
