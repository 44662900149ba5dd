/**
 * A small helper for writing ONNX graphs with onnx-proto: nodes get unique output names,
 * constants become initializers, and `model()` serializes the result without the nodes and
 * initializers no output depends on (so an op may build an alternative and let the unused one go).
 */
import { onnx } from 'onnx-proto';

const { DataType } = onnx.TensorProto;
type AttrValue = number | readonly number[] | string;

/** A dimension: a fixed size or a symbolic name ('batch', 'seq', …). */
export type Dim = number | string;

export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private counter = 0;
  /** Values renamed into graph outputs: later references to the old name follow. */
  private readonly renamed = new Map<string, string>();
  /** Operator domains beyond the default one (e.g. com.microsoft for ORT's contrib ops). */
  private readonly domains = new Set<string>();

  input(name: string, type: 'float' | 'int64', dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /**
   * Mark `value` as a graph output called `name`. When the names differ, a value a node computes
   * is renamed in place (so ONNX Runtime writes it straight into a caller's pre-allocated output
   * buffer, with no copy); anything else goes through Identity.
   */
  output(value: string, name: string, type: 'float' | 'int64', dims: readonly Dim[]): void {
    value = this.renamed.get(value) ?? value;
    const producer = value === name ? undefined : this.nodes.find((n) => n.output?.includes(value));
    if (producer && !this.outputs.some((o) => o.name === value)) {
      this.renamed.set(value, name);
      for (const n of this.nodes) {
        n.output = n.output?.map((o) => (o === value ? name : o)) ?? [];
        n.input = n.input?.map((i) => (i === value ? name : i)) ?? [];
      }
    } else if (value !== name) {
      this.nodes.push({ opType: 'Identity', input: [value], output: [name], name: `out_${name}` });
    }
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** A float32 initializer; `data` is kept by reference until `model()` serializes it. */
  weight(name: string, data: Float32Array, dims: readonly number[]): string {
    this.initializers.push({
      name,
      dataType: DataType.FLOAT,
      dims: [...dims],
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  floatConst(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.weight(`const_${this.counter++}`, Float32Array.from(values), dims);
  }

  int64Const(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const name = `const_${this.counter++}`;
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dataType: DataType.INT64, dims: [...dims], rawData: new Uint8Array(data.buffer) });
    return name;
  }

  /** Add one node; returns its output name(s). Attributes: numbers are ints unless `floats` lists them. */
  op(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, opts: { outputs?: number; floats?: readonly string[]; domain?: string } = {}): string {
    return this.opN(opType, inputs, attrs, { ...opts, outputs: 1 })[0] as string;
  }

  /** Several outputs; `names` gives some of them fixed names (graph outputs, no Identity copy). */
  opN(
    opType: string,
    inputs: readonly string[],
    attrs: Record<string, AttrValue>,
    opts: { outputs: number; floats?: readonly string[]; domain?: string; names?: readonly (string | undefined)[] },
  ): string[] {
    inputs = inputs.map((i) => this.renamed.get(i) ?? i);
    const id = this.counter++;
    const outputs = Array.from({ length: opts.outputs }, (_, i) => opts.names?.[i] ?? `${opType.toLowerCase()}_${id}${opts.outputs > 1 ? `_${i}` : ''}`);
    if (opts.domain) this.domains.add(opts.domain);
    const attribute = Object.entries(attrs).map(([name, v]) => attr(name, v, opts.floats?.includes(name) ?? false));
    this.nodes.push({ opType, input: [...inputs], output: outputs, name: `${opType}_${id}`, attribute, domain: opts.domain ?? '' });
    return outputs;
  }

  /** Whether a node already reads `value`. */
  isConsumed(value: string): boolean {
    value = this.renamed.get(value) ?? value;
    return this.nodes.some((n) => n.input?.includes(value));
  }

  /** Remove the node that computes `value`, so another node can produce that name instead. */
  removeProducer(value: string): void {
    value = this.renamed.get(value) ?? value;
    const i = this.nodes.findIndex((n) => n.output?.includes(value));
    if (i < 0) throw new Error(`GraphBuilder: no node computes '${value}'`);
    this.nodes.splice(i, 1);
  }

  /** Serialize to ONNX bytes (IR 8, opset 17; version 1 of any other domain used), without dead nodes and initializers. */
  model(name: string, docString: string): Uint8Array {
    const needed = new Set(this.outputs.map((o) => o.name as string));
    const nodes: onnx.INodeProto[] = [];
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i] as onnx.INodeProto;
      if (!node.output?.some((o) => needed.has(o))) continue;
      nodes.push(node);
      for (const input of node.input ?? []) if (input) needed.add(input);
    }
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'rlhf-workbench',
      docString,
      opsetImport: [{ domain: '', version: 17 }, ...[...this.domains].map((domain) => ({ domain, version: 1 }))],
      graph: { name, node: nodes.reverse(), initializer: this.initializers.filter((t) => needed.has(t.name as string)), input: this.inputs, output: this.outputs },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function attr(name: string, v: AttrValue, isFloat: boolean): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') return isFloat ? { name, type: T.FLOAT, f: v } : { name, type: T.INT, i: v };
  return isFloat ? { name, type: T.FLOATS, floats: [...v] } : { name, type: T.INTS, ints: [...v] };
}

function valueInfo(name: string, type: 'float' | 'int64', dims: readonly Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: type === 'float' ? DataType.FLOAT : DataType.INT64,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}
