/**
 * `npm run bench:model-ort`: onnxruntime KV-cache sampling tokens/s beside the tfjs sampler and
 * PyTorch (bench/torch_gpt.py, when python3 + torch are present), on bench/model.ts's shapes and
 * its `benchSampler` harness (same params, prompts and lengths). Target: ORT ≥ 1.5× PyTorch.
 * Session builds (once per policy update) are timed apart from sampling.
 *
 * Usage: npm run bench:model-ort [-- --json out.json]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { GPT2Config } from '../src/core/model/config';
import type { Params } from '../src/core/model/gpt2';
import { paramsToWeights } from '../src/core/model/gpt2';
import { OrtSampler } from '../src/core/sample/ortSampler';
import { sampleTfjs } from '../src/core/sample/tfjsSampler';
import { DEFAULT_SAMPLING } from '../src/core/sample/types';
import type { BenchConfig, SamplerUnderTest } from './model';
import { REFERENCE, benchSampler } from './model';

const CONFIGS: BenchConfig[] = [REFERENCE, { name: 'deeper', vocab: 512, ctx: 64, d: 256, heads: 8, layers: 6, batch: 8 }];
/** As bench/model.ts: prompts of this many tokens, continued to the context end. */
const PROMPT_LEN = 8;

/** The ORT sampler, with its session built once per params object (outside the timed runs). */
function ortRunner(providers: readonly string[], intraOpThreads: number, built: { ms: number; provider: string }): SamplerUnderTest {
  const sessions = new Map<Params, Promise<OrtSampler>>();
  return async (config: GPT2Config, params: Params, prompts: number[][], maxNewTokens: number) => {
    let sampler = sessions.get(params);
    if (!sampler) {
      const t0 = performance.now();
      sampler = paramsToWeights(params).then((weights) => OrtSampler.create({ config, weights }, { providers, intraOpThreads }));
      sessions.set(params, sampler);
      const s = await sampler;
      built.ms = performance.now() - t0;
      built.provider = s.provider;
    }
    const out = await (await sampler).sample(prompts, { ...DEFAULT_SAMPLING, maxNewTokens, seed: 1 }, () => '');
    return out.reduce((n, c) => n + c.tokens.length, 0);
  };
}

const tfjsRunner: SamplerUnderTest = async (config, params, prompts, maxNewTokens) => {
  const out = await sampleTfjs({ params, config }, prompts, { ...DEFAULT_SAMPLING, maxNewTokens, seed: 1 }, () => '');
  return out.reduce((n, c) => n + c.tokens.length, 0);
};

/** PyTorch's KV-cache sampling tok/s, the faster of all cores and 1 thread (as bench/model.ts does). */
function torchSampleTokS(c: BenchConfig): number | string {
  const script = path.join(__dirname, 'torch_gpt.py');
  if (!fs.existsSync(script)) return 'bench/torch_gpt.py not present';
  // Debian's torch lives under /usr/bin/python3, which a pyenv shim may hide.
  const python = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import torch']).status === 0);
  if (!python) return 'PyTorch not present (apt-get install python3-torch libopenblas0-pthread)';
  let best = 0;
  for (const threads of [0, 1]) {
    const r = spawnSync(python, [script, JSON.stringify({ ...c, reps: 3, prompt_len: PROMPT_LEN, threads })], { encoding: 'utf8' });
    if (r.status !== 0) return `torch_gpt.py failed: ${r.stderr.trim().split('\n').pop()}`;
    best = Math.max(best, (JSON.parse(r.stdout.trim().split('\n').pop() as string) as { sample_tok_s: number }).sample_tok_s);
  }
  return best;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { json: { type: 'string' } } });
  setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep);
  await tf.setBackend('wasm');
  await tf.ready();
  const rows: Record<string, unknown>[] = [];
  for (const c of CONFIGS) {
    const built = { ms: 0, provider: '' };
    const ort = await benchSampler(c, ortRunner(['cuda', 'cpu'], 2, built), 5);
    // One intra-op thread: what a busy machine (or one shared with the editor) still gets.
    const ort1 = await benchSampler(c, ortRunner(['cuda', 'cpu'], 1, { ms: 0, provider: '' }), 5);
    const tfjs = await benchSampler(c, tfjsRunner, 2);
    const torch = torchSampleTokS(c);
    const row = { config: c, ortTokS: ort, ort1ThreadTokS: ort1, ortProvider: built.provider, ortSessionBuildMs: built.ms, tfjsWasmTokS: tfjs, torchTokS: torch };
    rows.push(row);
    const vs = (x: number): string => (typeof torch === 'number' ? ` (${(x / torch).toFixed(2)}× pytorch)` : '');
    console.log(`\n${c.name} (V${c.vocab} T${c.ctx} d${c.d} h${c.heads} L${c.layers} B${c.batch}), prompts of ${PROMPT_LEN} continued to ${c.ctx}`);
    console.log(`  ort-${built.provider.padEnd(5)} ${ort.toFixed(0).padStart(7)} tok/s${vs(ort)}   session build ${built.ms.toFixed(0)} ms (target ≥ 1.5× pytorch)`);
    console.log(`  ort 1 thr ${ort1.toFixed(0).padStart(7)} tok/s${vs(ort1)}`);
    console.log(`  tfjs-wasm ${tfjs.toFixed(0).padStart(7)} tok/s${vs(tfjs)}`);
    console.log(`  pytorch   ${typeof torch === 'number' ? torch.toFixed(0).padStart(7) + ' tok/s' : torch}`);
  }
  if (values.json) fs.writeFileSync(values.json, JSON.stringify(rows, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
