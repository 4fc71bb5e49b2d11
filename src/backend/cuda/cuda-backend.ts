/** The CUDA backend: validated arguments in, one native call per operation, outputs on the device. */
import { ArgumentError } from '../../errors.js';
import type {
  Backend,
  DecodeResult,
  ExecutionOptions,
  MlaMetadata,
  ResolvedDecodeOptions,
} from '../backend.js';
import { FP8_CACHE_FORMATS } from '../../fp8/cache-formats.js';
import { METADATA_ROW_WIDTH } from '../../schedule/index.js';
import { CudaTensor } from './cuda-tensor.js';
import { NATIVE_KV_FORMAT, type DecodeTail } from './native-api.js';
import { checkStream, CudaStream, cudaDeviceInfo, nativeLibrary, streamHandle } from './runtime.js';

type Exec = ExecutionOptions<CudaTensor>;

/** Growing per-stream workspaces. Outgrown ones are kept alive: a captured graph may still use them. */
const workspaces = new WeakMap<object, { current: CudaTensor; retired: CudaTensor[] }>();

function workspaceFor(stream: unknown, bytes: number): CudaTensor {
  const key = (stream ?? CudaStream.legacyDefault) as object;
  const entry = workspaces.get(key);
  if (entry && entry.current.byteLength >= bytes) return entry.current;
  const size = Math.max(bytes, 2 * (entry?.current.byteLength ?? 0), 4);
  const current = CudaTensor.empty([Math.ceil(size / 4)], 'int32');
  if (entry) {
    entry.retired.push(entry.current);
    entry.current = current;
  } else {
    workspaces.set(key, { current, retired: [] });
  }
  return current;
}

/** The caller's preallocated output (checked by src/attention/), or a new one. */
function outputOrNew(
  given: CudaTensor | undefined,
  shape: readonly number[],
  dtype: CudaTensor['dtype'],
): CudaTensor {
  return given ?? CudaTensor.empty(shape, dtype);
}

function decode(
  kind: 'mlaDecode' | 'gqaDecode',
  q: CudaTensor,
  caches: CudaTensor[],
  blockTable: CudaTensor,
  cacheSeqlens: CudaTensor,
  headDimV: number,
  metadata: MlaMetadata<CudaTensor>,
  options: ResolvedDecodeOptions<CudaTensor>,
  exec: Exec = {},
): DecodeResult<CudaTensor> {
  const lib = nativeLibrary();
  const [b, sQ, hQ] = q.shape;
  const parts = metadata.tileSchedulerMetadata.shape[0];
  // e4m3 queries give bfloat16 outputs (docs/fp8-kv-cache.md).
  const outDtype = q.dtype === 'float8_e4m3fn' ? 'bfloat16' : q.dtype;
  const out = outputOrNew(exec.out, [b, sQ, hQ, headDimV], outDtype);
  const lse = outputOrNew(exec.lse, [b, hQ, sQ], 'float32');
  const bytes = Number(lib.fn.workspaceBytes(b, sQ, hQ, headDimV, parts));
  const workspace = exec.workspace ?? workspaceFor(exec.stream, bytes);
  if (workspace.byteLength < bytes) {
    throw new ArgumentError('workspace', `at least ${bytes} bytes`, `${workspace.byteLength}`);
  }
  // The arguments after the caches, alike for both kernels.
  const rest: DecodeTail = [
    metadata.tileSchedulerMetadata.descriptor(),
    metadata.numSplits.descriptor(),
    options.softmaxScale,
    options.causal ? 1 : 0,
    out.descriptor(),
    lse.descriptor(),
    workspace.ptr,
    workspace.byteLength,
    streamHandle(exec.stream),
  ];
  const [table, lens] = [blockTable.descriptor(), cacheSeqlens.descriptor()];
  const fp8 = options.fp8;
  if (kind === 'mlaDecode' && fp8) {
    // src/attention/ let through bf16 / fp16 queries (fp8_ds_mla: bf16) or e4m3 ones with
    // descaleQ (fp8_e4m3), and the format's scale.
    const [meta, splits, scale, causal, ...outputs] = rest;
    lib.call(
      'mlaDecodeFp8',
      q.descriptor(),
      caches[0].descriptor(),
      table,
      lens,
      headDimV,
      meta,
      splits,
      scale,
      causal,
      NATIVE_KV_FORMAT[fp8.cacheFormat],
      fp8.descaleQ ? fp8.descaleQ.descriptor() : null,
      fp8.descaleK ? fp8.descaleK.descriptor() : null,
      ...outputs,
    );
  } else if (kind === 'mlaDecode') {
    lib.call('mlaDecode', q.descriptor(), caches[0].descriptor(), table, lens, headDimV, ...rest);
  } else if (fp8?.descaleK && fp8.descaleV) {
    // src/attention/ let only fp8_e4m3 caches through (cudaBackend.fp8); e4m3 queries with descaleQ.
    const [k, v] = caches.map((t) => t.descriptor());
    const [scaleK, scaleV] = [fp8.descaleK.descriptor(), fp8.descaleV.descriptor()];
    const [meta, splits, scale, causal, ...outputs] = rest;
    lib.call(
      'gqaDecodeE4m3',
      q.descriptor(),
      k,
      v,
      table,
      lens,
      meta,
      splits,
      scale,
      causal,
      fp8.descaleQ ? fp8.descaleQ.descriptor() : null,
      scaleK,
      scaleV,
      ...outputs,
    );
  } else {
    const [k, v] = caches.map((t) => t.descriptor());
    lib.call('gqaDecode', q.descriptor(), k, v, table, lens, ...rest);
  }
  return { out, lse };
}

