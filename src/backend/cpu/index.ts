/** The CPU backend: every operation on host tensors, in TypeScript. The executable specification. */
import type { Tensor } from '../../tensor.js';
import type { Backend } from '../backend.js';
import { FP8_CACHE_FORMATS } from '../../fp8/cache-formats.js';
import { getMlaMetadata } from './mla-metadata.js';
import { mlaDecode } from './mla-decode.js';
import { gqaDecode } from './gqa-decode.js';
import { writeKv } from './write-kv.js';

export const cpuBackend: Backend<Tensor> = {
  name: 'cpu',
  fp8: {
    mlaDecode: FP8_CACHE_FORMATS,
    gqaDecode: FP8_CACHE_FORMATS,
    writeKv: FP8_CACHE_FORMATS,
    e4m3Queries: true,
    dsMlaFloat16Queries: true,
  },
  getMlaMetadata,
  mlaDecode,
  gqaDecode,
  writeKv,
};
