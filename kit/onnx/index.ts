/**
 * The ONNX Runtime path: the model definition recorded as ONNX graphs with hook outputs and steering inputs, run
 * synchronously, a KV-cache decode step, and transformers.js model folders. Routing lives in kit/runtime.
 */
export { buildGraph, recordForward, type BuiltGraph, type GraphOptions, type RecordedForward } from "./graph";
export { GraphBuilder, OPSET } from "./proto";
export { clearOnnxSessions, int64Tensor, onnxRunCount, onnxSession, OrtTensor, resolveHooks, SyncSession, type OnnxModelSession, type OnnxSessionOptions, type SyncSessionOptions } from "./session";
export { forwardOnnx, runOnnx, runWithCacheOnnx, steeringFeeds, type OnnxOutputs, type OnnxRunOptions } from "./run";
export { generateOnnx, onnxStepper, steeringOnly, type GenerateOnnxOptions } from "./generate";
export { exportTransformersJs, transformersJsConfig, type ExportTransformersJsResult } from "./export";
export { hookLastDim } from "../model/steering";
export { appendGradients, inferShapes, type GradientOptions, type ShapeInfo } from "./autodiff";
export { batchFeeds, lossGradGraph, OnnxLossGrad, OnnxTrainer, type LossGraphOptions, type OnnxGradOptions, type OnnxStepResult, type OnnxTrainerOptions } from "./train-step";
