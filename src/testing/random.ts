/** A small seeded pseudo-random generator, so every test and benchmark input can be reproduced. */
export class Random {
  private state: number;
  private spareNormal: number | undefined;

  constructor(seed: number) {
    this.state = seed | 0;
  }

  /** Uniform in [0, 1), 32 bits of randomness (the mulberry32 mixing function). */
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max). */
  int(min: number, max: number): number {
    return min + Math.floor(this.uniform() * (max - min));
  }

  /** Standard normal (Box-Muller, the second value kept for the next call). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const z = this.spareNormal;
      this.spareNormal = undefined;
      return z;
    }
    // 1 - uniform() is in (0, 1], so the logarithm is finite.
    const radius = Math.sqrt(-2 * Math.log(1 - this.uniform()));
    const angle = 2 * Math.PI * this.uniform();
    this.spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const k = this.int(0, i + 1);
      [items[i], items[k]] = [items[k], items[i]];
    }
    return items;
  }
}

/** clamp(randn / 10, -1, 1), as FlashMLA's tests draw queries and caches. */
export function attentionValue(rng: Random): number {
  return Math.min(1, Math.max(-1, rng.normal() / 10));
}

/** Lengths as the benchmark suites draw them: max(round(normal(sK, sK / 2)), sQ), or all sK. */
export function sequenceLengths(
  rng: Random,
  b: number,
  sK: number,
  sQ: number,
  varlen: boolean,
): number[] {
  const lengths: number[] = [];
  for (let i = 0; i < b; i++) {
    lengths.push(varlen ? Math.max(Math.round(sK + (sK / 2) * rng.normal()), sQ) : sK);
  }
  return lengths;
}
