/**
 * Where a tfjs-wasm train step's time goes: every wasm kernel wrapped with a timer, per kernel
 * name and per input shapes, and the rest (engine dispatch, tape, bookkeeping, our JS) as the
 * step time minus the kernels'. Not a test. Usage:
 *   node --import tsx bench/profile-train.ts ['{"d":256,"layers":6}']   (fields of REFERENCE)
 *   env REPS (default 10), TOP (shape rows, default 45)
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { makeTrainStep, REFERENCE } from './model';

const cfgArg = (process.argv[2] ? JSON.parse(process.argv[2]) : {}) as Partial<typeof REFERENCE>;
const c = { ...REFERENCE, ...cfgArg };
async function main(): Promise<void> {
  setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep);
  await tf.setBackend('wasm');
  await tf.ready();
  const stats = new Map<string, { n: number; ms: number }>();
  let on = false;
  for (const k of tf.getKernelsForBackend('wasm')) {
    const f = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, 'wasm');
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        if (!on) return f(args);
        const t0 = performance.now();
        const r = f(args);
        const dt = performance.now() - t0;
        const inp = (Object.values(args.inputs) as (tf.TensorInfo | undefined)[])
          .filter((t) => t !== undefined)
          .map((t) => `[${t.shape}]`)
          .join('');
        const a = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean; perm?: number[] };
        const key = `${k.kernelName} ${inp}${a.transposeA ? ' tA' : ''}${a.transposeB ? ' tB' : ''}${a.perm ? ' p' + a.perm : ''}`;
        const s = stats.get(key) ?? { n: 0, ms: 0 };
        s.n++;
        s.ms += dt;
        stats.set(key, s);
        return r;
      },
    });
  }
  const { step } = makeTrainStep(c);
  for (let i = 0; i < 3; i++) step();
  const R = +(process.env.REPS ?? 10);
  on = true;
  const t0 = performance.now();
  for (let i = 0; i < R; i++) step();
  const total = (performance.now() - t0) / R;
  on = false;
  // uninstrumented timing
  const times: number[] = [];
  for (let i = 0; i < R; i++) {
    const s = performance.now();
    step();
    times.push(performance.now() - s);
  }
  times.sort((a, b) => a - b);
  let kms = 0,
    kn = 0;
  const rows = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms);
  for (const [, s] of rows) {
    kms += s.ms;
    kn += s.n;
  }
  console.log(`step instrumented ${total.toFixed(1)} ms; plain median ${times[R >> 1]!.toFixed(1)} min ${times[0]!.toFixed(1)}`);
  console.log(`kernels: ${(kn / R).toFixed(0)} calls/step, ${(kms / R).toFixed(1)} ms/step; non-kernel ${(total - kms / R).toFixed(1)} ms`);
  const byName = new Map<string, { n: number; ms: number }>();
  for (const [k, s] of rows) {
    const n = k.split(' ')[0]!;
    const b = byName.get(n) ?? { n: 0, ms: 0 };
    b.n += s.n;
    b.ms += s.ms;
    byName.set(n, b);
  }
  for (const [k, s] of [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms)) console.log(`  ${(s.ms / R).toFixed(2).padStart(7)} ms ${(s.n / R).toFixed(0).padStart(4)}×  ${k}`);
  console.log('--- by shape');
  for (const [k, s] of rows.slice(0, +(process.env.TOP ?? 45))) console.log(`  ${(s.ms / R).toFixed(2).padStart(7)} ms ${(s.n / R).toFixed(0).padStart(4)}×  ${k}`);
}
void main();
