import onnxProto from 'onnx-proto';
import { ONNX_OPSET } from './graph-io.ts';

const { onnx } = onnxProto;

/** IR version 8 is the newest the bundled onnx-proto (ONNX 1.10) knows; it carries opsets ≤ 15. */
const IR_VERSION = 8;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

type Attribute = { name: string; int: number } | { name: string; float: number };

/** Builds one float32 graph `input [N, D] → output [N]` node by node. */
export class GraphBuilder {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private counter = 0;

  constructor(
    readonly input: string,
    readonly width: number,
  ) {}

  /** A float32 constant (initializer); `dims` [] for a scalar. */
  constant(name: string, values: ArrayLike<number>, dims: number[]): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (values.length !== count) throw new RangeError(`constant ${name}: ${values.length} values for dims [${dims.join(', ')}]`);
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: FLOAT, rawData: toLittleEndianBytes(values) }));
    return name;
  }

  /** Appends a node and returns the name of its (single) output. */
  op(
    opType: string,
    inputs: string[],
    attributes: Attribute[] = [],
    output = `${opType.toLowerCase()}_${this.counter++}`,
  ): string {
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        input: inputs,
        output: [output],
        name: output,
        attribute: attributes.map((a) =>
          'int' in a
            ? onnx.AttributeProto.create({ name: a.name, i: a.int, type: onnx.AttributeProto.AttributeType.INT })
            : onnx.AttributeProto.create({ name: a.name, f: a.float, type: onnx.AttributeProto.AttributeType.FLOAT }),
        ),
      }),
    );
    return output;
  }

  /** Serialises the model; `output` must be the name of the final node's output, shape [N]. */
  build(output: string, name: string, metadata: Record<string, string>): Uint8Array {
    const tensorType = (dims: ({ dimParam: string } | { dimValue: number })[]) => ({
      tensorType: { elemType: FLOAT, shape: { dim: dims } },
    });
    const graph = onnx.GraphProto.create({
      name,
      node: this.nodes,
      initializer: this.initializers,
      input: [onnx.ValueInfoProto.create({ name: this.input, type: tensorType([{ dimParam: 'N' }, { dimValue: this.width }]) })],
      output: [onnx.ValueInfoProto.create({ name: output, type: tensorType([{ dimParam: 'N' }]) })],
    });
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      producerName: 'vigil',
      producerVersion: '1',
      graph,
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

/** raw_data is little-endian float32 whatever the host's endianness. */
function toLittleEndianBytes(values: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true);
  return bytes;
}
