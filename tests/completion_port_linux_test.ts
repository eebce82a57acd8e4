// Copyright 2026 the @evented/io authors. MIT license.
// Which engine openCompletionPort() picks on Linux (the behaviour of each
// engine is in completion_port_test.ts, io_uring_test.ts and epoll_port_test.ts).
import assert from "node:assert/strict";
import { openCompletionPort } from "../mod.ts";
import { linuxTest } from "./_util.ts";

/** Whether the kernel lets this process use io_uring, as /proc says. */
function ioUringAllowed(): boolean {
  try {
    return Deno.readTextFileSync("/proc/sys/kernel/io_uring_disabled").trim() === "0";
  } catch {
    return true; // a kernel without the switch: setup itself decides
  }
}

linuxTest("openCompletionPort() on Linux runs io_uring where allowed, else epoll", async () => {
  await using port = openCompletionPort();
  if (ioUringAllowed()) assert.equal(port.backend, "io_uring");
  else assert.equal(port.backend, "epoll");
  await using epoll = openCompletionPort({ backend: "epoll" });
  assert.equal(epoll.backend, "epoll");
});

linuxTest("openCompletionPort() on Linux refuses the iocp backend, naming the OS", () => {
  assert.throws(() => openCompletionPort({ backend: "iocp" }), (error: Error) => {
    assert.ok(error instanceof Deno.errors.NotSupported);
    assert.equal(
      error.message,
      "Cannot open completion port: the iocp backend is for Windows, not linux",
    );
    return true;
  });
});

linuxTest("openCompletionPort() checks its options before anything else", () => {
  assert.throws(() => openCompletionPort({ concurrency: -1 }), RangeError);
  assert.throws(() => openCompletionPort({ concurrency: 1.5 }), RangeError);
  // @ts-expect-error: not a backend
  assert.throws(() => openCompletionPort({ backend: "kqueue" }), TypeError);
});

linuxTest("openCompletionPort() takes concurrency on Linux and ignores it", async () => {
  await using port = openCompletionPort({ concurrency: 3, backend: "epoll" });
  assert.equal(port.backend, "epoll");
});
