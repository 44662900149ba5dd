/**
 * A small safetensors reader/writer that enforces the format
 * (https://huggingface.co/docs/safetensors): 8-byte little-endian header length, a JSON header
 * of {name: {dtype, shape, data_offsets: [begin, end]}} plus an optional `__metadata__`
 * string map, then the byte buffer. Offsets are relative to the buffer, must lie inside it,
 * must agree with dtype × shape, and must tile it with no overlaps or gaps.
 *
 * Reads F32/F16/BF16 into Float32Array and writes each tensor as F32, F16 or BF16, rounding to
 * nearest even as PyTorch's `.to(torch.bfloat16)` / `.half()` do. Files are written in the
 * reference writer's order (safetensors' Rust `prepare`: by dtype, widest first, then by name),
 * so wide tensors stay aligned and a file we write has the same bytes as `save_file` of it.
 */
import { errorMessage } from '../../protocol/guards';
import * as fs from 'node:fs';
import { UserError } from '../errors';

/** The element types read and written (weights in the wild are these three). */
export type Dtype = 'F32' | 'F16' | 'BF16';

export interface NamedTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface SafetensorsFile {
  /** In the order of their bytes in the file. */
  readonly tensors: Map<string, NamedTensor>;
  /** Each tensor's dtype in the file (the values above are float32 whatever it was). */
  readonly dtypes: Map<string, Dtype>;
  readonly metadata: Record<string, string>;
}

/** Headers larger than this are refused before parsing (real ones are a few hundred KB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const BYTES_PER_ELEMENT: Readonly<Record<Dtype, number>> = { F32: 4, F16: 2, BF16: 2 };
/** The reference writer's dtype order (its Dtype enum), widest first. */
const WRITE_RANK: Readonly<Record<Dtype, number>> = { F32: 0, BF16: 1, F16: 2 };
const KNOWN_UNSUPPORTED = new Set([
  'F64',
  'I64',
  'I32',
  'I16',
  'I8',
  'U8',
  'U16',
  'U32',
  'U64',
  'BOOL',
  'C64',
  'F4',
  'F6_E2M3',
  'F6_E3M2',
  'F8_E4M3',
  'F8_E5M2',
  'F8_E8M0',
  'F8_E4M3FNUZ',
  'F8_E5M2FNUZ',
]);

export const isDtype = (d: unknown): d is Dtype => d === 'F32' || d === 'F16' || d === 'BF16';

type Fail = (problem: string) => never;
const failer =
  (file: string): Fail =>
  (problem) => {
    throw new UserError(`${file}: not a valid safetensors file: ${problem}.`);
  };

interface Entry {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}

/** Parse safetensors bytes already in memory; `file` names the source in every error. */
export function parseSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  const fail = failer(file);
  const headerLength = checkedHeaderLength(bytes.subarray(0, 8), bytes.length, fail);
  const dataStart = 8 + headerLength;
  const { entries, metadata } = parseHeader(bytes.subarray(8, dataStart), bytes.length - dataStart, file);
  const tensors = new Map<string, NamedTensor>();
  const dtypes = new Map<string, Dtype>();
  for (const e of entries) {
    const data = new Float32Array((e.end - e.begin) / BYTES_PER_ELEMENT[e.dtype]);
    decodeInto(bytes.subarray(dataStart + e.begin, dataStart + e.end), e.dtype, data);
    tensors.set(e.name, { shape: e.shape, data });
    dtypes.set(e.name, e.dtype);
  }
  return { tensors, dtypes, metadata };
}

/**
 * Read a safetensors file tensor by tensor: the header first, then each tensor's bytes straight
 * into its Float32Array (F32) or through one reused scratch buffer (F16/BF16), so a 1 GB BF16
 * checkpoint costs its 2 GB of float32 plus its largest tensor, never a second copy of the file.
 */
