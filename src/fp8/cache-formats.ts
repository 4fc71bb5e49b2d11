/**
 * The two FP8 KV-cache formats of docs/fp8-kv-cache.md, by name, and the dtypes a decode over them
 * reads and writes. Their byte layouts live beside this file (ds-mla-token.ts, e4m3-per-tensor.ts).
 */
import type { DType } from '../dtype.js';

/**
 * `fp8_ds_mla`: FlashMLA's 656-byte MLA token (e4m3 latent with 4 float32 scales, bf16 rope);
 * `fp8_e4m3`: float8_e4m3fn values with one float32 scale per cache tensor (vLLM's descale_k).
 */
export type Fp8CacheFormat = 'fp8_ds_mla' | 'fp8_e4m3';

export const FP8_CACHE_FORMATS: readonly Fp8CacheFormat[] = ['fp8_ds_mla', 'fp8_e4m3'];

/** The dtype both formats store their bytes in (the C ABI's FMLA_DTYPE_FLOAT8_E4M3FN). */
export const FP8_CACHE_DTYPE: DType = 'float8_e4m3fn';

/** The dtypes writeKv and the quantize functions take rows in. */
export type QuantizableDType = 'bfloat16' | 'float16' | 'float32';

/** A decode's output dtype: q's, except that float8_e4m3fn queries give bfloat16. */
export function outputDTypeOf(qDType: DType): DType {
  return qDType === 'float8_e4m3fn' ? 'bfloat16' : qDType;
}
