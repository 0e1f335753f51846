/**
 * Reverse-mode differentiation over an ONNX graph under construction: `appendGradients(g, loss, wrt, { shapes })`
 * appends to a `GraphBuilder` the nodes computing d loss / d x for each value x in `wrt` (graph inputs, typically the
 * parameters) and returns the gradients' value names.
 *
 * It reads only the builder's node list (op types, attributes, initializers), not how the forward pass was written.
 * Shapes are concrete: `inferShapes` propagates the given input shapes through the op set (and the values of small
 * int64 tensors: shape arguments, axes, ranges), so that broadcasting gradients are summed back to exactly their
 * operand's shape and Reshape / Transpose / Concat / Gather gradients are exact. A training graph is therefore built
 * per batch shape. Values that do not depend on `wrt` (masks, RoPE tables, positions) are constants. An op on a
 * differentiable path without a gradient rule is an error naming it.
 *
 * Matrix products against a 2-D operand (every linear layer) get their gradients as Gemm with transA / transB over the
 * flattened rows, so no transposed copies of weights or activations are made; batched products (attention) use
 * MatMul with Transpose, which ONNX Runtime fuses into one kernel.
 */
import type { onnx } from "onnx-proto";
import { DT, type GraphBuilder } from "./proto";

export type Shape = readonly number[];

/** Shapes of every value the graph defines, and the values of its small integer (and float constant) tensors. */
export interface ShapeInfo {
  shapes: Map<string, number[]>;
  values: Map<string, number[]>;
}

/** Ops through which nothing is differentiated (their outputs are boolean or integer, or constant in the inputs). */
const CONSTANT_OPS = new Set(["Shape", "Range", "LessOrEqual", "Less", "Greater", "GreaterOrEqual", "And", "Or", "Not", "Equal", "ArgMax"]);

const ELEMENTWISE_UNARY = new Set(["Identity", "Cast", "Sigmoid", "Tanh", "Erf", "Relu", "Sqrt", "Neg", "Exp", "Log", "Softmax", "LogSoftmax"]);
const BROADCASTING = new Set(["Add", "Sub", "Mul", "Div", "Pow", "LessOrEqual", "Less", "Greater", "GreaterOrEqual", "Equal", "And", "Or", "Where", "Sum"]);

function attrOf(node: onnx.INodeProto, name: string): onnx.IAttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}
function intAttr(node: onnx.INodeProto, name: string, dflt: number): number {
  const a = attrOf(node, name);
  return a?.i === undefined || a.i === null ? dflt : Number(a.i);
}
function intsAttr(node: onnx.INodeProto, name: string): number[] | undefined {
  const a = attrOf(node, name);
  return a?.ints ? a.ints.map(Number) : undefined;
}

const size = (s: Shape) => s.reduce((a, b) => a * b, 1);
const same = (a: Shape, b: Shape) => a.length === b.length && a.every((x, i) => x === b[i]);
const norm = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

export function broadcastShapes(shapes: readonly Shape[], where = "broadcastShapes"): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const x = s[s.length - rank + i] ?? 1;
      if (x !== 1) {
        if (d !== 1 && d !== x) throw new RangeError(`${where}: shapes ${shapes.map((s) => `[${s}]`).join(", ")} do not broadcast`);
        d = x;
      }
    }
    out.push(d);
  }
  return out;
}

function decodeInit(t: onnx.ITensorProto): number[] | undefined {
  const raw = t.rawData;
  const n = size((t.dims ?? []).map(Number));
  if (!raw || n > 4096) return undefined;
  const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
  if (t.dataType === DT.INT64) return Array.from(new BigInt64Array(buf), Number);
  if (t.dataType === DT.FLOAT) return Array.from(new Float32Array(buf));
  return undefined;
}

/** Propagate concrete shapes (and small integer values) from the graph inputs through every node. */
export function inferShapes(g: GraphBuilder, inputShapes: ReadonlyMap<string, Shape>): ShapeInfo {
  const shapes = new Map<string, number[]>();
  const values = new Map<string, number[]>();
  for (const t of g.initializerList) {
    shapes.set(t.name!, (t.dims ?? []).map(Number));
    const v = decodeInit(t);
    if (v) values.set(t.name!, v);
  }
  for (const i of g.inputList) {
    const s = inputShapes.get(i.name!);
    if (!s) throw new RangeError(`inferShapes: no shape given for graph input ${JSON.stringify(i.name)}`);
    shapes.set(i.name!, [...s]);
  }
  for (const node of g.nodeList) inferNode(node, shapes, values);
  return { shapes, values };
}

