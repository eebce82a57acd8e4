// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Round-trip times in log-linear buckets, as bench/echo_load.c keeps them:
 * exact below 128 ns, then 64 buckets per power of two (under 1.6% apart),
 * so that recording allocates nothing and any percentile can be read.
 *
 * @module
 */

const SUB_BITS = 6;
const BUCKETS = 64 * 40;
/** The largest time recorded as itself, in ns (2^31 - 1, about 2.1 s); longer ones are kept here. */
const MAX_NS = 0x7fffffff;

function bucketOf(ns: number): number {
  if (ns < 128) return ns;
  const k = 31 - Math.clz32(ns); // 2^k <= ns, k >= 7
  return (k - SUB_BITS) * 64 + (ns >>> (k - SUB_BITS));
}

function bucketLow(index: number): number {
  if (index < 128) return index;
  const k = Math.floor(index / 64) + SUB_BITS - 1;
  return (index % 64 + 64) * 2 ** (k - SUB_BITS);
}

/** A histogram of durations. */
export class Histogram {
  #counts = new Float64Array(BUCKETS);
  #total = 0;
  #max = 0;

  /** How many durations were recorded. */
  get count(): number {
    return this.#total;
  }

  /** The longest duration recorded, in microseconds (exact); 0 if none was. */
  get maxUs(): number {
    return this.#max * 1000;
  }

  /**
   * Records one duration.
   *
   * @param ms the duration in milliseconds
   */
  record(ms: number): void {
    const ns = ms * 1e6;
    this.#counts[bucketOf(ns >= MAX_NS ? MAX_NS : ns > 0 ? Math.round(ns) : 0)]++;
    this.#total++;
    if (ms > this.#max) this.#max = ms;
  }

  /**
   * The duration below which a fraction `p` of those recorded fall.
   *
   * @param p from 0 to 1
   * @returns microseconds (the middle of the bucket), 0 if none was recorded
   */
  percentile(p: number): number {
    if (this.#total === 0) return 0;
    const rank = Math.min(Math.floor(p * this.#total), this.#total - 1);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i];
      if (seen > rank) return (bucketLow(i) + bucketLow(i + 1)) / 2 / 1000;
    }
    return 0;
  }
}
