// What quantization costs: decode over an FP8 cache against the float64 reference over the
// original bf16 cache, held to a bound derived from e4m3's precision alone, and reported.
//
// The bound. e4m3 keeps 3 mantissa bits, so rounding to nearest moves a scaled value y by at most
// 2^-4 |y|, or 2^-10 below e4m3's normals (under 2^-6 its steps are 2^-9): an element x stored
// under scale s reads back as x~ with |x~ - x| <= e(x) = max(2^-4 |x|, 2^-10 s). fp8_e4m3 adds two
// float32 roundings (the division by descale and the product), fp8_ds_mla's rope part is bf16 and
// exact. For one query row, with p_t the softmax weights over the original cache:
//   - every score moves by at most D = softmaxScale * max_t sum_c |q_c| e(k_tc), so every weight
//     p~_t / p_t lies in [e^-2D, e^2D], and lse moves by at most D;
//   - out~_c - out_c = sum_t p_t (v~_tc - v_tc) + sum_t (p~_t - p_t) v~_tc, hence
//       |out~_c - out_c| <= sum_t p_t e(v_tc) + (e^2D - 1) sum_t p_t (|v_tc| + e(v_tc)).
// The float64 reference over the dequantized cache must lie within it of the reference over the
// original; the decode itself within it plus its bf16 output rounding (2 ulps, as every decode test
// allows against the reference).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { cpuBackend } from '../../../src/backend/cpu/index.js';
import { getMlaMetadata } from '../../../src/backend/cpu/mla-metadata.js';
import type { DecodeResult, Fp8Decode } from '../../../src/backend/backend.js';
import { dsMlaScale } from '../../../src/fp8/ds-mla-token.js';
import { naiveGqaDecode, naiveMlaDecode } from '../../../src/reference/naive-attention.js';
import { makeGqaProblem, makeMlaProblem } from '../../../src/testing/problems.js';
import { compareOutputs, ulpAt } from '../../../src/testing/compare.js';
import { dsMlaOf, e4m3Of, withOutliers } from '../../../src/testing/fp8-caches.js';
import { Random } from '../../../src/testing/random.js';
import { Tensor } from '../../../src/tensor.js';

/** A cache's original values and each element's e(x), dense [numPages, pageSize, h_kv, d]. */
interface Cache {
  readonly x: Float32Array;
  readonly err: Float64Array;
  readonly shape: readonly number[];
}

/** fp8_ds_mla: per 128-value group, e = max(2^-4 |x|, 2^-10 scale); the rope part is exact. */
function dsMlaErrors(cache: Tensor): Cache {
  const x = cache.toFloat32();
  const err = new Float64Array(x.length);
  for (let row = 0; row < x.length; row += 576) {
    for (let g = row; g < row + 512; g += 128) {
      let amax = 0;
      for (let i = g; i < g + 128; i++) amax = Math.max(amax, Math.abs(x[i]));
      const scale = dsMlaScale(amax); // NaN rows (unused) give NaN bounds, never read
      for (let i = g; i < g + 128; i++)
        err[i] = Math.max(2 ** -4 * Math.abs(x[i]), 2 ** -10 * scale);
    }
  }
  return { x, err, shape: cache.shape };
}

/** fp8_e4m3 under `descale`, nothing saturating: the e4m3 rounding and two float32 ones. */
function e4m3Errors(cache: Tensor, descale: number): Cache {
  const x = cache.toFloat32();
  const err = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]);
    err[i] = Math.max(2 ** -4 * a, 2 ** -10 * descale) * (1 + 2 ** -22) + 2 ** -22 * a;
  }
  return { x, err, shape: cache.shape };
}

interface Layout {
  readonly q: Tensor;
  readonly blockTable: Tensor;
  readonly cacheSeqlens: Tensor;
}

