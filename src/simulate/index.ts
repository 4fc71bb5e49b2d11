/** The memory study: replay a request trace through the KV-cache manager under a memory budget. */
export * from './trace.js';
export * from './modelLayouts.js';
export * from './memoryPolicy.js';
export * from './firstFitAllocator.js';
export * from './contiguousPolicy.js';
export * from './pagedPolicy.js';
export * from './simulateTrace.js';
export * from './reportTable.js';
export * from './svgPlot.js';
