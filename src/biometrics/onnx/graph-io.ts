/** Names and opset of every exported scoring graph: `features` float32[N, D] → `score` float32[N]. */
export const ONNX_INPUT = 'features';
export const ONNX_OUTPUT = 'score';
export const ONNX_OPSET = 15;