export const cudaBackend: Backend<CudaTensor> = {
  name: 'cuda',
  // Decodes over FP8 caches with bf16 / fp16 queries (fp8_ds_mla: bf16) and, over fp8_e4m3, e4m3
  // queries; GQA over fp8_e4m3.
  fp8: {
    mlaDecode: FP8_CACHE_FORMATS,
    gqaDecode: ['fp8_e4m3'],
    writeKv: FP8_CACHE_FORMATS,
    e4m3Queries: true,
    dsMlaFloat16Queries: false,
  },

  defaultNumSms: () => cudaDeviceInfo().smCount,

  checkStream,

  getMlaMetadata(cacheSeqlens, numQTokensPerHeadK, numHeadsK, numSms, exec: Exec = {}) {
    const lib = nativeLibrary();
    const parts = lib.fn.numSmParts(numSms, numQTokensPerHeadK, numHeadsK);
    const given = exec.metadata;
    const tileSchedulerMetadata = outputOrNew(
      given?.tileSchedulerMetadata,
      [parts, METADATA_ROW_WIDTH],
      'int32',
    );
    const numSplits = outputOrNew(given?.numSplits, [cacheSeqlens.shape[0] + 1], 'int32');
    lib.call(
      'getMlaMetadata',
      cacheSeqlens.descriptor(),
      numQTokensPerHeadK,
      numHeadsK,
      tileSchedulerMetadata.descriptor(),
      numSplits.descriptor(),
      streamHandle(exec.stream),
    );
    return { tileSchedulerMetadata, numSplits };
  },

  mlaDecode(q, kvCache, blockTable, cacheSeqlens, headDimV, metadata, options, exec) {
    return decode(
      'mlaDecode',
      q,
      [kvCache],
      blockTable,
      cacheSeqlens,
      headDimV,
      metadata,
      options,
      exec,
    );
  },

  gqaDecode(q, kCache, vCache, blockTable, cacheSeqlens, metadata, options, exec) {
    const d = vCache.shape[3];
    return decode(
      'gqaDecode',
      q,
      [kCache, vCache],
      blockTable,
      cacheSeqlens,
      d,
      metadata,
      options,
      exec,
    );
  },

  writeKv(cache, rows, slotMapping, exec: Exec = {}, fp8) {
    if (fp8) {
      nativeLibrary().call(
        'writeKvFp8',
        cache.descriptor(),
        rows.descriptor(),
        slotMapping.descriptor(),
        NATIVE_KV_FORMAT[fp8.cacheFormat],
        fp8.descale ? fp8.descale.descriptor() : null,
        streamHandle(exec.stream),
      );
      return;
    }
    nativeLibrary().call(
      'writeKv',
      cache.descriptor(),
      rows.descriptor(),
      slotMapping.descriptor(),
      streamHandle(exec.stream),
    );
  },
};
