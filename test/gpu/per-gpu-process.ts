/**
 * One process of the one-process-per-GPU test: selects device FMLA_TEST_DEVICE, decodes a problem
 * there through the public API, and prints what it saw as one JSON line. Does nothing without that
 * variable (the test runner may load this file on its own).
 */
import { cudaDevice, setCudaDevice } from '../../src/backend/cuda/runtime.js';
import { makeMlaProblem } from '../../src/testing/problems.js';
import { checkOnGpu } from './decode-check.js';
import './gpu.js';

const selected = process.env.FMLA_TEST_DEVICE;
if (selected !== undefined) {
  const device = Number(selected);
  setCudaDevice(device);
  const p = makeMlaProblem({
    b: 3,
    sK: 700,
    varlen: true,
    sQ: 1,
    hQ: 16,
    pageSize: 64,
    seed: 70 + device,
  });
  const check = checkOnGpu(p, { causal: false, reference: 'cpu' });
  process.stdout.write(`${JSON.stringify({ device, current: cudaDevice(), check })}\n`);
}
