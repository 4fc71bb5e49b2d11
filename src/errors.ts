/** Errors thrown by flash-mla-ts. Every one is a class so callers can `instanceof` it. */

/** Base class of every error this package throws on purpose. */
export class FlashMlaError extends Error {
  override name = 'FlashMlaError';
}

/** An argument had the wrong shape, dtype, stride, range or value. Thrown before any work is done. */
export class ArgumentError extends FlashMlaError {
  override name = 'ArgumentError';
  constructor(
    /** The argument's name as the caller wrote it, e.g. `blockTable` or `q.shape[3]`. */
    readonly argument: string,
    /** What was expected, in words. */
    readonly expected: string,
    /** What was received, in words. */
    readonly actual: string,
  ) {
    super(`${argument}: expected ${expected}, got ${actual}`);
  }
}

/** The KV-cache pool has too few free pages for an append or fork; the cache was left unchanged. */
export class OutOfPagesError extends FlashMlaError {
  override name = 'OutOfPagesError';
  constructor(
    readonly needed: number,
    readonly free: number,
  ) {
    super(`KV cache out of pages: needed ${needed}, free ${free}`);
  }
}

/** A backend (e.g. CUDA) was asked for but cannot run here; `reason` says why. */
export class BackendUnavailableError extends FlashMlaError {
  override name = 'BackendUnavailableError';
  constructor(
    readonly backend: string,
    readonly reason: string,
  ) {
    super(`backend '${backend}' is unavailable: ${reason}`);
  }
}

/** The native library reported a failure (CUDA error, launch failure) after validation passed. */
export class NativeError extends FlashMlaError {
  override name = 'NativeError';
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(`native library error ${status}: ${detail}`);
  }
}

/**
 * A device allocation failed. `bytesFree` is what the device reported free just after; memory held
 * by CudaTensors that were never disposed is freed and retried first where the garbage collector
 * can find them, so what remains held is counted in `bytesHeldUndisposed`.
 */
export class OutOfDeviceMemoryError extends NativeError {
  override name = 'OutOfDeviceMemoryError';
  constructor(
    readonly bytesRequested: number,
    readonly bytesFree: number,
    readonly bytesTotal: number,
    readonly bytesHeldUndisposed: number,
  ) {
    super(
      4,
      `out of device memory: asked for ${bytesRequested} bytes, ${bytesFree} of ${bytesTotal} free` +
        (bytesHeldUndisposed > 0
          ? `; ${bytesHeldUndisposed} bytes are held by CudaTensors not yet disposed (dispose() frees at once)`
          : ''),
    );
  }
}
