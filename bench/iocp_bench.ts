// Copyright 2026 the @evented/io authors. MIT license.
/**
 * CompletionPort post + get, single and batched, beside the same calls made
 * raw through FFI. Windows only (ignored elsewhere); run under Wine here:
 *
 *     tools/wine/run.sh bench --allow-ffi bench/iocp_bench.ts
 *
 * Under Wine these are Wine's figures, not Windows': never a performance claim.
 *
 * @module
 */

import { openCompletionPort } from "../mod.ts";
import { acquireKernel32, OVERLAPPED_ENTRY_SIZE } from "../ffi/kernel32.ts";

const windows = Deno.build.os === "windows";
const BATCH = 256;

// Everything below lives as long as the bench process.
const k32 = windows ? acquireKernel32() : undefined;
const port = windows ? openCompletionPort() : undefined;
const raw = k32?.CreateIoCompletionPort(
  Deno.UnsafePointer.create(0xffffffffffffffffn),
  null,
  0n,
  0,
);
const entries = new Uint8Array(BATCH * OVERLAPPED_ENTRY_SIZE);
const removed = new Uint8Array(4);
const removedCount = new Uint32Array(removed.buffer);

Deno.bench({
  group: "iocp-post-get-1",
  name: "raw PostQueuedCompletionStatus + GetQueuedCompletionStatusEx through FFI",
  baseline: true,
  ignore: !windows,
  fn() {
    k32!.PostQueuedCompletionStatus(raw!, 1, 7n, null);
    k32!.GetQueuedCompletionStatusEx(raw!, entries, BATCH, removed, 0, 0);
    if (removedCount[0] !== 1) throw new Error("no packet");
  },
});
Deno.bench({
  group: "iocp-post-get-1",
  name: "CompletionPort post() + get(0)",
  ignore: !windows,
  fn() {
    port!.post(7, 1);
    if (port!.get(0).length !== 1) throw new Error("no packet");
  },
});

Deno.bench({
  group: "iocp-post-get-256",
  name: "raw: 256 posts, one GetQueuedCompletionStatusEx",
  baseline: true,
  ignore: !windows,
  fn() {
    for (let i = 0; i < BATCH; i++) k32!.PostQueuedCompletionStatus(raw!, i, 7n, null);
    k32!.GetQueuedCompletionStatusEx(raw!, entries, BATCH, removed, 0, 0);
    if (removedCount[0] !== BATCH) throw new Error("packets lost");
  },
});
Deno.bench({
  group: "iocp-post-get-256",
  name: "CompletionPort: 256 post(), one get(0)",
  ignore: !windows,
  fn() {
    for (let i = 0; i < BATCH; i++) port!.post(7, i);
    if (port!.get(0).length !== BATCH) throw new Error("packets lost");
  },
});
