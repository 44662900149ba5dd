/**
 * Turns the runner's events into terminal lines: one line per stage start/end and checkpoint,
 * and a metrics line every `every` steps (plus every evaluation).
 */
import type { RunnerEvent } from '../core/train/run/runner';

export function progressPrinter(out: (line: string) => void, every = 10): (e: RunnerEvent) => void {
  const started = Date.now();
  const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(0)}s`;
  return (e) => {
    switch (e.type) {
      case 'stage-start':
        out(`[${e.stage}] start from ${e.from}${e.resumedAtStep ? ` (resuming at step ${e.resumedAtStep})` : ''}`);
        return;
      case 'stage-skip':
        out(`[${e.stage}] already done: ${e.final}`);
        return;
      case 'stage-end':
        out(`[${e.stage}] done (${elapsed()}): ${e.final}`);
        return;
      case 'checkpoint':
        out(`[${e.stage}] checkpoint at step ${e.step}`);
        return;
      case 'log':
        out(e.message);
        return;
      case 'samples':
        for (const x of e.samples.slice(0, 2)) {
          const v = (n: number | null): string => (n === null ? '–' : formatNumber(n));
          out(`  sample @${x.iteration} score=${v(x.score)} kl=${v(x.kl)}: ${JSON.stringify(x.prompt + x.completion)}`);
        }
        return;
      case 'metrics': {
        const { stage, step, values } = e.record;
        const isEval = Object.keys(values).some((k) => k.includes('eval'));
        if (!isEval && step % every !== 0) return;
        const shown = Object.entries(values)
          .filter(([k]) => k !== 'lr' || !isEval)
          .map(([k, v]) => `${k.replace(`${stage}/`, '')}=${formatNumber(v as number)}`)
          .join(' ');
        out(`[${stage}] step ${step} ${shown} (${elapsed()})`);
        return;
      }
    }
  };
}

export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return v.toFixed(a < 1 ? 4 : 2);
}
