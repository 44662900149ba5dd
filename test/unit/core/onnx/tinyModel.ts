/** A tiny random GPT-2 for tests: real weights (seeded), not mocks. */
import type { GPT2Config } from '../../../../src/core/model/config';
import { parameterShapes, TINY_CONFIG } from '../../../../src/core/model/config';
import type { HeadKind, Weights } from '../../../../src/core/model/checkpoint';
import { headShapes } from '../../../../src/core/model/checkpoint';
import { seededRandom } from '../../../../src/core/sample/pick';

export const TINY: GPT2Config = { ...TINY_CONFIG, n_positions: 32, n_embd: 16, n_head: 2 };

/** Weights with std `scale` (LayerNorm gains near 1) so logits are spread enough to test. */
export function randomWeights(config: GPT2Config, seed = 1, kind: HeadKind = 'lm', scale = 0.3): Weights {
  const random = seededRandom(seed);
  const shapes = parameterShapes(config);
  for (const [k, s] of headShapes(kind, config.n_embd)) shapes.set(k, s);
  const weights: Weights = new Map();
  for (const [name, shape] of shapes) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const isGain = /ln_(1|2|f)\.weight$/.test(name);
    for (let i = 0; i < data.length; i++) data[i] = (isGain ? 1 : 0) + (random() * 2 - 1) * scale;
    weights.set(name, { shape, data });
  }
  return weights;
}
