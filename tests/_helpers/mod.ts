// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The tests' one helpers module: declaring tests (linuxTest, windowsTest,
 * timeLimit), bytes (Random, pattern, assertBytes), events and completions
 * as plain values (summary, tuple, fieldsOf), streams, reads and writes
 * through a CompletionPort, sockets (closedPort, lingerZero, reset), fds and
 * libc, Workers (Helper), and whether io_uring is usable here.
 */

import assert from "node:assert/strict";
import {
  type Completion,
  type CompletionBackend,
  type CompletionPort,
  type Handle,
  listenTcp,
  openCompletionPort,
  openNamedPipePair,
  openPipe,
  openSocketPair,
  type SelectorEvent,
  type SelectorKey,
  type TcpConn,
} from "../../mod.ts";
import { type IoUringSupport, probeIoUring } from "../../backends/linux/_open_port.ts";
import { F_GETFD, LINGER_SIZE, SO_LINGER, SOL_SOCKET } from "../../ffi/libc.ts";

/** `Deno.test` for the Linux suite: its tests are ignored on other OSes. */
export const linuxTest: typeof Deno.test.ignore = Deno.build.os === "linux"
  ? Deno.test
  : Deno.test.ignore;

/**
 * Declares a Windows-only test (run under Wine on Linux), named
 * `${prefix}: ${name}`, that fails if it has not ended after `timeoutMs`.
 */
export function windowsTest(
  prefix: string,
  timeoutMs: number,
  name: string,
  fn: (t: Deno.TestContext) => Promise<void> | void,
): void {
  Deno.test({
    name: `${prefix}: ${name}`,
    ignore: Deno.build.os !== "windows",
    fn: (t) => timeLimit(timeoutMs, () => fn(t)),
  });
}

/**
 * What `fn` settles with, or a rejection "Timed out after `ms` ms" if it has
 * not settled by then; the timer is cleared either way.
 */
