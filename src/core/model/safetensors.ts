/**
 * A small safetensors reader/writer that enforces the format
 * (https://huggingface.co/docs/safetensors): 8-byte little-endian header length, a JSON header
 * of {name: {dtype, shape, data_offsets: [begin, end]}} plus an optional `__metadata__`
 * string map, then the byte buffer. Offsets are relative to the buffer, must lie inside it,
 * must agree with dtype × shape, and must tile it with no overlaps or gaps.
 * Reads F32/F16/BF16 into Float32Array; writes F32 with metadata {"format": "pt"}.
 */
import { errorMessage } from '../../protocol/guards';
import * as fs from 'node:fs';
import { UserError } from '../errors';

export interface NamedTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface SafetensorsFile {
  readonly tensors: Map<string, NamedTensor>;
  readonly metadata: Record<string, string>;
}

/** Headers larger than this are refused before parsing (real ones are a few hundred KB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const BYTES_PER_ELEMENT: Readonly<Record<string, number>> = { F32: 4, F16: 2, BF16: 2 };
const KNOWN_UNSUPPORTED = new Set(['F64', 'I64', 'I32', 'I16', 'I8', 'U8', 'U16', 'U32', 'U64', 'BOOL', 'F8_E4M3', 'F8_E5M2']);

/** Parse safetensors bytes; `file` names the source in every error. */
export function parseSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  const fail = (problem: string): never => {
    throw new UserError(`${file}: not a valid safetensors file: ${problem}.`);
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes is too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(MAX_HEADER_BYTES)) fail(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (headerLen + 8n > BigInt(bytes.length)) fail(`header length ${headerLen} runs past the end of the file (${bytes.length} bytes; truncated?)`);
  const n = Number(headerLen);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (err) {
    fail(`the header is not valid JSON (${errorMessage(err)})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('the header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;

  let metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  const entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(raw, fail);
      continue;
    }
    if (typeof raw !== 'object' || raw === null) fail(`tensor '${name}' is not an object`);
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (typeof dtype !== 'string') fail(`tensor '${name}' has no dtype`);
    const dt = dtype as string;
    if (!(dt in BYTES_PER_ELEMENT)) {
      const why = KNOWN_UNSUPPORTED.has(dt) ? 'is not supported (only F32, F16, BF16 weights are)' : 'is not a safetensors dtype';
      fail(`tensor '${name}' has dtype ${dt}, which ${why}`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}' has a bad shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`tensor '${name}' has bad data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataLen) fail(`tensor '${name}' data_offsets [${begin}, ${end}] lie outside the ${dataLen}-byte data buffer (truncated?)`);
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    const expected = elements * (BYTES_PER_ELEMENT[dt] as number);
    if (end - begin !== expected) fail(`tensor '${name}' (${dt} ${JSON.stringify(shape)}) needs ${expected} bytes but data_offsets span ${end - begin}`);
    entries.push({ name, dtype: dt, shape: shape as number[], begin, end });
  }

  // The tensors must tile the buffer exactly: sorted by offset, each starts where the last ended.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of sorted) {
    if (e.begin < cursor) fail(`tensor '${e.name}' overlaps the tensor before it (starts at ${e.begin}, previous ends at ${cursor})`);
    if (e.begin > cursor) fail(`there is a gap of ${e.begin - cursor} bytes before tensor '${e.name}'`);
    cursor = e.end;
  }
  if (cursor !== dataLen) fail(`${dataLen - cursor} bytes after the last tensor belong to no tensor`);

  const tensors = new Map<string, NamedTensor>();
  for (const e of entries) {
    tensors.set(e.name, { shape: e.shape, data: decode(bytes.subarray(dataStart + e.begin, dataStart + e.end), e.dtype) });
  }
  return { tensors, metadata };
}

function parseMetadata(raw: unknown, fail: (p: string) => never): Record<string, string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('__metadata__ is not an object');
  const out = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== 'string') fail(`__metadata__ value for '${k}' is not a string`);
    out[k] = v as string;
  }
  return out;
}

/** Little-endian element bytes → float32 (copies, so the result is aligned and owned). */
function decode(raw: Uint8Array, dtype: string): Float32Array {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (dtype === 'F32') {
    // The format is little-endian, as is every platform we run on: a byte copy is the decode.
    // new Uint8Array(view) copies (Buffer#slice would not), giving an aligned, owned buffer.
    if (LITTLE_ENDIAN) return new Float32Array(new Uint8Array(raw).buffer);
    const out = new Float32Array(raw.byteLength / 4);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  }
  const out = new Float32Array(raw.byteLength / 2);
  if (dtype === 'BF16') {
    // bfloat16 is the top half of a float32.
    const word = new Uint32Array(1);
    const asFloat = new Float32Array(word.buffer);
    for (let i = 0; i < out.length; i++) {
      word[0] = view.getUint16(i * 2, true) << 16;
      out[i] = asFloat[0] as number;
    }
    return out;
  }
  for (let i = 0; i < out.length; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
  return out;
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

export function readSafetensors(file: string): SafetensorsFile {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new UserError(`${file}: cannot read the weights file (${(err as NodeJS.ErrnoException).code ?? String(err)}).`);
  }
  return parseSafetensors(bytes, file);
}

/** Serialize tensors as F32 in the order given, with metadata {"format": "pt", ...extra}. */
export function serializeSafetensors(tensors: ReadonlyMap<string, NamedTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', ...metadata } };
  let offset = 0;
  for (const [name, t] of tensors) {
    const elements = t.shape.reduce((a, b) => a * b, 1);
    if (elements !== t.data.length) throw new Error(`safetensors: tensor '${name}' has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + 4 * elements] };
    offset += 4 * elements;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const t of tensors.values()) {
    if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    } else {
      const dst = new DataView(out.buffer, at, t.data.length * 4);
      for (let i = 0; i < t.data.length; i++) dst.setFloat32(i * 4, t.data[i] as number, true);
    }
    at += t.data.length * 4;
  }
  return out;
}
