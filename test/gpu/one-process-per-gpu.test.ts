// One process per GPU, as engines run tensor-parallel decoding: each process selects its device with
// setCudaDevice, allocates, schedules and decodes there, concurrently with the others.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nativeLibrary } from '../../src/backend/cuda/runtime.js';
import { assertGpuCheck, type GpuCheck } from './decode-check.js';
import { skipWithoutGpu } from './gpu.js';

const child = fileURLToPath(new URL('./per-gpu-process.js', import.meta.url));

const devices = skipWithoutGpu ? 0 : nativeLibrary().listDevices().length;
const skip = skipWithoutGpu || (devices < 2 ? `needs 2 GPUs (this machine has ${devices})` : false);

function runOn(device: number): Promise<{ device: number; current: number; check: GpuCheck }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child], {
      env: { ...process.env, FMLA_TEST_DEVICE: String(device) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) reject(new Error(`device ${device}: exit ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}'));
    });
  });
}

test('one process per GPU: each decodes on the device it selected', { skip }, async () => {
  const results = await Promise.all([0, 1].map(runOn));
  for (const r of results) {
    assert.equal(r.current, r.device, 'the process stayed on its device');
    assertGpuCheck(r.check, false);
  }
});
