// Copyright 2026 the @evented/io authors. MIT license.
// A Worker that acts on the main thread while it is blocked in select():
// it wakes a selector, writes to an fd, or sends a signal to the main thread itself.
/// <reference lib="deno.worker" />
import { wake } from "../mod.ts";

interface Job {
  /**
   * "wake": wake(handle); "write": write(2) of 8 bytes (1 as a little-endian
   * u64) to the fd `handle`; "signal": tgkill(pid, tid, SIGUSR1).
   */
  kind: "wake" | "write" | "signal";
  delay: number;
  handle?: number;
  pid?: number;
  tid?: number;
}

const SIGUSR1 = 10;

self.onmessage = (event: MessageEvent<Job>) => {
  const job = event.data;
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
