/** Where the native library is looked for: $FLASH_MLA_LIBRARY, else build/libflashmla.so in the package. */
import { join } from 'node:path';
import { packageRoot } from '../../package-root.js';

export const LIBRARY_ENV = 'FLASH_MLA_LIBRARY';

export function nativeLibraryPath(): string {
  return process.env[LIBRARY_ENV] || join(packageRoot(), 'build', 'libflashmla.so');
}
