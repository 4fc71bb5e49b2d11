import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getMlaMetadata } from '../../../src/backend/cpu/mla-metadata.js';
import { Tensor } from '../../../src/tensor.js';

test('getMlaMetadata returns int32 tensors of shapes [numSmParts, 8] and [b + 1]', () => {
  const seqlens = Tensor.from([100, 0, 1000], [3], 'int32');
  const { tileSchedulerMetadata, numSplits } = getMlaMetadata(seqlens, 128, 1, 8);
  assert.equal(tileSchedulerMetadata.dtype, 'int32');
  assert.deepEqual(tileSchedulerMetadata.shape, [4, 8]);
  assert.equal(numSplits.dtype, 'int32');
  assert.deepEqual(numSplits.shape, [4]);
  assert.deepEqual([...numSplits.data], [0, 1, 2, 4]);
});
