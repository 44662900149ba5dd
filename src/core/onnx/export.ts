/**
 * `rlhf export onnx`: a standalone model.onnx (the KV-cache graph of gptGraph.ts, weights
 * inside) plus the tokenizer and config files, so onnxruntime (or Optimum-style loaders that
 * expect input_ids/attention_mask/position_ids/past_key_values.N.*) can run it without us.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Checkpoint } from '../model/checkpoint';
import { json, writeFolderAtomically } from '../model/checkpoint';
import { generationConfig, hfConfig } from '../model/hfConfig';
import { UserError } from '../errors';
import { buildGptGraph } from './gptGraph';

export interface ExportReport {
  readonly outDir: string;
  readonly files: readonly string[];
  readonly onnxBytes: number;
}

/** Write the export into `outDir` (created, or replaced when it holds an earlier export). */
export function exportOnnx(ckpt: Checkpoint, outDir: string): ExportReport {
  if (ckpt.kind === 'reward') {
    throw new UserError(`${ckpt.dir}: is a reward model (GPT2ForSequenceClassification); ONNX export covers language models (the policy). Export the policy checkpoint instead.`);
  }
  if (fs.existsSync(outDir)) {
    const entries = fs.statSync(outDir).isDirectory() ? fs.readdirSync(outDir) : ['(a file)'];
    // The folder is replaced whole, so never swallow a folder that is not an earlier export.
    if (entries.length > 0 && !entries.includes('model.onnx')) {
      throw new UserError(`${outDir}: exists and is not an earlier ONNX export. Choose a new or empty folder for --out.`);
    }
  }
  const onnx = buildGptGraph(ckpt.config, ckpt.weights);
  const { config } = ckpt;
  const files: [string, string | Uint8Array][] = [
    ['model.onnx', onnx],
    ['config.json', json(hfConfig(config, 'lm'))],
    ['generation_config.json', json(generationConfig(config))],
    ['tokenizer.json', json(ckpt.tokenizer.json)],
  ];
  const tokenizerConfig = path.join(ckpt.dir, 'tokenizer_config.json');
  if (fs.existsSync(tokenizerConfig)) files.push(['tokenizer_config.json', fs.readFileSync(tokenizerConfig, 'utf8')]);
  writeFolderAtomically(outDir, files);
  return { outDir, files: files.map(([name]) => name), onnxBytes: onnx.byteLength };
}
