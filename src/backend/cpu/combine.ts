/**
 * The split-KV combine: merges the float32 partial results (o_k, lse_k) of every sequence that the
 * schedule cut into several splits:
 *
 *     lse = ln(sum_k exp(lse_k)),   out = sum_k exp(lse_k - lse) * o_k
 *
 * A split in which a row attended no key holds lse_k = -Infinity and o_k = 0, so it adds nothing.
 * A row with no key in any split gets the package's "no key attended": out = 0, lse = +Infinity.
 * Sequences with one split were written directly and are left alone.
 */

/** Partial results, one [s_q, h_q, d_v] and one [h_q, s_q] block per split. */
export interface PartialResults {
  readonly o: Float32Array;
  readonly lse: Float32Array;
}

export function combineSplits(
  partials: PartialResults,
  numSplits: Int32Array,
  sQ: number,
  hQ: number,
  dV: number,
  out: Float32Array,
  lse: Float32Array,
): void {
  const b = numSplits.length - 1;
  const rowsPerSplit = sQ * hQ;
  for (let i = 0; i < b; i++) {
    const first = numSplits[i];
    const count = numSplits[i + 1] - first;
    if (count <= 1) continue;
    for (let j = 0; j < sQ; j++) {
      for (let h = 0; h < hQ; h++) {
        // lse_k of split first + k sits at lse0 + k * rowsPerSplit.
        const lse0 = first * rowsPerSplit + h * sQ + j;
        let max = -Infinity;
        for (let k = 0; k < count; k++) max = Math.max(max, partials.lse[lse0 + k * rowsPerSplit]);
        const od = ((i * sQ + j) * hQ + h) * dV;
        if (max === -Infinity) {
          out.fill(0, od, od + dV);
          lse[(i * hQ + h) * sQ + j] = Infinity;
          continue;
        }
        let sum = 0;
        for (let k = 0; k < count; k++)
          sum += Math.exp(partials.lse[lse0 + k * rowsPerSplit] - max);
        const total = max + Math.log(sum);
        lse[(i * hQ + h) * sQ + j] = total;
        out.fill(0, od, od + dV);
        for (let k = 0; k < count; k++) {
          const weight = Math.exp(partials.lse[lse0 + k * rowsPerSplit] - total);
          if (weight === 0) continue;
          const po = ((first + k) * sQ + j) * hQ * dV + h * dV;
          for (let c = 0; c < dV; c++) out[od + c] += weight * partials.o[po + c];
        }
      }
    }
  }
}
