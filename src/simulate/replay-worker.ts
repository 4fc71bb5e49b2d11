/**
 * A worker thread of simulateScenarios: holds one copy of the trace and replays the jobs it is sent,
 * one scenario under one policy each, reporting progress as it goes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { simulateTrace, type SimulationOptions } from './simulate-trace.js';
import type { Trace } from './trace.js';

export interface ReplayJob {
  readonly job: number;
  readonly options: Omit<SimulationOptions, 'onProgress'>;
}

export type ReplayMessage =
  | { readonly job: number; readonly done: number }
  | { readonly job: number; readonly result: ReturnType<typeof simulateTrace> }
  | { readonly job: number; readonly error: string };

const trace = workerData as Trace;
const port = parentPort!;

port.on('message', ({ job, options }: ReplayJob) => {
  const post = (message: ReplayMessage) => port.postMessage(message);
  try {
    const result = simulateTrace(trace, {
      ...options,
      onProgress: (done) => post({ job, done }),
    });
    post({ job, result });
  } catch (e) {
    post({ job, error: (e as Error).stack ?? String(e) });
  }
});
