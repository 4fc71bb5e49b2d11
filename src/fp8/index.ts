/** The FP8 KV-cache formats of docs/fp8-kv-cache.md: names, byte layouts, (de)quantization. */
export * from './cache-formats.js';
export * from './ds-mla-token.js';
export * from './e4m3-per-tensor.js';
export * from './fp8-tensors.js';
