import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSafetensors, readSafetensors, safetensorsChunks, serializeSafetensors, toBf16Bits, toHalfBits } from '../../../../src/core/model/safetensors';
import type { Dtype, NamedTensor } from '../../../../src/core/model/safetensors';
import { isUserError } from '../../../../src/core/errors';

/** A float32 from its bit pattern (written out by hand below). */
const f32 = (bits: number): number => new Float32Array(new Uint32Array([bits]).buffer)[0] as number;
const hex = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;

test('float32 → BF16 rounds to nearest even, as PyTorch does', () => {
  const cases: [number, number, string][] = [
    [1, 0x3f80, '1.0'],
    [-2.5, 0xc020, '-2.5'],
    [3.14159, 0x4049, 'pi-ish: 0x40490fd0, low half below the tie'],
    [f32(0x3f808000), 0x3f80, 'exact tie, even upper half: stays'],
    [f32(0x3f818000), 0x3f82, 'exact tie, odd upper half: rounds up to even'],
    [f32(0x3f808001), 0x3f81, 'just above the tie: up'],
    [f32(0x3f807fff), 0x3f80, 'just below the tie: down'],
    [f32(0x3fffffff), 0x4000, 'carry into the exponent (1.9999999 → 2)'],
    [f32(0x7f7fffff), 0x7f80, 'float32 max rounds to +inf'],
    [f32(0x00010000), 0x0001, 'a BF16 subnormal, exact'],
    [f32(0x00018000), 0x0002, 'subnormal tie, odd: up to even'],
    [f32(0x00008000), 0x0000, 'subnormal tie, even (zero): down'],
    [f32(0x00000001), 0x0000, 'the smallest float32 subnormal'],
    [-0, 0x8000, '-0'],
    [Infinity, 0x7f80, '+inf'],
    [-Infinity, 0xff80, '-inf'],
    [NaN, 0x7fc0, 'NaN'],
  ];
  for (const [x, want, what] of cases) assert.equal(hex(toBf16Bits(x)), hex(want), what);
});

test('float32 → F16 rounds to nearest even, with subnormals and overflow to inf', () => {
  const cases: [number, number, string][] = [
    [1, 0x3c00, '1.0'],
    [-2.5, 0xc100, '-2.5'],
    [3.14159, 0x4248, '3.14159 → 3.140625'],
    [1 / 3, 0x3555, '1/3'],
    [65504, 0x7bff, 'the largest half'],
    [65519, 0x7bff, 'below the tie with 65536: down'],
    [65520, 0x7c00, 'the tie between 65504 and 2^16 rounds to even: inf'],
    [1e6, 0x7c00, 'overflow'],
    [-1e6, 0xfc00, 'negative overflow'],
    [2 ** -14, 0x0400, 'the smallest normal'],
    [2 ** -24, 0x0001, 'the smallest subnormal'],
    [1023 * 2 ** -24, 0x03ff, 'the largest subnormal'],
    [1023.5 * 2 ** -24, 0x0400, 'tie between 0x3ff (odd) and the smallest normal: up'],
    [1.5 * 2 ** -24, 0x0002, 'subnormal tie, odd: up to even'],
    [2.5 * 2 ** -24, 0x0002, 'subnormal tie, even: down'],
    [2 ** -25, 0x0000, 'half the smallest subnormal: tie to even zero'],
    [f32(0x33000001), 0x0001, 'just above half the smallest subnormal'],
    [2 ** -26, 0x0000, 'underflow'],
    [-(2 ** -24), 0x8001, 'negative subnormal'],
    [f32(0x3f801000), 0x3c00, 'tie at the 10-bit mantissa, even: down'],
    [f32(0x3f803000), 0x3c02, 'tie at the 10-bit mantissa, odd: up'],
    [-0, 0x8000, '-0'],
    [Infinity, 0x7c00, '+inf'],
    [-Infinity, 0xfc00, '-inf'],
    [NaN, 0x7e00, 'NaN'],
  ];
  for (const [x, want, what] of cases) assert.equal(hex(toHalfBits(x)), hex(want), what);
});

test('every BF16 and F16 pattern survives decode → encode unchanged (NaNs aside)', () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  for (const dtype of ['BF16', 'F16'] as const) {
    const bytes = build({ x: { dtype, shape: [65536], data_offsets: [0, all.byteLength] } }, new Uint8Array(all.buffer));
    const decoded = parseSafetensors(bytes, 'mem').tensors.get('x') as NamedTensor;
    const encode = dtype === 'BF16' ? toBf16Bits : toHalfBits;
    for (let h = 0; h < 65536; h++) {
      const x = decoded.data[h] as number;
      if (Number.isNaN(x)) continue;
      if (encode(x) !== h) assert.fail(`${dtype} ${hex(h)} → ${x} → ${hex(encode(x))}`);
    }
  }
});

