/**
 * A model folder's weights as transformers lays them out: one `model.safetensors`, or shards
 * (`model-00001-of-00003.safetensors`, …) that `model.safetensors.index.json` maps each tensor
 * to. Reading records a layout (each tensor's dtype and file, each file's metadata, the index's
 * metadata); writing with that layout gives back the same names, dtypes and shard assignment
 * and an index as transformers writes it (`json.dumps(index, indent=2, sort_keys=True) + "\n"`,
 * `metadata.total_size` = the tensors' data bytes), so `from_pretrained` loads what we save.
 * Names are whatever the checkpoint holds: nothing here knows an architecture.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errorMessage } from '../../protocol/guards';
import { UserError } from '../errors';
import type { FileContent } from './checkpoint';
import { pythonJson } from './pythonJson';
import type { Dtype, NamedTensor } from './safetensors';
import { readSafetensors, safetensorsChunks } from './safetensors';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

const BYTES: Readonly<Record<Dtype, number>> = { F32: 4, F16: 2, BF16: 2 };

/** Where a tensor was read from, and as what. */
export interface Placement {
  readonly dtype: Dtype;
  readonly file: string;
  /** How many values it held (for the dtype most of the model is). */
  readonly elements: number;
}

export interface WeightsLayout {
  /** Shards under an index (true), or model.safetensors alone. */
  readonly sharded: boolean;
  /** Each stored tensor's dtype and file, by its name in the checkpoint. */
  readonly tensors: ReadonlyMap<string, Placement>;
  /** Each weights file's `__metadata__`, in file order (the index's shards sorted by name). */
  readonly files: ReadonlyMap<string, Record<string, string>>;
  /** The index's "metadata" as read; total_size (and total_parameters, if there) are recomputed on writing. */
  readonly indexMetadata?: Readonly<Record<string, unknown>>;
}

export interface ModelWeights {
  /** Float32 values by their names in the checkpoint. */
  readonly weights: Map<string, NamedTensor>;
  readonly layout: WeightsLayout;
  /** The file to name in errors about a tensor: model.safetensors or the index. */
  readonly file: string;
}

/** model.safetensors, or the shards model.safetensors.index.json lists, with their layout. */
export function readModelWeights(dir: string): ModelWeights {
  const single = path.join(dir, SINGLE_FILE);
  if (fs.existsSync(single)) {
    const st = readSafetensors(single);
    const tensors = new Map<string, Placement>([...st.tensors].map(([name, t]) => [name, { dtype: st.dtypes.get(name) as Dtype, file: SINGLE_FILE, elements: t.data.length }]));
    return { weights: st.tensors, layout: { sharded: false, tensors, files: new Map([[SINGLE_FILE, { ...st.metadata }]]) }, file: single };
  }
  const index = path.join(dir, INDEX_FILE);
  if (!fs.existsSync(index)) {
    const hint = fs.existsSync(path.join(dir, 'pytorch_model.bin')) ? ' It has pytorch_model.bin: re-save it with model.save_pretrained(dir, safe_serialization=True).' : '';
    throw new UserError(`${single}: missing; only safetensors weights are read.${hint}`);
  }
  const { weightMap, metadata } = readIndex(index);
  const shards = [...new Set(weightMap.values())].sort();
  const weights = new Map<string, NamedTensor>();
  const tensors = new Map<string, Placement>();
  const files = new Map<string, Record<string, string>>();
  for (const shard of shards) {
    const file = path.join(dir, shard);
    if (!fs.existsSync(file)) throw new UserError(`${index}: lists shard ${shard}, which is not in ${dir} (an incomplete download? fetch the model again).`);
    const st = readSafetensors(file);
    for (const [name, t] of st.tensors) {
      const listed = weightMap.get(name);
      if (listed !== shard) {
        throw new UserError(
          `${file}: holds tensor '${name}', but ${INDEX_FILE} ${listed === undefined ? 'does not list it' : `puts it in ${listed}`}. The index and its shards disagree; fetch the model again.`,
        );
      }
      weights.set(name, t);
      tensors.set(name, { dtype: st.dtypes.get(name) as Dtype, file: shard, elements: t.data.length });
    }
    files.set(shard, { ...st.metadata });
  }
  for (const [name, shard] of weightMap) {
    if (!weights.has(name)) throw new UserError(`${index}: lists tensor '${name}' in ${shard}, but ${shard} has no such tensor. The index and its shards disagree; fetch the model again.`);
  }
  return { weights, layout: { sharded: true, tensors, files, indexMetadata: metadata }, file: index };
}

