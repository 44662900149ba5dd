import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CliCommand } from '../command';
import { UsageError, stringFlag } from '../command';
import { UserError } from '../../core/errors';
import { parameterShapes } from '../../core/model/config';
import { parseConfig } from '../../core/model/hfConfig';
import { byteLevelTokenizerJson } from '../../core/tokenizer/byteLevel';
import { loadTokenizer, tokenizerFromJson } from '../../core/tokenizer/tokenizer';
import { writeFreshModel } from '../../core/train/model';

const ARCHITECTURES = ['gpt2'];

export const modelInitCommand: CliCommand = {
  name: ['model', 'init'],
  summary: 'Write a model folder with fresh (random) weights: for pretraining from scratch and for benchmarks.',
  usage: '--arch gpt2 --config FILE --out DIR [--tokenizer FILE|DIR] [--seed N]',
  help: [
    '  --arch        the architecture: gpt2',
    "  --config      a JSON file with the architecture's config.json fields (n_embd, n_layer, n_head, n_positions, vocab_size, …; the rest default as in transformers)",
    '  --out DIR     the folder to create (an HF folder: config.json, model.safetensors, tokenizer.json, …); must not exist or be empty',
    '  --tokenizer   a tokenizer.json (or a folder with one); default: the byte-level tokenizer (257 tokens)',
    '  --seed N      the initialisation seed (default 0)',
  ].join('\n'),
  options: { arch: { type: 'string' }, config: { type: 'string' }, out: { type: 'string' }, tokenizer: { type: 'string' }, seed: { type: 'string' } },
  async run(flags, _positionals, io) {
    const arch = stringFlag(flags, 'arch');
    const configFile = stringFlag(flags, 'config');
    const outFlag = stringFlag(flags, 'out');
    if (!arch || !configFile || !outFlag) throw new UsageError('--arch, --config and --out are required.');
    if (!ARCHITECTURES.includes(arch)) throw new UsageError(`--arch ${arch} is not supported; supported: ${ARCHITECTURES.join(', ')}.`);
    const seedText = stringFlag(flags, 'seed') ?? '0';
    const seed = Number(seedText);
    if (!Number.isSafeInteger(seed)) throw new UsageError(`--seed must be an integer; got '${seedText}'.`);
    const file = path.resolve(io.cwd, configFile);
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      throw new UserError(`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : `not valid JSON (${(err as Error).message})`}.`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UserError(`${file}: expected a JSON object of config fields.`);
    const config = parseConfig({ model_type: arch, ...(raw as Record<string, unknown>) }, file);
    const out = path.resolve(io.cwd, outFlag);
    if (fs.existsSync(out) && (!fs.statSync(out).isDirectory() || fs.readdirSync(out).length > 0)) throw new UserError(`${out} already exists and is not an empty folder; choose another --out.`);
    const tokenizerFlag = stringFlag(flags, 'tokenizer');
    const tokenizer = tokenizerFlag ? loadTokenizer(path.resolve(io.cwd, tokenizerFlag)) : tokenizerFromJson(byteLevelTokenizerJson(), 'byte-level');
    writeFreshModel(out, config, tokenizer, seed);
    const parameters = [...parameterShapes(config).values()].reduce((s, dims) => s + dims.reduce((a, b) => a * b, 1), 0);
    io.out(
      `Wrote ${out}: ${arch}, ${(parameters / 1e6).toFixed(2)} M parameters (${config.n_layer} layers, width ${config.n_embd}, ${config.n_head} heads, context ${config.n_positions}, vocab ${config.vocab_size}), tokenizer ${tokenizer.name}, seed ${seed}.`,
    );
    return 0;
  },
};
