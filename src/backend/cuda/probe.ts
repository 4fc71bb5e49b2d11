/**
 * Says whether the CUDA backend can run here and, if not, why. The library is first loaded in a child
 * process, so that a broken binary or driver crashes the child and not the caller.
 */
import { spawnSync } from 'node:child_process';
import { findNativeLibrary, type FoundLibrary, type LibraryLookup } from './library-path.js';

export interface CudaDeviceSummary {
  readonly index: number;
  readonly name: string;
  readonly smCount: number;
  readonly computeCapability: string;
  readonly totalMemoryBytes: number;
}

export type CudaProbe =
  | {
      readonly available: true;
      readonly libraryPath: string;
      /** Which library was loaded and why that one. */
      readonly library: FoundLibrary;
      readonly devices: CudaDeviceSummary[];
    }
  | {
      readonly available: false;
      /** Undefined where no library was found. */
      readonly libraryPath: string | undefined;
      readonly library: LibraryLookup;
      readonly reason: string;
    };

/** The child's program: load the library, list the devices, print JSON. */
const CHILD = `
import { loadNativeLibrary } from ${JSON.stringify(new URL('./native-api.js', import.meta.url).href)};
try {
  process.stdout.write(JSON.stringify(loadNativeLibrary(process.argv[1]).listDevices()));
} catch (error) {
  process.stdout.write(JSON.stringify({ error: error.reason ?? error.message }));
}
`;

export function probeCuda(): CudaProbe {
  const library = findNativeLibrary();
  if (!library.found)
    return { available: false, libraryPath: undefined, library, reason: library.reason };
  const libraryPath = library.path;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD, libraryPath], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (child.status !== 0) {
    const detail = (child.stderr || '').trim().split('\n').filter(Boolean).pop() ?? '';
    const how = child.signal ? `crashed (${child.signal})` : `failed (exit code ${child.status})`;
    return {
      available: false,
      libraryPath,
      library,
      reason: `loading the native library ${how}: ${detail}`,
    };
  }
  const result = JSON.parse(child.stdout) as CudaDeviceSummary[] | { error: string };
  if (!Array.isArray(result))
    return { available: false, libraryPath, library, reason: result.error };
  if (result.length === 0) {
    return { available: false, libraryPath, library, reason: 'no CUDA device found' };
  }
  return { available: true, libraryPath, library, devices: result };
}
