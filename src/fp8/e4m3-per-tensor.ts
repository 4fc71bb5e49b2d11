/**
 * fp8_e4m3: float8_e4m3fn values with one float32 scale per tensor (vLLM's descale_q / descale_k),
 * as docs/fp8-kv-cache.md defines them. The stored value x becomes code = e4m3_rne(x / descale)
 * and reads back as e4m3(code) * descale.
 */
import { decodeTable, encode } from '../dtype.js';

const SATURATE = { saturate: true } as const;

/**
 * The e4m3 code of x under `descale`: x / descale as a float32 division (round to nearest even,
 * as the kernels divide), then rounded to e4m3 to nearest even, saturating to +-448 (an infinity
 * too: one scale serves the whole tensor, so a rare outlier must not become NaN). NaN stays NaN.
 */
export function e4m3Code(x: number, descale: number): number {
  // Float32 operands divided in float64 and rounded once to float32 give the float32 quotient.
  return encode('float8_e4m3fn', Math.fround(x / descale), SATURATE);
}

/** Every e4m3 code's value times `descale`, rounded to float32: code -> dequantized value. */
export function scaledE4m3Table(descale: number): Float32Array {
  const table = decodeTable('float8_e4m3fn');
  const scaled = new Float32Array(table.length);
  for (let b = 0; b < table.length; b++) scaled[b] = table[b] * descale;
  return scaled;
}
