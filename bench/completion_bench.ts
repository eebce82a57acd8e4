// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The CompletionPort on Linux, io_uring and epoll backends, beside what
 * each is measured against; `bench/completion_run.ts` adds the C figures
 * of bench/uring_nop.c and the socket echo.
 *
 *     deno bench --allow-ffi --allow-read --allow-write bench/completion_bench.ts
 *
 * - `post()` + `get(0)` per operation, and 256 `post()`s and one `get(0)`,
 *   against the same NOPs put on a ring of this file's own and reaped raw
 *   through FFI (one `io_uring_enter` that submits and waits, as C does).
 * - Batched file reads: N reads of S bytes at N offsets of a temporary file,
 *   all started at once through the port and awaited together, against a
 *   synchronous `pread` loop through FFI, the baseline; through the page
 *   cache (the file was just written), and with O_DIRECT (from the device;
 *   ignored where the temporary directory refuses O_DIRECT, as tmpfs does).
 *   Each iteration checks the bytes read.
 *
 * A backend the kernel refuses (io_uring in many containers) has its
 * benchmarks ignored, with a note on stderr. Linux only (ignored elsewhere).
 *
 * @module
 */

import { type CompletionBackend, type CompletionPort, openCompletionPort } from "../mod.ts";
import {
  MAP_POPULATE,
  MAP_SHARED,
  O_CLOEXEC,
  O_DIRECT,
  PROT_READ,
  PROT_WRITE,
  SYS_IO_URING_ENTER,
  SYS_IO_URING_SETUP,
} from "../ffi/libc.ts";
import {
  CQE_SIZE,
  IO_URING_PARAMS_SIZE,
  IORING_ENTER_GETEVENTS,
  IORING_FEAT_SINGLE_MMAP,
  IORING_OFF_CQ_RING,
  IORING_OFF_SQ_RING,
  IORING_OFF_SQES,
  SQE_SIZE,
} from "../ffi/io_uring.ts";

const linux = Deno.build.os === "linux";

/** libc calls of the raw baselines (the library's own table is not theirs to shape). */
const RAW_SYMBOLS = {
  /** int open(const char *pathname, int flags); */
  open: { parameters: ["buffer", "i32"], result: "i32" },
  /** int close(int fd); */
  close: { parameters: ["i32"], result: "i32" },
  /** int fsync(int fd); */
  fsync: { parameters: ["i32"], result: "i32" },
  /** ssize_t pread(int fd, void *buf, size_t count, off_t offset); (i32: reads < 2 GiB) */
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "i32" },
  /** long syscall(SYS_io_uring_setup, u32 entries, struct io_uring_params *p); */
  uringSetup: { name: "syscall", parameters: ["i64", "u32", "buffer"], result: "i32" },
  /**
   * long syscall(SYS_io_uring_enter, unsigned int fd, u32 to_submit,
   *              u32 min_complete, u32 flags, const void *argp, size_t argsz);
   */
  uringEnter: {
    name: "syscall",
    parameters: ["i64", "u32", "u32", "u32", "u32", "pointer", "usize"],
    result: "i32",
  },
  /** void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset); */
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** Ring entries of the raw ring, and the batch of the batched groups. */
const BATCH = 256;

// Everything below lives as long as the bench process.
const raw = linux ? Deno.dlopen("libc.so.6", RAW_SYMBOLS).symbols : undefined;
let sink = 0;

/** An io_uring of this file's own, for NOPs reaped raw through FFI, as C does it. */
class RawRing {
  readonly fd: number;
  #sqHead: Uint32Array;
  #sqTail: Uint32Array;
  #sqMask: number;
  #sqArray: Uint32Array;
  #sqes: Uint32Array;
  #cqHead: Uint32Array;
  #cqTail: Uint32Array;
  #cqMask: number;
  #cqes: Int32Array;
  #tail: number;

  constructor(entries: number) {
    const params = new Uint8Array(IO_URING_PARAMS_SIZE);
    const fd = raw!.uringSetup(SYS_IO_URING_SETUP, entries, params);
    if (fd < 0) throw new Error("io_uring_setup failed");
    this.fd = fd;
    const p = new DataView(params.buffer);
    const sqEntries = p.getUint32(0, true);
    const cqEntries = p.getUint32(4, true);
    const features = p.getUint32(20, true);
    const sq = (at: number) => p.getUint32(40 + at, true); // struct io_sqring_offsets
    const cq = (at: number) => p.getUint32(80 + at, true); // struct io_cqring_offsets
    let sqSize = sq(24) + sqEntries * 4; // array + entries
    const cqSize = cq(20) + cqEntries * CQE_SIZE; // cqes + entries
    const single = (features & IORING_FEAT_SINGLE_MMAP) !== 0;
    if (single) sqSize = Math.max(sqSize, cqSize);
    const map = (size: number, offset: bigint) => {
      const pointer = raw!.mmap(
        null,
        BigInt(size),
        PROT_READ | PROT_WRITE,
        MAP_SHARED | MAP_POPULATE,
        fd,
        offset,
      );
      if (pointer === null || Deno.UnsafePointer.value(pointer) === 0xffffffffffffffffn) {
        throw new Error("mmap of the ring failed");
      }
      return Deno.UnsafePointerView.getArrayBuffer(pointer, size);
    };
    const sqRing = map(sqSize, IORING_OFF_SQ_RING);
    const cqRing = single ? sqRing : map(cqSize, IORING_OFF_CQ_RING);
    this.#sqes = new Uint32Array(map(sqEntries * SQE_SIZE, IORING_OFF_SQES));
    this.#sqHead = new Uint32Array(sqRing, sq(0), 1);
    this.#sqTail = new Uint32Array(sqRing, sq(4), 1);
    this.#sqMask = new Uint32Array(sqRing, sq(8), 1)[0];
    this.#sqArray = new Uint32Array(sqRing, sq(24), sqEntries);
    this.#cqHead = new Uint32Array(cqRing, cq(0), 1);
    this.#cqTail = new Uint32Array(cqRing, cq(4), 1);
    this.#cqMask = new Uint32Array(cqRing, cq(8), 1)[0];
    this.#cqes = new Int32Array(cqRing, cq(20), cqEntries * (CQE_SIZE / 4));
    this.#tail = this.#sqTail[0];
  }

