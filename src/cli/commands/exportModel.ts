import * as path from 'node:path';
import type { CliCommand } from '../command';
import { UsageError, stringFlag } from '../command';
import { exportHfFolder } from '../../core/model/exportHf';

export const exportModelCommand: CliCommand = {
  name: ['export', 'model'],
  summary: 'Export a model folder as a standalone Hugging Face folder, merging a LoRA adapter into its base.',
  usage: '--model DIR --out DIR [--base DIR]',
  help:
    '  --model DIR   a checkpoint folder: a full model (config.json, safetensors, tokenizer) or a\n' +
    '                LoRA adapter in PEFT format (adapter_config.json, adapter_model.safetensors)\n' +
    '  --out DIR     where to write the folder (new or empty)\n' +
    "  --base DIR    the adapter's base model folder (default: its base_model_name_or_path)\n\n" +
    'A full model is copied without optimizer state. An adapter is merged, W + (alpha/r)·B·A, and\n' +
    "written with the base's tensor names, dtypes and shards, so transformers loads it without peft.",
  options: { model: { type: 'string' }, out: { type: 'string' }, base: { type: 'string' } },
  async run(flags, _positionals, io) {
    const model = stringFlag(flags, 'model');
    const out = stringFlag(flags, 'out');
    const base = stringFlag(flags, 'base');
    if (!model) throw new UsageError('--model DIR is required.');
    if (!out) throw new UsageError('--out DIR is required.');
    const report = exportHfFolder(path.resolve(io.cwd, model), path.resolve(io.cwd, out), { cwd: io.cwd, ...(base ? { base: path.resolve(io.cwd, base) } : {}) });
    const merged = report.merged ? ` (merged a LoRA adapter over ${report.merged.modules} weights into ${report.merged.base})` : '';
    io.out(`Wrote ${report.files.join(', ')} to ${report.out}${merged}.`);
    return 0;
  },
};
