// Copyright 2026 the @evented/io authors. MIT license.
/** Helpers shared by the tests. */

import type { SelectorKey } from "../mod.ts";
import { type IoUringSupport, probeIoUring } from "../backends/_linux_port.ts";
import { F_GETFD } from "../ffi/libc.ts";

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
    async fn(t) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Timed out after ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([fn(t), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  });
}

/** Deterministic pseudo-random bytes (an LCG), so misplaced bytes show. */
export function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
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

/** A Worker from `_worker.ts`, ready to take one job; terminate it when done. */
export class Helper {
  #worker = new Worker(new URL("./_worker.ts", import.meta.url), { type: "module" });
  #messages: string[] = [];
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
  next(): Promise<string> {
    const message = this.#messages.shift();
    if (message !== undefined) return Promise.resolve(message);
    return new Promise((resolve) => this.#waiting = resolve);
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
  });
}

/** Deterministic pseudo-random bytes and sizes (xorshift32), so that a failure repeats. */
export class Random {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return this.#state = x >>> 0;
  }
  below(n: number): number {
    return this.next() % n;
  }
  bytes(length: number): Uint8Array {
    const bytes = new Uint8Array(length);
    for (let i = 0; i < length; i++) bytes[i] = this.next() & 0xff;
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
