/**
 * `npm run bench:refresh`: what the ONNX Runtime sampler's `refresh` costs after a policy update,
 * and sampling tokens/s (B 8, prompts of 8 tokens, 64 new tokens), at distilgpt2 and gpt2 size
 * with random weights, three ways:
 * - before: the weights serialised into the model (buildGptGraph) and a session made from it, as
 *   the sampler did until the weights became external data (done by hand here);
 * - baked: OrtSampler's default, a new session whose weights are read from the caller's buffers
 *   as in-memory external data (no serialisation);
 * - live: OrtSampler `live: true`, one session, the parameters graph inputs fed by reference.
 * A rebuild is split into graph build + serialisation, session creation (graph optimisation and
 * prepacking included) and the first run (a 1-token sample).
 *
 * Usage: npm run bench:refresh [-- --only distilgpt2|gpt2] [--reps 3] [--json out.json]
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import type { GPT2Config } from '../src/core/model/config';
import { parameterShapes, TINY_CONFIG } from '../src/core/model/config';
import type { NamedTensor } from '../src/core/model/safetensors';
import { buildGptGraph } from '../src/core/onnx/gptGraph';
import { OrtSampler, samplerSessionOptions } from '../src/core/sample/ortSampler';
import { seededRandom } from '../src/core/sample/pick';
import { DEFAULT_SAMPLING } from '../src/core/sample/types';

const SIZES: { name: string; config: GPT2Config }[] = [
  { name: 'distilgpt2', config: { ...TINY_CONFIG, vocab_size: 50257, n_positions: 1024, n_embd: 768, n_head: 12, n_layer: 6, bos_token_id: 50256, eos_token_id: 50256 } },
  { name: 'gpt2', config: { ...TINY_CONFIG, vocab_size: 50257, n_positions: 1024, n_embd: 768, n_head: 12, n_layer: 12, bos_token_id: 50256, eos_token_id: 50256 } },
];
const BATCH = 8;
const PROMPT_LEN = 8;
const NEW_TOKENS = 64;

/** Random weights (std ~0.02 as GPT-2's init, LayerNorm gains near 1); a cheap generator, the values only need to be finite. */
function randomWeights(config: GPT2Config, seed: number): Map<string, NamedTensor> {
  const random = seededRandom(seed);
  const weights = new Map<string, NamedTensor>();
  for (const [name, shape] of parameterShapes(config)) weights.set(name, { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  perturb(weights, random);
  return weights;
}

/** Overwrite every parameter in place, as an optimizer step does. */
function perturb(weights: ReadonlyMap<string, NamedTensor>, random: () => number): void {
  for (const [name, w] of weights) {
    const gain = /ln_(1|2|f)\.weight$/.test(name) ? 1 : 0;
    const { data } = w;
    // A few random values repeated: filling 124 M floats one random() each would dominate the bench.
    const r = Float32Array.from({ length: 4099 }, () => gain + (random() * 2 - 1) * 0.04);
    for (let i = 0; i < data.length; i++) data[i] = r[i % 4099] as number;
  }
}

const copyWeights = (weights: ReadonlyMap<string, NamedTensor>): Map<string, NamedTensor> => new Map([...weights].map(([k, w]) => [k, { shape: w.shape, data: w.data.slice() }]));

const prompts = (vocab: number): number[][] => Array.from({ length: BATCH }, (_, b) => Array.from({ length: PROMPT_LEN }, (_, j) => (b * 7919 + j * 104729) % vocab));

async function timed<T>(fn: () => Promise<T> | T): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

/** Sampling tok/s (the best of `reps`) and the tokens of the first run (to compare samplers). */
async function sampleTokS(sampler: OrtSampler, vocab: number, reps: number): Promise<{ tokS: number; tokens: (readonly number[])[] }> {
  const options = { ...DEFAULT_SAMPLING, maxNewTokens: NEW_TOKENS, seed: 1 };
  let best = 0;
  let tokens: (readonly number[])[] = [];
  for (let r = 0; r < reps; r++) {
    const [out, ms] = await timed(() => sampler.sample(prompts(vocab), options, () => ''));
    if (r === 0) tokens = out.map((c) => c.tokens);
    best = Math.max(best, (out.reduce((n, c) => n + c.tokens.length, 0) / ms) * 1000);
  }
  return { tokS: best, tokens };
}

const firstRun = (sampler: OrtSampler, vocab: number): Promise<unknown> => sampler.sample(prompts(vocab), { ...DEFAULT_SAMPLING, maxNewTokens: 1, seed: 1 }, () => '');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: 'string' }, reps: { type: 'string', default: '2' }, json: { type: 'string' } } });
  const reps = Number(values.reps);
  const ort = await import('onnxruntime-node');
  const rows: Record<string, unknown>[] = [];
  for (const { name, config } of SIZES) {
    if (values.only && values.only !== name) continue;
    const V = config.vocab_size;
    const random = seededRandom(7);
    const weights = randomWeights(config, 1);
    const params = [...weights.values()].reduce((n, w) => n + w.data.length, 0);
    console.log(
      `\n${name}: ${(params / 1e6).toFixed(1)} M parameters, V${V} T${config.n_positions} d${config.n_embd} h${config.n_head} L${config.n_layer}; sampling B${BATCH} prompt ${PROMPT_LEN} + ${NEW_TOKENS} new`,
    );

    // Before: the weights serialised into the model, by hand with the sampler's session options.
    const [bytes, buildMs] = await timed(() => buildGptGraph(config, weights, { logits: 'last', fused: true }));
    const [session, createMs] = await timed(() => ort.InferenceSession.create(bytes, samplerSessionOptions('cpu')));
    await session.release();
    console.log(`  before: rebuild ${(buildMs + createMs).toFixed(0)} ms + first run = graph build + serialise ${buildMs.toFixed(0)} ms, session create ${createMs.toFixed(0)} ms`);

    // Baked: OrtSampler's rebuild from external data.
    const [baked, bakedCreateMs] = await timed(() => OrtSampler.create({ config, weights }, { providers: ['cpu'] }));
    const [, firstMs] = await timed(() => firstRun(baked, V));
    const [, warmMs] = await timed(() => firstRun(baked, V));
    perturb(weights, random);
    const next = copyWeights(weights);
    const [, bakedRefreshMs] = await timed(() => baked.refresh(next));
    const [, bakedAfterMs] = await timed(() => firstRun(baked, V));
    const bakedSampling = await sampleTokS(baked, V, reps);
    await baked.dispose();
    console.log(
      `  baked:  refresh ${bakedRefreshMs.toFixed(0)} ms (graph build 0, session create from external data; created in ${bakedCreateMs.toFixed(0)} ms); first run ${firstMs.toFixed(0)} ms (warm ${warmMs.toFixed(0)} ms; ${bakedAfterMs.toFixed(0)} ms after the refresh)`,
    );
    console.log(`  baked:  sampling ${bakedSampling.tokS.toFixed(1)} tok/s (the same session as before, so the same speed)`);

    // Live: one session; refresh after an in-place update, and with a new Map of new buffers.
    const [live, liveCreateMs] = await timed(() => OrtSampler.create({ config, weights }, { providers: ['cpu'], live: true }));
    const [, liveFirstMs] = await timed(() => firstRun(live, V));
    perturb(weights, random);
    const [, inPlaceMs] = await timed(() => live.refresh(weights));
    const [, liveAfterMs] = await timed(() => firstRun(live, V));
    const liveSampling = await sampleTokS(live, V, reps);
    const fresh = copyWeights(weights);
    const [, newMapMs] = await timed(() => live.refresh(fresh));
    await live.refresh(weights);
    await live.dispose();
    console.log(
      `  live:   refresh ${inPlaceMs.toFixed(2)} ms in place, ${newMapMs.toFixed(2)} ms with a new Map; created once in ${liveCreateMs.toFixed(0)} ms; first run ${liveFirstMs.toFixed(0)} ms (${liveAfterMs.toFixed(0)} ms after the refresh)`,
    );
    console.log(`  live:   sampling ${liveSampling.tokS.toFixed(1)} tok/s`);

    // The same weights through a baked session: live logits differ in the last bits, so a near-tie may differ.
    const check = await OrtSampler.create({ config, weights }, { providers: ['cpu'] });
    const same = JSON.stringify((await sampleTokS(check, V, 1)).tokens) === JSON.stringify(liveSampling.tokens);
    await check.dispose();
    console.log(`  live samples ${same ? 'equal' : 'differ from'} a baked session's over the same weights`);
    rows.push({
      size: name,
      params,
      before: { buildMs, createMs },
      baked: { createMs: bakedCreateMs, refreshMs: bakedRefreshMs, firstRunMs: firstMs, warmRunMs: warmMs, tokS: bakedSampling.tokS },
      live: { createMs: liveCreateMs, refreshInPlaceMs: inPlaceMs, refreshNewMapMs: newMapMs, firstRunMs: liveFirstMs, tokS: liveSampling.tokS, sameTokens: same },
    });
  }
  if (values.json) fs.writeFileSync(values.json, JSON.stringify(rows, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
