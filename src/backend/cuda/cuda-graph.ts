/**
 * CUDA graphs: capture the launches of a decode step once, replay them with one call. Every tensor a
 * captured step touches (inputs, outputs, workspace) must outlive the graph and keep its address, so
 * capture with preallocated `out`, `lse` and `workspace`, and update inputs in place between replays.
 */
import type { GraphExecHandle } from './native-api.js';
import { describeValue } from '../../describe-value.js';
import { ArgumentError } from '../../errors.js';
import { checkStream, CudaStream, nativeLibrary, streamHandle } from './runtime.js';

function endCapture(stream: CudaStream): GraphExecHandle {
  const exec: [bigint | number] = [0n];
  nativeLibrary().call('graphEndCapture', stream.handle, exec);
  return BigInt(exec[0]) as GraphExecHandle;
}

export class CudaGraph implements Disposable {
  #exec: GraphExecHandle | undefined;

  private constructor(exec: GraphExecHandle) {
    this.#exec = exec;
  }

  /** Runs `body` with every launch on `stream` recorded instead of run, and instantiates the graph. */
  static capture(stream: CudaStream, body: () => void): CudaGraph {
    checkStream(stream, 'stream');
    if (!stream || stream === CudaStream.legacyDefault) {
      throw new ArgumentError(
        'stream',
        'a created CudaStream (graph capture cannot use the legacy default)',
        stream === CudaStream.legacyDefault ? 'CudaStream.legacyDefault' : describeValue(stream),
      );
    }
    if (typeof body !== 'function') {
      throw new ArgumentError('body', 'a function', describeValue(body));
    }
    const lib = nativeLibrary();
    lib.call('graphBeginCapture', stream.handle);
    try {
      body();
    } catch (error) {
      // End the capture so that the stream is usable again, then report the body's error.
      try {
        lib.fn.graphDestroy(endCapture(stream));
      } catch {
        // The capture was already invalid; the body's error is the one that matters.
      }
      throw error;
    }
    return new CudaGraph(endCapture(stream));
  }

  /** Replays the captured launches on `stream` (asynchronously). */
  launch(stream: CudaStream): void {
    if (this.#exec === undefined) {
      throw new ArgumentError('graph', 'a live CudaGraph', 'a CudaGraph used after dispose()');
    }
    nativeLibrary().call('graphLaunch', this.#exec, streamHandle(stream));
  }

  dispose(): void {
    if (this.#exec === undefined) return;
    nativeLibrary().call('graphDestroy', this.#exec);
    this.#exec = undefined;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
