/** The memory study: replay a request trace through the KV-cache manager under a memory budget. */
export * from './trace.js';
export * from './model-layouts.js';
export * from './memory-policy.js';
export * from './first-fit-allocator.js';
export * from './contiguous-policy.js';
export * from './paged-policy.js';
export * from './simulate-trace.js';
export * from './latency.js';
export * from './report-table.js';
export * from './svg-plot.js';
export * from './simulate-scenarios.js';
export * from './step-cost.js';
export * from './step-rates.js';
export * from './step-setup.js';
export * from './kv-token-bytes.js';
