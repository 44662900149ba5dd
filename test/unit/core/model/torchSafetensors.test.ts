import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Dtype } from '../../../../src/core/model/safetensors';
import { readSafetensors, serializeSafetensors } from '../../../../src/core/model/safetensors';
import { seededRandom } from '../../../../src/core/sample/pick';

/** The first python with torch: PATH's python3 may be a pyenv shim without Debian's dist-packages. */
function torchPython(): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    if (spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0) return py;
  }
  return undefined;
}

/** float32 values that exercise every rounding case: random bit patterns, the F16 range, exact ties. */
function values(): Float32Array {
  const random = seededRandom(2024);
  const u32 = (): number => Math.floor(random() * 2 ** 32);
  const bits: number[] = [];
  for (let i = 0; i < 20000; i++) bits.push(u32()); // every exponent, NaNs and infinities included
  for (let i = 0; i < 20000; i++) bits.push((((u32() & 1) << 31) | ((95 + Math.floor(random() * 50)) << 23) | (u32() & 0x7fffff)) >>> 0); // F16 subnormal..overflow
  for (let i = 0; i < 5000; i++) bits.push(((u32() & 0xffff0000) | 0x8000) >>> 0, ((u32() & 0xffffe000) | 0x1000) >>> 0); // BF16 and F16 ties
  bits.push(0x3f800000, 0xc0200000, 0x40490fd0, 0x7f7fffff, 0x00000001, 0x80000000, 0x477fe000, 0x477fefff, 0x33000000, 0x33000001);
  return new Float32Array(Uint32Array.from(bits).buffer);
}

test('PyTorch reads our BF16/F16 safetensors bit for bit (torch.frombuffer, no safetensors package)', (t) => {
  const py = torchPython();
  if (!py) {
    t.skip('python3 with torch is not installed (Debian: apt-get install python3-torch)');
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'torch-st-'));
  const file = path.join(dir, 'values.safetensors');
  const v = values();
  const data = { shape: [v.length], data: v };
  fs.writeFileSync(
    file,
    serializeSafetensors(
      new Map([
        ['v.f32', data],
        ['v.bf16', data],
        ['v.f16', data],
      ]),
      {},
      new Map<string, Dtype>([
        ['v.bf16', 'BF16'],
        ['v.f16', 'F16'],
      ]),
    ),
  );
  const decodedFile = path.join(dir, 'decoded.bin');
  const r = spawnSync(py, [path.join(__dirname, 'torch_safetensors.py'), file, decodedFile], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout.trim().split('\n').pop() as string) as Record<'bf16' | 'f16', { count: number; mismatches: number; first: unknown[] }>;
  for (const k of ['bf16', 'f16'] as const) {
    assert.equal(report[k].count, v.length);
    assert.equal(report[k].mismatches, 0, `${k}: our encoding differs from torch's: ${JSON.stringify(report[k].first)}`);
  }
  // And our decoding of those bytes is torch's decoding.
  const theirs = new Uint32Array(new Uint8Array(fs.readFileSync(decodedFile)).buffer);
  const st = readSafetensors(file);
  const ours = new Uint32Array(Float32Array.from([...(st.tensors.get('v.bf16')?.data ?? []), ...(st.tensors.get('v.f16')?.data ?? [])]).buffer);
  assert.equal(theirs.length, 2 * v.length);
  for (let i = 0; i < ours.length; i++) {
    const nan = (x: number): boolean => (x & 0x7fffffff) > 0x7f800000;
    if (ours[i] !== theirs[i] && !(nan(ours[i] as number) && nan(theirs[i] as number))) assert.fail(`value ${i}: ours 0x${ours[i]?.toString(16)}, torch 0x${theirs[i]?.toString(16)}`);
  }
});
