import type { DetectorParams } from '../detectors/detector-types.ts';
import { GraphBuilder } from './graph-builder.ts';
import { ONNX_INPUT, ONNX_OUTPUT } from './graph-io.ts';

export { ONNX_INPUT, ONNX_OPSET, ONNX_OUTPUT } from './graph-io.ts';

/**
 * The detector as an ONNX graph `features float32[N, D] → score float32[N]`, standardisation
 * included, computing exactly what scoreReference() computes. Only the parameters the graph
 * uses are stored in it.
 */
export function exportDetector(params: DetectorParams, d: number, metadata: Record<string, string> = {}): Uint8Array {
  const g = new GraphBuilder(ONNX_INPUT, d);
  let input = ONNX_INPUT;
  if (params.name === 'scaled-manhattan' && params.logInputs) {
    // sign(x)·ln(1 + |x|)
    const magnitude = g.op('Log', [g.op('Add', [g.op('Abs', [ONNX_INPUT]), g.constant('one', [1], [])])]);
    input = g.op('Mul', [g.op('Sign', [ONNX_INPUT]), magnitude]);
  }
  const centred = g.op('Sub', [input, g.constant('mean', params.mean, [d])], [], 'centred');
  let score: string;
  switch (params.name) {
    case 'scaled-manhattan': {
      const distance = g.op('Abs', [centred]);
      const weight = g.constant(
        'neg_weight',
        params.weight.map((v) => -v),
        [d],
      );
      score = g.op('MatMul', [distance, weight], [], ONNX_OUTPUT);
      break;
    }
    case 'outlier-count': {
      const z = g.op('Mul', [g.op('Abs', [centred]), g.constant('inv_std', params.invStd, [d])]);
      const outlier = g.op('Greater', [z, g.constant('z', [params.z], [])]);
      const asFloat = g.op('Cast', [outlier], [{ name: 'to', int: 1 }]);
      score = g.op('MatMul', [asFloat, g.constant('neg_unit', new Float32Array(d).fill(-1 / d), [d])], [], ONNX_OUTPUT);
      break;
    }
    case 'shrunk-mahalanobis': {
      const y = g.op('MatMul', [centred, g.constant('whiten', params.transform, [d, d])]);
      const squared = g.op('Mul', [y, y]);
      score = g.op('MatMul', [squared, g.constant('neg_unit', new Float32Array(d).fill(-1 / d), [d])], [], ONNX_OUTPUT);
      break;
    }
    case 'logistic-cohort': {
      const z = g.op('Mul', [centred, g.constant('inv_std', params.invStd, [d])]);
      const logit = g.op('MatMul', [z, g.constant('weights', params.weights, [d])]);
      score = g.op('Add', [logit, g.constant('bias', [params.bias], [])], [], ONNX_OUTPUT);
      break;
    }
    case 'mlp-cohort': {
      const h = params.hidden;
      const z = g.op('Mul', [centred, g.constant('inv_std', params.invStd, [d])]);
      const pre = g.op('Add', [g.op('MatMul', [z, g.constant('w1', params.w1, [d, h])]), g.constant('b1', params.b1, [h])]);
      const hidden = g.op('Tanh', [pre]);
      const logit = g.op('MatMul', [hidden, g.constant('w2', params.w2, [h])]);
      score = g.op('Add', [logit, g.constant('b2', [params.b2], [])], [], ONNX_OUTPUT);
      break;
    }
  }
  return g.build(score, `vigil-${params.name}`, {
    detector: params.name,
    width: String(d),
    scoreConvention: 'higher-is-owner',
    ...metadata,
  });
}
