/**
 * The charts' colours, from VS Code's theme. VS Code names the theme's kind in the body's class
 * (vscode-light, vscode-dark, vscode-high-contrast, and vscode-high-contrast-light beside
 * vscode-high-contrast) and sets its colours as CSS variables on <html>, hex (alpha included) or
 * rgba(); it changes both in place when the user switches themes. Axis labels take the
 * foreground, grid lines the foreground at a low alpha and thinner than the data, and each run's
 * raw line its colour at an alpha that keeps it visible behind the smoothed line; high-contrast
 * themes get stronger raw lines and the contrast border around the plot.
 */

export type ThemeKind = 'light' | 'dark' | 'hc-dark' | 'hc-light';

export interface RunColors {
  /** The smoothed line. */
  readonly line: string;
  /** The raw values behind it. */
  readonly raw: string;
}

export interface ChartTheme {
  readonly kind: ThemeKind;
  /** Axis labels. */
  readonly text: string;
  readonly grid: string;
  /** The plot's frame and tick marks in high-contrast themes. */
  readonly border: string | undefined;
  /** By a run's colour index. */
  readonly runs: readonly RunColors[];
  /** Equal for two reads of the same colours. */
  readonly key: string;
}

type Rgba = readonly [number, number, number, number];

const PALETTE = [
  ['--vscode-charts-blue', '#3794ff'],
  ['--vscode-charts-orange', '#d18616'],
  ['--vscode-charts-green', '#89d185'],
  ['--vscode-charts-purple', '#b180d7'],
  ['--vscode-charts-red', '#f14c4c'],
  ['--vscode-charts-yellow', '#cca700'],
] as const;

/** What each kind of theme changes: fallbacks for a missing variable, and the alphas. */
const KINDS: Record<ThemeKind, { foreground: string; border: string | undefined; gridAlpha: number; rawAlpha: number }> = {
  light: { foreground: '#616161', border: undefined, gridAlpha: 0.15, rawAlpha: 0.4 },
  dark: { foreground: '#cccccc', border: undefined, gridAlpha: 0.12, rawAlpha: 0.5 },
  'hc-dark': { foreground: '#ffffff', border: '#6fc3df', gridAlpha: 0.3, rawAlpha: 0.75 },
  'hc-light': { foreground: '#292929', border: '#0f4a85', gridAlpha: 0.3, rawAlpha: 0.7 },
};

/** [r, g, b, a] of `#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa`, `rgb()` or `rgba()` (commas or spaces, alpha as a number or a percentage); undefined for anything else. */
export function parseColor(color: string): Rgba | undefined {
  const c = color.trim();
  const hex = /^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i.exec(c)?.[1];
  if (hex) {
    const full = hex.length <= 4 ? [...hex].map((d) => d + d).join('') : hex;
    const [r = 0, g = 0, b = 0, a = 255] = (full.match(/../g) ?? []).map((h) => parseInt(h, 16));
    return [r, g, b, a / 255];
  }
  const args = /^rgba?\(([^)]*)\)$/i
    .exec(c)?.[1]
    ?.trim()
    .split(/\s*[,/]\s*|\s+/);
  if (!args || args.length < 3 || args.length > 4) return undefined;
  const nums = args.map((p, i) => (p.endsWith('%') ? (parseFloat(p) / 100) * (i < 3 ? 255 : 1) : parseFloat(p)));
  if (!nums.every(Number.isFinite)) return undefined;
  const [r = 0, g = 0, b = 0, a = 1] = nums.map((v, i) => Math.min(i < 3 ? 255 : 1, Math.max(0, v)));
  return [r, g, b, a];
}

/** The colour as rgba(), its alpha multiplied by `alpha`. */
const css = ([r, g, b, a]: Rgba, alpha = 1): string => `rgba(${Math.round(r)}, ${Math.round(g)}, ${Math.round(b)}, ${Number((a * alpha).toFixed(3))})`;

function themeKind(body: HTMLElement): ThemeKind {
  const c = body.classList;
  if (c.contains('vscode-high-contrast-light')) return 'hc-light';
  if (c.contains('vscode-high-contrast')) return 'hc-dark';
  return c.contains('vscode-light') ? 'light' : 'dark';
}

/** The theme's colours now (a missing or unreadable variable takes the kind's default). */
export function readChartTheme(): ChartTheme {
  const kind = themeKind(document.body);
  const look = KINDS[kind];
  const style = getComputedStyle(document.body);
  const color = (name: string, fallback: string): Rgba => parseColor(style.getPropertyValue(name)) ?? (parseColor(fallback) as Rgba);
  const fg = color('--vscode-foreground', look.foreground);
  const colors = {
    kind,
    text: css(fg),
    grid: css(fg, look.gridAlpha),
    border: look.border === undefined ? undefined : css(color('--vscode-contrastBorder', look.border)),
    runs: PALETTE.map(([name, fallback]) => {
      const c = color(name, fallback);
      return { line: css(c), raw: css(c, look.rawAlpha) };
    }),
  };
  return { ...colors, key: JSON.stringify(colors) };
}

/** Calls `onChange` after VS Code switches theme (the body's class or the variables on <html> change). */
export function watchTheme(onChange: () => void): MutationObserver {
  const observer = new MutationObserver(onChange);
  observer.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['style'] });
  return observer;
}
