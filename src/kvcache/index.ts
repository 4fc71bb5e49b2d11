/** The paged KV-cache manager: page pool, block tables, slot mapping, prefix sharing, statistics. */
export * from './paged-kv-cache.js';
export * from './page-copies.js';
