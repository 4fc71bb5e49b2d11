/**
 * The KV cache's dtype: bytes per token of both models in bf16 and fp8 worked out by hand from
 * docs/fp8-kv-cache.md, and what an fp8 cache changes in a replay (memory held, requests admitted,
 * the bytes a step reads), on tiny traces worked out by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError } from '../../src/errors.js';
import { DS_MLA_TOKEN_BYTES } from '../../src/fp8/ds-mla-token.js';
import { parsePolicyName } from '../../src/simulate/memory-policy.js';
import {
  DEEPSEEK_V3,
  kvFormat,
  LLAMA_3_8B,
  modelKvFormat,
  type ModelLayout,
} from '../../src/simulate/model-layouts.js';
import { formatScenario } from '../../src/simulate/report-table.js';
import { simulateTrace, type SimulationOptions } from '../../src/simulate/simulate-trace.js';
import { renderStudyPlot } from '../../src/simulate/svg-plot.js';
import { near, run, runCompute, TINY, trace } from './tiny-trace.js';

test('bytes per token of both models in bf16 and fp8, from their shapes', () => {
  // DeepSeek-V3: 576 bf16 values (512 latent + 64 rope) a layer, 61 layers.
  assert.equal(kvFormat(DEEPSEEK_V3.kv!, 'bf16').bytesPerToken, 576 * 2 * 61);
  assert.equal(modelKvFormat(DEEPSEEK_V3, 'bf16').bytesPerToken, 576 * 2 * 61);
  assert.equal(DEEPSEEK_V3.bytesPerToken, 70_272);
  // fp8_ds_mla: 512 e4m3 bytes + 4 float32 scales (one per 128) + 64 bf16 rope = 656 a layer.
  assert.equal(512 * 1 + 4 * 4 + 64 * 2, 656);
  const ds = modelKvFormat(DEEPSEEK_V3, 'fp8');
  assert.equal(ds.bytesPerToken, 656 * 61);
  assert.equal(ds.bytesPerToken, 40_016);
  // The study's bytes are those of the token the CPU backend quantizes into.
  assert.equal(ds.bytesPerToken, DS_MLA_TOKEN_BYTES * 61);
  assert.equal(ds.fixedBytes, 0);
  assert.match(ds.layout, /fp8_ds_mla: 512 fp8 e4m3 .* 4 float32 scales .* 64 bf16 .*656 bytes/);
  // Llama-3-8B: K and V of 8 heads x 128 values a layer, 32 layers; 2 bytes each in bf16.
  assert.equal(kvFormat(LLAMA_3_8B.kv!, 'bf16').bytesPerToken, 2 * 8 * 128 * 2 * 32);
  assert.equal(modelKvFormat(LLAMA_3_8B, 'bf16').bytesPerToken, 2 * 8 * 128 * 2 * 32);
  assert.equal(LLAMA_3_8B.bytesPerToken, 131_072);
  // fp8_e4m3: 1 byte a value, and one float32 scale per tensor (descaleK, descaleV) a layer,
  // whatever the cache's length: 0 bytes a token, 2 x 4 x 32 = 256 bytes for the whole cache.
  const llama = modelKvFormat(LLAMA_3_8B, 'fp8');
  assert.equal(llama.bytesPerToken, 2 * 8 * 128 * 1 * 32);
  assert.equal(llama.bytesPerToken, 65_536);
  assert.equal(llama.fixedBytes, 256);
  assert.match(llama.layout, /fp8_e4m3: K and V of 8 heads x 128 fp8 e4m3 values/);
  // The layouts' bf16 texts are the ones they always had.
  assert.equal(
    DEEPSEEK_V3.layout,
    'MLA: one latent of 576 bf16 values per token per layer, 61 layers',
  );
  assert.equal(
    LLAMA_3_8B.layout,
    'GQA: K and V of 8 heads x 128 bf16 values per token per layer, 32 layers',
  );
  // A smaller MLA: 256 latent, no rope, 1 layer: 256 + 2 x 4 bytes in fp8.
  const small = kvFormat({ kind: 'mla', latentDims: 256, ropeDims: 0, layers: 1 }, 'fp8');
  assert.equal(small.bytesPerToken, 264);
});

/** A tiny MLA of 128 latent values in one layer: 256 bytes a token in bf16, 128 + 4 in fp8. */
const TINY_MLA: ModelLayout = {
  ...TINY,
  bytesPerToken: 256,
  kv: { kind: 'mla', latentDims: 128, ropeDims: 0, layers: 1 },
};

const scenario = (
  requests: [number, number, number][],
  policy: string,
  options: Partial<SimulationOptions>,
) =>
  simulateTrace(trace(requests), {
    model: TINY_MLA,
    policies: [parsePolicyName(policy)],
    stepModel: 'bandwidth',
    stepOverheadSeconds: 1,
    bandwidthBytesPerS: 1e30,
    ...options,
  });

