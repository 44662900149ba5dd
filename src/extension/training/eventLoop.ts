/**
 * The extension host's event-loop delay, measured with perf_hooks.monitorEventLoopDelay: the
 * host is shared by every extension, so training must never stall it. Reset when a run starts;
 * read by RLHF: Show Extension Host Event-Loop Delay (the e2e test reads it during PPO) and
 * logged when a run ends.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { IntervalHistogram } from 'node:perf_hooks';

export interface EventLoopStats {
  readonly maxMs: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  /** Delay samples taken (one per `resolution` ms while the loop is free). */
  readonly samples: number;
  /** What the figures cover, e.g. 'since run … started'. */
  readonly since: string;
  readonly sinceMs: number;
}

const RESOLUTION_MS = 10;
// The histogram records the time between its timer's ticks, which includes the tick interval
// itself: what the loop was late by is that minus the resolution.
const lateMs = (v: number): number => (Number.isFinite(v) ? Math.max(0, v / 1e6 - RESOLUTION_MS) : 0);

export class EventLoopMonitor {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private since = 'activation';
  private sinceAt = Date.now();

  constructor() {
    this.histogram.enable();
  }

  reset(since: string): void {
    this.histogram.reset();
    this.since = since;
    this.sinceAt = Date.now();
  }

  stats(): EventLoopStats {
    const h = this.histogram;
    return { maxMs: lateMs(h.max), p99Ms: lateMs(h.percentile(99)), meanMs: lateMs(h.mean), samples: h.count, since: this.since, sinceMs: Date.now() - this.sinceAt };
  }

  dispose(): void {
    this.histogram.disable();
  }
}

export function formatStats(s: EventLoopStats): string {
  return `Extension host event-loop delay ${s.since} (${(s.sinceMs / 1000).toFixed(0)} s, ${s.samples} samples): max ${s.maxMs.toFixed(1)} ms, p99 ${s.p99Ms.toFixed(1)} ms, mean ${s.meanMs.toFixed(1)} ms.`;
}
