/**
 * `flash-mla demo`: builds a small paged MLA cache of random data (pages permuted, NaN in unused
 * rows), runs one decode step on the chosen backend, and checks it against the float64 reference.
 */
import { flashMlaWithKvcache } from '../attention/flash-mla-with-kvcache.js';
import { getMlaMetadata } from '../attention/get-mla-metadata.js';
import '../backend/cuda/register.js';
import { CudaTensor } from '../backend/cuda/cuda-tensor.js';
import { probeCuda } from '../backend/cuda/probe.js';
import { BackendUnavailableError } from '../errors.js';
import { naiveMlaDecode } from '../reference/naive-attention.js';
import type { Tensor, TensorLike } from '../tensor.js';
import { compareOutputs, decodeErrors } from '../testing/compare.js';
import { makeMlaProblem } from '../testing/problems.js';
import { Random, sequenceLengths } from '../testing/random.js';
import { INT32_MAX } from '../check-integer.js';
import { formatHelp, parseFlags, UsageError, wantsHelp, type FlagSpec } from './args.js';

/** Sizes and lengths are int32 in the kernels; a larger one fails as out of memory long before. */
const MAX_SIZE = INT32_MAX;
/** MLA head dims: keys (latent + rotary) and values. */
const D_QK = 576;
const D_V = 512;

const FLAGS: Record<string, FlagSpec> = {
  backend: {
    kind: 'string',
    choices: ['auto', 'cpu', 'cuda'],
    default: 'auto',
    help: 'where to run',
  },
  batch: { kind: 'int', min: 1, max: MAX_SIZE, default: 4, help: 'sequences in the batch' },
  seqlen: {
    kind: 'int',
    min: 1,
    max: MAX_SIZE,
    default: 1024,
    help: 'mean cached tokens per sequence (lengths vary)',
  },
  heads: {
    kind: 'int',
    min: 1,
    max: MAX_SIZE,
    default: 16,
    help: 'query heads (one latent KV head)',
  },
  'query-tokens': {
    kind: 'int',
    min: 1,
    max: MAX_SIZE,
    default: 1,
    help: 'new query tokens per sequence (s_q)',
  },
  'page-size': {
    kind: 'int',
    min: 1,
    max: MAX_SIZE,
    default: 64,
    help: 'tokens per KV-cache page',
  },
  dtype: {
    kind: 'string',
    choices: ['bfloat16', 'float16'],
    default: 'bfloat16',
    help: 'q/cache dtype',
  },
  causal: { kind: 'boolean', help: 'causal mask over the new query tokens' },
  seed: { kind: 'int', default: 1, help: 'random seed' },
};

/** Host typed arrays hold at most 2^32 elements. */
const MAX_HOST_ELEMENTS = 2 ** 32;
/** Rates of the CPU stages on one core, measured: multiply-adds a second, random draws a second. */
const CPU_DECODE_MACS_PER_SECOND = 6e8;
const REFERENCE_MACS_PER_SECOND = 3e8;
const DRAWS_PER_SECOND = 3e7;

/**
 * Runs one stage of the demo. Stages expected to take a second or more say so on stderr first, with
 * the estimate, and how long they took after; shorter ones print nothing.
 */
function stage<T>(label: string, estimatedSeconds: number, run: () => T): T {
  if (estimatedSeconds < 1) return run();
  process.stderr.write(`${label} (about ${Math.ceil(estimatedSeconds)} s)...\n`);
  const start = performance.now();
  const result = run();
  process.stderr.write(`${label}: done in ${((performance.now() - start) / 1000).toFixed(1)} s\n`);
  return result;
}

/** Bounds on the error against the float64 reference (the output is rounded to 16 bits). */
const MAX_RELATIVE_ERROR = 1e-2;