export function readSafetensors(file: string): SafetensorsFile {
  const cannot = (err: unknown): never => {
    throw new UserError(`${file}: cannot read the weights file (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}).`);
  };
  let fd = -1;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    cannot(err);
  }
  try {
    const size = fs.fstatSync(fd).size;
    const fail = failer(file);
    const read = (into: Uint8Array, position: number): void => {
      for (let done = 0; done < into.length;) {
        let n = 0;
        try {
          n = fs.readSync(fd, into, done, into.length - done, position + done);
        } catch (err) {
          cannot(err);
        }
        if (n === 0) fail(`the file ended at byte ${position + done} while ${size} were expected (was it changed while being read?)`);
        done += n;
      }
    };
    const lengthBytes = new Uint8Array(Math.min(8, size));
    read(lengthBytes, 0);
    const headerLength = checkedHeaderLength(lengthBytes, size, fail);
    const headerBytes = new Uint8Array(headerLength);
    read(headerBytes, 8);
    const dataStart = 8 + headerLength;
    const { entries, metadata } = parseHeader(headerBytes, size - dataStart, file);
    const tensors = new Map<string, NamedTensor>();
    const dtypes = new Map<string, Dtype>();
    let scratch = new Uint8Array(0);
    for (const e of entries) {
      const byteLength = e.end - e.begin;
      const data = new Float32Array(byteLength / BYTES_PER_ELEMENT[e.dtype]);
      if (e.dtype === 'F32' && LITTLE_ENDIAN) {
        read(new Uint8Array(data.buffer), dataStart + e.begin);
      } else {
        if (scratch.length < byteLength) scratch = new Uint8Array(byteLength);
        const raw = scratch.subarray(0, byteLength);
        read(raw, dataStart + e.begin);
        decodeInto(raw, e.dtype, data);
      }
      tensors.set(e.name, { shape: e.shape, data });
      dtypes.set(e.name, e.dtype);
    }
    return { tensors, dtypes, metadata };
  } finally {
    fs.closeSync(fd);
  }
}

/** The header length from the first 8 bytes, checked against the limit and the file size. */
function checkedHeaderLength(first: Uint8Array, fileLength: number, fail: Fail): number {
  if (fileLength < 8 || first.length < 8) fail(`${fileLength} bytes is too short for the 8-byte header length`);
  const headerLength = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) fail(`header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (headerLength + 8n > BigInt(fileLength)) fail(`header length ${headerLength} runs past the end of the file (${fileLength} bytes; truncated?)`);
  return Number(headerLength);
}

/** Validate a header against a data buffer of `dataLength` bytes; entries come back in offset order. */
function parseHeader(headerBytes: Uint8Array, dataLength: number, file: string): { entries: Entry[]; metadata: Record<string, string> } {
  const fail = failer(file);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (err) {
    fail(`the header is not valid JSON (${errorMessage(err)})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('the header is not a JSON object');

  let metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(raw, fail);
      continue;
    }
    if (typeof raw !== 'object' || raw === null) fail(`tensor '${name}' is not an object`);
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (typeof dtype !== 'string') fail(`tensor '${name}' has no dtype`);
    if (!isDtype(dtype)) {
      // A real dtype we do not read is a limitation, not a broken file: say so plainly.
      if (KNOWN_UNSUPPORTED.has(dtype as string)) throw new UserError(`${file}: tensor '${name}' has dtype ${dtype as string}, which is not supported (only F32, F16 and BF16 tensors are read).`);
      fail(`tensor '${name}' has dtype ${dtype as string}, which is not a safetensors dtype`);
    }
    const dt = dtype as Dtype;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}' has a bad shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`tensor '${name}' has bad data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataLength) fail(`tensor '${name}' data_offsets [${begin}, ${end}] lie outside the ${dataLength}-byte data buffer (truncated?)`);
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    const expected = elements * BYTES_PER_ELEMENT[dt];
    if (end - begin !== expected) fail(`tensor '${name}' (${dt} ${JSON.stringify(shape)}) needs ${expected} bytes but data_offsets span ${end - begin}`);
    entries.push({ name, dtype: dt, shape: shape as number[], begin, end });
  }

  // The tensors must tile the buffer exactly: sorted by offset, each starts where the last ended.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of entries) {
    if (e.begin < cursor) fail(`tensor '${e.name}' overlaps the tensor before it (starts at ${e.begin}, previous ends at ${cursor})`);
    if (e.begin > cursor) fail(`there is a gap of ${e.begin - cursor} bytes before tensor '${e.name}'`);
    cursor = e.end;
  }
  if (cursor !== dataLength) fail(`${dataLength - cursor} bytes after the last tensor belong to no tensor`);
  return { entries, metadata };
}