function inferNode(node: onnx.INodeProto, shapes: Map<string, number[]>, values: Map<string, number[]>): void {
  const op = node.opType!;
  const ins = node.input ?? [];
  const outs = node.output ?? [];
  const where = `inferShapes: ${op} node ${node.name}`;
  const sh = (k: number): number[] => {
    const s = shapes.get(ins[k]);
    if (!s) throw new RangeError(`${where}: input ${JSON.stringify(ins[k])} has no known shape`);
    return s;
  };
  const val = (k: number): number[] => {
    const v = values.get(ins[k]);
    if (!v) throw new RangeError(`${where}: input ${JSON.stringify(ins[k])} must be a constant`);
    return v;
  };
  const set = (s: number[], v?: number[], k = 0) => {
    shapes.set(outs[k], s);
    if (v) values.set(outs[k], v);
  };
  if (ELEMENTWISE_UNARY.has(op)) {
    const v = values.get(ins[0]);
    return set(sh(0), op === "Identity" || op === "Cast" ? v : undefined);
  }
  if (BROADCASTING.has(op)) {
    const out = broadcastShapes(ins.map((_, k) => sh(k)), where);
    let v: number[] | undefined;
    if (op === "Sub" && size(out) === 1 && values.has(ins[0]) && values.has(ins[1])) v = [val(0)[0] - val(1)[0]];
    return set(out, v);
  }
  switch (op) {
    case "MatMul": {
      const a = sh(0);
      const b = sh(1);
      if (a.length < 2 || b.length < 2) throw new RangeError(`${where}: 1-D operands are not supported, received [${a}] and [${b}]`);
      const batch = broadcastShapes([a.slice(0, -2), b.slice(0, -2)], where);
      return set([...batch, a[a.length - 2], b[b.length - 1]]);
    }
    case "Gemm": {
      const a = sh(0);
      const b = sh(1);
      const m = intAttr(node, "transA", 0) ? a[1] : a[0];
      const n = intAttr(node, "transB", 0) ? b[0] : b[1];
      return set([m, n]);
    }
    case "ReduceMean":
    case "ReduceSum":
    case "ReduceSumSquare": {
      const x = sh(0);
      const axesIn = op === "ReduceSum" && ins.length > 1 && ins[1] ? val(1) : intsAttr(node, "axes");
      const axes = new Set((axesIn ?? x.map((_, i) => i)).map((a) => norm(a, x.length)));
      const keep = intAttr(node, "keepdims", 1);
      const out: number[] = [];
      x.forEach((d, i) => {
        if (!axes.has(i)) out.push(d);
        else if (keep) out.push(1);
      });
      return set(out);
    }
    case "LayerNormalization": {
      const x = sh(0);
      const axis = norm(intAttr(node, "axis", -1), x.length);
      set(x);
      const stat = x.map((d, i) => (i < axis ? d : 1));
      for (let k = 1; k < outs.length; k++) if (outs[k]) set(stat, undefined, k);
      return;
    }
    case "Gather": {
      const data = sh(0);
      const idx = sh(1);
      const axis = norm(intAttr(node, "axis", 0), data.length);
      const out = [...data.slice(0, axis), ...idx, ...data.slice(axis + 1)];
      let v: number[] | undefined;
      if (data.length === 1 && values.has(ins[0]) && values.has(ins[1])) v = val(1).map((i) => val(0)[i < 0 ? i + data[0] : i]);
      return set(out, v);
    }
    case "GatherElements":
      return set(sh(1));
    case "ScatterElements":
    case "ScatterND":
      return set(sh(0));
    case "Reshape": {
      const x = sh(0);
      const target = val(1);
      const out = target.map((d, i) => (d === 0 && !intAttr(node, "allowzero", 0) ? x[i] : d));
      const known = out.reduce((a, d) => (d === -1 ? a : a * d), 1);
      const filled = out.map((d) => (d === -1 ? size(x) / known : d));
      if (size(filled) !== size(x)) throw new RangeError(`${where}: cannot reshape [${x}] to [${target}]`);
      return set(filled, values.get(ins[0]));
    }
    case "Transpose": {
      const x = sh(0);
      const perm = intsAttr(node, "perm") ?? x.map((_, i) => x.length - 1 - i);
      return set(perm.map((p) => x[p]));
    }
    case "Concat": {
      const parts = ins.map((_, k) => sh(k));
      const axis = norm(intAttr(node, "axis", 0), parts[0].length);
      const out = [...parts[0]];
      out[axis] = parts.reduce((a, p) => a + p[axis], 0);
      return set(out);
    }
    case "Split": {
      const x = sh(0);
      const axis = norm(intAttr(node, "axis", 0), x.length);
      const sizes = val(1);
      sizes.forEach((s, k) => set(x.map((d, i) => (i === axis ? s : d)), undefined, k));
      return;
    }
    case "Unsqueeze": {
      const x = sh(0);
      const rank = x.length + val(1).length;
      const axes = new Set(val(1).map((a) => norm(a, rank)));
      const out: number[] = [];
      for (let i = 0, j = 0; i < rank; i++) out.push(axes.has(i) ? 1 : x[j++]);
      return set(out, values.get(ins[0]));
    }
    case "Squeeze": {
      const x = sh(0);
      const axes = new Set((ins.length > 1 && ins[1] ? val(1) : x.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => norm(a, x.length)));
      return set(x.filter((_, i) => !axes.has(i)), values.get(ins[0]));
    }
    case "Shape": {
      const x = sh(0);
      const start = norm(intAttr(node, "start", 0), x.length);
      const endA = attrOf(node, "end") ? norm(intAttr(node, "end", x.length), x.length) : x.length;
      const v = x.slice(start, endA);
      return set([v.length], v);
    }
    case "Range": {
      const [s, l, d] = [val(0)[0], val(1)[0], val(2)[0]];
      const n = Math.max(0, Math.ceil((l - s) / d));
      return set([n], Array.from({ length: n }, (_, i) => s + i * d));
    }
    case "Expand":
      return set(broadcastShapes([sh(0), val(1)], where));
    case "ConstantOfShape":
      return set(val(0));
    default:
      throw new RangeError(`inferShapes: op ${op} (node ${node.name}) is not supported by kit/onnx/autodiff.ts`);
  }
}

