/**
 * The engine trains and samples on a machine the editor shares: it runs at a lower CPU priority
 * (nice 10, Windows' "below normal") so that the extension host and the editor's UI win a core
 * when they need one, while training still takes every core the editor leaves idle. Lowered at
 * start-up, before ONNX Runtime makes its thread pools: on Linux a nice value belongs to a thread
 * and a new thread inherits its creator's, so every thread there now (V8's, libuv's) is lowered
 * and every later one (ONNX Runtime's pools) starts lowered; on Windows and macOS the priority
 * is the process's. Best effort: a refusal leaves the priority as it was, and a process already
 * nicer than 10 keeps its own.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';

export const ENGINE_NICE = 10;

export function lowerEnginePriority(): void {
  const threads = process.platform === 'linux' && fs.existsSync('/proc/self/task') ? fs.readdirSync('/proc/self/task').map(Number) : [0];
  for (const tid of threads) {
    try {
      if (os.getPriority(tid) < ENGINE_NICE) os.setPriority(tid, ENGINE_NICE);
    } catch {
      // Not permitted, or the thread has ended: it keeps the priority it has.
    }
  }
}
