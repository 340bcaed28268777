/** io: files in and out — safetensors, atomic writes, PNG/JPEG, GIF, scatter plots, CSV (Node.js: uses node:fs). */
export * from './atomic.ts';
export * from './safetensors.ts';
export * from './image.ts';
export * from './png.ts';
export * from './gif.ts';
export * from './scatter.ts';
export * from './csv.ts';
export { parseStrictJson, StrictJsonError, JsonNumber, type JsonValue } from './strict_json.ts';
export * from './csv_stream.ts';
