/**
 * A toy serving loop over the paged KV cache, using only the public API: requests share a system
 * prompt (forked, copy-on-write), are prefilled, then decode one token per step in a batch until they
 * finish and free their pages. Each step writes the new tokens' latent rows into the cache (writeKv),
 * computes the schedule (getMlaMetadata) and runs one MLA decode (flashMlaWithKvcache).
 *
 *   node dist/examples/ts/engine-loop.js [--cuda] [--steps 12] [--requests 6]
 *
 * Random numbers stand in for the model: a real engine computes q and the latent rows.
 */
import {
  CudaStream,
  CudaTensor,
  PagedKvCache,
  Tensor,
  applyPageCopies,
  flashMlaWithKvcache,
  getMlaMetadata,
  writeKv,
  type PageCopy,
  type SequenceId,
  type TensorLike,
} from '../../src/index.js';
import { parseArgs } from 'node:util';

const D_QK = 576; // DeepSeek-V3's latent (512) + rotary (64) dims, one KV head
const D_V = 512;
const H_Q = 16;
const PAGE_SIZE = 16;
const NUM_PAGES = 512;

const { values } = parseArgs({
  options: {
    cuda: { type: 'boolean', default: false },
    steps: { type: 'string', default: '12' },
    requests: { type: 'string', default: '6' },
  },
});
const steps = Number(values.steps);
const maxRequests = Number(values.requests);
const onGpu = values.cuda === true;

let seed = 12345;
function random(): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
}
const randomInt = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo));
const randomTensor = (shape: number[]): Tensor =>
  Tensor.from(
    Float32Array.from({ length: shape.reduce((a, d) => a * d, 1) }, () => (random() - 0.5) / 5),
    shape,
    'bfloat16',
  );

const stream = onGpu ? CudaStream.create() : undefined;
/** Host tensors stay; on the GPU each step's small inputs are uploaded and freed after the step. */
const stepTensors: CudaTensor[] = [];
function place(t: Tensor): TensorLike {
  if (!onGpu) return t;
  const d = CudaTensor.fromHost(t, stream);
  stepTensors.push(d);
  return d;
}

const pages = new PagedKvCache({ numPages: NUM_PAGES, pageSize: PAGE_SIZE });
const cacheShape = [NUM_PAGES, PAGE_SIZE, 1, D_QK];
let hostCache = onGpu ? undefined : Tensor.zeros(cacheShape, 'bfloat16');
const deviceCache = onGpu ? CudaTensor.empty(cacheShape, 'bfloat16') : undefined;
const cache: TensorLike = deviceCache ?? hostCache!;

function applyCopies(copies: readonly PageCopy[]): void {
  if (copies.length === 0) return;
  if (deviceCache) deviceCache.copyPages(copies, stream);
  else applyPageCopies(hostCache!, copies);
}

/** Appends n tokens to a sequence: copy-on-write first, then the new rows at their slots. */
function appendTokens(seq: SequenceId, n: number): void {
  const { slotMapping, copies } = pages.append(seq, n);
  applyCopies(copies);
  const rows = place(randomTensor([n, 1, D_QK]));
  writeKv(cache, rows, place(Tensor.from(slotMapping, [n], 'int32')), { stream });
}

const systemPrompt = pages.createSequence();
appendTokens(systemPrompt, 37); // partly fills its last page: every fork copies it on first write

interface Request {
  readonly id: number;
  readonly seq: SequenceId;
  remaining: number;
}
const running: Request[] = [];
let admitted = 0;
let finished = 0;

for (let step = 0; step < steps && (admitted < maxRequests || running.length > 0); step++) {
  if (admitted < maxRequests) {
    const seq = pages.fork(systemPrompt);
    appendTokens(seq, randomInt(5, 120)); // prefill the request's own prompt
    running.push({ id: admitted++, seq, remaining: randomInt(2, 8) });
  }
  for (const r of running) appendTokens(r.seq, 1); // this step's token

  const { blockTable, cacheSeqlens } = pages.exportBatch(running.map((r) => r.seq));
  const lens = place(cacheSeqlens);
  const meta = getMlaMetadata(lens, H_Q, 1, { stream });
  const q = place(randomTensor([running.length, 1, H_Q, D_QK]));
  const { out, lse } = flashMlaWithKvcache(
    q,
    cache,
    place(blockTable),
    lens,
    D_V,
    meta.tileSchedulerMetadata,
    meta.numSplits,
    { causal: true, stream },
  );
  const values = out.toHost().toFloat32();
  if (values.some((v) => !Number.isFinite(v))) throw new Error(`step ${step}: non-finite output`);

  const s = pages.stats();
  console.log(
    `step ${String(step).padStart(2)}: batch ${running.length}, lengths [${cacheSeqlens.data.join(', ')}], ` +
      `pages used ${s.pagesUsed}/${s.numPages}, saved by sharing ${s.pagesSavedBySharing}, ` +
      `unused slots ${s.slotsUnused}`,
  );
  for (const t of [out, lse, meta.tileSchedulerMetadata, meta.numSplits]) {
    if (t instanceof CudaTensor) t.dispose();
  }
  stepTensors.splice(0).forEach((t) => t.dispose());

  for (const r of [...running]) {
    if (--r.remaining > 0) continue;
    pages.free(r.seq); // its pages return to the pool at once
    running.splice(running.indexOf(r), 1);
    finished++;
  }
}
pages.free(systemPrompt);
console.log(`done: ${finished} requests finished, ${pages.stats().pagesUsed} pages still in use`);
deviceCache?.dispose();
stream?.dispose();
hostCache = undefined;