export interface GradientOptions {
  /** Concrete shapes of every graph input (the batch shape fixed). */
  shapes: ReadonlyMap<string, Shape>;
}

/**
 * Append to `g` the gradients of the scalar `loss` with respect to each name in `wrt`; returns name → gradient value
 * (a value of the same shape; zeros for a name the loss does not depend on). The forward nodes are read as they are
 * now; a LayerNormalization node on the differentiable path gets its optional Mean / InvStdDev outputs named so that
 * its gradient reuses them.
 */
export function appendGradients(g: GraphBuilder, loss: string, wrt: readonly string[], { shapes }: GradientOptions): Map<string, string> {
  const forward = [...g.nodeList];
  // LayerNormalization's statistics, as extra outputs of the forward node (shapes inferred with them).
  for (const node of forward) {
    if (node.opType === "LayerNormalization" && (node.output ?? []).length < 3) node.output = [node.output![0], g.tmp("ln_mean"), g.tmp("ln_rstd")];
  }
  const info = inferShapes(g, shapes);
  const lossShape = info.shapes.get(loss);
  if (!lossShape) throw new RangeError(`appendGradients: loss ${JSON.stringify(loss)} is not a value of the graph`);
  if (size(lossShape) !== 1) throw new RangeError(`appendGradients: loss must be a scalar, received shape [${lossShape}]`);

  // Values that depend on wrt.
  const active = new Set<string>(wrt);
  for (const node of forward) {
    if (CONSTANT_OPS.has(node.opType!)) continue;
    if (node.opType === "Cast" && intAttr(node, "to", 0) !== DT.FLOAT) continue;
    const ins = node.input ?? [];
    const dataInputs = node.opType === "Gather" || node.opType === "GatherElements" ? ins.slice(0, 1) : ins;
    if (dataInputs.some((i) => active.has(i))) for (const o of node.output ?? []) if (o) active.add(o);
  }
  if (!active.has(loss)) throw new RangeError(`appendGradients: loss ${JSON.stringify(loss)} does not depend on any of the ${wrt.length} values to differentiate`);

  const ctx = new Context(g, info);
  const regions = elementwiseRegions(forward, active, info, loss);
  ctx.contribute(loss, g.constF(1, lossShape));
  for (let i = forward.length - 1; i >= 0; i--) {
    const node = forward[i];
    const outs = node.output ?? [];
    if (!outs.some((o) => ctx.has(o))) continue;
    const ins = node.input ?? [];
    if (!ins.some((x) => active.has(x))) continue;
    const region = regions.get(outs[0]);
    if (region) ctx.contribute(region.root, g.op("Mul", [ctx.grad(outs[0]), tangent(ctx, region)]));
    else backward(ctx, node, (k) => active.has(ins[k]));
  }
  const out = new Map<string, string>();
  for (const name of wrt) out.set(name, ctx.has(name) ? ctx.grad(name) : ctx.zeros(info.shapes.get(name)!));
  return out;
}

