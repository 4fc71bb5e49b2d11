/**
 * The writeKv benchmark: 4096 new MLA latent rows scattered into random slots of a paged cache per
 * call. Checked bit for bit first (every mapped slot holds its row, every other slot is untouched),
 * then timed over rotated inputs.
 */
import { writeKv } from '../attention/write-kv.js';
import { CudaTensor } from '../backend/cuda/cuda-tensor.js';
import { fillNormalOnDevice } from '../backend/cuda/device-testing.js';
import type { CudaStream } from '../backend/cuda/runtime.js';
import { Tensor } from '../tensor.js';
import { Random } from '../testing/random.js';
import { timeDevice, type Timing } from './device-timing.js';
import { ROTATION_MIN_BYTES } from './device-problem.js';
import { WRITE_KV_DIMS } from './suites.js';

export interface WriteKvBenchResult {
  readonly timing: Timing;
  /** Bytes one call moves: rows read, rows written, the slot mapping read. */
  readonly bytes: number;
  readonly mismatches: number;
  readonly rotatedCopies: number;
}

const CACHE_PAGES = 8192;

export function benchWriteKv(stream: CudaStream, seed = 7): WriteKvBenchResult {
  const { tokens, hKv, d, pageSize } = WRITE_KV_DIMS;
  const rowElems = hKv * d;
  const bytes = 2 * tokens * rowElems * 2 + tokens * 4;
  const copies = Math.ceil(ROTATION_MIN_BYTES / bytes);
  const rng = new Random(seed);
  const owned: CudaTensor[] = [];
  try {
    const cache = CudaTensor.empty([CACHE_PAGES, pageSize, hKv, d], 'bfloat16');
    owned.push(cache);
    const inputs: { rows: CudaTensor; slots: CudaTensor; hostSlots: Int32Array }[] = [];
    for (let c = 0; c < copies; c++) {
      const rows = CudaTensor.empty([tokens, hKv, d], 'bfloat16');
      fillNormalOnDevice(rows, seed * 100 + c, { stream });
      // Distinct random slots, with a few -1 (skipped rows) among them.
      const hostSlots = new Int32Array(tokens);
      const picked = new Set<number>();
      for (let i = 0; i < tokens; i++) {
        let s: number;
        do s = rng.int(0, CACHE_PAGES * pageSize);
        while (picked.has(s));
        picked.add(s);
        hostSlots[i] = i % 997 === 5 ? -1 : s;
      }
      const slots = CudaTensor.fromHost(Tensor.from(hostSlots, [tokens], 'int32'), stream);
      owned.push(rows, slots);
      inputs.push({ rows, slots, hostSlots });
    }

    // Check: poison the cache, write once, compare every row of the cache.
    cache.fillBytes(0xff, stream);
    writeKv(cache, inputs[0].rows, inputs[0].slots, { stream });
    const got = cache.toHost(stream).data as Uint16Array;
    const rows = inputs[0].rows.toHost(stream).data as Uint16Array;
    const expectedRow = new Int32Array(CACHE_PAGES * pageSize).fill(-1);
    inputs[0].hostSlots.forEach((s, i) => s >= 0 && (expectedRow[s] = i));
    let mismatches = 0;
    for (let slot = 0; slot < expectedRow.length; slot++) {
      const src = expectedRow[slot];
      for (let e = 0; e < rowElems; e++) {
        const want = src < 0 ? 0xffff : rows[src * rowElems + e];
        if (got[slot * rowElems + e] !== want) {
          mismatches++;
          break;
        }
      }
    }

    const timing = timeDevice(stream, (i) => {
      const input = inputs[i % inputs.length];
      writeKv(cache, input.rows, input.slots, { stream });
    });
    return { timing, bytes, mismatches, rotatedCopies: copies };
  } finally {
    owned.forEach((t) => t.dispose());
  }
}
