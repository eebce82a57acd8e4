// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Unix sockets driven by completions: the Linux CompletionPort (io_uring,
 * and the epoll engine) accepting on a UnixListener, and reading and
 * writing a UnixConn's fd.
 */

import assert from "node:assert/strict";
import { connectUnix, listenUnix, openCompletionPort } from "../../mod.ts";
import {
  assertNoNewFds,
  ioUringNote,
  ioUringSupport,
  pattern,
  settledFds,
} from "../_helpers/mod.ts";

const ENGINES = ["io_uring", "epoll"] as const;

/** A port test for each Linux engine (Linux only: Wine has no AF_UNIX). */
function unixPortTest(
  name: string,
  fn: (port: ReturnType<typeof openCompletionPort>) => Promise<void>,
): void {
  for (const backend of ENGINES) {
    Deno.test({
      name: `${backend}: ${name}${backend === "io_uring" ? ioUringNote() : ""}`,
      ignore: Deno.build.os !== "linux" ||
        (backend === "io_uring" && !ioUringSupport().usable),
      async fn() {
        const before = await settledFds();
        {
          await using port = openCompletionPort({ backend });
          await fn(port);
        }
        assertNoNewFds(before);
      },
    });
  }
}

function abstractName(what: string): string {
  return `\0evented-io-test-port-${what}-${crypto.randomUUID()}`;
}

unixPortTest("accept() on a UnixListener resolves with a UnixConn", async (port) => {
  const path = abstractName("accept");
  using listener = listenUnix({ path });
  const accepting = port.accept(listener);
  using client = await connectUnix({ path });
  using server = await accepting;
  assert.deepEqual(server.localAddr, { transport: "unix", path });
  assert.deepEqual(server.remoteAddr, { transport: "unix", path: "" });
  assert.equal(server.peerCredentials().pid, Deno.pid);
  assert.equal(client.tryWrite(new Uint8Array([1, 2])), 2);
  assert.equal(server.tryRead(new Uint8Array(4)), 2);
});

unixPortTest(
  "read() and write() move a UnixConn's bytes exactly, and read() ends with null",
  async (port) => {
    const path = abstractName("io");
    using listener = listenUnix({ path });
    using client = await connectUnix({ path });
    using server = listener.tryAccept()!;
    const payload = pattern(1 << 20, 7);
    const reading = (async () => {
      const got = new Uint8Array(payload.length);
      let have = 0;
      for (
        let n;
        have < got.length && (n = await port.read(server.fd, got.subarray(have))) !== null;
      ) {
        have += n;
      }
      return got.subarray(0, have);
    })();
    assert.equal(await port.write(client.fd, payload), payload.length);
    assert.deepEqual(await reading, payload);
    client.shutdown("write");
    assert.equal(await port.read(server.fd, new Uint8Array(8)), null);
  },
);

unixPortTest(
  "closing a UnixConn with a read in flight rejects it with Interrupted",
  async (port) => {
    const path = abstractName("close");
    using listener = listenUnix({ path });
    using _client = await connectUnix({ path });
    const server = listener.tryAccept()!;
    const reading = port.read(server.fd, new Uint8Array(8));
    server.close();
    await assert.rejects(reading, Deno.errors.Interrupted);
  },
);

unixPortTest(
  "an accept in flight on a closed UnixListener rejects with Interrupted",
  async (port) => {
    const listener = listenUnix({ path: abstractName("listener") });
    const accepting = port.accept(listener);
    listener.close();
    await assert.rejects(accepting, Deno.errors.Interrupted);
  },
);