/** Raw safetensors bytes from a header object and a data buffer (header in the order given). */
function build(header: unknown, data: Uint8Array): Uint8Array {
  const text = Buffer.from(JSON.stringify(header), 'utf8');
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

test('a mixed-dtype file: read as float32 with each dtype recorded, written back in the reference order', () => {
  // h (F16) first and b (BF16) before w (F32) on disk: an order the reference writer never uses.
  const h = new Uint16Array([0x3c00, 0xc100, 0x0001]); // 1, -2.5, 2^-24
  const b = new Uint16Array([0x3f80, 0x4049]); // 1, 3.140625
  const w = new Float32Array([0.1, -7]);
  const data = Buffer.concat([Buffer.from(h.buffer), Buffer.from(b.buffer), Buffer.from(w.buffer)]);
  const file = parseSafetensors(
    build(
      {
        'h.weight': { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
        'b.weight': { dtype: 'BF16', shape: [2, 1], data_offsets: [6, 10] },
        'w.weight': { dtype: 'F32', shape: [2], data_offsets: [10, 18] },
      },
      data,
    ),
    'mem',
  );
  assert.deepEqual(
    [...file.dtypes],
    [
      ['h.weight', 'F16'],
      ['b.weight', 'BF16'],
      ['w.weight', 'F32'],
    ],
  );
  assert.deepEqual([...(file.tensors.get('h.weight')?.data ?? [])], [1, -2.5, 2 ** -24]);
  assert.deepEqual([...(file.tensors.get('b.weight')?.data ?? [])], [1, 3.140625]);
  assert.deepEqual(file.tensors.get('w.weight')?.data, w);

  const bytes = serializeSafetensors(file.tensors, {}, file.dtypes);
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLength)).toString('utf8')) as Record<string, { dtype: Dtype; data_offsets: [number, number] }>;
  // safetensors' Rust writer: widest dtype first (F32, BF16, F16), then by name; so F32 data stays 4-aligned.
  assert.deepEqual(Object.keys(header), ['__metadata__', 'w.weight', 'b.weight', 'h.weight']);
  assert.deepEqual(header['w.weight']?.data_offsets, [0, 8]);
  assert.equal((8 + headerLength) % 8, 0);
  const back = parseSafetensors(bytes, 'mem');
  assert.deepEqual(
    [...back.dtypes],
    [
      ['w.weight', 'F32'],
      ['b.weight', 'BF16'],
      ['h.weight', 'F16'],
    ],
  );
  for (const [name, t] of file.tensors) assert.deepEqual(back.tensors.get(name)?.data, t.data, name);
  // The same bytes after one more round: the writer is deterministic; and the same bytes chunk by chunk.
  assert.deepEqual(serializeSafetensors(back.tensors, {}, back.dtypes), bytes);
  assert.deepEqual(new Uint8Array(Buffer.concat([...safetensorsChunks(back.tensors, {}, back.dtypes)])), bytes);
});

test('readSafetensors reads a file tensor by tensor, agreeing with parseSafetensors', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'st-'));
  const tensors = new Map<string, NamedTensor>([
    ['a', { shape: [3, 5], data: Float32Array.from({ length: 15 }, (_, i) => Math.sin(i) * 100) }],
    ['b', { shape: [7], data: Float32Array.from({ length: 7 }, (_, i) => 1 / (i + 1)) }],
    ['c', { shape: [0], data: new Float32Array(0) }],
    ['d', { shape: [4], data: Float32Array.from([1e-7, -1e-7, 70000, -0]) }],
  ]);
  const file = path.join(dir, 'model.safetensors');
  for (const dtypes of [
    new Map<string, Dtype>([
      ['a', 'BF16'],
      ['b', 'F16'],
      ['d', 'F16'],
    ]),
    'F32' as const,
    'BF16' as const,
  ]) {
    const bytes = serializeSafetensors(tensors, { note: 'x' }, dtypes);
    fs.writeFileSync(file, bytes);
    const read = readSafetensors(file);
    const parsed = parseSafetensors(bytes, file);
    assert.deepEqual(read.dtypes, parsed.dtypes);
    assert.deepEqual(read.metadata, parsed.metadata);
    assert.deepEqual([...read.tensors.keys()], [...parsed.tensors.keys()]);
    for (const [name, t] of parsed.tensors) assert.deepEqual(read.tensors.get(name), t, name);
  }
  // Rounded on write: 70000 overflows F16; 1e-7 is an F16 subnormal (2 units of 2^-24).
  fs.writeFileSync(file, serializeSafetensors(tensors, {}, new Map([['d', 'F16']])));
  assert.deepEqual([...(readSafetensors(file).tensors.get('d')?.data ?? [])], [2 * 2 ** -24, -2 * 2 ** -24, Infinity, -0]);
  fs.truncateSync(file, fs.statSync(file).size - 2);
  assert.throws(() => readSafetensors(file), /model\.safetensors: not a valid safetensors file: .*(outside|belong to no tensor)/);
  assert.throws(() => readSafetensors(path.join(dir, 'nope.safetensors')), /nope\.safetensors: cannot read the weights file \(ENOENT\)/);
});

test('unsupported dtypes are refused naming the file, the tensor and the dtype', () => {
  for (const dtype of ['I64', 'F8_E4M3', 'F64', 'U8']) {
    const bytes = build({ 'model.layers.0.mlp.up_proj.weight': { dtype, shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8));
    const want = new RegExp(`^/m/model-00002-of-00003\\.safetensors: tensor 'model\\.layers\\.0\\.mlp\\.up_proj\\.weight' has dtype ${dtype}, which is not supported \\(only F32, F16 and BF16`);
    assert.throws(
      () => parseSafetensors(bytes, '/m/model-00002-of-00003.safetensors'),
      (e: unknown) => isUserError(e) && want.test((e as Error).message),
    );
  }
});
