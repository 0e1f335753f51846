// danfojs-node requires @tensorflow/tfjs-node; this shim re-exports the pure @tensorflow/tfjs so that
// danfo and persona-kit share one tfjs instance (see docs/research.md, "Platform").
module.exports = require("@tensorflow/tfjs");
