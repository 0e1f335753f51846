/** Runtime choice above the model: routing between TensorFlow.js and ONNX Runtime, and the routed `generate`. */
export { generate, type GenerateOptions, type GenerateResult, type PromptInput } from "./generate";
export { getInferencePath, onnxObstacle, routeToOnnx, setInferencePath, withInferencePath, type InferencePath } from "./route";
