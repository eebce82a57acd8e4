// Copyright 2026 the @evented/io authors. MIT license.
/** Helpers shared by the tests. */

import type { SelectorKey } from "../../mod.ts";
import { type IoUringSupport, probeIoUring } from "../../backends/linux/_open_port.ts";
import { F_GETFD } from "../../ffi/libc.ts";

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

/** `length` bytes from `new Random(seed)`: deterministic, and misplaced bytes show. */
export function pattern(length: number, seed: number): Uint8Array {
  return new Random(seed).bytes(length);
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
  });
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
