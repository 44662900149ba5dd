import { test } from 'node:test';
import assert from 'node:assert/strict';
import { halfToFloat, parseSafetensors, serializeSafetensors } from '../../../../src/core/model/safetensors';
import type { NamedTensor } from '../../../../src/core/model/safetensors';
import { isUserError } from '../../../../src/core/errors';

/** Raw safetensors bytes from a header object and a data buffer, as a hostile or odd writer might. */
function build(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const text = Buffer.from(headerText ?? JSON.stringify(header), 'utf8');
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

const rejects = (bytes: Uint8Array, pattern: RegExp): void =>
  assert.throws(
    () => parseSafetensors(bytes, '/models/x/model.safetensors'),
    (e: unknown) => isUserError(e) && (e as Error).message.startsWith('/models/x/model.safetensors: ') && pattern.test((e as Error).message),
  );

test('F32 round trip keeps names, shapes, values and metadata', () => {
  const tensors = new Map<string, NamedTensor>([
    ['a.weight', { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 1e-30, -0, 65504]) }],
    ['b', { shape: [], data: Float32Array.from([42]) }],
    ['empty', { shape: [0, 4], data: new Float32Array(0) }],
  ]);
  const bytes = serializeSafetensors(tensors, { note: 'x' });
  const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + headerLen) % 8, 0, 'data starts 8-byte aligned');
  const back = parseSafetensors(bytes, 'mem');
  assert.deepEqual(back.metadata, Object.assign(Object.create(null), { format: 'pt', note: 'x' }));
  assert.deepEqual([...back.tensors.keys()].sort(), ['a.weight', 'b', 'empty']);
  for (const [k, t] of tensors) {
    assert.deepEqual(back.tensors.get(k)?.shape, t.shape);
    assert.deepEqual(back.tensors.get(k)?.data, t.data);
  }
});

test('F16 and BF16 read into float32 exactly', () => {
  // F16: 1.0 = 0x3c00, -2.0 = 0xc000, 65504 = 0x7bff, smallest subnormal 0x0001, +inf 0x7c00.
  const f16 = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00]).buffer);
  // BF16: top halves of float32 1.0 (0x3f80), -3.0 (0xc040), 0.15625 (0x3e20).
  const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0xc040, 0x3e20]).buffer);
  const data = new Uint8Array(f16.length + bf16.length);
  data.set(f16, 0);
  data.set(bf16, f16.length);
  const file = parseSafetensors(build({ h: { dtype: 'F16', shape: [5], data_offsets: [0, 10] }, b: { dtype: 'BF16', shape: [3], data_offsets: [10, 16] } }, data), 'mem');
  assert.deepEqual([...(file.tensors.get('h')?.data ?? [])], [1, -2, 65504, 2 ** -24, Infinity]);
  assert.deepEqual([...(file.tensors.get('b')?.data ?? [])], [1, -3, 0.15625]);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
});

test('malformed files are rejected with the file name and the problem', () => {
  const ok = serializeSafetensors(new Map([['w', { shape: [4], data: new Float32Array(4) }]]));
  rejects(ok.subarray(0, 5), /too short/);
  rejects(ok.subarray(0, ok.length - 3), /truncated|belong to no tensor|outside/);
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 2n ** 63n, true);
  rejects(huge, /exceeds the .*limit/);
  const past = new Uint8Array(16);
  new DataView(past.buffer).setBigUint64(0, 1000n, true);
  rejects(past, /runs past the end/);
  rejects(build(null, new Uint8Array(0), '{"w": {"dtype": "F32",'), /not valid JSON/);
  rejects(build([1, 2], new Uint8Array(0)), /not a JSON object/);
  rejects(build({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 12] } }, new Uint8Array(12)), /needs 8 bytes but data_offsets span 12/);
  rejects(build({ w: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), /dtype I64, which is not supported/);
  rejects(build({ w: { dtype: 'Q4', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), /not a safetensors dtype/);
  rejects(build({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /bad shape/);
  rejects(build({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, new Uint8Array(4)), /outside/);
  rejects(build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12)), /overlaps/);
  rejects(build({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), /gap of 4 bytes/);
  rejects(build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(8)), /4 bytes after the last tensor/);
  rejects(build({ __metadata__: { format: 1 } }, new Uint8Array(0)), /__metadata__ value for 'format' is not a string/);
});

test('a __proto__ key is read as an ordinary name, never as a prototype change', () => {
  const bytes = build(null, new Uint8Array(4), '{"__proto__": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "__metadata__": {"__proto__": "x"}}');
  const file = parseSafetensors(bytes, 'mem');
  assert.equal(file.tensors.get('__proto__')?.data.length, 1);
  assert.equal(Object.getPrototypeOf(file.metadata), null);
  assert.equal(({} as Record<string, unknown>).dtype, undefined);
});