/** Elementwise ops whose derivative `tangent` knows (forward mode). */
const TANGENT_OPS = new Set(["Add", "Sub", "Mul", "Div", "Sigmoid", "Tanh", "Erf", "Exp", "Sqrt", "Neg", "Pow", "Identity"]);

/** A chain of elementwise nodes computing `output` from the one value `root` (and scalar constants) alone. */
interface Region {
  root: string;
  output: string;
  nodes: onnx.INodeProto[];
}

/**
 * Elementwise regions worth differentiating in forward mode: y = f(x) built from several elementwise nodes of one
 * active value x (activation functions such as gelu_new, written as Mul / Add / Sigmoid chains), whose intermediates
 * are used only inside the region. Their gradient is dy · f′(x), with f′ assembled node by node (one multiply and an
 * add or two per node), instead of the reverse pass's two products per Mul and sums wherever x is used twice.
 * Keyed by the region's output.
 */
function elementwiseRegions(forward: readonly onnx.INodeProto[], active: ReadonlySet<string>, info: ShapeInfo, loss: string): Map<string, Region> {
  const consumers = new Map<string, onnx.INodeProto[]>();
  for (const node of forward) for (const i of node.input ?? []) consumers.set(i, [...(consumers.get(i) ?? []), node]);
  const rootOf = new Map<string, string>(); // value → the root it is an elementwise function of
  const members = new Map<string, onnx.INodeProto[]>(); // root → nodes, in forward order
  for (const node of forward) {
    const op = node.opType!;
    const y = node.output?.[0];
    if (!y || !active.has(y) || !TANGENT_OPS.has(op) || (node.output ?? []).length !== 1) continue;
    let root: string | null = null;
    let ok = true;
    for (const i of node.input ?? []) {
      if (!active.has(i)) {
        if (size(info.shapes.get(i) ?? [2]) !== 1 || !info.values.has(i)) ok = false; // scalar constants only
        continue;
      }
      const r = rootOf.get(i) ?? i;
      if (root !== null && root !== r) ok = false;
      root = r;
    }
    if (!ok || root === null || !same(info.shapes.get(root)!, info.shapes.get(y)!)) continue;
    if (op === "Pow" && !info.values.has(node.input![1])) continue;
    rootOf.set(y, root);
    members.set(root, [...(members.get(root) ?? []), node]);
  }
  const regions = new Map<string, Region>();
  for (const [root, nodes] of members) {
    const inside = new Set(nodes);
    // Values of the region read outside it (or the loss): exactly one, produced by the last node.
    const escaping = nodes.filter((n) => n.output![0] === loss || (consumers.get(n.output![0]) ?? []).some((c) => !inside.has(c)));
    if (nodes.length < 3 || escaping.length !== 1 || escaping[0] !== nodes[nodes.length - 1]) continue;
    regions.set(escaping[0].output![0], { root, output: escaping[0].output![0], nodes });
  }
  return regions;
}

/**
 * A derivative in forward mode: `k · v`, a scalar coefficient times a value (v null: the constant k). Keeping the
 * coefficient apart folds multiplications by constants (gelu_new's 0.044715 and √(2/π)) into one at the end.
 */
interface Tangent {
  k: number;
  v: string | null;
}

