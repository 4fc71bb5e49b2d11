/** Timing on the GPU as TARGETS.md prescribes: CUDA events around each call, warm-ups, the median. */
import { CudaTensor } from '../backend/cuda/cuda-tensor.js';
import { spinOnDevice } from '../backend/cuda/device-testing.js';
import { CudaEvent, CudaStream } from '../backend/cuda/runtime.js';
import { maxOf, minOf } from '../extremes.js';

export interface TimingOptions {
  readonly warmups?: number;
  readonly repeats?: number;
  /**
   * Microseconds of device spin queued before each start event, so that the host's launch work for
   * the timed call overlaps it and the events time the device's work alone. 0 turns it off.
   */
  readonly spinUs?: number;
}

export interface Timing {
  /** Median of the repeats, in microseconds. */
  readonly medianUs: number;
  readonly minUs: number;
  readonly maxUs: number;
  readonly repeats: number;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Times `run(i)` (everything it launches on `stream`), call i of warm-ups then repeats. */
export function timeDevice(
  stream: CudaStream,
  run: (i: number) => void,
  { warmups = 5, repeats = 30, spinUs = 200 }: TimingOptions = {},
): Timing {
  using start = CudaEvent.create();
  using end = CudaEvent.create();
  for (let i = 0; i < warmups; i++) run(i);
  stream.synchronize();
  const us: number[] = [];
  for (let i = 0; i < repeats; i++) {
    if (spinUs > 0) spinOnDevice(spinUs, stream);
    start.record(stream);
    run(warmups + i);
    end.record(stream);
    end.synchronize();
    us.push(end.elapsedSince(start) * 1000);
  }
  return { medianUs: median(us), minUs: minOf(us), maxUs: maxOf(us), repeats };
}

/**
 * The device-to-device copy ceiling: a 2 GiB copy, bytes read plus bytes written, median of 20.
 * Every benchmark run measures it again and reports bandwidth as a fraction of it.
 */
export function measureCopyCeilingGBps(stream: CudaStream, bytes = 2 ** 31): number {
  using src = CudaTensor.empty([bytes / 4], 'float32');
  using dst = CudaTensor.empty([bytes / 4], 'float32');
  src.fillBytes(0x3c, stream);
  const t = timeDevice(stream, () => dst.copyFrom(src, stream), { warmups: 3, repeats: 20 });
  return (2 * bytes) / (t.medianUs * 1e-6) / 1e9;
}