test('with memory to spare, fp8 holds memory in proportion to its bytes, on the same schedule', () => {
  const requests: [number, number, number][] = [
    [0, 3, 2],
    [0.5, 4, 1],
    [1, 20, 3],
  ];
  for (const model of [DEEPSEEK_V3, LLAMA_3_8B]) {
    for (const policy of ['contiguous-exact', 'paged-1', 'paged-16']) {
      // Steps of 1 s whatever the bytes, a budget far above the trace's: the same schedule.
      const options = {
        model,
        policies: [parsePolicyName(policy)],
        stepModel: 'bandwidth' as const,
        stepOverheadSeconds: 1,
        bandwidthBytesPerS: 1e30,
      };
      const bf16 = simulateTrace(trace(requests), options).policies[0];
      const fp8 = simulateTrace(trace(requests), { ...options, kvDtype: 'fp8' }).policies[0];
      const ratio = model === DEEPSEEK_V3 ? 40_016 / 70_272 : 65_536 / 131_072;
      const what = `${model.name} ${policy}`;
      assert.equal(fp8.steps, bf16.steps, what);
      assert.deepEqual(fp8.latency, bf16.latency, what);
      assert.deepEqual(fp8.running, bf16.running, what);
      near(fp8.memory.peakBytes, bf16.memory.peakBytes * ratio, `${what} peak`);
      near(fp8.memory.meanBytes / bf16.memory.meanBytes, ratio, `${what} mean`);
    }
  }
  // The tiny MLA: the same peak in tokens, at 132 bytes each against 256.
  const peak = (dtype: 'bf16' | 'fp8') =>
    scenario(requests, 'paged-1', { kvDtype: dtype }).policies[0].memory.peakBytes;
  assert.equal(peak('fp8') / 132, peak('bf16') / 256);
});

test('when memory is the limit, fp8 admits more requests', () => {
  // A budget of 2,560 bytes: 10 token slots in bf16 (256 bytes), 19 in fp8 (132 bytes).
  // Four requests of 4 prompt tokens and 1 generated, all at 0.
  const requests: [number, number, number][] = [
    [0, 4, 1],
    [0, 4, 1],
    [0, 4, 1],
    [0, 4, 1],
  ];
  // contiguous-exact reserves 5 slots each: 2 fit in bf16, 3 in fp8.
  // paged-1 keeps a free page per running request at a page's end: bf16 admits r0 (4 + 1 of 10)
  // and r1 (4 + 2 of 6), not r2 (4 + 3 of 2); fp8 admits r0 (5 of 19), r1 (6 of 15), r2 (7 of 11).
  for (const policy of ['contiguous-exact', 'paged-1']) {
    const bf16 = scenario(requests, policy, { budgetBytes: 2560 });
    const fp8 = scenario(requests, policy, { budgetBytes: 2560, kvDtype: 'fp8' });
    assert.equal(bf16.policies[0].capacityBytes, 10 * 256, policy);
    assert.equal(fp8.policies[0].capacityBytes, 19 * 132, policy);
    assert.equal(bf16.policies[0].running.max, 2, policy);
    assert.equal(fp8.policies[0].running.max, 3, policy);
    // Steps of 1 s: bf16 runs r2 and r3 from step 3 (waiting 2 s each), fp8 only r3.
    near(bf16.policies[0].queueDelaySeconds.mean, (0 + 0 + 2 + 2) / 4, `${policy} bf16 queue`);
    near(fp8.policies[0].queueDelaySeconds.mean, (0 + 0 + 0 + 2) / 4, `${policy} fp8 queue`);
  }
});

test("fp8_e4m3's per-tensor scales are taken from the budget", () => {
  // Llama-3-8B in fp8: 65,536 bytes a token and 256 bytes of scales. A budget of 10 tokens and
  // the scales holds 10 slots; one byte less, 9.
  const capacity = (budgetBytes: number) =>
    simulateTrace(trace([[0, 1, 1]]), {
      model: LLAMA_3_8B,
      kvDtype: 'fp8',
      budgetBytes,
      policies: [parsePolicyName('paged-1')],
    }).policies[0].capacityBytes / 65_536;
  assert.equal(capacity(10 * 65_536 + 256), 10);
  assert.equal(capacity(10 * 65_536 + 255), 9);
  const s = simulateTrace(trace([[0, 1, 1]]), { model: LLAMA_3_8B, kvDtype: 'fp8' });
  assert.equal(s.kvFixedBytes, 256);
  assert.equal(s.bytesPerToken, 65_536);
});

