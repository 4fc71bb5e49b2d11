/**
 * Which backend runs an operation: the one registered for the location of its tensors. The CPU
 * backend serves 'host' tensors from the start; a device backend registers itself when loaded.
 */
import { ArgumentError, BackendUnavailableError } from '../errors.js';
import type { Location, TensorLike } from '../tensor.js';
import type { Backend } from './backend.js';
import { cpuBackend } from './cpu/index.js';

const LOCATION_OF_BACKEND: Record<Backend['name'], Location> = { cpu: 'host', cuda: 'cuda' };

const backends = new Map<Location, Backend>();

/** Makes `backend` the one that runs operations on tensors of its location (replacing any other). */
export function registerBackend(backend: Backend): void {
  backends.set(LOCATION_OF_BACKEND[backend.name], backend);
}

/** The backend for tensors at `location`; `argName` names the tensor that asked, for the message. */
export function backendFor(location: Location, argName: string): Backend {
  const backend = backends.get(location);
  if (!backend) {
    throw new BackendUnavailableError(
      location,
      `no backend is registered for '${location}' tensors (argument ${argName})`,
    );
  }
  return backend;
}

/**
 * The backend for a call's tensors, which must all live in one place. `tensors` lists them by
 * argument name, in argument order; the first one's location decides.
 */
export function backendForTensors(tensors: Readonly<Record<string, TensorLike>>): Backend {
  const entries = Object.entries(tensors);
  const [firstName, first] = entries[0];
  for (const [name, t] of entries) {
    if (t.location !== first.location) {
      throw new ArgumentError(
        name,
        `a tensor on '${first.location}', like ${firstName}`,
        `a tensor on '${t.location}'`,
      );
    }
  }
  return backendFor(first.location, firstName);
}

registerBackend(cpuBackend);
