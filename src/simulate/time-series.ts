/**
 * A quantity over simulated time, as time-weighted means over equal buckets. Idle time between
 * steps counts as zero, so a bucket's value is (sum of value x time held) / bucket width.
 */
export class TimeSeries {
  private readonly sums: number[] = [];

  constructor(readonly bucketSeconds: number) {}

  /** Adds `value` held from `start` for `seconds`, split over the buckets the interval covers. */
  add(start: number, seconds: number, value: number): void {
    const end = start + seconds;
    let b = Math.floor(start / this.bucketSeconds);
    for (let t = start; t < end; b++) {
      const bucketEnd = Math.min(end, (b + 1) * this.bucketSeconds);
      while (this.sums.length <= b) this.sums.push(0);
      this.sums[b] += value * (bucketEnd - t);
      t = bucketEnd;
    }
  }

  /** The time-weighted mean of each bucket. */
  means(): number[] {
    return this.sums.map((s) => s / this.bucketSeconds);
  }
}
