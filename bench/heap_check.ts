// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Heap growth over 1,000,000 `selectInto(events, 0)` calls with one ready
 * fd, measured after gc() before and after; prints one JSON line.
 *
 *     deno run --allow-ffi --v8-flags=--expose-gc bench/heap_check.ts
 *
 * @module
 */

import { Interest, openEventFd, openSelector, SelectorEvents } from "../mod.ts";

const CALLS = 1_000_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("Run with --v8-flags=--expose-gc");

using selector = openSelector<number>();
using ready = openEventFd({ initial: 1 });
selector.register(ready.fd, Interest.READABLE, { data: 7 });
const events = new SelectorEvents<number>();
selector.selectInto(events, 0); // warm up, and let the buffers reach their size

gc();
const before = Deno.memoryUsage().heapUsed;
let sum = 0;
for (let i = 0; i < CALLS; i++) sum += selector.selectInto(events, 0);
gc();
const after = Deno.memoryUsage().heapUsed;
if (sum !== CALLS) throw new Error(`${sum} events in ${CALLS} calls`);
selector.unregister(ready.fd);
console.log(JSON.stringify({ calls: CALLS, heapGrowthBytes: after - before }));
