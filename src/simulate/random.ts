// A seeded pseudo-random source: the same seed always gives the same traffic, on every machine.
// mulberry32 is tiny, fast and good enough for traffic shapes (not for secrets).

export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [min, max]. */
  between(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Exponentially distributed with the given mean (Poisson arrivals). */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /** Log-normal: long-tailed, `median` in the middle, `sigma` the spread of its logarithm. */
  logNormal(median: number, sigma: number): number {
    // Box-Muller; one of the pair is enough here.
    const u = 1 - this.next();
    const v = this.next();
    return median * Math.exp(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
  }
}

/** Values drawn by weight, by a binary search over cumulative weights. */
export class Weighted<T> {
  private readonly cumulative: number[];
  readonly values: readonly T[];

  constructor(entries: readonly (readonly [T, number])[]) {
    if (entries.length === 0) throw new Error('a weighted choice needs at least one value');
    this.values = entries.map(([value]) => value);
    let total = 0;
    this.cumulative = entries.map(([, weight]) => (total += weight));
  }

  draw(random: Random): T {
    const x = random.next() * this.cumulative[this.cumulative.length - 1]!;
    let low = 0;
    let high = this.cumulative.length - 1;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.cumulative[mid]! > x) high = mid;
      else low = mid + 1;
    }
    return this.values[low]!;
  }
}

/** Zipf-like popularity: the k-th value (from 1) weighs 1/k^s, so a few values carry most draws. */
export function zipf<T>(values: readonly T[], s = 1.1): Weighted<T> {
  return new Weighted(values.map((value, i) => [value, 1 / Math.pow(i + 1, s)] as const));
}
