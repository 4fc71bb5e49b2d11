/** Registers the CUDA backend for 'cuda' tensors. Loads nothing: the library loads on first use. */
import type { Backend } from '../backend.js';
import { registerBackend } from '../registry.js';
import { cudaBackend } from './cuda-backend.js';

registerBackend(cudaBackend as Backend);
