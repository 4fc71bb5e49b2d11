/**
 * The CUDA runtime as this package uses it: the native library loaded once, the device in use, and
 * explicit streams and events. Nothing here is hidden: the device is `cudaDevice()` / `setCudaDevice()`.
 */
import { checkIntegerIn, INT32_MAX } from '../../check-integer.js';
import { describeValue } from '../../describe-value.js';
import { ArgumentError, BackendUnavailableError } from '../../errors.js';
import { findNativeLibrary, type FoundLibrary } from './library-path.js';
import {
  loadNativeLibrary,
  NULL_STREAM,
  type EventHandle,
  type NativeDeviceInfo,
  type NativeLibrary,
  type StreamHandle,
} from './native-api.js';

let library: NativeLibrary | undefined;
let loadedFrom: FoundLibrary | undefined;

/** The native library, loaded on first use; BackendUnavailableError says why it cannot be. */
export function nativeLibrary(): NativeLibrary {
  if (library) return library;
  const lookup = findNativeLibrary();
  if (!lookup.found) throw new BackendUnavailableError('cuda', lookup.reason);
  library = loadNativeLibrary(lookup.path);
  loadedFrom = lookup;
  return library;
}

/** Which library this process loaded and why that one (undefined before the first CUDA call). */
export function loadedNativeLibrary(): FoundLibrary | undefined {
  return loadedFrom;
}

const deviceInfos = new Map<number, NativeDeviceInfo>();

/** The index of the device that allocations and launches on this thread go to. */
export function cudaDevice(): number {
  const out: [number] = [0];
  nativeLibrary().call('getDevice', out);
  return out[0];
}

/** A device index, checked before the library is loaded or called. */
function checkDeviceIndex(index: unknown): asserts index is number {
  checkIntegerIn(index, 'index', 0, INT32_MAX, 'a device index');
}

export function setCudaDevice(index: number): void {
  checkDeviceIndex(index);
  nativeLibrary().call('setDevice', index);
}

/** Name, SM count, memory and L2 size of a device (default: the current one); cached. */
export function cudaDeviceInfo(index?: number): NativeDeviceInfo {
  if (index === undefined) index = cudaDevice();
  checkDeviceIndex(index);
  let info = deviceInfos.get(index);
  if (!info) {
    info = nativeLibrary().deviceInfo(index);
    deviceInfos.set(index, info);
  }
  return info;
}

/** True when the library loads and a device answers. */
export function cudaAvailable(): boolean {
  try {
    return nativeLibrary().listDevices().length > 0;
  } catch (error) {
    if (error instanceof BackendUnavailableError) return false;
    throw error;
  }
}

/** A CUDA stream. `CudaStream.legacyDefault` is the null stream and cannot be disposed. */
export class CudaStream implements Disposable {
  static readonly legacyDefault = new CudaStream(NULL_STREAM, false);
  #handle: StreamHandle | undefined;

  private constructor(
    handle: StreamHandle,
    private readonly owned: boolean,
  ) {
    this.#handle = handle;
  }

  static create(): CudaStream {
    return new CudaStream(nativeLibrary().create<StreamHandle>('streamCreate'), true);
  }

  get handle(): StreamHandle {
    if (this.#handle === undefined)
      throw new ArgumentError('stream', 'a live CudaStream', 'a disposed CudaStream');
    return this.#handle;
  }

  get disposed(): boolean {
    return this.#handle === undefined;
  }

  /** Blocks until everything launched on the stream has finished. */
  synchronize(): void {
    nativeLibrary().call('streamSynchronize', this.handle);
  }

  dispose(): void {
    if (!this.owned || this.#handle === undefined) return;
    nativeLibrary().call('streamDestroy', this.#handle);
    this.#handle = undefined;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** A CudaStream that was not disposed, or nothing (the legacy default stream). */
export function checkStream(
  stream: unknown,
  name: string,
): asserts stream is CudaStream | undefined | null {
  if (stream === undefined || stream === null) return;
  if (!(stream instanceof CudaStream)) {
    throw new ArgumentError(name, 'a CudaStream, null or undefined', describeValue(stream));
  }
  if (stream.disposed) throw new ArgumentError(name, 'a live CudaStream', 'a disposed CudaStream');
}

/** Accepts a CudaStream or nothing (the legacy default stream). */
export function streamHandle(stream: unknown, name = 'stream'): StreamHandle {
  checkStream(stream, name);
  return stream ? stream.handle : NULL_STREAM;
}

/** A CUDA event, for timing and ordering work on streams. */
export class CudaEvent implements Disposable {
  #handle: EventHandle | undefined;

  private constructor(handle: EventHandle) {
    this.#handle = handle;
  }

  static create(): CudaEvent {
    return new CudaEvent(nativeLibrary().create<EventHandle>('eventCreate'));
  }

  get handle(): EventHandle {
    if (this.#handle === undefined)
      throw new ArgumentError('event', 'a live CudaEvent', 'a disposed CudaEvent');
    return this.#handle;
  }

  record(stream: CudaStream = CudaStream.legacyDefault): this {
    const streamArg = streamHandle(stream);
    nativeLibrary().call('eventRecord', this.handle, streamArg);
    return this;
  }

  synchronize(): void {
    nativeLibrary().call('eventSynchronize', this.handle);
  }

  /** Milliseconds from `start` to this event; both recorded and completed. */
  elapsedSince(start: CudaEvent): number {
    if (!(start instanceof CudaEvent)) {
      throw new ArgumentError('start', 'a CudaEvent', describeValue(start));
    }
    const ms: [number] = [0];
    nativeLibrary().call('eventElapsedMs', ms, start.handle, this.handle);
    return ms[0];
  }

  dispose(): void {
    if (this.#handle === undefined) return;
    nativeLibrary().call('eventDestroy', this.#handle);
    this.#handle = undefined;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
