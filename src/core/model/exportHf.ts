/**
 * A model folder as a standalone Hugging Face folder (`rlhf export model`, the extension's
 * "Export model… as Hugging Face"). A full checkpoint's model files are copied, without
 * optimizer or trainer state. An adapter folder (PEFT's adapter_config.json) is merged into
 * its base model: W + (alpha/r)·B·A per adapted weight, heads it trained taken whole, written
 * with the base's tensor names, dtypes and shards, so `from_pretrained(out)` loads it without peft.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors';
import { hubCacheDir, readRef, repoCache } from '../hub/cache';
import type { FileContent } from './checkpoint';
import { writeFolderAtomically } from './checkpoint';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, baseTensorName, checkAgainstBase, isAdapterFolder, loadAdapter, mergeAdapters, peftFanInFanOut } from './peft';
import { readModelWeights, weightFileNames, writeModelWeights } from './shards';

/** The files beside the weights that make a folder loadable: config, generation and tokenizer files, model card. */
const MODEL_FILES = /^(config|generation_config|tokenizer|tokenizer_config|special_tokens_map|added_tokens|vocab|chat_template)\.json$|^(merges\.txt|chat_template\.jinja|README\.md)$/;

export interface HfExport {
  readonly out: string;
  readonly files: string[];
  /** Set when an adapter was merged: the base folder and how many weights it changed. */
  readonly merged?: { readonly base: string; readonly modules: number };
}

export interface HfExportOptions {
  /** The base model folder for an adapter (default: the adapter's base_model_name_or_path). */
  readonly base?: string;
  /** What a relative base_model_name_or_path is relative to (as in Python, the working folder); also tried: the adapter's folder. */
  readonly cwd?: string;
}

export function exportHfFolder(modelDir: string, out: string, options: HfExportOptions = {}): HfExport {
  if (fs.existsSync(out) && (!fs.statSync(out).isDirectory() || fs.readdirSync(out).length > 0)) {
    throw new UserError(`${out}: exists and is not empty. Choose a new or empty folder for the Hugging Face export.`);
  }
  if (!fs.existsSync(modelDir) || !fs.statSync(modelDir).isDirectory()) throw new UserError(`${modelDir}: no such model folder.`);
  if (!isAdapterFolder(modelDir)) {
    const weights = weightFileNames(modelDir);
    if (weights.length === 0) throw new UserError(`${modelDir}: has neither model.safetensors, model.safetensors.index.json nor ${ADAPTER_CONFIG}; nothing to export.`);
    const files = [...modelFiles(modelDir), ...weights];
    fs.mkdirSync(out, { recursive: true });
    for (const f of files) fs.copyFileSync(path.join(modelDir, f), path.join(out, f));
    return { out, files };
  }

  const adapterFile = path.join(modelDir, ADAPTER_CONFIG);
  const read = loadAdapter(modelDir);
  const baseDir = options.base ?? resolveBase(read.baseModel, [options.cwd ?? process.cwd(), modelDir], adapterFile);
  const modelType = readModelType(baseDir);
  // PEFT records fan_in_fan_out: true for GPT-2's Conv1D layers; an adapter written without it still means it.
  const adapter = { ...read, fanInFanOut: read.fanInFanOut || peftFanInFanOut(modelType) };
  const base = readModelWeights(baseDir);
  checkAgainstBase(base.weights, adapter, path.join(modelDir, ADAPTER_WEIGHTS));
  const merged = mergeAdapters(base.weights, adapter.lora, { ...adapter.config, fanInFanOut: adapter.fanInFanOut, useRslora: adapter.useRslora ?? false });
  for (const [name, t] of adapter.saved) merged.set(baseTensorName(base.weights, name) ?? name, t);

  // The adapter folder's own config and tokenizer win (a reward model's config.json names its head).
  const files: [string, FileContent][] = [];
  const names = new Set([...modelFiles(baseDir), ...modelFiles(modelDir)]);
  for (const f of [...names].sort()) {
    const from = fs.existsSync(path.join(modelDir, f)) ? modelDir : baseDir;
    files.push([f, () => fs.readFileSync(path.join(from, f))]);
  }
  writeModelWeights(files, merged, base.layout);
  writeFolderAtomically(out, files);
  return { out, files: files.map(([f]) => f), merged: { base: baseDir, modules: adapter.lora.size } };
}

const modelFiles = (dir: string): string[] => fs.readdirSync(dir).filter((f) => MODEL_FILES.test(f));

/** The folder base_model_name_or_path names: a folder (relative to one of `from`), else a Hub id in the HF cache. */
function resolveBase(spec: string, from: readonly string[], adapterFile: string): string {
  if (!spec) throw new UserError(`${adapterFile}: names no base model (base_model_name_or_path); pass the base model folder with --base DIR.`);
  for (const dir of from.map((f) => path.resolve(f, spec))) {
    if (fs.existsSync(path.join(dir, 'config.json'))) return dir;
  }
  if (/^[\w.-]+\/[\w.-]+$/.test(spec)) {
    const cache = repoCache(hubCacheDir(), spec);
    const commit = readRef(cache, 'main');
    if (commit && fs.existsSync(path.join(cache.snapshot(commit), 'config.json'))) return cache.snapshot(commit);
  }
  throw new UserError(
    `${adapterFile}: its base model '${spec}' is neither a folder here nor in the Hugging Face cache. Pass the base model folder with --base DIR${/^[\w.-]+\/[\w.-]+$/.test(spec) ? `, or fetch it with: rlhf model pull ${spec}` : ''}.`,
  );
}

function readModelType(dir: string): string {
  const file = path.join(dir, 'config.json');
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    throw new UserError(`${file}: missing or not valid JSON; the base model folder needs its config.json.`);
  }
  const type = (raw as Record<string, unknown> | null)?.model_type;
  return typeof type === 'string' ? type : '';
}
