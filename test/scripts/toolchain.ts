// The native toolchain as the builds find it, for tests that skip without it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** nvcc where scripts/build-native.mjs, CMakeLists.txt and python/native_build.py look for it. */
export function findNvcc(): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const home of [process.env.CUDA_HOME, process.env.CUDA_PATH, '/usr/local/cuda']) {
    if (home) dirs.push(join(home, 'bin'));
  }
  return dirs.map((d) => join(d, 'nvcc')).find((p) => existsSync(p));
}

export const NVCC_PLACES = 'PATH, $CUDA_HOME/bin, $CUDA_PATH/bin, /usr/local/cuda/bin';

export function hasCmake(): boolean {
  return spawnSync('cmake', ['--version']).status === 0;
}
