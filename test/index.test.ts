// The package's public entry point: what a user imports is there and works end to end.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as api from '../src/index.js';

test('the public API exports the decode, cache, tensor, CUDA and study entry points', () => {
  for (const name of [
    'getMlaMetadata',
    'flashMlaWithKvcache',
    'gqaDecodeWithKvcache',
    'writeKv',
    'quantizeFp8DsMla',
    'dequantizeFp8DsMla',
    'quantizeE4m3',
    'dequantizeE4m3',
    'PagedKvCache',
    'applyPageCopies',
    'Tensor',
    'CudaTensor',
    'CudaStream',
    'CudaGraph',
    'probeCuda',
    'simulateTrace',
    'parseTrace',
    'ArgumentError',
    'OutOfPagesError',
    'BackendUnavailableError',
  ]) {
    assert.equal(typeof (api as Record<string, unknown>)[name], 'function', name);
  }
});

test('the memory study runs as a library function on a trace parsed from text', () => {
  const csv = [
    'TIMESTAMP,ContextTokens,GeneratedTokens',
    '2023-11-16 18:15:46.0000000,100,5',
    '2023-11-16 18:15:46.5000000,300,2',
    '2023-11-16 18:15:47.0000000,50,8',
  ].join('\n');
  const trace = api.parseTrace(csv, 'inline.csv');
  const result = api.simulateTrace(trace, { model: api.LLAMA_3_8B });
  assert.ok(result.policies.length >= 5);
  for (const p of result.policies) {
    assert.equal(p.completed + p.rejectedTooLarge, 3, p.policy);
    assert.equal(p.decode.tokens, 5 + 2 + 8, p.policy);
  }
});
