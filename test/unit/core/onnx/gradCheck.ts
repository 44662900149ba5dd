/**
 * The tape's gradients against central finite differences of its own forward, run by ONNX Runtime:
 * float inputs are random in [-1, 1) (seeded by the label) unless given `values`; those with
 * `values` or `constant` are fed, not differentiated. float32, so h = 1e-2 and a 2e-2 tolerance
 * relative to the largest analytic gradient, at up to 12 elements of each differentiated input.
 */
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { Tape } from '../../../../src/core/onnx/autodiff';
import { seededRandom } from '../../../../src/core/sample/pick';

export interface FloatInput {
  readonly name: string;
  readonly dims: readonly number[];
  /** Fed as given (a mask, a table), not differentiated. */
  readonly values?: readonly number[];
  /** Fed with random values (weights taken as constants), not differentiated. */
  readonly constant?: boolean;
}
export type Build = (t: Tape, x: Readonly<Record<string, string>>) => string;

/** Checks d loss / d input for every float input that is neither given values nor constant. */
export async function checkGradients(label: string, floats: readonly FloatInput[], ints: Readonly<Record<string, { dims: number[]; data: number[] }>>, build: Build): Promise<void> {
  const t = new Tape();
  const x: Record<string, string> = {};
  for (const f of floats) x[f.name] = f.values || f.constant ? t.g.input(f.name, 'float', f.dims) : t.param(f.name, f.dims);
  for (const [name, v] of Object.entries(ints)) x[name] = t.g.input(name, 'int64', v.dims);
  const checked = floats.filter((f) => !f.values && !f.constant);
  const loss = build(t, x);
  const grads = t.backward(
    loss,
    checked.map((f) => f.name),
  );
  t.g.output(loss, 'loss', 'float', []);
  checked.forEach((f, i) => t.g.output(grads[i] as string, `grad_${f.name}`, 'float', f.dims));
  const session = await ort.InferenceSession.create(t.g.model(label, label), { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  const random = seededRandom(label.length * 7919);
  const values = Object.fromEntries(floats.map((f) => [f.name, f.values ? Float32Array.from(f.values) : Float32Array.from({ length: f.dims.reduce((a, b) => a * b, 1) }, () => random() * 2 - 1)]));
  const feeds = (): Record<string, ort.Tensor> => ({
    ...Object.fromEntries(floats.map((f) => [f.name, new ort.Tensor('float32', Float32Array.from(values[f.name] as Float32Array), [...f.dims])])),
    ...Object.fromEntries(
      Object.entries(ints).map(([name, v]) => [
        name,
        new ort.Tensor(
          'int64',
          BigInt64Array.from(v.data, (n) => BigInt(n)),
          v.dims,
        ),
      ]),
    ),
  });
  try {
    const out = await session.run(feeds());
    for (const f of checked) {
      const analytic = out[`grad_${f.name}`]?.data as Float32Array;
      const data = values[f.name] as Float32Array;
      const scale = Math.max(1e-2, ...Array.from(analytic, Math.abs));
      const step = Math.max(1, Math.floor(data.length / 12));
      for (let i = 0; i < data.length; i += step) {
        const h = 1e-2;
        const keep = data[i] as number;
        data[i] = keep + h;
        const up = (await session.run(feeds())).loss?.data[0] as number;
        data[i] = keep - h;
        const down = (await session.run(feeds())).loss?.data[0] as number;
        data[i] = keep;
        const numeric = (up - down) / (2 * h);
        assert.ok(Math.abs(numeric - (analytic[i] as number)) < 2e-2 * scale, `${label}: d/d${f.name}[${i}] analytic ${analytic[i]} vs numeric ${numeric}`);
      }
    }
  } finally {
    await session.release();
  }
}
