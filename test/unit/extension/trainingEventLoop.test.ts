/**
 * The extension host's event-loop monitor (src/extension/training/eventLoop.ts): a real stall of
 * the loop shows in max and in the named stalls, a reset forgets it, and tracked work is timed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventLoopMonitor, formatStats } from '../../../src/extension/training/eventLoop';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const block = (ms: number): void => {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Busy: the event loop cannot turn.
  }
};

test('a blocked loop shows in max, in the named stalls and in tracked work; a reset forgets it', async () => {
  const monitor = new EventLoopMonitor();
  try {
    monitor.reset('since the test started');
    await sleep(250);
    monitor.track(() => block(200));
    await sleep(250);
    const stats = monitor.stats();
    assert.ok(stats.maxMs >= 150 && stats.maxMs < 1000, `max ${stats.maxMs} ms after a 200 ms block`);
    assert.ok(stats.p99Ms <= stats.maxMs);
    assert.ok(stats.ownWorkMaxMs >= 200 && stats.ownWorkCount === 1, `tracked ${stats.ownWorkMaxMs} ms over ${stats.ownWorkCount} calls`);
    const stalls = monitor.stalls();
    assert.equal(stalls.length, 1, JSON.stringify(stalls));
    // The coarse 100 ms timer sees at least the block minus one tick.
    assert.ok((stalls[0]?.ms ?? 0) >= 90, `stall ${stalls[0]?.ms} ms`);
    assert.match(formatStats(stats, stalls), /since the test started .* max \d+\.\d ms, p99 .*longest 2\d\d\.\d ms\. Stalls over 50 ms: \d\d:\d\d:\d\d\.\d{3} \d+ ms\./);

    const resetAt = new Date().toISOString();
    monitor.reset('after the reset');
    await sleep(300);
    const quiet = monitor.stats();
    // Idle since the reset (a loaded test machine may still be a little late).
    assert.ok(quiet.maxMs < 150, `max ${quiet.maxMs} ms on an idle loop`);
    assert.ok(monitor.stalls().every((st) => st.at >= resetAt));
    assert.equal(quiet.ownWorkCount, 0);
    assert.equal(quiet.since, 'after the reset');
  } finally {
    monitor.dispose();
  }
});
