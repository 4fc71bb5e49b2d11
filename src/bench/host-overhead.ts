/**
 * Host overhead of one decode call from TypeScript (validation, FFI, launches), TARGETS.md's way:
 * wall time of 1000 calls on a tiny problem minus the GPU time, per call; and the same for a
 * captured CUDA graph of the step, replayed.
 */
import { flashMlaWithKvcache } from '../attention/flash-mla-with-kvcache.js';
import { getMlaMetadata } from '../attention/get-mla-metadata.js';
import { CudaGraph } from '../backend/cuda/cuda-graph.js';
import { CudaTensor } from '../backend/cuda/cuda-tensor.js';
import type { CudaStream } from '../backend/cuda/runtime.js';
import { makeMlaProblem } from '../testing/problems.js';
import { median, timeDevice } from './device-timing.js';

export interface OverheadFigures {
  /** Wall time per call of `calls` calls, synchronised at the end, in microseconds. */
  readonly wallUs: number;
  /** Device time of one call (events, median), in microseconds. */
  readonly gpuUs: number;
  /** wallUs - gpuUs: the host's share per call. */
  readonly hostUs: number;
  /** Time the host spends inside one call before it returns (enqueue only), median over rounds. */
  readonly enqueueUs: number;
}

export interface HostOverheadResult {
  readonly problem: string;
  readonly calls: number;
  /** flashMlaWithKvcache through the public API (validation included). */
  readonly decode: OverheadFigures;
  /** getMlaMetadata + flashMlaWithKvcache, the whole decode step. */
  readonly step: OverheadFigures;
  /** The step captured once as a CUDA graph and replayed. */
  readonly graphReplay: OverheadFigures;
}

function measure(stream: CudaStream, calls: number, fn: () => void): OverheadFigures {
  for (let i = 0; i < 50; i++) fn();
  stream.synchronize();
  const walls: number[] = [];
  const enqueues: number[] = [];
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn();
    const t1 = process.hrtime.bigint();
    stream.synchronize();
    const t2 = process.hrtime.bigint();
    enqueues.push(Number(t1 - t0) / 1e3 / calls);
    walls.push(Number(t2 - t0) / 1e3 / calls);
  }
  const gpuUs = timeDevice(stream, fn, { warmups: 5, repeats: 50 }).medianUs;
  const wallUs = median(walls);
  return { wallUs, gpuUs, hostUs: wallUs - gpuUs, enqueueUs: median(enqueues) };
}

export function measureHostOverhead(stream: CudaStream, calls = 1000): HostOverheadResult {
  const p = makeMlaProblem({ b: 1, sK: 64, sQ: 1, hQ: 16, pageSize: 64, seed: 3, extraPages: 1 });
  const owned: CudaTensor[] = [];
  const up = (t: Parameters<typeof CudaTensor.fromHost>[0]): CudaTensor => {
    const d = CudaTensor.fromHost(t, stream);
    owned.push(d);
    return d;
  };
  try {
    const q = up(p.q);
    const kv = up(p.kvCache);
    const table = up(p.blockTable);
    const lens = up(p.cacheSeqlens);
    const into = getMlaMetadata(lens, 16, 1, { stream });
    owned.push(into.tileSchedulerMetadata, into.numSplits);
    const out = CudaTensor.empty([1, 1, 16, 512], 'bfloat16');
    const lse = CudaTensor.empty([1, 16, 1], 'float32');
    const workspace = CudaTensor.empty([1 << 22], 'int32');
    owned.push(out, lse, workspace);
    const exec = { stream, out, lse, workspace };
    const decode = (): void => {
      flashMlaWithKvcache(
        q,
        kv,
        table,
        lens,
        512,
        into.tileSchedulerMetadata,
        into.numSplits,
        exec,
      );
    };
    const step = (): void => {
      getMlaMetadata(lens, 16, 1, { stream, into });
      decode();
    };
    using graph = CudaGraph.capture(stream, step);
    return {
      problem: 'MLA decode, b = 1, s_k = 64, h_q = 16, s_q = 1, bf16, page size 64',
      calls,
      decode: measure(stream, calls, decode),
      step: measure(stream, calls, step),
      graphReplay: measure(stream, calls, () => graph.launch(stream)),
    };
  } finally {
    owned.forEach((t) => t.dispose());
  }
}