/** dy/dx over a region, elementwise, as a value of x's shape. */
function tangent(ctx: Context, region: Region): string {
  const g = ctx.g;
  const c = (x: number) => g.constF(x);
  const zero: Tangent = { k: 0, v: null };
  const scalarOf = (name: string): number | null => {
    const val = ctx.value(name);
    return val && val.length === 1 && size(ctx.shape(name)) === 1 ? val[0] : null;
  };
  const scale = (a: Tangent, x: number): Tangent => (a.k * x === 0 ? zero : { k: a.k * x, v: a.v });
  /** a · value */
  const times = (a: Tangent, value: string): Tangent => {
    if (a.k === 0) return zero;
    const s = scalarOf(value);
    if (s !== null) return scale(a, s);
    return { k: a.k, v: a.v === null ? value : g.op("Mul", [a.v, value]) };
  };
  const materialize = (a: Tangent): string => {
    if (a.v === null) return c(a.k);
    return a.k === 1 ? a.v : g.op("Mul", [a.v, c(a.k)]);
  };
  const add = (a: Tangent, b: Tangent): Tangent => {
    if (a.k === 0) return b;
    if (b.k === 0) return a;
    if (a.v === null && b.v === null) return { k: a.k + b.k, v: null };
    if (a.v === b.v) return a.k + b.k === 0 ? zero : { k: a.k + b.k, v: a.v };
    if (a.v !== null && b.v !== null && a.k === b.k) return { k: a.k, v: g.op("Add", [a.v, b.v]) };
    if (a.v !== null && b.v !== null && a.k === -b.k) return { k: a.k, v: g.op("Sub", [a.v, b.v]) };
    // a.k · (a.v + (b.k / a.k) · b.v)
    const bScaled = materialize({ k: b.k / a.k, v: b.v });
    return { k: a.k, v: g.op("Add", [a.v ?? c(1), bScaled]) };
  };
  const t = new Map<string, Tangent>([[region.root, { k: 1, v: null }]]);
  const tOf = (name: string): Tangent => t.get(name) ?? zero;
  for (const node of region.nodes) {
    const [u, v] = node.input!;
    const y = node.output![0];
    let ty: Tangent;
    switch (node.opType) {
      case "Identity":
        ty = tOf(u);
        break;
      case "Add":
        ty = add(tOf(u), tOf(v));
        break;
      case "Sub":
        ty = add(tOf(u), scale(tOf(v), -1));
        break;
      case "Mul":
        ty = u === v ? scale(times(tOf(u), u), 2) : add(times(tOf(u), v), times(tOf(v), u));
        break;
      case "Div": {
        const s = scalarOf(v);
        ty = s !== null ? scale(tOf(u), 1 / s) : add(times(tOf(u), g.op("Div", [c(1), v])), scale(times(tOf(v), g.op("Div", [y, v])), -1));
        break;
      }
      case "Sigmoid":
        ty = times(tOf(u), g.op("Mul", [y, g.op("Sub", [c(1), y])]));
        break;
      case "Tanh":
        ty = times(tOf(u), g.op("Sub", [c(1), g.op("Mul", [y, y])]));
        break;
      case "Erf":
        ty = scale(times(tOf(u), g.op("Exp", [g.op("Neg", [g.op("Mul", [u, u])])])), 2 / Math.sqrt(Math.PI));
        break;
      case "Exp":
        ty = times(tOf(u), y);
        break;
      case "Sqrt":
        ty = scale(times(tOf(u), g.op("Div", [c(1), y])), 0.5);
        break;
      case "Neg":
        ty = scale(tOf(u), -1);
        break;
      case "Pow": {
        const e = ctx.value(v)![0];
        ty = e === 2 ? scale(times(tOf(u), u), 2) : scale(times(tOf(u), g.op("Pow", [u, c(e - 1)])), e);
        break;
      }
      default:
        throw new RangeError(`appendGradients: no forward-mode rule for ${node.opType}`);
    }
    t.set(y, ty);
  }
  const out = tOf(region.output);
  return out.k === 0 ? ctx.zeros(ctx.shape(region.root)) : materialize(out);
}