export async function timeLimit<T>(ms: number, fn: () => Promise<T> | T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([fn(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `length` bytes from `new Random(seed)`: deterministic, and misplaced bytes show. */
export function pattern(length: number, seed: number): Uint8Array {
  return new Random(seed).bytes(length);
}

/** Asserts `got` holds exactly the bytes of `want`, naming the first that differs. */
export function assertBytes(got: Uint8Array, want: Uint8Array, what = "bytes"): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) assert.fail(`${what}: byte ${i} is ${got[i]}, expected ${want[i]}`);
  }
}

/** A value of a type the signature does not allow, for the argument checks. */
export function bad(value: unknown): never {
  return value as never;
}

/**
 * Events as short strings, sorted, for exact comparisons: `data:flags`
 * (flags such as `r`, `r+w` or `r+rdhup`), or `fd:data:flags` with `{ fd: true }`.
 */
export function summary<T>(
  events: readonly SelectorEvent<T>[],
  options: { fd?: boolean } = {},
): string[] {
  return events.map((e) => {
    const bits = [
      e.readable && "r",
      e.writable && "w",
      e.priority && "p",
      e.error && "err",
      e.hangup && "hup",
      e.readHangup && "rdhup",
    ].filter(Boolean).join("+");
    const fd = options.fd ? `${e.fd}:` : "";
    return `${fd}${String(e.data)}:${bits}`;
  }).sort();
}

/** A completion as a plain tuple, the pointer as its address. */
export function tuple(c: Completion): [number, number, number, bigint | null] {
  return [
    c.key,
    c.bytes,
    c.error,
    c.overlapped === null ? null : Deno.UnsafePointer.value(c.overlapped),
  ];
}

/** Whether a CompletionPort of `backend` opens here (io_uring may be refused by the kernel or a sandbox). */
export function opens(backend: CompletionBackend): boolean {
  try {
    openCompletionPort({ backend }).close();
    return true;
  } catch {
    return false;
  }
}

/** A one-way byte stream: what is written to `writer` is read from `reader`. */
export interface Stream extends Disposable {
  readonly reader: Handle;
  readonly writer: Handle;
  closeReader(): void;
  closeWriter(): void;
}

/** The kinds of stream of this OS: pipes (READ/WRITE) and socketpairs (RECV/SEND) on Linux. */
export const STREAM_KINDS = Deno.build.os === "windows" ? ["named pipe"] : ["pipe", "socketpair"];

/** Opens a stream of `kind` (by default a pipe, or a named pipe pair on Windows). */
export function openStream(kind = STREAM_KINDS[0]): Stream {
  if (Deno.build.os === "windows") {
    const pipe = openNamedPipePair();
    return {
      reader: pipe.server.handle,
      writer: pipe.client.handle,
      closeReader: () => pipe.server.close(),
      closeWriter: () => pipe.client.close(),
      [Symbol.dispose]: () => pipe.close(),
    };
  }
  if (kind === "pipe") {
    const pipe = openPipe();
    return {
      reader: pipe.reader.fd,
      writer: pipe.writer.fd,
      closeReader: () => pipe.reader.close(),
      closeWriter: () => pipe.writer.close(),
      [Symbol.dispose]: () => pipe.close(),
    };
  }
  const pair = openSocketPair();
  return {
    reader: pair.first.fd,
    writer: pair.second.fd,
    closeReader: () => pair.first.close(),
    closeWriter: () => pair.second.close(),
    [Symbol.dispose]: () => pair.close(),
  };
}

/** Reads exactly `length` bytes through `port` (end of stream before that fails the test). */
export async function readExactly(
  port: CompletionPort,
  handle: Handle,
  length: number,
): Promise<Uint8Array> {
  const data = new Uint8Array(length);
  let read = 0;
  while (read < length) {
    const n = await port.read(handle, data.subarray(read));
    assert.notEqual(n, null, `end of stream after ${read} of ${length} bytes`);
    read += n!;
  }
  return data;
}

/** Writes all of `data` through `port` in writes of at most `chunk` bytes; returns how many writes. */
export async function writeAll(
  port: CompletionPort,
  handle: Handle,
  data: Uint8Array,
  chunk = data.length,
): Promise<number> {
  let written = 0;
  let writes = 0;
  while (written < data.length) {
    const n = await port.write(handle, data.subarray(written, written + chunk));
    assert.ok(n > 0);
    written += n;
    writes++;
  }
  return writes;
}

/** A port number nothing listens on: one a listener just gave back. */
export function closedPort(hostname: string): number {
  using listener = listenTcp({ hostname, port: 0 });
  return listener.addr.port;
}

/** Makes `conn.close()` reset the connection: SO_LINGER { l_onoff: 1, l_linger: 0 }. */
export function lingerZero(conn: TcpConn): void {
  if (Deno.build.os === "windows") {
    const ws2_32 = Deno.dlopen("ws2_32.dll", {
      setsockopt: { parameters: ["pointer", "i32", "i32", "buffer", "i32"], result: "i32" },
    });
    try {
      const SOL_SOCKET = 0xffff;
      const SO_LINGER = 0x0080;
      const socket = Deno.UnsafePointer.create(BigInt(conn.fd));
      // struct linger { u_short l_onoff; u_short l_linger; }
      const linger = new Uint16Array([1, 0]);
      assert.equal(ws2_32.symbols.setsockopt(socket, SOL_SOCKET, SO_LINGER, linger, 4), 0);
    } finally {
      ws2_32.close();
    }
    return;
  }
  withLibc(
    { setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" } },
    (libc) => {
      const linger = new Int32Array([1, 0]);
      assert.equal(libc.setsockopt(conn.fd, SOL_SOCKET, SO_LINGER, linger, LINGER_SIZE), 0);
    },
  );
}

/** Resets a connection: SO_LINGER {on, 0 s}, then close(), sends an RST. */
export function reset(conn: TcpConn): void {
  lingerZero(conn);
  conn.close();
}

/** A selector key's fields as a plain object (keys are read-only accessors). */
export function fieldsOf(key: SelectorKey<unknown>): Record<string, unknown> {
  const { fd, interest, data, edge, oneshot, exclusive } = key;
  return { fd, interest, data, edge, oneshot, exclusive };
}

/** The backends under test on this OS. */
export const BACKENDS = ["epoll", "poll"] as const;

/**
 * The fds this process has open, found by asking fcntl(F_GETFD) about every
 * number below the fd table's size (listing /proc/self/fd would need
 * --allow-all).
 */
export function openFds(): number[] {
  const libc = Deno.dlopen("libc.so.6", {
    fcntl: { parameters: ["i32", "i32"], result: "i32" },
    getdtablesize: { parameters: [], result: "i32" },
  });
  try {
    const fds = [];
    for (let fd = 0, limit = libc.symbols.getdtablesize(); fd < limit; fd++) {
      if (libc.symbols.fcntl(fd, F_GETFD) >= 0) fds.push(fd);
    }
    return fds;
  } finally {
    libc.close();
  }
}

/**
 * Asserts that no fd is open now that was not open in `before` (fds that
 * closed meanwhile, such as an earlier test's Worker's, are no leak).
 */
export function assertNoNewFds(before: readonly number[], what = "fds left open"): void {
  const was = new Set(before);
  const added = openFds().filter((fd) => !was.has(fd));
  if (added.length > 0) throw new Error(`${what}: ${added.join(", ")}`);
}

/**
 * The open fds once they stop changing: a Worker terminated by an earlier
 * test closes its runtime's own fds a little later, on its own thread.
 */
export async function settledFds(): Promise<number[]> {
  let last = openFds();
  for (let i = 0; i < 200; i++) {
    await delay(10);
    const now = openFds();
    if (now.length === last.length && now.every((fd, j) => fd === last[j])) return now;
    last = now;
  }
  throw new Error("The set of open fds never settled");
}

/**
 * Runs `fn` with the test's own binding of libc `symbols` (calls the library
 * does not make, to look at fds from outside), closed once `fn` has
 * returned or, for a promise, settled.
 */
export function withLibc<S extends Deno.ForeignLibraryInterface, R>(
  symbols: S,
  fn: (libc: Deno.DynamicLibrary<S>["symbols"]) => R,
): R {
  const library = Deno.dlopen("libc.so.6", symbols);
  let result: R;
  try {
    result = fn(library.symbols);
  } catch (error) {
    library.close();
    throw error;
  }
  if (result instanceof Promise) return result.finally(() => library.close()) as R;
  library.close();
  return result;
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A Worker from `worker.ts`, ready to take one job; terminate it when done. */
export class Helper {
  #worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
  #messages: unknown[] = [];
  #waiting: ((message: string) => void) | undefined;

  constructor() {
    this.#worker.onmessage = (event: MessageEvent<string>) => {
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (waiting) waiting(event.data);
      else this.#messages.push(event.data);
    };
  }

  /** The next message from the worker. */
  next<T = string>(): Promise<T> {
    const message = this.#messages.shift();
    if (message !== undefined) return Promise.resolve(message as T);
    return new Promise((resolve) => this.#waiting = resolve as (message: string) => void);
  }

  /** Starts a job and waits until the worker has taken it. */
  async start(job: Record<string, unknown>): Promise<void> {
    this.#worker.postMessage(job);
    const message = await this.next();
    if (message !== "ready") throw new Error(`Worker said ${message}`);
  }

  [Symbol.dispose](): void {
    this.#worker.terminate();
  }
}

/** libc calls the tests need and the library does not export. */
export function openTestLibc() {
  return Deno.dlopen("libc.so.6", {
    gettid: { parameters: [], result: "i32" },
    getpid: { parameters: [], result: "i32" },
    kill: { parameters: ["i32", "i32"], result: "i32" },
    dup: { parameters: ["i32"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
    // int getrusage(int who, struct rusage *usage)
    getrusage: { parameters: ["i32", "buffer"], result: "i32" },
  });
}

/** getrusage()'s `who` for the calling thread alone (Linux). */
const RUSAGE_THREAD = 1;
/** sizeof(struct rusage) on 64-bit Linux: two timevals, then fourteen longs. */
const RUSAGE_SIZE = 144;

/**
 * The CPU time (user + system, µs) the calling thread has used: unlike
 * `process.cpuUsage()`, not what the runtime's other threads (the compiler,
 * the GC, an emulator's translation) did meanwhile.
 */
export function threadCpuMicros(libc: ReturnType<typeof openTestLibc>): number {
  const usage = new BigInt64Array(RUSAGE_SIZE / 8);
  if (libc.symbols.getrusage(RUSAGE_THREAD, usage) !== 0) {
    throw new Error("Cannot read the thread's CPU time: getrusage failed");
  }
  // ru_utime and ru_stime, each { tv_sec, tv_usec }.
  return Number(usage[0] * 1_000_000n + usage[1] + usage[2] * 1_000_000n + usage[3]);
}

/**
 * The tests' one PRNG (mulberry32): seeded, so that a sequence, and a failure,
 * repeats from its seed.
 */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** An integer in [0, 2^32). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }

  /** `length` bytes, four from each number. */
  bytes(length: number): Uint8Array {
    const bytes = new Uint8Array(length);
    for (let i = 0; i < length; i += 4) {
      const x = this.next();
      bytes[i] = x;
      if (i + 1 < length) bytes[i + 1] = x >>> 8;
      if (i + 2 < length) bytes[i + 2] = x >>> 16;
      if (i + 3 < length) bytes[i + 3] = x >>> 24;
    }
    return bytes;
  }
}

let ioUring: IoUringSupport | undefined;

/**
 * Whether io_uring is usable here, as `io_uring_setup` answers (asked once,
 * the way `openCompletionPort()` asks; never a sysctl: an emulator, a
 * seccomp profile or a container refuses it whatever `/proc` says). Linux
 * only.
 */
export function ioUringSupport(): IoUringSupport {
  return ioUring ??= probeIoUring();
}

/**
 * What a test that needs io_uring adds to its name: `""` where io_uring is
 * usable (or off Linux, where such tests are ignored anyway), else
 * `" [io_uring unavailable here: ENOSYS]"` (the errno io_uring_setup gave),
 * and the test is ignored.
 */
export function ioUringNote(): string {
  if (Deno.build.os !== "linux") return "";
  const support = ioUringSupport();
  return support.usable ? "" : ` [io_uring unavailable here: ${support.code}]`;
}

/**
 * The first `max` bytes of a file under /proc, read through libc (Deno asks
 * --allow-all for /proc); `null` if it cannot be opened.
 */
export function readProcFile(path: string, max: number): string | null {
  return withLibc({
    open: { parameters: ["buffer", "i32"], result: "i32" },
    read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
    close: { parameters: ["i32"], result: "i32" },
  }, (libc) => {
    const fd = libc.open(new TextEncoder().encode(`${path}\0`), 0);
    if (fd < 0) return null;
    const buffer = new Uint8Array(max);
    const n = Number(libc.read(fd, buffer, BigInt(buffer.length)));
    libc.close(fd);
    return new TextDecoder().decode(buffer.subarray(0, Math.max(n, 0)));
  });
}

let emulator: string | null | undefined;

/**
 * `"qemu-user"` when this Deno's architecture is not the CPU's (an aarch64
 * Deno on an x86_64 machine, or the other way round: the kernel's
 * `/proc/cpuinfo`, which qemu-user passes through, names the real CPU),
 * else `null`. For the few tests whose syscall the emulator translates
 * wrongly (it drops recvmsg's MSG_CTRUNC), never for timings.
 */
export function emulatorHere(): string | null {
  if (emulator !== undefined) return emulator;
  if (Deno.build.os !== "linux") return emulator = null;
  const cpuinfo = readProcFile("/proc/cpuinfo", 4096) ?? "";
  const x86 = /^vendor_id\s*:/m.test(cpuinfo);
  const arm = /^CPU implementer\s*:/m.test(cpuinfo);
  const foreign = (Deno.build.arch === "aarch64" && x86) || (Deno.build.arch === "x86_64" && arm);
  return emulator = foreign ? "qemu-user" : null;
}

/**
 * The calibration workload's best time on the reference machine, in ms:
 * native x86_64 Deno on the project's 2-core machine.
 */
const REFERENCE_MS = 1;
/** Rounds of the calibration workload; the fastest counts (the machine is shared). */
const CALIBRATION_ROUNDS = 7;
let slowdownFactor: number | undefined;

/** One round of the calibration workload: what the library's hot paths do, in ms. */
function calibrationRound(call: () => number): number {
  const start = performance.now();
  // Synchronous FFI calls, as a harvest makes them.
  for (let i = 0; i < 2_000; i++) call();
  // Tight JavaScript over a typed array, as the event buffers are read.
  const words = new Uint32Array(4_096);
  let x = 1;
  for (let i = 0; i < 300_000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    words[i & 4_095] ^= x;
  }
  return performance.now() - start + (words[x & 4_095] === 0.5 ? 1 : 0);
}

/**
 * How many times slower than the reference machine this one runs the
 * library's hot paths (synchronous FFI calls, tight JavaScript), measured
 * once, at the first call, by a workload of a few milliseconds: 1 natively
 * (never less), about 20 under qemu-user. Timing tests multiply their slack
 * and deadlines by it ({@linkcode slack}); lower bounds ("never before the
 * timeout") stay exact, and no assertion is dropped.
 */
export function slowdown(): number {
  if (slowdownFactor !== undefined) return slowdownFactor;
  const library = Deno.build.os === "windows"
    ? Deno.dlopen("kernel32.dll", { call: { name: "GetTickCount", parameters: [], result: "u32" } })
    : Deno.dlopen("libc.so.6", { call: { name: "getppid", parameters: [], result: "i32" } });
  let best = Infinity;
  try {
    calibrationRound(library.symbols.call); // warm-up: compiled code from here on
    for (let round = 0; round < CALIBRATION_ROUNDS; round++) {
      best = Math.min(best, calibrationRound(library.symbols.call));
    }
  } finally {
    library.close();
  }
  slowdownFactor = Math.max(1, best / REFERENCE_MS);
  if (slowdownFactor >= 2) {
    console.error(
      `timing slack scaled ${slowdownFactor.toFixed(1)}x: the calibration took ` +
        `${best.toFixed(1)} ms here, ${REFERENCE_MS} ms on the reference machine`,
    );
  }
  return slowdownFactor;
}

/**
 * `ms` of slack (an upper bound on a duration, a deadline, a kill timer),
 * scaled to this machine's speed by {@linkcode slowdown}.
 */
export function slack(ms: number): number {
  return Math.ceil(ms * slowdown());
}
