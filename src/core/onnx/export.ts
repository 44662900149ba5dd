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
import { onnx as onnxProto } from 'onnx-proto';
import type { FileContent } from '../model/checkpoint';
import type { LlamaConfig } from '../model/llamaConfig';
import { llamaHfConfig } from '../model/llamaHfConfig';
import { isLlama } from '../model/modelConfig';
import type { NamedTensor } from '../model/safetensors';
import { buildGptGraph, MAX_WEIGHT_BYTES } from './gptGraph';
import { buildExternalLlamaGraph, buildLlamaGraph, llamaExternalWeights } from './llamaGraph';

export interface ExportReport {
  readonly outDir: string;
  readonly files: readonly string[];
  readonly onnxBytes: number;
}

export interface ExportOptions {
  /** Weights above this many bytes go to model.onnx.data (default: 1.8 GiB, under protobuf's 2 GiB). Llama family. */
  readonly inlineLimit?: number;
}

/** Write the export into `outDir` (created, or replaced when it holds an earlier export). */
export function exportOnnx(ckpt: Checkpoint, outDir: string, options: ExportOptions = {}): ExportReport {
  if (ckpt.kind === 'reward') {
    throw new UserError(`${ckpt.dir}: is a reward model (a sequence classifier); ONNX export covers language models (the policy). Export the policy checkpoint instead.`);
  }
  if (fs.existsSync(outDir)) {
    const entries = fs.statSync(outDir).isDirectory() ? fs.readdirSync(outDir) : ['(a file)'];
    // The folder is replaced whole, so never swallow a folder that is not an earlier export.
    if (entries.length > 0 && !entries.includes('model.onnx')) {
      throw new UserError(`${outDir}: exists and is not an earlier ONNX export. Choose a new or empty folder for --out.`);
    }
  }
  const { config } = ckpt;
  let files: [string, FileContent][];
  let onnx: Uint8Array;
  if (isLlama(config)) {
    const model = llamaExport(config, ckpt.weights, options.inlineLimit ?? MAX_WEIGHT_BYTES);
    onnx = model.onnx;
    files = [
      ['model.onnx', onnx],
      ...(model.data ? [[EXTERNAL_DATA, model.data] as [string, FileContent]] : []),
      ['config.json', json(llamaHfConfig(config, 'lm', ckpt.source?.config, null))],
      ['generation_config.json', json(ckpt.source?.generation ?? { bos_token_id: config.bos_token_id, eos_token_id: config.eos_token_id })],
      ['tokenizer.json', json(ckpt.tokenizer.json)],
    ];
  } else {
    onnx = buildGptGraph(config, ckpt.weights);
    files = [
      ['model.onnx', onnx],
      ['config.json', json(hfConfig(config, 'lm'))],
      ['generation_config.json', json(generationConfig(config))],
      ['tokenizer.json', json(ckpt.tokenizer.json)],
    ];
  }
  const tokenizerConfig = path.join(ckpt.dir, 'tokenizer_config.json');
  if (fs.existsSync(tokenizerConfig)) files.push(['tokenizer_config.json', fs.readFileSync(tokenizerConfig, 'utf8')]);
  writeFolderAtomically(outDir, files);
  return { outDir, files: files.map(([name]) => name), onnxBytes: onnx.byteLength };
}

/** The one file a large model's weights go to, beside model.onnx (ONNX's external data). */
export const EXTERNAL_DATA = 'model.onnx.data';

/**
 * A Llama-family model's plain graph (standard ops only): weights inside model.onnx, or past
 * the protobuf's 2 GiB limit in one model.onnx.data that each initializer points into (location,
 * offset, length), written tensor by tensor.
 */
function llamaExport(config: LlamaConfig, weights: ReadonlyMap<string, NamedTensor>, inlineLimit: number): { onnx: Uint8Array; data?: FileContent } {
  const tensors = llamaExternalWeights(config, weights); // checked against the config
  const bytes = tensors.reduce((s, t) => s + t.data.byteLength, 0);
  if (bytes <= inlineLimit) return { onnx: buildLlamaGraph(config, weights) };
  const model = onnxProto.ModelProto.decode(buildExternalLlamaGraph(config));
  const offsets = new Map<string, number>();
  let offset = 0;
  for (const t of tensors) {
    offsets.set(t.path, offset);
    offset += t.data.byteLength;
  }
  for (const init of model.graph?.initializer ?? []) {
    const at = offsets.get(init.name ?? '');
    if (at === undefined) continue;
    const length = init.externalData?.find((e) => e.key === 'length')?.value ?? '0';
    init.externalData = [
      { key: 'location', value: EXTERNAL_DATA },
      { key: 'offset', value: String(at) },
      { key: 'length', value: length },
    ];
  }
  return { onnx: onnxProto.ModelProto.encode(model).finish(), data: () => tensors.map((t) => t.data) };
}