class Context {
  private readonly parts = new Map<string, string[]>();
  constructor(
    readonly g: GraphBuilder,
    readonly info: ShapeInfo,
  ) {}
  has(name: string): boolean {
    return this.parts.has(name);
  }
  contribute(name: string, grad: string): void {
    const list = this.parts.get(name);
    if (list) list.push(grad);
    else this.parts.set(name, [grad]);
  }
  /** The summed gradient of a value. */
  grad(name: string): string {
    const list = this.parts.get(name)!;
    if (list.length > 1) this.parts.set(name, [this.g.op("Sum", list)]);
    return this.parts.get(name)![0];
  }
  shape(name: string): number[] {
    const s = this.info.shapes.get(name);
    if (!s) throw new RangeError(`appendGradients: no shape known for ${JSON.stringify(name)}`);
    return s;
  }
  value(name: string): number[] | undefined {
    return this.info.values.get(name);
  }
  zeros(shape: Shape): string {
    return this.g.op("Expand", [this.g.constF(0), this.g.constI(shape)]);
  }
  reshape(x: string, to: Shape): string {
    return this.g.op("Reshape", [x, this.g.constI(to)]);
  }
  /** Sum a gradient of shape `from` (a broadcast result) back to an operand's shape `to`. */
  reduceTo(grad: string, from: Shape, to: Shape): string {
    if (same(from, to)) return grad;
    if (size(from) === size(to)) return this.reshape(grad, to);
    const offset = from.length - to.length;
    const axes: number[] = [];
    for (let i = 0; i < from.length; i++) if (i < offset || (to[i - offset] === 1 && from[i] !== 1)) axes.push(i);
    const summed = this.g.op("ReduceSum", [grad, this.g.constI(axes)], { keepdims: 1 });
    return this.reshape(summed, to);
  }
}

