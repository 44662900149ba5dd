import type { CliCommand } from '../command';
import { UsageError, stringFlag } from '../command';
import { loadCheckpoint } from '../../core/model/checkpoint';
import { exportOnnx } from '../../core/onnx/export';

export const exportOnnxCommand: CliCommand = {
  name: ['export', 'onnx'],
  summary: 'Export a language model as a standalone model.onnx (with KV cache) plus tokenizer and config.',
  usage: '--model DIR --out DIR',
  help:
    '  --model DIR   the model folder (config.json, model.safetensors, tokenizer.json)\n' +
    '  --out DIR     where to write model.onnx, config.json, generation_config.json, tokenizer.json\n' +
    '                (created; replaced only if it holds an earlier export)\n\n' +
    'Graph inputs: input_ids, attention_mask, position_ids [int64], past_key_values.N.key/value;\n' +
    'outputs: logits, present.N.key/value.',
  options: { model: { type: 'string' }, out: { type: 'string' } },
  async run(flags, _positionals, io) {
    const model = stringFlag(flags, 'model');
    const out = stringFlag(flags, 'out');
    if (!model) throw new UsageError('--model DIR is required.');
    if (!out) throw new UsageError('--out DIR is required.');
    const report = exportOnnx(loadCheckpoint(model), out);
    io.out(`Wrote ${report.files.join(', ')} to ${report.outDir} (model.onnx: ${(report.onnxBytes / 1024 ** 2).toFixed(1)} MiB).`);
    return 0;
  },
};
