/**
 * A small ONNX graph builder over `onnx-proto`'s protobuf classes: named values, standard-domain nodes (opset 17),
 * float32 / int64 initializers and constants, graph inputs and outputs with symbolic dimensions, and the encoded
 * `ModelProto` bytes that ONNX Runtime (Node) and transformers.js (onnxruntime-web) load.
 */
import { onnx } from "onnx-proto";

export const OPSET = 17;
const IR_VERSION = 8;

export const DT = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9 } as const;
export type ElemType = (typeof DT)[keyof typeof DT];

/** One dimension of a graph input/output: a fixed size or a symbolic name ("batch_size"). */
export type Dim = number | string;

type AttrValue = number | readonly number[] | string | { float: number } | { floats: readonly number[] };

export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly constCache = new Map<string, string>();
  private counter = 0;

  /** A fresh intermediate value name. */
  tmp(prefix = "t"): string {
    return `_${prefix}${this.counter++}`;
  }

  /**
   * Append one node; returns its (first) output name. `out` names the output (default: a fresh name); pass an array
   * for several outputs. Integer attributes are INT(S); `{ float }` / `{ floats }` are FLOAT(S); strings are STRING.
   */
  op(type: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, out?: string | readonly string[]): string {
    const outputs = out === undefined ? [this.tmp(type)] : typeof out === "string" ? [out] : [...out];
    const attribute: onnx.IAttributeProto[] = [];
    for (const [name, v] of Object.entries(attrs)) {
      if (typeof v === "number") attribute.push({ name, type: onnx.AttributeProto.AttributeType.INT, i: v });
      else if (typeof v === "string") attribute.push({ name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(v) });
      else if (Array.isArray(v)) attribute.push({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...v] });
      else if ("float" in (v as object)) attribute.push({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f: (v as { float: number }).float });
      else attribute.push({ name, type: onnx.AttributeProto.AttributeType.FLOATS, floats: [...(v as { floats: readonly number[] }).floats] });
    }
    this.nodes.push({ opType: type, input: [...inputs], output: outputs, attribute, name: `${type}_${this.nodes.length}` });
    return outputs[0];
  }

  /** A float32 initializer (weights). */
  floatInit(name: string, data: Float32Array, dims: readonly number[]): string {
    this.initializers.push({
      name,
      dataType: DT.FLOAT,
      dims: [...dims],
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  /** An int64 initializer. */
  int64Init(name: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push({ name, dataType: DT.INT64, dims: [...dims], rawData: new Uint8Array(data.buffer) });
    return name;
  }

  /** A cached float32 constant (scalar when `dims` is []). */
  constF(values: number | readonly number[], dims?: readonly number[]): string {
    const arr = typeof values === "number" ? [values] : values;
    const shape = dims ?? (typeof values === "number" ? [] : [arr.length]);
    const key = `f:${shape.join("x")}:${arr.map((v) => (Object.is(v, -0) ? "-0" : String(v))).join(",")}`;
    let name = this.constCache.get(key);
    if (!name) {
      name = this.floatInit(this.tmp("cf"), Float32Array.from(arr), shape);
      this.constCache.set(key, name);
    }
    return name;
  }

  /** A cached int64 constant (1-D unless `dims` is given; [] for a scalar). */
  constI(values: number | readonly number[], dims?: readonly number[]): string {
    const arr = typeof values === "number" ? [values] : values;
    const shape = dims ?? (typeof values === "number" ? [] : [arr.length]);
    const key = `i:${shape.join("x")}:${arr.join(",")}`;
    let name = this.constCache.get(key);
    if (!name) {
      name = this.int64Init(this.tmp("ci"), arr, shape);
      this.constCache.set(key, name);
    }
    return name;
  }

  input(name: string, elemType: ElemType, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** A graph output; `dims` null leaves its shape (and rank) unspecified. */
  output(name: string, elemType: ElemType, dims: readonly Dim[] | null): void {
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  get outputNames(): string[] {
    return this.outputs.map((o) => o.name!);
  }

  /** The nodes appended so far, in order (read-only view; `kit/onnx/autodiff.ts` reads and extends the graph). */
  get nodeList(): readonly onnx.INodeProto[] {
    return this.nodes;
  }

  get initializerList(): readonly onnx.ITensorProto[] {
    return this.initializers;
  }

  get inputList(): readonly onnx.IValueInfoProto[] {
    return this.inputs;
  }

  get outputList(): readonly onnx.IValueInfoProto[] {
    return this.outputs;
  }

  /** The encoded model. */
  encode({ name = "persona-kit", docString = "" }: { name?: string; docString?: string } = {}): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: "persona-kit",
      producerVersion: "0.1.0",
      docString,
      opsetImport: [{ domain: "", version: OPSET }],
      graph: {
        name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, elemType: ElemType, dims: readonly Dim[] | null): onnx.IValueInfoProto {
  if (dims === null) return { name, type: { tensorType: { elemType } } };
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } },
  };
}