/** Add the gradients of one node's inputs (those `wants`) given its outputs' gradients. */
function backward(ctx: Context, node: onnx.INodeProto, wants: (k: number) => boolean): void {
  const g = ctx.g;
  const op = node.opType!;
  const ins = node.input!;
  const y = node.output![0];
  const gy = () => ctx.grad(y);
  const yShape = () => ctx.shape(y);
  const give = (k: number, grad: string) => ctx.contribute(ins[k], ctx.reduceTo(grad, yShape(), ctx.shape(ins[k])));
  const giveExact = (k: number, grad: string) => ctx.contribute(ins[k], grad);
  const f = (v: number) => g.constF(v);
  switch (op) {
    case "Identity":
    case "Cast":
      return giveExact(0, gy());
    case "Add":
    case "Sum":
      ins.forEach((_, k) => wants(k) && give(k, gy()));
      return;
    case "Sub":
      if (wants(0)) give(0, gy());
      if (wants(1)) give(1, g.op("Neg", [gy()]));
      return;
    case "Mul":
      if (wants(0)) give(0, g.op("Mul", [gy(), ins[1]]));
      if (wants(1)) give(1, g.op("Mul", [gy(), ins[0]]));
      return;
    case "Div":
      if (wants(0)) give(0, g.op("Div", [gy(), ins[1]]));
      if (wants(1)) give(1, g.op("Neg", [g.op("Div", [g.op("Mul", [gy(), y]), ins[1]])]));
      return;
    case "Pow": {
      if (wants(1)) throw new RangeError(`appendGradients: Pow node ${node.name}: a differentiable exponent is not supported`);
      const c = ctx.value(ins[1]);
      if (!c || c.length !== 1) throw new RangeError(`appendGradients: Pow node ${node.name}: the exponent must be a scalar constant`);
      const dx = c[0] === 2 ? g.op("Mul", [ins[0], f(2)]) : g.op("Mul", [g.op("Pow", [ins[0], f(c[0] - 1)]), f(c[0])]);
      return give(0, g.op("Mul", [gy(), dx]));
    }
    case "Sqrt":
      return giveExact(0, g.op("Div", [g.op("Mul", [gy(), f(0.5)]), y]));
    case "Neg":
      return giveExact(0, g.op("Neg", [gy()]));
    case "Exp":
      return giveExact(0, g.op("Mul", [gy(), y]));
    case "Log":
      return giveExact(0, g.op("Div", [gy(), ins[0]]));
    case "Sigmoid":
      return giveExact(0, g.op("Mul", [gy(), g.op("Mul", [y, g.op("Sub", [f(1), y])])]));
    case "Tanh":
      return giveExact(0, g.op("Mul", [gy(), g.op("Sub", [f(1), g.op("Mul", [y, y])])]));
    case "Erf": {
      const x = ins[0];
      return giveExact(0, g.op("Mul", [gy(), g.op("Mul", [g.op("Exp", [g.op("Neg", [g.op("Mul", [x, x])])]), f(2 / Math.sqrt(Math.PI))])]));
    }
    case "Relu":
      return giveExact(0, g.op("Mul", [gy(), g.op("Cast", [g.op("Greater", [ins[0], f(0)])], { to: DT.FLOAT })]));
    case "Where":
      if (wants(0)) throw new RangeError(`appendGradients: Where node ${node.name}: the condition cannot be differentiated`);
      if (wants(1)) give(1, g.op("Where", [ins[0], gy(), f(0)]));
      if (wants(2)) give(2, g.op("Where", [ins[0], f(0), gy()]));
      return;
    case "Softmax":
    case "LogSoftmax": {
      const axes = g.constI([intAttr(node, "axis", -1)]);
      if (op === "Softmax") {
        const dot = g.op("ReduceSum", [g.op("Mul", [gy(), y]), axes], { keepdims: 1 });
        return giveExact(0, g.op("Mul", [y, g.op("Sub", [gy(), dot])]));
      }
      const total = g.op("ReduceSum", [gy(), axes], { keepdims: 1 });
      return giveExact(0, g.op("Sub", [gy(), g.op("Mul", [g.op("Exp", [y]), total])]));
    }
    case "ReduceMean":
    case "ReduceSum": {
      const xs = ctx.shape(ins[0]);
      const ys = yShape();
      const keptShape = reducedKeepShape(node, xs, ctx);
      const n = size(xs) / size(ys);
      let grad = same(keptShape, ys) ? gy() : ctx.reshape(gy(), keptShape);
      if (op === "ReduceMean") grad = g.op("Mul", [grad, f(1 / n)]);
      return giveExact(0, g.op("Expand", [grad, g.constI(xs)]));
    }
    case "MatMul":
      return matMulBackward(ctx, node, wants);
    case "LayerNormalization":
      return layerNormBackward(ctx, node, wants);
    case "Gather": {
      if (wants(1)) throw new RangeError(`appendGradients: Gather node ${node.name}: indices cannot be differentiated`);
      const axis = intAttr(node, "axis", 0);
      if (axis !== 0) throw new RangeError(`appendGradients: Gather node ${node.name}: only axis 0 (embedding lookup) is supported, received ${axis}`);
      const idx = g.op("Unsqueeze", [ins[1], g.constI([-1])]);
      return giveExact(0, g.op("ScatterND", [ctx.zeros(ctx.shape(ins[0])), idx, gy()], { reduction: "add" }));
    }
    case "GatherElements": {
      if (wants(1)) throw new RangeError(`appendGradients: GatherElements node ${node.name}: indices cannot be differentiated`);
      const axis = intAttr(node, "axis", 0);
      return giveExact(0, g.op("ScatterElements", [ctx.zeros(ctx.shape(ins[0])), ins[1], gy()], { axis, reduction: "add" }));
    }
    case "Reshape":
    case "Squeeze":
    case "Unsqueeze":
      return giveExact(0, ctx.reshape(gy(), ctx.shape(ins[0])));
    case "Expand":
      return give(0, gy());
    case "Transpose": {
      const rank = yShape().length;
      const perm = intsAttr(node, "perm") ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
      const inverse = perm.map((_, i) => perm.indexOf(i));
      return giveExact(0, g.op("Transpose", [gy()], { perm: inverse }));
    }
    case "Concat": {
      const axis = norm(intAttr(node, "axis", 0), yShape().length);
      const sizes = ins.map((x) => ctx.shape(x)[axis]);
      const outs = ins.map(() => g.tmp("split"));
      g.op("Split", [gy(), g.constI(sizes)], { axis }, outs);
      ins.forEach((_, k) => wants(k) && giveExact(k, outs[k]));
      return;
    }
    default:
      throw new RangeError(`appendGradients: op ${op} (node ${node.name}) is on a differentiable path but has no gradient rule in kit/onnx/autodiff.ts`);
  }
}