/** The bound above for every element of out [b, s_q, h_q, dV], and for lse [b, h_q, s_q]. */
function quantizationBounds(p: Layout, keys: Cache, values: Cache, dV: number) {
  const [b, sQ, hQ, d] = p.q.shape;
  const [, pageSize, hKv, dK] = keys.shape;
  const dStride = values.shape[3];
  const q = p.q.toFloat32();
  const scale = 1 / Math.sqrt(d);
  const out = new Float64Array(b * sQ * hQ * dV);
  const lse = new Float64Array(b * hQ * sQ);
  for (let i = 0; i < b; i++) {
    const length = p.cacheSeqlens.get(i);
    const rowOf = (t: number, g: number) =>
      (p.blockTable.get(i, Math.floor(t / pageSize)) * pageSize + (t % pageSize)) * hKv + g;
    for (let h = 0; h < hQ; h++) {
      const g = Math.floor(h / (hQ / hKv));
      for (let j = 0; j < sQ; j++) {
        const n = Math.min(length, length - sQ + j + 1); // causal
        if (n <= 0) continue;
        const qo = ((i * sQ + j) * hQ + h) * d;
        const scores = new Float64Array(n);
        let delta = 0;
        for (let t = 0; t < n; t++) {
          const ko = rowOf(t, g) * dK;
          let s = 0;
          let moved = 0;
          for (let c = 0; c < d; c++) {
            s += q[qo + c] * keys.x[ko + c];
            moved += Math.abs(q[qo + c]) * keys.err[ko + c];
          }
          scores[t] = scale * s;
          delta = Math.max(delta, scale * moved);
        }
        let max = -Infinity;
        for (const s of scores) max = Math.max(max, s);
        let sum = 0;
        for (const s of scores) sum += Math.exp(s - max);
        const growth = Math.exp(2 * delta) - 1;
        const oo = ((i * sQ + j) * hQ + h) * dV;
        for (let t = 0; t < n; t++) {
          const pt = Math.exp(scores[t] - max) / sum;
          const vo = rowOf(t, g) * dStride;
          for (let c = 0; c < dV; c++) {
            const e = values.err[vo + c];
            out[oo + c] += pt * (e + growth * (Math.abs(values.x[vo + c]) + e));
          }
        }
        lse[(i * hQ + h) * sQ + j] = delta;
      }
    }
  }
  return { out, lse };
}

interface Scenario {
  readonly name: string;
  readonly layout: Layout;
  readonly dV: number;
  /** The decode over the FP8 cache, over the original bf16 cache. */
  readonly fp8: DecodeResult<Tensor>;
  readonly bf16: DecodeResult<Tensor>;
  /** float64 references over the original cache and over the dequantized one. */
  readonly original: { out: Float64Array; lse: Float64Array };
  readonly dequantized: { out: Float64Array; lse: Float64Array };
  readonly keys: Cache;
  readonly values: Cache;
}

function checkAndReport(t: TestContext, s: Scenario): void {
  const bound = quantizationBounds(s.layout, s.keys, s.values, s.dV);
  const ref = s.original.out;
  const got = s.fp8.out.toFloat32();
  let maxRef = 0;
  for (const v of s.dequantized.out) maxRef = Math.max(maxRef, Math.abs(v));
  let worstRatio = 0;
  let maxError = 0;
  for (let c = 0; c < ref.length; c++) {
    // The float64 reference over the dequantized cache: within the bound (to float64 rounding).
    const moved = Math.abs(s.dequantized.out[c] - ref[c]);
    assert.ok(moved <= bound.out[c] * (1 + 1e-9) + 1e-15, `${s.name}: reference element ${c}`);
    worstRatio = Math.max(worstRatio, moved / bound.out[c]);
    // The decode: within the bound plus its output rounding.
    const rounding = 2 * ulpAt(Math.max(Math.abs(s.dequantized.out[c]), maxRef / 64), 7, -126);
    const err = Math.abs(got[c] - ref[c]);
    assert.ok(
      err <= bound.out[c] + rounding,
      `${s.name}: out element ${c}: ${err} > ${bound.out[c]}`,
    );
    maxError = Math.max(maxError, err);
  }
  const lse = s.fp8.lse.toFloat32();
  let lseError = 0;
  let lseBound = 0;
  for (let r = 0; r < lse.length; r++) {
    const err = lse[r] === s.original.lse[r] ? 0 : Math.abs(lse[r] - s.original.lse[r]);
    assert.ok(err <= bound.lse[r] + 1e-5 * Math.abs(s.original.lse[r]), `${s.name}: lse ${r}`);
    lseError = Math.max(lseError, err);
    lseBound = Math.max(lseBound, bound.lse[r]);
  }
  let meanBound = 0;
  for (const b of bound.out) meanBound += b / bound.out.length;
  const fp8Relative = compareOutputs(got, ref).relativeError;
  const bf16Relative = compareOutputs(s.bf16.out, ref).relativeError;
  t.diagnostic(
    `${s.name}: out max error ${maxError.toExponential(2)} (max |out| ${maxRef.toExponential(2)}; ` +
      `mean bound ${meanBound.toExponential(2)}), relative ${fp8Relative.toExponential(2)} ` +
      `(a bf16 cache: ${bf16Relative.toExponential(2)}); reference shift at most ` +
      `${(100 * worstRatio).toFixed(1)}% of its bound; lse max error ${lseError.toExponential(2)} ` +
      `(bound ${lseBound.toExponential(2)})`,
  );
}