function parseMetadata(raw: unknown, fail: Fail): Record<string, string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('__metadata__ is not an object');
  const out = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== 'string') fail(`__metadata__ value for '${k}' is not a string`);
    out[k] = v as string;
  }
  return out;
}

/** Little-endian element bytes → float32, into `out` (one element per 2 or 4 bytes). */
function decodeInto(raw: Uint8Array, dtype: Dtype, out: Float32Array): void {
  if (dtype === 'F32') {
    // The format is little-endian, as is every platform we run on: a byte copy is the decode.
    if (LITTLE_ENDIAN) new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(raw);
    else {
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
    }
    return;
  }
  const halves = halfWords(raw);
  if (dtype === 'BF16') {
    // bfloat16 is the top half of a float32.
    const bits = new Int32Array(out.buffer, out.byteOffset, out.length);
    for (let i = 0, n = out.length; i < n; i++) bits[i] = (halves[i] as number) << 16;
    return;
  }
  const table = halfTable();
  for (let i = 0, n = out.length; i < n; i++) out[i] = table[halves[i] as number] as number;
}

/** 2-byte little-endian words as a Uint16Array (a view when aligned on a little-endian host). */
function halfWords(raw: Uint8Array): Uint16Array {
  if (LITTLE_ENDIAN && raw.byteOffset % 2 === 0) return new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  return Uint16Array.from({ length: raw.byteLength / 2 }, (_, i) => view.getUint16(i * 2, true));
}

let HALF_TABLE: Float32Array | undefined;
/** Every half's float32 value (256 KB), built on first use: F16 decoding becomes one lookup. */
function halfTable(): Float32Array {
  if (!HALF_TABLE) {
    HALF_TABLE = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) HALF_TABLE[h] = halfToFloat(h);
  }
  return HALF_TABLE;
}

/** IEEE 754 half → number, including subnormals, infinities and NaN. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const F32_BITS = new Uint32Array(1);
const F32_VALUE = new Float32Array(F32_BITS.buffer);
const float32Bits = (x: number): number => {
  F32_VALUE[0] = x;
  return F32_BITS[0] as number;
};

/** float32 bits → bfloat16 bits, round to nearest even; NaN → 0x7fc0 (as c10::BFloat16 does). */
function bf16FromBits(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  return (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16; // below 2^32 for every non-NaN, so >>> is exact
}

/** A number, first rounded to float32 (as the weights are), as bfloat16 bits. */
export const toBf16Bits = (x: number): number => bf16FromBits(float32Bits(x));

/**
 * float32 bits → IEEE half bits, round to nearest even: too large → ±inf, too small for a
 * subnormal → ±0, NaN → sign | 0x7e00 (as c10's fp16_ieee_from_fp32_value does).
 */
function halfFromBits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | (mant ? 0x7e00 : 0x7c00);
  const e = exp - 127 + 15; // the half's biased exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // A half subnormal counts units of 2^-24: the 24-bit significand shifted right by 14 - e.
    if (e < -10) return sign; // below half the smallest subnormal
    const significand = mant | 0x800000;
    const shift = 14 - e;
    const kept = significand >>> shift;
    const rest = significand - kept * 2 ** shift;
    const half = 2 ** (shift - 1);
    return sign | (kept + (rest > half || (rest === half && kept & 1) ? 1 : 0)); // may round up to the smallest normal
  }
  const kept = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  return sign | (kept + (rest > 0x1000 || (rest === 0x1000 && kept & 1) ? 1 : 0)); // a carry may reach inf, as it should
}

/** A number, first rounded to float32, as IEEE half bits. */
export const toHalfBits = (x: number): number => halfFromBits(float32Bits(x));

/**
 * Serialize tensors with metadata {"format": "pt", ...extra}, each as `dtypes` says (one dtype
 * for all, or per name; F32 where unnamed), ordered as the reference writer orders them.
 */
