/** Shared by the GPU tests: whether a GPU can run them here, and moving problems to the device. */
import '../../src/backend/cuda/register.js';
import { CudaTensor } from '../../src/backend/cuda/cuda-tensor.js';
import { probeCuda } from '../../src/backend/cuda/probe.js';
import type { Tensor } from '../../src/tensor.js';

const probe = probeCuda();

/** `skip` option of the GPU tests: false where a GPU runs them, else the reason. */
export const skipWithoutGpu: string | false = probe.available ? false : `no GPU: ${probe.reason}`;

/** Device copies of host tensors, all disposed together. */
export class DeviceScope implements Disposable {
  private readonly owned: CudaTensor[] = [];

  upload(t: Tensor): CudaTensor {
    return this.own(CudaTensor.fromHost(t));
  }

  own<T extends CudaTensor>(t: T): T {
    this.owned.push(t);
    return t;
  }

  [Symbol.dispose](): void {
    for (const t of this.owned) t.dispose();
  }
}
