/** flash-mla-ts: paged-KV-cache attention for LLM decoding. The whole public API. */
export * from './errors.js';
export {
  DTYPES,
  decode,
  decodeArray,
  dtypeBytes,
  encode,
  encodeArray,
  isDType,
  MAX_HOST_ELEMENTS,
  roundTo,
  type DType,
  type EncodeOptions,
  type HostArray,
  type NarrowFloatDType,
} from './dtype.js';
export {
  Tensor,
  contiguousStrides,
  isContiguous,
  type Location,
  type TensorLike,
} from './tensor.js';

export type {
  DecodeOptions,
  DecodeResult,
  ExecutionOptions,
  GqaFp8Options,
  MlaFp8Options,
  MlaMetadata,
  WriteKvFp8Options,
} from './backend/backend.js';
export { getMlaMetadata, type MlaMetadataOptions } from './attention/get-mla-metadata.js';
export { flashMlaWithKvcache } from './attention/flash-mla-with-kvcache.js';
export { gqaDecodeWithKvcache } from './attention/gqa-decode-with-kvcache.js';
export { writeKv } from './attention/write-kv.js';
export {
  DS_MLA_TOKEN_BYTES,
  FP8_CACHE_FORMATS,
  dequantizeE4m3,
  dequantizeFp8DsMla,
  quantizeE4m3,
  quantizeFp8DsMla,
  type Fp8CacheFormat,
} from './fp8/index.js';
export {
  BLOCK_M,
  BLOCK_N,
  DEFAULT_NUM_SMS,
  FIXED_OVERHEAD_BLOCKS,
  MAX_NUM_SMS,
  numSmPartsFor,
} from './schedule/index.js';

export * from './kvcache/index.js';
export {
  DEEPSEEK_V3,
  KV_DTYPES,
  kvTokenBytes,
  LLAMA_3_8B,
  MODEL_LAYOUTS,
  TraceFormatError,
  formatScenario,
  parseTrace,
  readTrace,
  renderStudyPlot,
  simulateTrace,
  type KvDtype,
  type KvFormat,
  type KvShape,
  type ModelLayout,
  type OnFull,
  type PolicyResult,
  type ScenarioResult,
  type SimulationOptions,
  type Trace,
} from './simulate/index.js';

import './backend/cuda/register.js';
export { CudaTensor } from './backend/cuda/cuda-tensor.js';
export {
  CudaEvent,
  CudaStream,
  cudaAvailable,
  cudaDevice,
  cudaDeviceInfo,
  loadedNativeLibrary,
  setCudaDevice,
} from './backend/cuda/runtime.js';
export { CudaGraph } from './backend/cuda/cuda-graph.js';
export { probeCuda, type CudaProbe } from './backend/cuda/probe.js';
export type {
  FoundLibrary,
  LibraryLookup,
  LibraryPlace,
  SkippedPlace,
} from './backend/cuda/library-path.js';
