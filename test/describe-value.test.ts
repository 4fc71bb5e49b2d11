import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeValue } from '../src/describe-value.js';
import { ArgumentError } from '../src/errors.js';
import { PagedKvCache } from '../src/kvcache/paged-kv-cache.js';

test('strings print quoted and typed, so "8" and 8 read differently', () => {
  assert.equal(describeValue(8), '8');
  assert.equal(describeValue('8'), '"8" (string)');
  assert.equal(describeValue(-0), '-0');
  assert.equal(describeValue(true), 'true (boolean)');
  assert.equal(describeValue(8n), '8n (bigint)');
  assert.equal(describeValue(null), 'null');
  assert.equal(describeValue(undefined), 'undefined');
  assert.equal(describeValue([1, 2]), 'an Array of 2 elements');
  assert.equal(describeValue(new Int32Array(1)), 'a Int32Array');
  assert.equal(describeValue({}), 'an object');
});

test('error messages quote a string argument', () => {
  assert.throws(
    () => new PagedKvCache({ numPages: '8' as unknown as number, pageSize: 16 }),
    (e: unknown) => e instanceof ArgumentError && /got "8" \(string\)$/.test(e.message),
  );
  assert.throws(
    () => new PagedKvCache({ numPages: 0, pageSize: 16 }),
    (e: unknown) => e instanceof ArgumentError && /got 0$/.test(e.message),
  );
});
