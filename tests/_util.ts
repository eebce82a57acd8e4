// Copyright 2026 the @evented/io authors. MIT license.
/** Helpers shared by the tests. */

/** The backends under test on this OS. */
export const BACKENDS = ["epoll", "poll"] as const;

/**
 * The number of fds this process has open, found by asking fcntl(F_GETFD)
 * about every number below the soft RLIMIT_NOFILE (reading /proc/self/fd
 * would need --allow-all).
 */
export function countFds(): number {
  const libc = Deno.dlopen("libc.so.6", {
    fcntl: { parameters: ["i32", "i32"], result: "i32" },
    getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  });
  try {
    const RLIMIT_NOFILE = 7;
    const F_GETFD = 1;
    const limit = new BigUint64Array(2);
    if (libc.symbols.getrlimit(RLIMIT_NOFILE, new Uint8Array(limit.buffer)) !== 0) {
      throw new Error("getrlimit failed");
    }
    const max = Number(limit[0] > 1n << 20n ? 1n << 20n : limit[0]);
    let n = 0;
    for (let fd = 0; fd < max; fd++) if (libc.symbols.fcntl(fd, F_GETFD) >= 0) n++;
    return n;
  } finally {
    libc.close();
  }
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