export function serializeSafetensors(tensors: ReadonlyMap<string, NamedTensor>, metadata: Record<string, string> = {}, dtypes: Dtype | ReadonlyMap<string, Dtype> = 'F32'): Uint8Array {
  const { header, order, dtypeOf, dataLength } = plan(tensors, metadata, dtypes);
  const out = new Uint8Array(header.length + dataLength);
  out.set(header, 0);
  let at = header.length;
  for (const name of order) at += encodeInto((tensors.get(name) as NamedTensor).data, dtypeOf(name), out, at);
  return out;
}

/**
 * The same bytes as serializeSafetensors, as chunks: the header, then one per tensor (F32: a view
 * of its data). For writing a file without holding it whole: shards past 4 GiB, which no
 * Uint8Array can hold, and peak memory on save.
 */
export function* safetensorsChunks(tensors: ReadonlyMap<string, NamedTensor>, metadata: Record<string, string> = {}, dtypes: Dtype | ReadonlyMap<string, Dtype> = 'F32'): Generator<Uint8Array> {
  const { header, order, dtypeOf } = plan(tensors, metadata, dtypes);
  yield header;
  for (const name of order) {
    const { data } = tensors.get(name) as NamedTensor;
    const dtype = dtypeOf(name);
    if (dtype === 'F32' && LITTLE_ENDIAN) {
      yield new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      continue;
    }
    const chunk = new Uint8Array(data.length * BYTES_PER_ELEMENT[dtype]);
    encodeInto(data, dtype, chunk, 0);
    yield chunk;
  }
}

/** Each tensor's dtype, the write order, and the 8-byte length + header (padded to 8) before the data. */
function plan(tensors: ReadonlyMap<string, NamedTensor>, metadata: Record<string, string>, dtypes: Dtype | ReadonlyMap<string, Dtype>) {
  const dtypeOf = (name: string): Dtype => (typeof dtypes === 'string' ? dtypes : (dtypes.get(name) ?? 'F32'));
  const order = [...tensors.keys()].sort((a, b) => WRITE_RANK[dtypeOf(a)] - WRITE_RANK[dtypeOf(b)] || (a < b ? -1 : a > b ? 1 : 0));
  const json: Record<string, unknown> = { __metadata__: { format: 'pt', ...metadata } };
  let offset = 0;
  for (const name of order) {
    const t = tensors.get(name) as NamedTensor;
    const elements = t.shape.reduce((a, b) => a * b, 1);
    if (elements !== t.data.length) throw new Error(`safetensors: tensor '${name}' has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    const bytes = elements * BYTES_PER_ELEMENT[dtypeOf(name)];
    json[name] = { dtype: dtypeOf(name), shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let text = JSON.stringify(json);
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  text += ' '.repeat((8 - ((8 + Buffer.byteLength(text)) % 8)) % 8);
  const headerText = Buffer.from(text, 'utf8');
  const header = new Uint8Array(8 + headerText.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(headerText.length), true);
  header.set(headerText, 8);
  return { header, order, dtypeOf, dataLength: offset };
}

/** Write `data` as `dtype` little-endian at `out[at]`; returns the bytes written. */
function encodeInto(data: Float32Array, dtype: Dtype, out: Uint8Array, at: number): number {
  const view = new DataView(out.buffer, out.byteOffset + at, data.length * BYTES_PER_ELEMENT[dtype]);
  if (dtype === 'F32') {
    if (LITTLE_ENDIAN) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    else for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i] as number, true);
    return data.length * 4;
  }
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const n = data.length;
  if (LITTLE_ENDIAN && (out.byteOffset + at) % 2 === 0) {
    // One loop per dtype, each calling its converter directly, so V8 inlines it.
    const words = new Uint16Array(out.buffer, out.byteOffset + at, n);
    if (dtype === 'BF16') for (let i = 0; i < n; i++) words[i] = bf16FromBits(bits[i] as number);
    else for (let i = 0; i < n; i++) words[i] = halfFromBits(bits[i] as number);
  } else {
    const convert = dtype === 'BF16' ? bf16FromBits : halfFromBits;
    for (let i = 0; i < n; i++) view.setUint16(i * 2, convert(bits[i] as number), true);
  }
  return n * 2;
}
