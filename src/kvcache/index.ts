/** The paged KV-cache manager: page pool, block tables, slot mapping, prefix sharing, statistics. */
export * from './pagedKvCache.js';
export * from './pageCopies.js';
