/**
 * Every function and constructor exported by the package, called with random arguments: it returns,
 * or throws one of the package's typed errors, never a raw TypeError, RangeError or crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as api from '../src/index.js';
import { FlashMlaError } from '../src/errors.js';

const anything: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: -3, max: 40 }),
  fc.constantFrom(0, -1, 0.5, NaN, Infinity, 2 ** 31, 2 ** 53, -0),
  fc.string({ maxLength: 3 }),
  fc.constantFrom(
    null,
    undefined,
    true,
    '8',
    8n,
    [],
    {},
    [2],
    [[1]],
    () => 1,
    'bfloat16',
    'float32',
  ),
  fc.constantFrom(Symbol('s')),
);

const isClass = (f: unknown): boolean =>
  typeof f === 'function' && /^class\b/.test(Function.prototype.toString.call(f));

/** Functions and classes; error classes are excluded: they describe errors, they check nothing. */
const callables = Object.entries(api).filter(
  ([, v]) => typeof v === 'function' && !(v.prototype instanceof Error),
) as [string, (...args: unknown[]) => unknown][];

/** `call` returns (or resolves), or throws (or rejects with) a FlashMlaError. */
async function resultOrTypedError(what: string, call: () => unknown): Promise<void> {
  try {
    const result = call();
    if (result instanceof Promise) await result;
  } catch (e) {
    assert.ok(e instanceof FlashMlaError, `${what} threw ${String(e)}`);
  }
}

const show = (args: unknown[]): string => args.map((a) => String(a)).join(', ');

for (const [name, f] of callables) {
  test(`${name}: random arguments give a result or a typed error`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(anything, { maxLength: 5 }), (args) =>
        resultOrTypedError(`${name}(${show(args)})`, () =>
          isClass(f) ? new (f as unknown as new (...a: unknown[]) => unknown)(...args) : f(...args),
        ),
      ),
      { numRuns: 150, seed: 7 },
    );
  });
  // Static methods: Tensor.from, CudaTensor.empty, CudaStream.create, CudaGraph.capture, ...
  if (!isClass(f)) continue;
  for (const method of Object.getOwnPropertyNames(f)) {
    const m = (f as unknown as Record<string, unknown>)[method];
    if (typeof m !== 'function' || method === 'constructor') continue;
    test(`${name}.${method}: random arguments give a result or a typed error`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(anything, { maxLength: 5 }), (args) =>
          resultOrTypedError(`${name}.${method}(${show(args)})`, () =>
            (m as (...a: unknown[]) => unknown).apply(f, args),
          ),
        ),
        { numRuns: 150, seed: 7 },
      );
    });
  }
}

/** Valid instances whose methods take arguments from callers. */
const instances: [string, () => object][] = [
  ['Tensor', () => api.Tensor.from([1, 2, 3, 4, 5, 6], [2, 3], 'float32')],
  [
    'PagedKvCache',
    () => {
      const cache = new api.PagedKvCache({ numPages: 8, pageSize: 4 });
      cache.append(cache.createSequence(), 5);
      return cache;
    },
  ],
];

for (const [name, make] of instances) {
  const proto = Object.getPrototypeOf(make()) as object;
  for (const method of Object.getOwnPropertyNames(proto)) {
    const m = Object.getOwnPropertyDescriptor(proto, method)?.value as unknown;
    if (typeof m !== 'function' || method === 'constructor') continue;
    test(`${name}#${method}: random arguments give a result or a typed error`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(anything, { maxLength: 4 }), (args) =>
          resultOrTypedError(`${name}#${method}(${show(args)})`, () =>
            (m as (...a: unknown[]) => unknown).apply(make(), args),
          ),
        ),
        { numRuns: 150, seed: 7 },
      );
    });
  }
}