  /** Queues one NOP carrying `key` (user_data) and `bytes` (len). */
  post(key: number, bytes: number): void {
    const tail = this.#tail;
    const index = tail & this.#sqMask;
    const sqe = this.#sqes;
    const w = index * (SQE_SIZE / 4);
    sqe.fill(0, w, w + SQE_SIZE / 4); // opcode IORING_OP_NOP is 0
    sqe[w + 6] = bytes; // len
    sqe[w + 8] = key; // user_data, low half
    this.#sqArray[index] = index;
    this.#tail = (tail + 1) >>> 0;
    Atomics.store(this.#sqTail, 0, this.#tail);
  }

  /** Submits what is queued, waits for `wanted` completions, reaps them all; their count. */
  get(toSubmit: number, wanted: number): number {
    if (
      raw!.uringEnter(
        SYS_IO_URING_ENTER,
        this.fd,
        toSubmit,
        wanted,
        IORING_ENTER_GETEVENTS,
        null,
        0n,
      ) < 0
    ) {
      throw new Error("io_uring_enter failed");
    }
    let head = this.#cqHead[0];
    const tail = Atomics.load(this.#cqTail, 0);
    let acc = 0;
    let n = 0;
    for (; head !== tail; head = (head + 1) >>> 0, n++) {
      const c = (head & this.#cqMask) * (CQE_SIZE / 4);
      acc += this.#cqes[c] + this.#cqes[c + 2]; // user_data (low half) + res
    }
    Atomics.store(this.#cqHead, 0, head);
    sink += acc + this.#sqHead[0];
    return n;
  }
}

/** Opens a port on `backend`, or says on stderr why not and returns undefined. */
function tryPort(backend: CompletionBackend): CompletionPort | undefined {
  if (!linux) return undefined;
  try {
    return openCompletionPort({ backend });
  } catch (error) {
    console.error(`${backend} CompletionPort benchmarks ignored: ${(error as Error).message}`);
    return undefined;
  }
}

const ports: [string, CompletionPort | undefined][] = [
  ["io_uring", tryPort("io_uring")],
  ["epoll", tryPort("epoll")],
];
let ring: RawRing | undefined;
try {
  ring = linux ? new RawRing(BATCH) : undefined;
} catch (error) {
  console.error(`raw io_uring benchmarks ignored: ${(error as Error).message}`);
}

Deno.bench({
  group: "post-get-1",
  name: "raw io_uring NOP + io_uring_enter(submit 1, wait 1) + reap, through FFI",
  baseline: true,
  ignore: ring === undefined,
  fn() {
    ring!.post(7, 1);
    if (ring!.get(1, 1) !== 1) throw new Error("no completion");
  },
});
for (const [backend, port] of ports) {
  Deno.bench({
    group: "post-get-1",
    name: `${backend} CompletionPort post() + get(0)`,
    ignore: port === undefined,
    fn() {
      port!.post(7, 1);
      if (port!.get(0).length !== 1) throw new Error("no packet");
    },
  });
}

Deno.bench({
  group: `post-get-${BATCH}`,
  name: `raw: ${BATCH} io_uring NOPs, one io_uring_enter(submit ${BATCH}, wait ${BATCH})`,
  baseline: true,
  ignore: ring === undefined,
  fn() {
    for (let i = 0; i < BATCH; i++) ring!.post(7, i);
    if (ring!.get(BATCH, BATCH) !== BATCH) throw new Error("completions lost");
  },
});
for (const [backend, port] of ports) {
  Deno.bench({
    group: `post-get-${BATCH}`,
    name: `${backend} CompletionPort: ${BATCH} post(), one get(0)`,
    ignore: port === undefined,
    fn() {
      for (let i = 0; i < BATCH; i++) port!.post(7, i);
      if (port!.get(0).length !== BATCH) throw new Error("packets lost");
    },
  });
}

// Batched file reads. The file holds every batch's reads at distinct
// offsets, spread over it in a shuffled order. Read through the page cache
// (it was just written, so every page is there), the kernel's work is a
// copy, which pread and io_uring both do inline; with O_DIRECT every read
// goes to the device, which io_uring keeps busy with all of them at once
// while pread waits for each in turn.
const READS: [count: number, size: number][] = [[64, 4 * 1024], [64, 64 * 1024], [256, 4 * 1024]];
const DIRECT_READS: [count: number, size: number][] = [[64, 4 * 1024], [64, 64 * 1024]];
const FILE_SIZE = 64 * 1024 * 1024;
const PAGE = 4096;
let cached = -1;
let direct = -1;
if (linux) {
  const path = Deno.makeTempFileSync({ prefix: "completion_bench_" });
  const content = new Uint8Array(FILE_SIZE);
  // Each 4 KiB page starts with its own mark (its number's low byte).
  for (let i = 0; i < FILE_SIZE; i += PAGE) content[i] = (i / PAGE) & 0xff;
  Deno.writeFileSync(path, content);
  const name = new TextEncoder().encode(path + "\0");
  cached = raw!.open(name, O_CLOEXEC);
  direct = raw!.open(name, O_CLOEXEC | O_DIRECT);
  Deno.removeSync(path); // the fds keep it
  if (cached < 0) throw new Error(`Cannot open ${path}`);
  if (direct < 0) {
    console.error("O_DIRECT benchmarks ignored: the temporary directory refuses O_DIRECT");
  } else if (raw!.fsync(direct) !== 0) throw new Error(`Cannot fsync ${path}`);
}

/** A deterministic shuffle (xorshift32) of 0 … n-1. */
function shuffled(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  let x = seed;
  for (let i = n - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** `size` bytes at a page-aligned address (O_DIRECT needs it; the copies are alike then). */
function aligned(size: number): Uint8Array {
  const bytes = new Uint8Array(size + PAGE);
  const address = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
  const skip = (PAGE - address % PAGE) % PAGE;
  return bytes.subarray(skip, skip + size);
}

/** The benchmarks of `count` reads of `size` bytes from `file`. */
function readBenches(group: string, file: number, count: number, size: number, what: string) {
  const stride = FILE_SIZE / count;
  // Distinct pages in distinct stripes, in no order the kernel could guess.
  const offsets = shuffled(count, count * size).map((slot, i) =>
    slot * stride + ((i * 7 * PAGE) % (stride - size + PAGE) & ~(PAGE - 1))
  );
  const bigOffsets = offsets.map(BigInt);
  const options = offsets.map((offset) => ({ offset }));
  const buffers = linux ? offsets.map(() => aligned(size)) : [];
  const bigSize = BigInt(size);
  const total = count * size;
  const pending = new Array<Promise<number | null>>(count);
  /** Each read's first byte is its page's mark; then spoilt, so a read that did not happen shows. */
  const check = (into = buffers) => {
    for (let i = 0; i < count; i++) {
      if (into[i][0] !== ((offsets[i] / PAGE) & 0xff)) throw new Error("wrong bytes read");
      into[i][0] ^= 0xff;
    }
  };
  const kib = `${size / 1024} KiB`;
  Deno.bench({
    group,
    name: `${count} × pread(${kib}) through FFI, one after another, ${what}`,
    baseline: true,
    ignore: file < 0,
    fn() {
      let read = 0;
      for (let i = 0; i < count; i++) read += raw!.pread(file, buffers[i], bigSize, bigOffsets[i]);
      if (read !== total) throw new Error(`${read} bytes read`);
      check();
    },
  });
  /** All `count` reads through `port` at once into `into`, awaited, checked. */
  const batch = (port: CompletionPort, into: Uint8Array[]) => async () => {
    for (let i = 0; i < count; i++) pending[i] = port.read(file, into[i], options[i]);
    let read = 0;
    for (let i = 0; i < count; i++) read += (await pending[i])!;
    if (read !== total) throw new Error(`${read} bytes read`);
    check(into);
  };
  for (const [backend, port] of ports) {
    const skip = file < 0 || port === undefined;
    Deno.bench({
      group,
      name: `${backend} CompletionPort: ${count} × read(${kib}) at once, awaited, ${what}`,
      ignore: skip,
      fn: skip ? () => {} : batch(port, buffers),
    });
    // The same into the port's own memory: no copy (an ordinary buffer's
    // bytes go through memory of the port's, then are copied out).
    Deno.bench({
      group,
      name:
        `${backend} CompletionPort: ${count} × read(${kib}) into port.allocate() memory, ${what}`,
      ignore: skip,
      fn: skip ? () => {} : batch(port, offsets.map(() => port.allocate(size))),
    });
  }
}

for (const [count, size] of READS) {
  readBenches(`read-${count}x${size / 1024}k`, cached, count, size, "page cache");
}
for (const [count, size] of DIRECT_READS) {
  readBenches(`direct-${count}x${size / 1024}k`, direct, count, size, "O_DIRECT");
}

globalThis.addEventListener("unload", () => {
  if (cached >= 0) raw!.close(cached);
  if (direct >= 0) raw!.close(direct);
});
