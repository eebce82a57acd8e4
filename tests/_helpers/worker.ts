// Copyright 2026 the @evented/io authors. MIT license.
// A Worker that acts on the main thread while it is blocked in select():
// it wakes a selector, writes to an fd, or sends a signal to the main
// thread itself; or a peer on another thread that plays ping-pong with the
// main thread over a pair of fds, timing each round trip.
/// <reference lib="deno.worker" />
import { wake } from "../../mod.ts";
import { SIGUSR1 } from "../../ffi/libc.ts";

interface Job {
  /**
   * "wake": wake(handle); "write": write(2) of 8 bytes (1 as a little-endian
   * u64) to the fd `handle`; "signal": tgkill(pid, tid, SIGUSR1); "pingpong":
   * `count` times, write `size` bytes to `writeFd`, then read them back
   * from `readFd` (waiting with poll(), at most `timeout` ms each).
   */
  kind: "wake" | "write" | "signal" | "pingpong";
  delay: number;
  handle?: number;
  pid?: number;
  tid?: number;
  readFd?: number;
  writeFd?: number;
  count?: number;
  size?: number;
  timeout?: number;
}

const POLLIN = 1;

/** The ping-pong peer: posts the round trips' durations in ms (or an error message). */
function pingPong(job: Job): void {
  const libc = Deno.dlopen("libc.so.6", {
    read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
    write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
    poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  });
  try {
    const size = job.size!;
    const out = new Uint8Array(size);
    const back = new Uint8Array(size);
    const pollfd = new Int32Array([job.readFd!, POLLIN]);
    const times = new Float64Array(job.count!);
    for (let i = 0; i < times.length; i++) {
      out.fill(i & 0xff);
      const start = performance.now();
      if (Number(libc.symbols.write(job.writeFd!, out, BigInt(size))) !== size) {
        throw new Error(`round trip ${i}: short write`);
      }
      for (let got = 0; got < size;) {
        if (libc.symbols.poll(new Uint8Array(pollfd.buffer), 1n, job.timeout!) !== 1) {
          throw new Error(`round trip ${i}: nothing came back within ${job.timeout} ms`);
        }
        const n = Number(libc.symbols.read(job.readFd!, back.subarray(got), BigInt(size - got)));
        if (n <= 0) throw new Error(`round trip ${i}: read gave ${n}`);
        got += n;
      }
      times[i] = performance.now() - start;
      if (back.some((b) => b !== (i & 0xff))) throw new Error(`round trip ${i}: wrong bytes`);
    }
    self.postMessage(times, [times.buffer]);
  } catch (error) {
    self.postMessage(String(error));
  } finally {
    libc.close();
  }
}

self.onmessage = (event: MessageEvent<Job>) => {
  const job = event.data;
  if (job.kind === "pingpong") {
    self.postMessage("ready");
    pingPong(job);
    return;
  }
  setTimeout(() => {
    if (job.kind === "wake") {
      wake(job.handle!);
    } else if (job.kind === "write") {
      const libc = Deno.dlopen("libc.so.6", {
        write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
      });
      const written = libc.symbols.write(job.handle!, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]), 8n);
      libc.close();
      if (written !== 8n) throw new Error(`write(${job.handle}) gave ${written}`);
    } else {
      const libc = Deno.dlopen("libc.so.6", {
        tgkill: { parameters: ["i32", "i32", "i32"], result: "i32" },
      });
      libc.symbols.tgkill(job.pid!, job.tid!, SIGUSR1);
      libc.close();
    }
    self.postMessage("done");
  }, job.delay);
  self.postMessage("ready");
};
