import onnxProto from 'onnx-proto';
import { ONNX_INPUT, ONNX_OPSET, ONNX_OUTPUT } from '../onnx/graph-io.ts';

/*
 * Many users' models in ONE onnxruntime run. A micro-batch mixes windows of many users; scoring
 * each user's rows with its own session costs ~30–40 µs of onnxruntime overhead per model (and
 * ~80 KiB of session memory per model per thread), more than the inference itself. The two
 * detectors whose exported graphs are "elementwise affine, then a weighted sum" — the default
 * logistic-cohort and its one-class fallback scaled-manhattan — are scored instead by a *family
 * graph* whose parameters are per-row inputs, filled from each model's own ONNX initializers.
 * A model joins a family only if its graph has exactly the exported shape (checked node by node
 * here) and, on first use in a thread, the family's scores agree with the model's own graph
 * (window-batch-scorer.ts); anything else keeps its own session.
 */

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

export type FamilyName = 'affine' | 'l1';

/**
 * One model's parameters in family form, each of length D:
 *   affine (logistic-cohort):  score = Σ_j (x_j − mean_j) · scale_j + bias,   scale = inv_std ⊙ weights
 *   l1     (scaled-manhattan): score = Σ_j |x_j − mean_j| · scale_j,           scale = −weight
 */
export interface FamilyParams {
  family: FamilyName;
  d: number;
  mean: Float32Array;
  scale: Float32Array;
  bias: number;
}

export const FAMILY_INPUTS = { features: ONNX_INPUT, mean: 'mean', scale: 'scale', bias: 'bias' } as const;

type Tensor = onnxProto.onnx.ITensorProto;

function floats(tensor: Tensor): Float32Array | undefined {
  if (tensor.dataType !== FLOAT) return undefined;
  const raw = tensor.rawData;
  if (raw && raw.length > 0) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out = new Float32Array(raw.byteLength / 4);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  }
  return tensor.floatData && tensor.floatData.length > 0 ? Float32Array.from(tensor.floatData) : undefined;
}

/** A decoded node with the optional protobuf fields defaulted. */
interface Node {
  op: string;
  inputs: string[];
  output: string;
  attributes: number;
}

/**
 * The family form of an exported model, or undefined when the graph is anything but exactly one
 * of the two shapes export-detector.ts writes (so a changed exporter falls back, never misreads).
 */
export function familyOf(bytes: Uint8Array): FamilyParams | undefined {
  let model: InstanceType<typeof onnx.ModelProto>;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch {
    return undefined;
  }
  const graph = model.graph;
  const graphInputs = graph?.input ?? [];
  if (!graph || graphInputs.length !== 1 || graphInputs[0]!.name !== ONNX_INPUT || (graph.output ?? []).length !== 1)
    return undefined;
  const constants = new Map<string, Float32Array>();
  for (const init of graph.initializer ?? []) {
    const values = floats(init);
    if (!values || !init.name) return undefined;
    constants.set(init.name, values);
  }
  const nodes: Node[] = (graph.node ?? []).map((node) => ({
    op: node.opType ?? '',
    inputs: node.input ?? [],
    output: node.output?.length === 1 ? node.output[0]! : '',
    attributes: node.attribute?.length ?? 0,
  }));
  const ops = nodes.map((node) => node.op).join(',');
  // Each node must consume the previous node's output and one named constant, ending in `score`.
  const chain = (constantsAt: Array<string | undefined>): boolean =>
    nodes.every((node, i) => {
      const previous = i === 0 ? ONNX_INPUT : nodes[i - 1]!.output;
      const constant = constantsAt[i];
      const expected = constant === undefined ? [previous] : [previous, constant];
      return (
        node.inputs.length === expected.length && node.inputs.every((name, k) => name === expected[k]) && node.attributes === 0
      );
    }) && nodes.at(-1)?.output === ONNX_OUTPUT;

  if (ops === 'Sub,Mul,MatMul,Add' && chain(['mean', 'inv_std', 'weights', 'bias'])) {
    const mean = constants.get('mean');
    const invStd = constants.get('inv_std');
    const weights = constants.get('weights');
    const bias = constants.get('bias');
    const d = mean?.length ?? 0;
    if (!mean || !invStd || !weights || !bias || d === 0 || invStd.length !== d || weights.length !== d || bias.length !== 1)
      return undefined;
    const scale = new Float32Array(d);
    for (let j = 0; j < d; j++) scale[j] = invStd[j]! * weights[j]!;
    return { family: 'affine', d, mean, scale, bias: bias[0]! };
  }
  if (ops === 'Sub,Abs,MatMul' && chain(['mean', undefined, 'neg_weight'])) {
    const mean = constants.get('mean');
    const weight = constants.get('neg_weight');
    const d = mean?.length ?? 0;
    if (!mean || !weight || d === 0 || weight.length !== d) return undefined;
    return { family: 'l1', d, mean, scale: weight, bias: 0 };
  }
  return undefined;
}

/**
 * The family graph: `features`, `mean`, `scale` float32 [N, D] and `bias` float32 [N] →
 * `score` float32 [N]. D is symbolic, so one graph serves every feature width.
 */
export function familyGraph(family: FamilyName): Uint8Array {
  const nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  const node = (opType: string, input: string[], output: string) =>
    nodes.push(onnx.NodeProto.create({ opType, input, output: [output], name: output }));
  node('Sub', [FAMILY_INPUTS.features, FAMILY_INPUTS.mean], 'centred');
  if (family === 'l1') node('Abs', ['centred'], 'distance');
  node('Mul', [family === 'l1' ? 'distance' : 'centred', FAMILY_INPUTS.scale], 'terms');
  node('ReduceSum', ['terms', 'axes'], 'sum');
  node('Add', ['sum', FAMILY_INPUTS.bias], ONNX_OUTPUT);
  const matrix = { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'N' }, { dimParam: 'D' }] } } };
  const vector = { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'N' }] } } };
  const graph = onnx.GraphProto.create({
    name: `vigil-family-${family}`,
    node: nodes,
    initializer: [onnx.TensorProto.create({ name: 'axes', dims: [1], dataType: INT64, int64Data: [1] })],
    input: [
      onnx.ValueInfoProto.create({ name: FAMILY_INPUTS.features, type: matrix }),
      onnx.ValueInfoProto.create({ name: FAMILY_INPUTS.mean, type: matrix }),
      onnx.ValueInfoProto.create({ name: FAMILY_INPUTS.scale, type: matrix }),
      onnx.ValueInfoProto.create({ name: FAMILY_INPUTS.bias, type: vector }),
    ],
    output: [onnx.ValueInfoProto.create({ name: ONNX_OUTPUT, type: vector })],
  });
  // ReduceSum keeps no dims by attribute (keepdims=0).
  nodes[nodes.length - 2]!.attribute.push(
    onnx.AttributeProto.create({ name: 'keepdims', i: 0, type: onnx.AttributeProto.AttributeType.INT }),
  );
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'vigil',
    producerVersion: '1',
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}
