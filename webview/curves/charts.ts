/**
 * The charts: one uPlot per metric, in groups, every selected run overlaid. Each line is drawn
 * twice: the raw values faint behind, the EMA-smoothed values on top. A chart is rebuilt only
 * when its set of lines or its x-axis changes; otherwise new data goes in with setData, which
 * keeps long live series cheap. The board's DOM is rebuilt only when its groups change, and a
 * chart out of sight (scrolled away, or in a folded group) is made and redrawn when it comes
 * into view, not on load or on every append: a live run would otherwise keep a core of a
 * 2-core machine busy drawing charts nobody sees (npm run bench:curves). Colours come from VS Code's theme
 * (--vscode-charts-*).
 */
import uPlot from 'uplot';
import type { CurvesViewState } from '../../src/protocol/curves';
import { groupMetrics } from './groups';
import type { Line } from './series';
import { ema } from './series';

const PALETTE_VARS = ['--vscode-charts-blue', '--vscode-charts-orange', '--vscode-charts-green', '--vscode-charts-purple', '--vscode-charts-red', '--vscode-charts-yellow'];
const PALETTE_FALLBACK = ['#3794ff', '#d18616', '#89d185', '#b180d7', '#f14c4c', '#cca700'];

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

/** `#rgb`/`#rrggbb` with an alpha, or the colour unchanged when it is not hex. */
function faint(color: string, alpha: number): string {
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color)?.[1];
  if (!hex) return color;
  const full = hex.length === 3 ? [...hex].map((c) => c + c).join('') : hex;
  return `#${full}${Math.round(alpha * 255).toString(16).padStart(2, '0')}`;
}

/** What a chart shows, as attributes (for tests and for assistive tools): x count and the last x. */
function describe(root: HTMLElement, data: uPlot.AlignedData): void {
  const xs = data[0];
  root.dataset.points = String(xs.length);
  root.dataset.lastX = xs.length ? String(xs[xs.length - 1]) : '';
  root.dataset.lines = String((data.length - 1) / 2);
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
    const signature = JSON.stringify([input.view.xAxis, names, lines.map((l) => input.runIndex(l.runId))]);
    const data = this.data(lines, input.view);
    const existing = this.charts.get(metric);
    if (existing && existing.signature === signature) {
      if (this.inView.has(existing.root)) this.draw(existing, data);
      else this.stale.set(existing, data);
      this.applyHidden(existing);
      describe(existing.root, data);
      return false;
    }
    if (existing) this.remove(metric, existing);
    const root = document.createElement('div');
    root.className = 'chart';
    root.dataset.metric = metric;
    const title = document.createElement('h3');
    title.textContent = metric;
    root.append(title);
    const fg = cssVar('--vscode-foreground', '#cccccc');
    const grid = cssVar('--vscode-editorWidget-border', '#80808040');
    const series: uPlot.Series[] = [{ label: input.view.xAxis === 'step' ? 'step' : 'time' }];
    lines.forEach((l, i) => {
      const c = input.runIndex(l.runId) % PALETTE_VARS.length;
      const color = cssVar(PALETTE_VARS[c] as string, PALETTE_FALLBACK[c] as string);
      series.push(
        { label: `${names[i]} raw`, stroke: faint(color, 0.3), width: 1, spanGaps: true, points: { show: false } },
        { label: names[i] as string, stroke: color, width: 2, spanGaps: true, points: { show: false } },
      );
    });
    const make = (d: uPlot.AlignedData): uPlot =>
      new uPlot(
      {
        width: Math.max(200, this.chartWidth()),
        height: 170,
        scales: { x: { time: input.view.xAxis === 'time' } },
        axes: [
          { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
          { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 56 },
        ],
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
    describe(root, data);
    return true;
  }

  private data(lines: readonly Line[], view: CurvesViewState): uPlot.AlignedData {
    if (lines.length === 0) return [[]];
    const tables: uPlot.AlignedData[] = lines.map((l) => {
      const xs = view.xAxis === 'step' ? l.steps : l.times;
      const order = xs.map((_, i) => i).sort((a, b) => (xs[a] as number) - (xs[b] as number));
      const raw = order.map((i) => l.values[i] ?? null);
      return [order.map((i) => xs[i] as number), raw, ema(raw, view.smoothing)];
    });
    return tables.length === 1 ? (tables[0] as uPlot.AlignedData) : uPlot.join(tables);
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