test('under the compute step model, an fp8 cache reads fewer bytes a key; arithmetic is unchanged', () => {
  // runCompute: 4 FLOP/s, so a step costs tokens / 4 s of linear layers and 1 s per key or pair
  // of attention arithmetic; at 1 B/s the cache bytes dominate: 256 s a key in bf16, 132 in fp8.
  // Step 1: prefill of 3 tokens: 0.75 + max(6 pairs, 3 keys x bytes). Step 2: decode of 4 keys:
  // 0.25 + max(4, 4 x bytes).
  const busy = (kvDtype: 'bf16' | 'fp8') =>
    runCompute([[0, 3, 1]], 'paged-1', {
      model: TINY_MLA,
      kvDtype,
      budgetBytes: 1e6,
      bandwidthBytesPerS: 1,
    }).busySeconds;
  near(busy('bf16'), 0.75 + 3 * 256 + 0.25 + 4 * 256, 'bf16');
  near(busy('fp8'), 0.75 + 3 * 132 + 0.25 + 4 * 132, 'fp8');
  // With bytes free, the arithmetic sets the steps, the same in both: 0.75 + 6 + 0.25 + 4.
  const free = (kvDtype: 'bf16' | 'fp8') =>
    runCompute([[0, 3, 1]], 'paged-1', { model: TINY_MLA, kvDtype, budgetBytes: 1e6 }).busySeconds;
  near(free('bf16'), 11, 'bf16, bytes free');
  near(free('fp8'), 11, 'fp8, bytes free');
  // The bandwidth model reads the cache in its dtype too: 1 s + cached tokens x bytes.
  near(
    run([[0, 3, 1]], 'paged-1', { model: TINY_MLA, kvDtype: 'fp8', bandwidthBytesPerS: 132 })
      .busySeconds,
    1 + 3 + (1 + 4),
    'bandwidth fp8',
  );
});

test('every report names the KV dtype: setup line, heading, plot and result', () => {
  const s = simulateTrace(trace([[0, 3, 1]]), { model: LLAMA_3_8B, kvDtype: 'fp8' });
  assert.equal(s.kvDtype, 'fp8');
  const text = formatScenario(s);
  assert.ok(text.startsWith('### llama-3-8b, fp8 KV cache, arrivals as recorded\n'), text);
  assert.ok(
    text.includes('fp8 KV cache: 65,536 bytes per token and 256 bytes of scales, max context'),
    text,
  );
  const bf16 = simulateTrace(trace([[0, 3, 1]]), { model: DEEPSEEK_V3 });
  assert.equal(bf16.kvDtype, 'bf16');
  assert.ok(formatScenario(bf16).includes('bf16 KV cache: 70,272 bytes per token, max context'));
  assert.match(renderStudyPlot([s]), /llama-3-8b, fp8 KV cache, arrivals as recorded: KV memory/);
  const slow = simulateTrace(trace([[0, 3, 1]]), { model: DEEPSEEK_V3, timeScale: 0.25 });
  assert.ok(formatScenario(slow).startsWith('### deepseek-v3, bf16 KV cache, arrivals at 0.25x'));
});

test('a bad KV dtype or shape is an ArgumentError naming it', () => {
  const t = trace([[0, 1, 1]]);
  const cases: [Partial<SimulationOptions>, string][] = [
    [{ kvDtype: 'int8' as never }, `kvDtype: expected 'bf16' or 'fp8', got "int8"`],
    [{ model: TINY, kvDtype: 'fp8' }, "model.kv: expected the cache's shapes (KvShape)"],
    [
      { model: { ...TINY_MLA, bytesPerToken: 255 } },
      'model.bytesPerToken: expected 256 (the bf16 bytes of model.kv), or model.kv undefined, got 255',
    ],
    [
      { model: { ...TINY_MLA, kv: { kind: 'mqa' } as never } },
      `model.kv.kind: expected 'mla' or 'gqa', got "mqa"`,
    ],
    [
      { model: { ...TINY_MLA, kv: { kind: 'gqa', kvHeads: 0, headDim: 1, layers: 1 } } },
      'model.kv.kvHeads: expected an integer > 0, got 0',
    ],
    [{ model: { ...TINY_MLA, kv: 'mla' as never } }, 'model.kv: expected a KvShape'],
    [
      {
        model: {
          ...TINY,
          bytesPerToken: 200,
          kv: { kind: 'mla', latentDims: 100, ropeDims: 0, layers: 1 },
        },
        kvDtype: 'fp8',
      },
      'model.kv.latentDims: expected a multiple of 128',
    ],
    [
      { model: LLAMA_3_8B, kvDtype: 'fp8', budgetBytes: 256 },
      "budgetBytes: expected more than the 256 bytes of the fp8 cache's scales, got 256",
    ],
  ];
  for (const [options, message] of cases) {
    assert.throws(
      () => simulateTrace(t, { model: TINY_MLA, ...options }),
      (e: unknown) => e instanceof ArgumentError && e.message.startsWith(message),
      message,
    );
  }
});
