/**
 * Query rows named as (batch, token, head) triples: how the float32 device reference is asked for a
 * sample of rows, and how a decode's out [b, s_q, h_q, d_v] and lse [b, h_q, s_q] are read in the
 * same order to compare with it.
 */

/** (i, j, h) for every sequence i, token j and head h in `heads` (default: all h_q), flattened. */
export function queryRows(
  b: number,
  sQ: number,
  hQ: number,
  heads: readonly number[] = [...Array(hQ).keys()],
): Int32Array {
  const rows = new Int32Array(b * sQ * heads.length * 3);
  let k = 0;
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < sQ; j++) {
      for (const h of heads) {
        rows[k++] = i;
        rows[k++] = j;
        rows[k++] = h;
      }
    }
  }
  return rows;
}

/** The outputs of `rows`, in their order: out [n, d_v] and lse [n]. */
export function gatherQueryRows(
  out: Float32Array,
  lse: Float32Array,
  rows: Int32Array,
  dims: { readonly sQ: number; readonly hQ: number; readonly dV: number },
): { out: Float32Array; lse: Float32Array } {
  const { sQ, hQ, dV } = dims;
  const n = rows.length / 3;
  const gathered = { out: new Float32Array(n * dV), lse: new Float32Array(n) };
  for (let r = 0; r < n; r++) {
    const i = rows[3 * r];
    const j = rows[3 * r + 1];
    const h = rows[3 * r + 2];
    const o = ((i * sQ + j) * hQ + h) * dV;
    gathered.out.set(out.subarray(o, o + dV), r * dV);
    gathered.lse[r] = lse[(i * hQ + h) * sQ + j];
  }
  return gathered;
}
