/**
 * The extension host's event-loop delay, measured with perf_hooks.monitorEventLoopDelay: the
 * host is shared by every extension, so training must never stall it. Created at activation;
 * every piece of our own host work (engine messages, the sidebar, the file watcher, the curves
 * panel, the status bar) runs through `track`, so a stall can be told apart from our work. Reset
 * when a run starts; read by RLHF: Show Extension Host Event-Loop Delay (the e2e test reads it
 * during PPO) and logged when a run ends.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
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
  /** The longest synchronous stretch of our own work on the host, what it was, and how many ran. */
  readonly ownWorkMaxMs: number;
  readonly ownWorkMaxWhat: string;
  readonly ownWorkCount: number;
  /** The host's longest garbage-collection pause (any code's garbage, VS Code's included). */
  readonly gcMaxMs: number;
}

const RESOLUTION_MS = 10;
// The histogram records the time between its timer's ticks, which includes the tick interval
// itself: what the loop was late by is that minus the resolution.
const lateMs = (v: number): number => (Number.isFinite(v) ? Math.max(0, v / 1e6 - RESOLUTION_MS) : 0);

/** A stall worth naming in the log: when it ended and how long the loop was late. */
export interface Stall {
  readonly at: string;
  readonly ms: number;
  /** 'gc' for a garbage-collection pause; absent for a late timer (any cause). */
  readonly what?: 'gc';
  /**
   * For a late timer on Linux, the host thread's time over that gap from the kernel's
   * schedstat: on a CPU (code ran: ours, VS Code's or another extension's) and runnable but
   * waiting for a core (the machine was busy elsewhere). Tells a stall caused on the host from
   * one the scheduler caused.
   */
  readonly cpuMs?: number;
  readonly waitMs?: number;
}

/**
 * The kernel's scheduler times of the thread that opened it (the host's main thread), read
 * with pread on a file kept open (~2 µs a read): [on-CPU, run-queue wait] in ms; undefined off
 * Linux or where /proc is not readable.
 */
class SchedStat {
  private readonly fd = SchedStat.open();
  private readonly buf = Buffer.alloc(96);

  private static open(): number | undefined {
    try {
      return process.platform === 'linux' ? openSync('/proc/thread-self/schedstat', 'r') : undefined;
    } catch {
      return undefined;
    }
  }

  read(): readonly [number, number] | undefined {
    if (this.fd === undefined) return undefined;
    try {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
      const [run, wait] = this.buf.toString('latin1', 0, n).split(' ').map(Number);
      return run === undefined || wait === undefined || !Number.isFinite(run) || !Number.isFinite(wait) ? undefined : [run / 1e6, wait / 1e6];
    } catch {
      return undefined;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
  }
}

const STALL_MS = 50;
const MAX_STALLS = 20;

export class EventLoopMonitor {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private since = 'activation';
  private sinceAt = Date.now();
  private stallList: Stall[] = [];
  // A timer beside the histogram, at its resolution and with its measure of lateness, to say
  // *when* each stall over STALL_MS happened and where the host thread's time went. It runs only
  // from a reset (a run starting) to `idle()` (the run ended): 100 wakeups a second are not
  // worth paying in a window that is not training.
  private readonly sched = new SchedStat();
  private lastTick = 0;
  private lastSched: readonly [number, number] | undefined;
  private ticker: NodeJS.Timeout | undefined;

  private tick(): void {
    const now = performance.now();
    const sched = this.sched.read();
    const late = now - this.lastTick - RESOLUTION_MS;
    const before = this.lastSched;
    this.lastTick = now;
    this.lastSched = sched;
    if (late > STALL_MS && this.stallList.length < MAX_STALLS) {
      const split = sched && before ? { cpuMs: Math.round(sched[0] - before[0]), waitMs: Math.round(sched[1] - before[1]) } : {};
      this.stallList.push({ at: new Date().toISOString(), ms: Math.round(late), ...split });
    }
  }

  private gcMax = 0;
  // GC pauses stop the whole host: naming them tells a stall of ours from the runtime's.
  private readonly gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      this.gcMax = Math.max(this.gcMax, e.duration);
      if (e.duration > STALL_MS && this.stallList.length < MAX_STALLS) this.stallList.push({ at: new Date().toISOString(), ms: Math.round(e.duration), what: 'gc' });
    }
  });

  constructor() {
    this.histogram.enable();
    this.gc.observe({ entryTypes: ['gc'] });
  }

  private workMax = 0;
  private workMaxWhat = '';
  private workCount = 0;

  /** Start the figures afresh (a run started), naming stalls until `idle()`. */
  reset(since: string): void {
    if (!this.ticker) {
      this.lastTick = performance.now();
      this.lastSched = this.sched.read();
      this.ticker = setInterval(() => this.tick(), RESOLUTION_MS);
      this.ticker.unref();
    }
    this.histogram.reset();
    this.since = since;
    this.sinceAt = Date.now();
    this.stallList = [];
    this.workMax = 0;
    this.workMaxWhat = '';
    this.workCount = 0;
    this.gcMax = 0;
  }

  /** Run `fn` (host work of ours, `what`: e.g. 'engine training.event') and note how long it took. */
  track<T>(what: string, fn: () => T): T {
    const started = performance.now();
    try {
      return fn();
    } finally {
      const took = performance.now() - started;
      if (took > this.workMax) {
        this.workMax = took;
        this.workMaxWhat = what;
      }
      this.workCount++;
    }
  }

  /** Stalls over 50 ms since the reset (at most 20), as seen by a 10 ms timer. */
  stalls(): readonly Stall[] {
    return this.stallList;
  }

  stats(): EventLoopStats {
    const h = this.histogram;
    return {
      maxMs: lateMs(h.max),
      p99Ms: lateMs(h.percentile(99)),
      meanMs: lateMs(h.mean),
      samples: h.count,
      since: this.since,
      sinceMs: Date.now() - this.sinceAt,
      ownWorkMaxMs: this.workMax,
      ownWorkMaxWhat: this.workMaxWhat,
      ownWorkCount: this.workCount,
      gcMaxMs: this.gcMax,
    };
  }

  /** Nothing is training: stop naming stalls (the figures so far stay readable). */
  idle(): void {
    clearInterval(this.ticker);
    this.ticker = undefined;
  }

  dispose(): void {
    this.idle();
    this.sched.close();
    this.histogram.disable();
    this.gc.disconnect();
  }
}

function formatStall(x: Stall): string {
  const why = x.what ?? (x.cpuMs === undefined || x.waitMs === undefined ? undefined : `${x.cpuMs} ms on CPU, ${x.waitMs} ms waiting for a core`);
  return `${x.at.slice(11, 23)} ${x.ms} ms${why ? ` (${why})` : ''}`;
}

export function formatStats(s: EventLoopStats, stalls: readonly Stall[] = []): string {
  const named = stalls.length ? ` Stalls over ${STALL_MS} ms: ${stalls.map(formatStall).join(', ')}.` : '';
  return `Extension host event-loop delay ${s.since} (${(s.sinceMs / 1000).toFixed(0)} s, ${s.samples} samples): max ${s.maxMs.toFixed(1)} ms, p99 ${s.p99Ms.toFixed(1)} ms, mean ${s.meanMs.toFixed(1)} ms; our work on it: ${s.ownWorkCount} calls, longest ${s.ownWorkMaxMs.toFixed(1)} ms${s.ownWorkMaxWhat ? ` (${s.ownWorkMaxWhat})` : ''}; longest GC pause ${s.gcMaxMs.toFixed(1)} ms.${named}`;
}
