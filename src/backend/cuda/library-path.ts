/**
 * Where the native library is looked for, in order: $FLASH_MLA_LIBRARY; build/libflashmla.so in the
 * package (a source checkout after `npm run build:native`); prebuilds/<platform>-<arch>/libflashmla.so
 * (what the packed package carries for linux-x64). Finding is kept apart from loading, so that the
 * order is testable with plain files and the answer says why each earlier place was passed over.
 */
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { packageRoot } from '../../package-root.js';

export const LIBRARY_ENV = 'FLASH_MLA_LIBRARY';
export const LIBRARY_FILE = 'libflashmla.so';

/** The package-relative folder of the library prebuilt for a platform (prebuildify's layout). */
export function prebuiltLibraryDir(platform: string, arch: string): string {
  return `prebuilds/${platform}-${arch}`;
}

export type LibraryPlace = 'env' | 'build' | 'prebuilt';

/** A place looked at before the one taken (or before giving up), and why it was passed over. */
export interface SkippedPlace {
  readonly place: LibraryPlace;
  readonly path: string | undefined;
  readonly why: string;
}

export type LibraryLookup =
  | {
      readonly found: true;
      readonly place: LibraryPlace;
      readonly path: string;
      /** Why this library, e.g. "prebuilt for linux-x64 (no FLASH_MLA_LIBRARY, ...)". */
      readonly reason: string;
      readonly skipped: readonly SkippedPlace[];
    }
  | { readonly found: false; readonly reason: string; readonly skipped: readonly SkippedPlace[] };

export type FoundLibrary = Extract<LibraryLookup, { found: true }>;

export interface LookupOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The package folder (default: this package's root). */
  readonly root?: string;
  readonly platform?: string;
  readonly arch?: string;
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

function passedOver(skipped: readonly SkippedPlace[]): string {
  return skipped.length === 0 ? '' : ` (${skipped.map((s) => s.why).join(', ')})`;
}

export function findNativeLibrary(options: LookupOptions = {}): LibraryLookup {
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  const arch = options.arch ?? process.arch;
  const skipped: SkippedPlace[] = [];

  const chosen = env[LIBRARY_ENV];
  if (chosen) {
    const path = resolve(chosen);
    if (isFile(path)) {
      return { found: true, place: 'env', path, reason: `set by ${LIBRARY_ENV}`, skipped };
    }
    // An explicit choice is the only place looked at: falling back would hide a wrong path.
    return {
      found: false,
      reason: `${LIBRARY_ENV}=${chosen}: no such file (when set, no other place is looked at)`,
      skipped,
    };
  }
  skipped.push({ place: 'env', path: undefined, why: `no ${LIBRARY_ENV}` });

  const root = options.root ?? packageRoot();
  const built = join(root, 'build', LIBRARY_FILE);
  if (isFile(built)) {
    return {
      found: true,
      place: 'build',
      path: built,
      reason: `built in this checkout${passedOver(skipped)}`,
      skipped,
    };
  }
  skipped.push({ place: 'build', path: built, why: `no build/${LIBRARY_FILE} in this checkout` });

  const target = `${platform}-${arch}`;
  const prebuilt = join(root, prebuiltLibraryDir(platform, arch), LIBRARY_FILE);
  if (isFile(prebuilt)) {
    return {
      found: true,
      place: 'prebuilt',
      path: prebuilt,
      reason: `prebuilt for ${target}${passedOver(skipped)}`,
      skipped,
    };
  }
  skipped.push({ place: 'prebuilt', path: prebuilt, why: `no library prebuilt for ${target}` });

  return {
    found: false,
    reason:
      `no native library found${passedOver(skipped)}: run 'npm run build:native' (needs nvcc) ` +
      `or set ${LIBRARY_ENV}`,
    skipped,
  };
}
