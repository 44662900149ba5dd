/**
 * GPT-2's initialisation on plain arrays, seeded: normal std 0.02, the two residual projections
 * `c_proj` scaled by 1/√(2·n_layer), LayerNorm weights 1, biases 0; heads normal std 0.02, bias 0.
 * The normal draws are tfjs's `randomNormal(shape, 0, std, 'float32', seed)` exactly (seedrandom's
 * Alea generator and the Marsaglia polar method, as tfjs-core 4.x makes them), so a model made here
 * has the same weights as one made by tfjs before, and neither engine needs tfjs to start from scratch.
 */
import type { Weights } from './checkpoint';
import { headShapes } from './checkpoint';
import { parameterShapes } from './config';
import type { GPT2Config } from './config';
import type { ModelConfig } from './modelConfig';
import { layerCount, modelWidth } from './modelConfig';

/** Fresh parameters of `config` (HF names), the same for the same seed. */
export function initWeights(config: GPT2Config, seed: number): Weights {
  const out: Weights = new Map();
  let index = 0;
  for (const [name, shape] of parameterShapes(config)) {
    index += 1;
    out.set(name, { shape: [...shape], data: initParameter(name, shape, seed * 1000 + index, config.n_layer) });
  }
  return out;
}

/** A fresh value head (`v_head.summary.*`) or reward head (`score.weight`), to add to a model's weights. */
export function initHeadWeights(config: ModelConfig, kind: 'value' | 'reward', seed: number): Weights {
  const out: Weights = new Map();
  let index = 0;
  for (const [name, shape] of headShapes(kind, modelWidth(config))) {
    index += 1;
    out.set(name, { shape: [...shape], data: initParameter(name, shape, seed * 1000 + 900 + index, layerCount(config)) });
  }
  return out;
}

/** One parameter's initial values by its HF name; `seed` seeds its normal draws. */
export function initParameter(name: string, shape: readonly number[], seed: number, nLayer: number): Float32Array {
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  if (/(^|\.)ln_(1|2|f)\.weight$/.test(name)) return out.fill(1);
  if (name.endsWith('.bias')) return out;
  const std = /c_proj\.weight$/.test(name) ? 0.02 / Math.sqrt(2 * nLayer) : 0.02;
  const next = gaussian(seed, std);
  for (let i = 0; i < out.length; i++) out[i] = next();
  return out;
}

/** Normal(0, std) draws: tfjs-core's MPRandGauss (not truncated) over seedrandom's Alea(String(seed)). */
function gaussian(seed: number, std: number): () => number {
  const random = alea(String(seed));
  let spare = NaN;
  return () => {
    if (!Number.isNaN(spare)) {
      const value = spare;
      spare = NaN;
      return value;
    }
    let v1: number;
    let v2: number;
    let s: number;
    do {
      v1 = 2 * random() - 1;
      v2 = 2 * random() - 1;
      s = v1 * v1 + v2 * v2;
    } while (s >= 1 || s === 0);
    const mul = Math.sqrt((-2.0 * Math.log(s)) / s);
    spare = std * v2 * mul;
    return std * v1 * mul;
  };
}

/** Johannes Baagøe's Alea, as seedrandom 3 implements it (MIT): uniform doubles in [0, 1). */
function alea(seed: string): () => number {
  const mash = masher();
  let s0 = mash(' ');
  let s1 = mash(' ');
  let s2 = mash(' ');
  let c = 1;
  s0 -= mash(seed);
  if (s0 < 0) s0 += 1;
  s1 -= mash(seed);
  if (s1 < 0) s1 += 1;
  s2 -= mash(seed);
  if (s2 < 0) s2 += 1;
  return () => {
    const t = 2091639 * s0 + c * 2.3283064365386963e-10; // 2^-32
    s0 = s1;
    s1 = s2;
    return (s2 = t - (c = t | 0));
  };
}

function masher(): (data: string) => number {
  let n = 0xefc8249d;
  return (data) => {
    for (let i = 0; i < data.length; i++) {
      n += data.charCodeAt(i);
      let h = 0.02519603282416938 * n;
      n = h >>> 0;
      h -= n;
      h *= n;
      n = h >>> 0;
      h -= n;
      n += h * 0x100000000; // 2^32
    }
    return (n >>> 0) * 2.3283064365386963e-10; // 2^-32
  };
}