/** The input's shape with the reduced axes kept as 1. */
function reducedKeepShape(node: onnx.INodeProto, xs: Shape, ctx: Context): number[] {
  const ins = node.input!;
  const axesIn = node.opType === "ReduceSum" && ins.length > 1 && ins[1] ? ctx.value(ins[1]) : intsAttr(node, "axes");
  const axes = new Set((axesIn ?? xs.map((_, i) => i)).map((a) => norm(a, xs.length)));
  return xs.map((d, i) => (axes.has(i) ? 1 : d));
}

/**
 * Y = A · B. With a 2-D B [k, n] (linear layers): dA = dY · Bᵀ and dB = Aᵀ · dY over A's rows flattened to [·, k],
 * both as Gemm. Otherwise batched: dA = dY · Bᵀ, dB = Aᵀ · dY with the last two axes transposed, summed over any
 * broadcast batch axes.
 */
function matMulBackward(ctx: Context, node: onnx.INodeProto, wants: (k: number) => boolean): void {
  const g = ctx.g;
  const [a, b] = node.input!;
  const y = node.output![0];
  const as = ctx.shape(a);
  const bs = ctx.shape(b);
  const ys = ctx.shape(y);
  const gy = ctx.grad(y);
  if (bs.length === 2) {
    const [k, n] = bs;
    const rows = size(as) / k;
    const gy2 = ys.length === 2 ? gy : ctx.reshape(gy, [rows, n]);
    if (wants(0)) {
      const ga = g.op("Gemm", [gy2, b], { transB: 1 });
      ctx.contribute(a, as.length === 2 ? ga : ctx.reshape(ga, as));
    }
    if (wants(1)) {
      const a2 = as.length === 2 ? a : ctx.reshape(a, [rows, k]);
      ctx.contribute(b, g.op("Gemm", [a2, gy2], { transA: 1 }));
    }
    return;
  }
  const swap = (rank: number) => [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2];
  if (wants(0)) {
    const ga = g.op("MatMul", [gy, g.op("Transpose", [b], { perm: swap(bs.length) })]);
    ctx.contribute(a, ctx.reduceTo(ga, [...ys.slice(0, -2), as[as.length - 2], as[as.length - 1]], as));
  }
  if (wants(1)) {
    const gb = g.op("MatMul", [g.op("Transpose", [a], { perm: swap(as.length) }), gy]);
    ctx.contribute(b, ctx.reduceTo(gb, [...ys.slice(0, -2), bs[bs.length - 2], bs[bs.length - 1]], bs));
  }
}

/**
 * Y = x̂ · scale + bias, x̂ = (x − mean) · rstd over the last axis, with mean and rstd the node's own Mean and
 * InvStdDev outputs: dx = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂)), dx̂ = dY · scale.
 */
function layerNormBackward(ctx: Context, node: onnx.INodeProto, wants: (k: number) => boolean): void {
  const g = ctx.g;
  const [x, scale, bias] = node.input!;
  const [y, mean, rstd] = node.output!;
  const axis = intAttr(node, "axis", -1);
  const xs = ctx.shape(x);
  if (norm(axis, xs.length) !== xs.length - 1) throw new RangeError(`appendGradients: LayerNormalization node ${node.name}: only the last axis is supported, received axis ${axis}`);
  const gy = ctx.grad(y);
  const ys = ctx.shape(y);
  const xhat = g.op("Mul", [g.op("Sub", [x, mean]), rstd]);
  if (wants(1)) ctx.contribute(scale, ctx.reduceTo(g.op("Mul", [gy, xhat]), ys, ctx.shape(scale)));
  if (bias && wants(2)) ctx.contribute(bias, ctx.reduceTo(gy, ys, ctx.shape(bias)));
  if (wants(0)) {
    const gxhat = g.op("Mul", [gy, scale]);
    const m1 = g.op("ReduceMean", [gxhat], { axes: [-1], keepdims: 1 });
    const m2 = g.op("ReduceMean", [g.op("Mul", [gxhat, xhat])], { axes: [-1], keepdims: 1 });
    ctx.contribute(x, g.op("Mul", [g.op("Sub", [g.op("Sub", [gxhat, m1]), g.op("Mul", [xhat, m2])]), rstd]));
  }
}