/** A folder's weights files: model.safetensors, or the index and the shards it lists (none: []). */
export function weightFileNames(dir: string): string[] {
  if (fs.existsSync(path.join(dir, SINGLE_FILE))) return [SINGLE_FILE];
  const index = path.join(dir, INDEX_FILE);
  if (!fs.existsSync(index)) return [];
  return [INDEX_FILE, ...[...new Set(readIndex(index).weightMap.values())].sort()];
}

function readIndex(index: string): { weightMap: Map<string, string>; metadata: Record<string, unknown> } {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(index, 'utf8'));
  } catch (err) {
    throw new UserError(`${index}: not valid JSON (${errorMessage(err)}).`);
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(raw) || !isObject(raw.weight_map)) throw new UserError(`${index}: no "weight_map" object (tensor name → shard file).`);
  const weightMap = new Map<string, string>();
  for (const [name, shard] of Object.entries(raw.weight_map)) {
    // A shard is a file beside the index: never a path that could leave the folder.
    if (typeof shard !== 'string' || shard === '' || shard.includes('/') || shard.includes('\\') || shard === '.' || shard === '..') {
      throw new UserError(`${index}: tensor '${name}' has a bad shard name ${JSON.stringify(shard)}.`);
    }
    weightMap.set(name, shard);
  }
  return { weightMap, metadata: isObject(raw.metadata) ? raw.metadata : {} };
}

/**
 * Add the weights files for `weights` (keyed by checkpoint names) to `files`: with a layout,
 * each tensor in its recorded file and dtype, new tensors in the last file as the dtype most of
 * the model is, tensors the layout has but `weights` lacks left out; without one,
 * model.safetensors in F32. Each file is serialized only when the folder writer asks for it.
 */
export function writeModelWeights(files: [string, FileContent][], weights: ReadonlyMap<string, NamedTensor>, layout?: WeightsLayout): void {
  if (!layout) {
    files.push([SINGLE_FILE, () => safetensorsChunks(weights)]);
    return;
  }
  const fileNames = [...layout.files.keys()];
  const last = fileNames[fileNames.length - 1] ?? SINGLE_FILE;
  const fresh = dominantDtype(layout);
  const placed = new Map<string, Map<string, NamedTensor>>(fileNames.map((f) => [f, new Map()]));
  const dtypes = new Map<string, Dtype>();
  const weightMap = Object.create(null) as Record<string, string>; // tensor names are data: `__proto__` included
  let totalSize = 0;
  let totalParameters = 0;
  for (const [name, t] of weights) {
    const { file, dtype } = layout.tensors.get(name) ?? { file: last, dtype: fresh };
    if (!placed.has(file)) placed.set(file, new Map());
    placed.get(file)?.set(name, t);
    dtypes.set(name, dtype);
    weightMap[name] = file;
    totalSize += t.data.length * BYTES[dtype];
    totalParameters += t.data.length;
  }
  for (const [file, tensors] of placed) {
    if (tensors.size > 0 || !layout.sharded) files.push([file, () => safetensorsChunks(tensors, layout.files.get(file), dtypes)]);
  }
  if (!layout.sharded) return;
  const metadata: Record<string, unknown> = { ...layout.indexMetadata, total_size: totalSize };
  if ('total_parameters' in metadata) metadata.total_parameters = totalParameters;
  files.push([INDEX_FILE, pythonJson({ metadata, weight_map: weightMap }) + '\n']);
}

/** The dtype `name` is written as with `layout`: its own, or for a tensor new to the model (a head) the model's. */
export function storedDtype(layout: WeightsLayout, name: string): Dtype {
  return layout.tensors.get(name)?.dtype ?? dominantDtype(layout);
}

/** The dtype most of the layout's values were stored as (F32 for an empty layout). */
function dominantDtype(layout: WeightsLayout): Dtype {
  const count = new Map<Dtype, number>();
  for (const { dtype, elements } of layout.tensors.values()) count.set(dtype, (count.get(dtype) ?? 0) + elements);
  let best: Dtype = 'F32';
  for (const [dtype, n] of count) if (n > (count.get(best) ?? 0)) best = dtype;
  return best;
}
