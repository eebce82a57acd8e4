// Copyright 2026 the @evented/io authors. MIT license.
// Which engine openCompletionPort() picks on Linux (the behaviour of each
// engine is in contract/completion_port_test.ts, io_uring_test.ts and epoll_port_test.ts).
import assert from "node:assert/strict";
import { openCompletionPort } from "../../mod.ts";
import { ioUringSupport, linuxTest } from "../_helpers/mod.ts";

linuxTest("openCompletionPort() on Linux runs io_uring where allowed, else epoll", async () => {
  // Allowed: as io_uring_setup answers (an emulator says ENOSYS whatever /proc says).
  await using port = openCompletionPort();
  const support = ioUringSupport();
  if (support.usable) assert.equal(port.backend, "io_uring");
  else assert.equal(port.backend, "epoll", `io_uring_setup said ${support.code}`);
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
