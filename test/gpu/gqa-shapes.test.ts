// GQA / MHA / MQA decode on the GPU against the float64 reference over the shape matrix: every head
// dim, page size, head grouping and s_q (4 causal), bf16, and float16 once per head dim.
import { test } from 'node:test';
import { makeGqaProblem } from '../../src/testing/problems.js';
import { GQA_SHAPE_MATRIX } from '../gqa-shape-matrix.js';
import { assertGpuCheck, checkOnGpu } from './decode-check.js';
import { skipWithoutGpu } from './gpu.js';

for (const c of GQA_SHAPE_MATRIX) {
  test(`GQA decode shape: ${c.name}`, { skip: skipWithoutGpu }, () => {
    const p = makeGqaProblem(c);
    const r = checkOnGpu(p, { causal: c.causal, reference: 'cpu' });
    assertGpuCheck(r, false);
  });
}