const MLA = { seqlens: [301, 129, 64], sQ: 2, hQ: 16, pageSize: 64 } as const;

function mlaScenario(
  name: string,
  seed: number,
  format: 'fp8_ds_mla' | 'fp8_e4m3',
  outliers: boolean,
) {
  const p = makeMlaProblem({ ...MLA, seed });
  const cache = outliers ? withOutliers(p.kvCache, 128, 4, seed) : p.kvCache;
  const metadata = getMlaMetadata(p.cacheSeqlens, 32, 1, 132);
  const decode = (kv: Tensor, fp8?: Fp8Decode<Tensor>) =>
    cpuBackend.mlaDecode(p.q, kv, p.blockTable, p.cacheSeqlens, 512, metadata, {
      softmaxScale: 1 / Math.sqrt(576),
      causal: true,
      ...(fp8 && { fp8 }),
    });
  const reference = (kv: Tensor) =>
    naiveMlaDecode(p.q, kv, p.blockTable, p.cacheSeqlens, 512, { causal: true });
  const quantized = format === 'fp8_ds_mla' ? dsMlaOf(cache) : e4m3Of(cache);
  const descale = 'descale' in quantized ? (quantized.descale as Tensor) : undefined;
  const keys = descale ? e4m3Errors(cache, descale.data[0]) : dsMlaErrors(cache);
  return {
    name,
    layout: p,
    dV: 512,
    fp8: decode(quantized.fp8, { cacheFormat: format, descaleK: descale }),
    bf16: decode(cache),
    original: reference(cache),
    dequantized: reference(quantized.dequantized),
    keys,
    values: keys,
  };
}

const MLA_CASES = [
  [
    "fp8_ds_mla, the suites' data (clamp(randn / 10), d 576, h_q 16, page 64, s_q 2 causal)",
    'fp8_ds_mla',
    false,
  ],
  ['fp8_ds_mla, one value in each group 100x the rest', 'fp8_ds_mla', true],
  ["fp8_e4m3 MLA (descale amax / 448), the suites' data", 'fp8_e4m3', false],
  ['fp8_e4m3 MLA, one value in each 128 100x the rest (the scale follows them)', 'fp8_e4m3', true],
] as const;

MLA_CASES.forEach(([name, format, outliers], i) => {
  test(`accuracy against the original bf16 cache: ${name}`, (t) =>
    checkAndReport(t, mlaScenario(name, 200 + i, format, outliers)));
});

test('accuracy against the original bf16 cache: fp8_e4m3 GQA d 128, h_q 16 / h_kv 4', (t) => {
  const shape = { sQ: 2, hQ: 16, hKv: 4, d: 128, pageSize: 16 };
  const p = makeGqaProblem({ ...shape, seqlens: [257, 90], seed: 210 });
  const [k, v] = [e4m3Of(p.kCache), e4m3Of(p.vCache)];
  const metadata = getMlaMetadata(p.cacheSeqlens, 8, 4, 132);
  const options = { softmaxScale: 1 / Math.sqrt(128), causal: true };
  const fp8 = { cacheFormat: 'fp8_e4m3', descaleK: k.descale, descaleV: v.descale } as const;
  const { q, blockTable, cacheSeqlens } = p;
  const reference = (kc: Tensor, vc: Tensor) =>
    naiveGqaDecode(q, kc, vc, blockTable, cacheSeqlens, { causal: true });
  checkAndReport(t, {
    name: 'fp8_e4m3 GQA d 128',
    layout: p,
    dV: 128,
    fp8: cpuBackend.gqaDecode(q, k.fp8, v.fp8, blockTable, cacheSeqlens, metadata, {
      ...options,
      fp8,
    }),
    bf16: cpuBackend.gqaDecode(q, p.kCache, p.vCache, blockTable, cacheSeqlens, metadata, options),
    original: reference(p.kCache, p.vCache),
    dequantized: reference(k.dequantized, v.dequantized),
    keys: e4m3Errors(p.kCache, k.descale.data[0]),
    values: e4m3Errors(p.vCache, v.descale.data[0]),
  });
});
