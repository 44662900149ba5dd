/**
 * One PNG of every chart: their canvases (axes included) stacked in a grid on a canvas with the
 * theme's background, each under its metric name. Returned as a data URL for the host to save.
 */
export function exportPng(charts: readonly { metric: string; canvas: HTMLCanvasElement }[], title: string): string {
  const style = getComputedStyle(document.body);
  const bg = style.getPropertyValue('--vscode-editor-background').trim() || '#1e1e1e';
  const fg = style.getPropertyValue('--vscode-foreground').trim() || '#cccccc';
  const cols = charts.length > 1 ? 2 : 1;
  const cellW = Math.max(1, ...charts.map((c) => c.canvas.width));
  const cellH = Math.max(1, ...charts.map((c) => c.canvas.height)) + 28;
  const rows = Math.ceil(charts.length / cols);
  const out = document.createElement('canvas');
  out.width = cols * cellW;
  out.height = 40 + rows * cellH;
  const ctx = out.getContext('2d');
  if (!ctx) throw new Error('The browser gave no 2D canvas context for the PNG export.');
  ctx.fillStyle = bg;
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.fillStyle = fg;
  ctx.font = '16px sans-serif';
  ctx.fillText(title || 'RLHF curves', 12, 26);
  charts.forEach((c, i) => {
    const x = (i % cols) * cellW;
    const y = 40 + Math.floor(i / cols) * cellH;
    ctx.fillStyle = fg;
    ctx.font = '14px sans-serif';
    ctx.fillText(c.metric, x + 12, y + 18);
    ctx.drawImage(c.canvas, x, y + 24);
  });
  return out.toDataURL('image/png');
}
