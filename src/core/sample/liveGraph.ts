/**
 * The sampler's graphs without weight bytes inside, so a policy update never serialises the model
 * again. Both are made by post-processing buildGptGraph's model: it is built over zero-length
 * stand-ins of the right shapes (no weight bytes copied or serialised), then every initializer
 * named like a parameter is either
 * - external (`buildExternalGptGraph`): its data is read at session creation from an in-memory
 *   "file" named after the parameter, which `externalWeights` makes from the caller's buffers
 *   (views, no copy; ONNX Runtime copies them into the session, which then holds a snapshot and
 *   computes exactly what a model with the weights inside computes), or
 * - a graph input (`buildLiveGptGraph`): of the same fixed shape, fed the caller's Float32Arrays
 *   at every run, so one session serves every policy update written into the same buffers.
 */
import { onnx } from 'onnx-proto';
import type { ModelConfig } from '../model/modelConfig';
import { modelParameterShapes } from '../model/modelConfig';
import type { NamedTensor } from '../model/safetensors';
import type { GraphOptions } from '../onnx/gptGraph';
import { buildInferenceGraph } from '../onnx/modelGraphs';

/** buildGptGraph's model, decoded, built over stand-ins; `edit` rewrites each parameter's initializer (false: remove it). */
function withoutWeightBytes(config: ModelConfig, options: GraphOptions, edit: (t: onnx.ITensorProto, shape: readonly number[]) => boolean): Uint8Array {
  const shapes = modelParameterShapes(config);
  const standIns = new Map<string, NamedTensor>();
  for (const [name, shape] of shapes) standIns.set(name, { shape, data: new Float32Array(0) });
  const model = onnx.ModelProto.decode(buildInferenceGraph(config, standIns, options));
  const graph = model.graph;
  if (!graph) throw new Error('liveGraph: the model has no graph');
  graph.initializer = (graph.initializer ?? []).filter((t) => {
    const shape = shapes.get(t.name ?? '');
    return shape ? edit(t, shape) : true;
  });
  return onnx.ModelProto.encode(model).finish();
}

/** ONNX bytes of buildGptGraph's model with every parameter's data external, in a "file" named as the parameter (see externalWeights). */
export function buildExternalGptGraph(config: ModelConfig, options: GraphOptions = {}): Uint8Array {
  return withoutWeightBytes(config, options, (t, shape) => {
    t.rawData = new Uint8Array(0);
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.externalData = [
      { key: 'location', value: t.name },
      { key: 'offset', value: '0' },
      { key: 'length', value: String(shape.reduce((a, b) => a * b, 4)) },
    ];
    return true;
  });
}

/** The in-memory files buildExternalGptGraph's model reads (SessionOptions.externalData): views of the weights, checked. */
export function externalWeights(config: ModelConfig, weights: ReadonlyMap<string, NamedTensor>): { path: string; data: Uint8Array }[] {
  return checkedParameters(config, weights).map((name) => {
    const { data } = weights.get(name) as NamedTensor;
    return { path: name, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  });
}

/** ONNX bytes of buildGptGraph's model with every parameter a float graph input of its fixed shape. */
export function buildLiveGptGraph(config: ModelConfig, options: GraphOptions = {}): Uint8Array {
  const moved: onnx.IValueInfoProto[] = [];
  const bytes = withoutWeightBytes(config, options, (t, shape) => {
    moved.push({ name: t.name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: shape.map((d) => ({ dimValue: d })) } } } });
    return false;
  });
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph as onnx.IGraphProto;
  graph.input = [...(graph.input ?? []), ...moved];
  return onnx.ModelProto.encode(model).finish();
}

/** The parameters the graphs read, each checked against the config's shapes (as buildGptGraph checks its weights). */
export function checkedParameters(config: ModelConfig, weights: ReadonlyMap<string, NamedTensor>): string[] {
  const names: string[] = [];
  for (const [name, shape] of modelParameterShapes(config)) {
    const w = weights.get(name);
    if (!w) throw new Error(`OrtSampler: weight '${name}' is missing`);
    const size = shape.reduce((a, b) => a * b, 1);
    if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i]) || w.data.length !== size) {
      throw new Error(`OrtSampler: weight '${name}' has shape [${w.shape}] (${w.data.length} values), expected [${shape}]`);
    }
    names.push(name);
  }
  return names;
}
