/** The step model a replay runs under: its options checked, its defaults filled in, its cost function. */
import { describeValue } from '../describe-value.js';
import { ArgumentError } from '../errors.js';
import { checkNumber, checkObject } from './check-options.js';
import {
  DEFAULT_BANDWIDTH_BYTES_PER_S,
  defaultStepOverheadSeconds,
  type ModelCompute,
  type ModelLayout,
} from './model-layouts.js';
import { bandwidthStepCost, computeStepCost, type StepCost, type StepModel } from './step-cost.js';
import { H200_STEP_RATES, type StepRates } from './step-rates.js';

export interface StepOptions {
  /** Default 'compute'. */
  readonly stepModel?: StepModel;
  /** Default: 3004e9 (bandwidth model, the H100's measured copy), else the H200's measured copy. */
  readonly bandwidthBytesPerS?: number;
  /** Default: reading the card's weights once at the bandwidth (bandwidth model), else 0. */
  readonly stepOverheadSeconds?: number;
  /** Compute model: rates in place of H200_STEP_RATES' (its copy rate gives way to bandwidthBytesPerS). */
  readonly stepRates?: Partial<StepRates>;
}

/** The step model of a replay, its defaults filled in, as reported. */
export interface StepSetup {
  readonly stepModel: StepModel;
  readonly bandwidthBytesPerS: number;
  readonly stepOverheadSeconds: number;
  /** The compute model's rates (their copy rate is `bandwidthBytesPerS`). */
  readonly stepRates?: StepRates;
}

export function resolveStepSetup(model: ModelLayout, options: StepOptions): StepSetup {
  const stepModel = options.stepModel ?? 'compute';
  if (stepModel !== 'compute' && stepModel !== 'bandwidth') {
    throw new ArgumentError('stepModel', "'compute' or 'bandwidth'", describeValue(stepModel));
  }
  const compute = stepModel === 'compute';
  const bandwidthBytesPerS = checkNumber(
    'bandwidthBytesPerS',
    options.bandwidthBytesPerS ??
      (compute ? H200_STEP_RATES.copyBytesPerS : DEFAULT_BANDWIDTH_BYTES_PER_S),
  );
  const stepOverheadSeconds = checkNumber(
    'stepOverheadSeconds',
    options.stepOverheadSeconds ??
      (compute ? 0 : defaultStepOverheadSeconds(model, bandwidthBytesPerS)),
    { zero: true },
  );
  if (!compute) return { stepModel, bandwidthBytesPerS, stepOverheadSeconds };
  if (model.compute === undefined) {
    throw new ArgumentError(
      'model.compute',
      "the model's shapes (ModelCompute) for stepModel 'compute', or stepModel 'bandwidth'",
      'undefined',
    );
  }
  checkObject('stepRates', options.stepRates ?? {}, 'an object of StepRates fields');
  const stepRates = { ...H200_STEP_RATES, ...options.stepRates, copyBytesPerS: bandwidthBytesPerS };
  for (const [key, value] of Object.entries(stepRates)) checkNumber(`stepRates.${key}`, value);
  return { stepModel, bandwidthBytesPerS, stepOverheadSeconds, stepRates };
}

/**
 * The cost function of `setup` for `model`, whose cache holds `bytesPerToken` a token (its dtype's;
 * a compute setup comes only from a model with shapes).
 */
export function stepCost(model: ModelLayout, setup: StepSetup, bytesPerToken: number): StepCost {
  if (setup.stepRates === undefined) {
    return bandwidthStepCost(bytesPerToken, setup.bandwidthBytesPerS, setup.stepOverheadSeconds);
  }
  return computeStepCost(
    model as ModelLayout & { compute: ModelCompute },
    setup.stepRates,
    setup.stepOverheadSeconds,
    bytesPerToken,
  );
}
