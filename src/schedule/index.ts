/**
 * The split-KV schedule (docs/schedule.md): its constants and its host computation, shared by
 * validation, the CPU backend and the benchmarks so that all of them agree with the GPU kernel.
 */
export * from './constants.js';
export { computeSchedule, type Schedule } from './compute-schedule.js';
