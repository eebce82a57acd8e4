// Copyright 2026 the @evented/io authors. MIT license.
/** The registered-fd counts of bench/scaling_bench.ts; each is a group of its own. */
export const SIZES = [10, 100, 1_000, 10_000] as const;
