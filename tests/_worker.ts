// Copyright 2026 the @evented/io authors. MIT license.
// A Worker that acts on the main thread while it is blocked in select():
// it wakes a selector, or sends a signal to the main thread itself.
/// <reference lib="deno.worker" />
import { wake } from "../mod.ts";
import { SIGUSR1 } from "../ffi/libc.ts";

interface Job {
  /** "wake": wake(handle); "signal": tgkill(pid, tid, SIGUSR1). */
  kind: "wake" | "signal";
  delay: number;
  handle?: number;
  pid?: number;
  tid?: number;
}

self.onmessage = (event: MessageEvent<Job>) => {
  const job = event.data;
  setTimeout(() => {
    if (job.kind === "wake") {
      wake(job.handle!);
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
