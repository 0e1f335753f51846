/**
 * The ONNX Runtime fast path: compile kit models to ONNX graphs with hook outputs and steering inputs, run them
 * synchronously, generate with a KV cache, and export transformers.js model folders.
 */
export { buildGraph, hookLastDim, type BuiltGraph, type GraphOptions } from "./graph";
export { GraphBuilder, OPSET } from "./proto";
export { clearOnnxSessions, int64Tensor, onnxRunCount, onnxSession, OrtTensor, resolveHooks, SyncSession, type OnnxModelSession, type OnnxSessionOptions, type SyncSessionOptions } from "./session";
export { forwardOnnx, runOnnx, runWithCacheOnnx, type OnnxOutputs, type OnnxRunOptions } from "./run";
export { generateOnnx, onnxCanGenerate, type GenerateOnnxOptions } from "./generate";
export { mergeSteers, registerSteeringFn, steeringOf, type OnnxSteer } from "./steer";
export { exportTransformersJs, transformersJsConfig, type ExportTransformersJsResult } from "./export";
export { getInferencePath, onnxObstacle, routeToOnnx, setInferencePath, withInferencePath, type InferencePath } from "./route";
export { appendGradients, inferShapes, type GradientOptions, type ShapeInfo } from "./autodiff";
export { batchFeeds, lossGradGraph, OnnxLossGrad, OnnxTrainer, type LossGraphOptions, type OnnxGradOptions, type OnnxStepResult, type OnnxTrainerOptions } from "./train-step";
