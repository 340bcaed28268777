/** The engine: trace TypeScript model code, differentiate it, run it on ONNX Runtime. */
export * from './ndarray.ts';
export * from './graph.ts';
export * from './trace.ts';
export * from './ops/index.ts';
export * from './autodiff.ts';
export * from './onnx.ts';
export * from './runtime.ts';
export * from './rng.ts';
export * from './f32.ts';