export async function runDemoCommand(argv: string[]): Promise<number> {
  if (wantsHelp(argv)) {
    process.stdout.write(
      formatHelp(
        'flash-mla demo [options]',
        'Runs one MLA decode step (d_qk 576, d_v 512) on a random paged cache and checks it\n' +
          'against a float64 reference. Runs on the GPU when the CUDA backend is available.',
        FLAGS,
      ),
    );
    return 0;
  }
  const { values } = parseFlags(argv, FLAGS);
  const b = values.batch as number;
  const sQ = values['query-tokens'] as number;
  const hQ = values.heads as number;
  const causal = values.causal === true;

  let backend = values.backend as string;
  if (backend !== 'cpu') {
    const probe = probeCuda();
    if (!probe.available) {
      if (backend === 'cuda') throw new BackendUnavailableError('cuda', probe.reason);
      process.stdout.write(`cuda backend unavailable (${probe.reason}); using cpu\n`);
      backend = 'cpu';
    } else {
      backend = 'cuda';
    }
  }

  // The problem's own first draws: the lengths, known before anything large is built.
  const pageSize = values['page-size'] as number;
  const seqlens = sequenceLengths(
    new Random(values.seed as number),
    b,
    values.seqlen as number,
    sQ,
    true,
  );
  const cacheTokens = seqlens.reduce((sum, n) => sum + Math.ceil(n / pageSize) * pageSize, 0);
  if (cacheTokens * D_QK > MAX_HOST_ELEMENTS) {
    throw new UsageError(
      `--batch and --seqlen: expected at most ${Math.floor(MAX_HOST_ELEMENTS / D_QK)} cached ` +
        `tokens in all (a host array holds 2^32 elements), got ${cacheTokens}`,
    );
  }
  const tokens = seqlens.reduce((sum, n) => sum + n, 0);
  const macs = tokens * sQ * hQ * (D_QK + D_V);

  const problem = stage('building the random cache', (cacheTokens * D_QK) / DRAWS_PER_SECOND, () =>
    makeMlaProblem({
      b,
      sQ,
      hQ,
      pageSize: values['page-size'] as number,
      sK: values.seqlen as number,
      varlen: true,
      dtype: values.dtype as 'bfloat16' | 'float16',
      seed: values.seed as number,
    }),
  );
  const { q, kvCache, blockTable, cacheSeqlens, headDimV } = problem;
  process.stdout.write(
    `MLA decode on ${backend}: q [${q.shape}] ${q.dtype}, cache [${kvCache.shape}] ` +
      `(${kvCache.shape[0]} pages, permuted, NaN in unused rows), lengths [${problem.seqlens}]` +
      `${causal ? ', causal' : ''}\n`,
  );

  const device: CudaTensor[] = [];
  const place = (t: Tensor): TensorLike => {
    if (backend === 'cpu') return t;
    const d = CudaTensor.fromHost(t);
    device.push(d);
    return d;
  };
  try {
    const dq = place(q);
    const dCache = place(kvCache);
    const dTable = place(blockTable);
    const dLens = place(cacheSeqlens);
    const start = performance.now();
    const meta = getMlaMetadata(dLens, sQ * hQ, 1); // one latent KV head
    const result = stage(
      `decoding on ${backend}`,
      backend === 'cpu' ? macs / CPU_DECODE_MACS_PER_SECOND : 0,
      () =>
        flashMlaWithKvcache(
          dq,
          dCache,
          dTable,
          dLens,
          headDimV,
          meta.tileSchedulerMetadata,
          meta.numSplits,
          { causal },
        ),
    );
    const host = { out: result.out.toHost(), lse: result.lse.toHost() };
    const ms = performance.now() - start;
    if (backend === 'cuda') {
      device.push(result.out as CudaTensor, result.lse as CudaTensor);
      device.push(meta.tileSchedulerMetadata as CudaTensor, meta.numSplits as CudaTensor);
    }

    const reference = stage(
      'computing the float64 reference',
      macs / REFERENCE_MACS_PER_SECOND,
      () => naiveMlaDecode(q, kvCache, blockTable, cacheSeqlens, headDimV, { causal }),
    );
    const errors = decodeErrors(host, reference);
    const { maxAbsError } = compareOutputs(host.out, reference.out);
    const ok = errors.outRelativeError < MAX_RELATIVE_ERROR && errors.lseRelativeError < 1e-4;
    process.stdout.write(
      [
        `out [${host.out.shape}] ${host.out.dtype}, lse [${host.lse.shape}] float32`,
        `time (schedule + decode${backend === 'cuda' ? ' + copy back' : ''}): ${ms.toFixed(2)} ms`,
        `max abs error ${maxAbsError.toExponential(2)}, relative error ${errors.outRelativeError.toExponential(2)}, ` +
          `lse relative error ${errors.lseRelativeError.toExponential(2)} (vs float64 reference)`,
        ok ? 'PASS' : `FAIL: relative error above ${MAX_RELATIVE_ERROR}`,
        '',
      ].join('\n'),
    );
    return ok ? 0 : 1;
  } finally {
    for (const t of device) t.dispose();
  }
}
