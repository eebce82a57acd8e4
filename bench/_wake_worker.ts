// Copyright 2026 the @evented/io authors. MIT license.
// The Worker of the "wake" benchmark group: each time the main thread says
// it is about to block in select(), wake it through a Waker of its wakerHandle.
/// <reference lib="deno.worker" />
import { openWaker } from "../mod.ts";

self.onmessage = (event: MessageEvent<{ handle: number; flag: Int32Array }>) => {
  const { handle, flag } = event.data;
  const waker = openWaker(handle);
  self.postMessage("ready");
  for (;;) {
    Atomics.wait(flag, 0, 0);
    if (Atomics.load(flag, 0) < 0) break;
    Atomics.store(flag, 0, 0);
    waker.wake();
  }
  waker.close();
  self.close();
};
