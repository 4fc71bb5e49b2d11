import { test } from 'node:test';
import assert from 'node:assert/strict';
import { naiveGqaDecode, naiveMlaDecode } from '../../src/reference/naive-attention.js';
import { Tensor } from '../../src/tensor.js';

// Hand-worked cases with values exact in bf16. The keys sit on page 1 of a two-page pool (page 0
// holds NaN), so the block table must be followed.
const NAN_ROW = [NaN, NaN];

function mlaCache(keys: number[][]): Tensor {
  const rows = [...keys];
  while (rows.length < 2) rows.push(NAN_ROW);
  // [numPages = 2, pageSize = 2, h_kv = 1, d = 2]
  return Tensor.from([...NAN_ROW, ...NAN_ROW, ...rows.flat()], [2, 2, 1, 2], 'bfloat16');
}

test('two keys: softmax weights e/(e+1) and 1/(e+1), lse = ln(e + 1)', () => {
  const q = Tensor.from([1, 0], [1, 1, 1, 2], 'bfloat16');
  const kv = mlaCache([
    [1, 0],
    [0, 1],
  ]);
  const blockTable = Tensor.from([1, -5], [1, 2], 'int32');
  const seqlens = Tensor.from([2], [1], 'int32');
  // Scores with scale 1: [1, 0]. Values are the first entry (d_v = 1): [1, 0].
  const r = naiveMlaDecode(q, kv, blockTable, seqlens, 1, { softmaxScale: 1 });
  const e = Math.E;
  assert.ok(Math.abs(r.lse[0] - Math.log(e + 1)) < 1e-12);
  assert.ok(Math.abs(r.out[0] - e / (e + 1)) < 1e-12);
});

test('causal: query j of s_q sees keys t <= L - s_q + j; none gives out 0, lse +Infinity', () => {
  // L = 2, s_q = 3: query 0 sees nothing, query 1 sees key 0, query 2 sees keys 0 and 1.
  const q = Tensor.from([1, 0, 1, 0, 1, 0], [1, 3, 1, 2], 'bfloat16');
  const kv = mlaCache([
    [2, 0.5],
    [-1, 0.25],
  ]);
  const blockTable = Tensor.from([1, 1000], [1, 2], 'int32');
  const seqlens = Tensor.from([2], [1], 'int32');
  const r = naiveMlaDecode(q, kv, blockTable, seqlens, 2, { softmaxScale: 0.5, causal: true });
  // lse is [b, h_q, s_q]; out is [b, s_q, h_q, d_v].
  assert.equal(r.lse[0], Infinity);
  assert.deepEqual([r.out[0], r.out[1]], [0, 0]);
  assert.ok(Math.abs(r.lse[1] - 1) < 1e-12, 'one key with score 0.5 * 2 = 1');
  assert.deepEqual([r.out[2], r.out[3]], [2, 0.5]);
  const lse2 = Math.log(Math.exp(1) + Math.exp(-0.5));
  assert.ok(Math.abs(r.lse[2] - lse2) < 1e-12);
  const w0 = Math.exp(1 - lse2);
  const w1 = Math.exp(-0.5 - lse2);
  assert.ok(Math.abs(r.out[4] - (w0 * 2 + w1 * -1)) < 1e-12);
  assert.ok(Math.abs(r.out[5] - (w0 * 0.5 + w1 * 0.25)) < 1e-12);
});

test('without causal every query sees every key; default scale is 1/sqrt(d_qk)', () => {
  const q = Tensor.from([1, 1, 0, 2], [1, 2, 1, 2], 'bfloat16');
  const kv = mlaCache([[3, 1]]);
  const r = naiveMlaDecode(
    q,
    kv,
    Tensor.from([1, 0], [1, 2], 'int32'),
    Tensor.from([1], [1], 'int32'),
    2,
  );
  assert.ok(Math.abs(r.lse[0] - 4 / Math.SQRT2) < 1e-12);
  assert.ok(Math.abs(r.lse[1] - 2 / Math.SQRT2) < 1e-12);
  assert.deepEqual([...r.out], [3, 1, 3, 1]);
});

test('GQA: head h reads KV head h / (h_q / h_kv), values from vCache', () => {
  // h_q = 2, h_kv = 2, one key; page size 1, pages [0, 1] with the key on page 1.
  const q = Tensor.from([1, 0, 0, 1], [1, 1, 2, 2], 'bfloat16');
  const k = Tensor.from([NaN, NaN, NaN, NaN, 1, 2, 3, 4], [2, 1, 2, 2], 'bfloat16');
  const v = Tensor.from([NaN, NaN, NaN, NaN, 5, 6, 7, 8], [2, 1, 2, 2], 'bfloat16');
  const r = naiveGqaDecode(
    q,
    k,
    v,
    Tensor.from([1], [1, 1], 'int32'),
    Tensor.from([1], [1], 'int32'),
    {
      softmaxScale: 1,
    },
  );
  assert.deepEqual([...r.lse], [1, 4]); // head 0: q.k0 = 1, head 1: q.k1 = 4
  assert.deepEqual([...r.out], [5, 6, 7, 8]);
});
