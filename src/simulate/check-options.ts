/**
 * Checks of what a caller of `simulateTrace` (and of the report and plot of its results) passes, so
 * that a wrong value is an ArgumentError naming the option, what it should be and what it was, and
 * never a TypeError from deep in a replay.
 */
import { describeValue } from '../describe-value.js';
import { ArgumentError } from '../errors.js';
import { parsePolicyName, policyName, type PolicySpec } from './memory-policy.js';
import {
  KV_DTYPES,
  kvFormat,
  type KvDtype,
  type KvShape,
  type ModelLayout,
} from './model-layouts.js';
import type { Trace } from './trace.js';

/** A number > 0 (or >= 0 with `zero`), an integer with `integer`; returns it. */
export function checkNumber(
  argument: string,
  value: unknown,
  rule: { integer?: boolean; zero?: boolean } = {},
): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (rule.zero ? value >= 0 : value > 0) &&
    (!rule.integer || Number.isSafeInteger(value));
  if (!ok) {
    const kind = rule.integer ? 'an integer' : 'a finite number';
    throw new ArgumentError(
      argument,
      `${kind} ${rule.zero ? '>= 0' : '> 0'}`,
      describeValue(value),
    );
  }
  return value as number;
}

export function checkObject(argument: string, value: unknown, expected: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ArgumentError(argument, expected, describeValue(value));
  }
}

/** A KV-cache dtype, 'bf16' or 'fp8'; returns it. */
export function checkKvDtype(argument: string, value: unknown): KvDtype {
  if (!KV_DTYPES.includes(value as KvDtype)) {
    throw new ArgumentError(argument, "'bf16' or 'fp8'", describeValue(value));
  }
  return value as KvDtype;
}

/** A model layout: the fields the replay reads. */
export function checkModel(value: unknown): ModelLayout {
  checkObject('model', value, 'a ModelLayout (e.g. DEEPSEEK_V3)');
  const model = value as ModelLayout;
  if (typeof model.name !== 'string') {
    throw new ArgumentError('model.name', 'a string', describeValue(model.name));
  }
  checkNumber('model.bytesPerToken', model.bytesPerToken, { integer: true });
  checkNumber('model.maxContext', model.maxContext, { integer: true });
  checkNumber('model.weightBytesPerCard', model.weightBytesPerCard, { zero: true });
  if (model.kv !== undefined) checkKvShape(model);
  return model;
}

const KV_SHAPE_FIELDS = {
  mla: ['latentDims', 'ropeDims', 'layers'],
  gqa: ['kvHeads', 'headDim', 'layers'],
} as const;

/** A KvShape named `argument`: a kind and its integer sizes > 0 (ropeDims >= 0). */
export function checkKvShapeFields(argument: string, value: unknown): KvShape {
  checkObject(argument, value, "a KvShape ({ kind: 'mla' | 'gqa', ... })");
  const shape = value as KvShape;
  if (!Object.hasOwn(KV_SHAPE_FIELDS, shape.kind)) {
    throw new ArgumentError(`${argument}.kind`, "'mla' or 'gqa'", describeValue(shape.kind));
  }
  for (const field of KV_SHAPE_FIELDS[shape.kind]) {
    const size = (shape as unknown as Record<string, unknown>)[field];
    checkNumber(`${argument}.${field}`, size, { integer: true, zero: field === 'ropeDims' });
  }
  return shape;
}

/** A model's cache shapes: integers > 0 (ropeDims >= 0), whose bf16 bytes are its bytesPerToken. */
function checkKvShape(model: ModelLayout): void {
  const shape = checkKvShapeFields('model.kv', model.kv);
  // One source of the bytes: a layout whose bytesPerToken disagrees with its shapes is ambiguous.
  const bf16 = kvFormat(shape, 'bf16').bytesPerToken;
  if (model.bytesPerToken !== bf16) {
    throw new ArgumentError(
      'model.bytesPerToken',
      `${bf16} (the bf16 bytes of model.kv), or model.kv undefined`,
      String(model.bytesPerToken),
    );
  }
}

const TRACE_ARRAYS = [
  ['arrival', Float64Array],
  ['promptTokens', Int32Array],
  ['generatedTokens', Int32Array],
] as const;

/** A trace: its three arrays, of one length. */
export function checkTrace(value: unknown): Trace {
  checkObject('trace', value, 'a Trace (from readTrace or parseTrace)');
  const trace = value as Trace;
  for (const [field, type] of TRACE_ARRAYS) {
    if (!(trace[field] instanceof type)) {
      throw new ArgumentError(`trace.${field}`, `a ${type.name}`, describeValue(trace[field]));
    }
    if (trace[field].length !== trace.arrival.length) {
      throw new ArgumentError(
        `trace.${field}.length`,
        `${trace.arrival.length} (trace.arrival.length)`,
        String(trace[field].length),
      );
    }
  }
  return trace;
}

/** A list of policy specs, each one parsePolicyName accepts. */
export function checkPolicies(value: unknown): readonly PolicySpec[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new ArgumentError('policies', 'a non-empty array of policy specs', describeValue(value));
  }
  value.forEach((spec: unknown, i) => {
    checkObject(`policies[${i}]`, spec, 'a policy spec (e.g. from parsePolicyName)');
    try {
      const parsed = parsePolicyName(policyName(spec as PolicySpec));
      if (
        parsed.kind === 'paged' &&
        parsed.sharePrefix !== (spec as PolicySpec & { sharePrefix: unknown }).sharePrefix
      ) {
        throw new Error('sharePrefix is not a boolean');
      }
    } catch {
      throw new ArgumentError(
        `policies[${i}]`,
        "{ kind: 'contiguous-max' | 'contiguous-exact' }, { kind: 'contiguous-reserve', tokens >= 1 } or { kind: 'paged', pageSize >= 1, sharePrefix } or { kind: 'paged-prefix', pageSize >= 1 }",
        JSON.stringify(spec),
      );
    }
  });
  return value as readonly PolicySpec[];
}

/** The top-level fields of a ScenarioResult that the report and the plot read, with their types. */
const SCENARIO_FIELDS: readonly (readonly [string, 'number' | 'string'])[] = [
  ...(
    [
      'bytesPerToken',
      'kvFixedBytes',
      'budgetBytes',
      'maxContext',
      'systemPromptTokens',
      'timeScale',
      'requests',
      'skippedRows',
      'rejectedTooLong',
      'sloTtftSeconds',
      'sloTpotSeconds',
    ] as const
  ).map((key) => [key, 'number'] as const),
  ...(['model', 'layout', 'deployment', 'kvDtype', 'trace'] as const).map(
    (key) => [key, 'string'] as const,
  ),
];

/** A result of simulateTrace, as the report and the plot read it (its top level and policies). */
export function checkScenarioResult(argument: string, value: unknown): void {
  const expected = 'a ScenarioResult from simulateTrace';
  checkObject(argument, value, expected);
  const s = value as Record<string, unknown>;
  for (const [key, type] of SCENARIO_FIELDS) {
    if (typeof s[key] !== type) {
      throw new ArgumentError(
        `${argument}.${key}`,
        `a ${type} (${expected})`,
        describeValue(s[key]),
      );
    }
  }
  if (!Array.isArray(s.policies)) {
    throw new ArgumentError(`${argument}.policies`, 'an array', describeValue(s.policies));
  }
  s.policies.forEach((p: unknown, i) =>
    checkObject(`${argument}.policies[${i}]`, p, 'a PolicyResult'),
  );
}
