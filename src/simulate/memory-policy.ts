/**
 * How a simulated server holds KV-cache memory for its requests. The simulator asks a policy to
 * admit a request, to give a running request room for one more token, and to release it; the
 * policy answers from its own allocator and reports what it holds.
 */
import { ArgumentError } from '../errors.js';

/** Why an admission failed, or that it did not. */
export type Admission = 'admitted' | 'no-memory' | 'fragmented';

export interface MemoryPolicy {
  readonly name: string;
  /** Token slots the whole budget holds under this policy (whole pages or whole slots). */
  readonly capacitySlots: number;
  /** Whether a request of `finalTokens` tokens could run to the end with the pool to itself. */
  fitsAlone(finalTokens: number): boolean;
  /**
   * Admits request `r` with `tokens` tokens to store now (its prefill) and `finalTokens` when done.
   * 'fragmented': enough memory is free, but not in one piece.
   */
  admit(r: number, tokens: number, finalTokens: number): Admission;
  /** Room for one more token of `r`; false (changing nothing) when memory has run out. */
  grow(r: number): boolean;
  release(r: number): void;
  /** Slots held (reserved regions, or used pages times the page size). */
  slotsInUse(): number;
  /**
   * Held slots that hold no token, each physical slot counted once. `tokensHeld`: the tokens of all
   * running requests, as the simulator counts them (a shared token once per request).
   */
  slotsUnused(tokensHeld: number): number;
  /** Free slots outside the largest free region: free, yet of no use to a request larger than the rest. */
  fragmentedSlots(): number;
  /** Tokens of `r`'s latest admission stored by reference to pages already computed: no prefill. */
  sharedTokens?(r: number): number;
  /** Policies with a prefix cache: what it served. */
  prefixStats?(): PrefixStats;
}

export interface PrefixStats {
  /** Prompt tokens of the requests admitted (first admissions only). */
  readonly promptTokens: number;
  /** Of those, tokens found in the cache: their pages shared, not stored again. */
  readonly hitTokens: number;
  readonly hitRate: number;
  /** Blocks stored in new pages, and blocks evicted to free pages. */
  readonly blocksStored: number;
  readonly blocksEvicted: number;
}

/**
 * A policy by name: `contiguous-max`, `contiguous-exact`, `contiguous-<tokens>` (a region of that
 * many tokens per request, what a server configured with that maximum length reserves),
 * `paged-<pageSize>`, `paged-<pageSize>-shared`, `paged-<pageSize>-prefix` (a prefix cache over the
 * trace's block hashes).
 */
export type PolicySpec =
  | { readonly kind: 'contiguous-max' }
  | { readonly kind: 'contiguous-exact' }
  | { readonly kind: 'contiguous-reserve'; readonly tokens: number }
  | { readonly kind: 'paged'; readonly pageSize: number; readonly sharePrefix: boolean }
  | { readonly kind: 'paged-prefix'; readonly pageSize: number };

const PAGED = /^paged-(\d+)(-shared|-prefix)?$/;
const RESERVE = /^contiguous-([1-9]\d*)$/;

export function parsePolicyName(name: string): PolicySpec {
  if (name === 'contiguous-max' || name === 'contiguous-exact') return { kind: name };
  const reserve = RESERVE.exec(name);
  if (reserve !== null && Number.isSafeInteger(Number(reserve[1]))) {
    return { kind: 'contiguous-reserve', tokens: Number(reserve[1]) };
  }
  const m = PAGED.exec(name);
  const pageSize = m === null ? NaN : Number(m[1]);
  if (!(pageSize >= 1 && Number.isSafeInteger(pageSize))) {
    throw new ArgumentError(
      'policy',
      'contiguous-max, contiguous-exact, contiguous-<tokens>, paged-<pageSize>, paged-<pageSize>-shared or paged-<pageSize>-prefix (>= 1)',
      JSON.stringify(name),
    );
  }
  if (m![2] === '-prefix') return { kind: 'paged-prefix', pageSize };
  return { kind: 'paged', pageSize, sharePrefix: m![2] !== undefined };
}

export function policyName(spec: PolicySpec): string {
  if (spec.kind === 'contiguous-reserve') return `contiguous-${spec.tokens}`;
  if (spec.kind === 'paged-prefix') return `paged-${spec.pageSize}-prefix`;
  if (spec.kind !== 'paged') return spec.kind;
  return `paged-${spec.pageSize}${spec.sharePrefix ? '-shared' : ''}`;
}

/** The study's policies: both contiguous baselines, pages of 1, 16 and 64 tokens, and with a shared system prompt, the same pages sharing it. */
export function defaultPolicies(systemPromptTokens: number): PolicySpec[] {
  const pageSizes = [1, 16, 64];
  const specs: PolicySpec[] = [{ kind: 'contiguous-max' }, { kind: 'contiguous-exact' }];
  for (const pageSize of pageSizes) specs.push({ kind: 'paged', pageSize, sharePrefix: false });
  if (systemPromptTokens > 0) {
    for (const pageSize of pageSizes) specs.push({ kind: 'paged', pageSize, sharePrefix: true });
  }
  return specs;
}

/** The prefix-cache policies the study adds: pages of 1, 16 and 64 tokens. */
export function prefixPolicies(): PolicySpec[] {
  return [1, 16, 64].map((pageSize) => ({ kind: 'paged-prefix', pageSize }));
}
