// Copyright 2026 the @evented/io authors. MIT license.
import assert from "node:assert/strict";
import {
  bindUdp,
  type CompletionPort,
  connectTcp,
  listenTcp,
  openCompletionPort,
  type TcpConn,
  type TcpListener,
} from "../mod.ts";
import { pattern, windowsTest as sharedWindowsTest } from "./_util.ts";

/** No test here takes this long, even under Wine. */
const TEST_TIMEOUT_MS = 30_000;

/** A Windows-only test of this file. */
function windowsTest(name: string, fn: (t: Deno.TestContext) => Promise<void> | void): void {
  sharedWindowsTest("iocp net", TEST_TIMEOUT_MS, name, fn);
}

/** Writes all of `data` through repeated writes of at most `chunk` bytes. */
async function writeAll(
  port: CompletionPort,
  fd: number,
  data: Uint8Array,
  chunk = data.length,
): Promise<number> {
  let written = 0;
  let writes = 0;
  while (written < data.length) {
    const n = await port.write(fd, data.subarray(written, written + chunk));
    assert.ok(n > 0);
    written += n;
    writes++;
  }
  return writes;
}

/** Reads exactly `length` bytes (end of stream before that fails the test). */
async function readExactly(port: CompletionPort, fd: number, length: number): Promise<Uint8Array> {
  const data = new Uint8Array(length);
  let read = 0;
  while (read < length) {
    const n = await port.read(fd, data.subarray(read));
    assert.notEqual(n, null, `end of stream after ${read} of ${length} bytes`);
    read += n!;
  }
  return data;
}

/** Reads until the end of the stream; returns everything read. */
async function readToEnd(port: CompletionPort, fd: number): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buffer = new Uint8Array(65536);
  for (;;) {
    const n = await port.read(fd, buffer);
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
    total += n;
  }
  const all = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return all;
}

/** Sends back everything read, then shuts its writing side down at end of stream. */
async function echo(port: CompletionPort, conn: TcpConn): Promise<void> {
  const buffer = new Uint8Array(65536);
  for (;;) {
    const n = await port.read(conn.fd, buffer);
    if (n === null) break;
    await writeAll(port, conn.fd, buffer.subarray(0, n));
  }
  conn.shutdown("write");
}

/** A connected pair through `port`: [client, server]. */
async function connectedPair(
  port: CompletionPort,
  listener: TcpListener,
): Promise<[TcpConn, TcpConn]> {
  const accepting = port.accept(listener);
  const client = await port.connect({ hostname: listener.addr.hostname, port: listener.addr.port });
  return [client, await accepting];
}

/** A port number nothing listens on: one a listener just gave back. */
function closedPort(hostname: string): number {
  using listener = listenTcp({ hostname, port: 0 });
  return listener.addr.port;
}

for (const hostname of ["127.0.0.1", "::1"]) {
  windowsTest(`echo over ${hostname} round-trips exact bytes, then 1 MiB in full`, async () => {
    await using port = openCompletionPort();
    using listener = listenTcp({ hostname, port: 0 });
    assert.equal(listener.addr.hostname, hostname);
    assert.equal(listener.addr.transport, "tcp");
    assert.ok(listener.addr.port > 0);
    const [client, server] = await connectedPair(port, listener);
    using _client = client;
    using _server = server;
    assert.deepEqual(client.remoteAddr, listener.addr);
    assert.deepEqual(server.localAddr, listener.addr);
    assert.deepEqual(server.remoteAddr, client.localAddr);
    assert.equal(client.localAddr.hostname, hostname);
    client.setNoDelay();
    const echoing = echo(port, server);

    for (let i = 0; i < 12; i++) {
      const message = pattern(1 + i * 997, i + 1);
      await writeAll(port, client.fd, message);
      assert.deepEqual(await readExactly(port, client.fd, message.length), message);
    }

    const big = pattern(1 << 20, 0x5eed);
    const [writes, back] = await Promise.all([
      writeAll(port, client.fd, big, 100_003).then((writes) => {
        client.shutdown("write");
        return writes;
      }),
      readToEnd(port, client.fd),
    ]);
    assert.equal(writes, 11);
    assert.equal(back.length, big.length);
    assert.ok(back.every((byte, i) => byte === big[i]), "the echoed bytes differ");
    await echoing;
  });
}

windowsTest("eight connections at once each get their own bytes back", async () => {
  await using port = openCompletionPort();
  using listener = listenTcp({ port: 0 });
  const serving = (async () => {
    const echoes = [];
    for (let i = 0; i < 8; i++) {
      const conn = await port.accept(listener);
      echoes.push(echo(port, conn).finally(() => conn.close()));
    }
    await Promise.all(echoes);
  })();
  await Promise.all(Array.from({ length: 8 }, async (_, i) => {
    using client = await port.connect({ port: listener.addr.port });
    const message = pattern(200_000 + i, 100 + i);
    const [, back] = await Promise.all([
      writeAll(port, client.fd, message, 65_536).then(() => client.shutdown()),
      readToEnd(port, client.fd),
    ]);
    assert.ok(back.length === message.length && back.every((b, j) => b === message[j]));
  }));
  await serving;
});

windowsTest("a read returns null (end of stream) after the peer's shutdown('write')", async () => {
  await using port = openCompletionPort();
  using listener = listenTcp({ port: 0 });
  const [client, server] = await connectedPair(port, listener);
  using _client = client;
  using _server = server;
  const buffer = new Uint8Array(8);
  const reading = port.read(server.fd, buffer);
  assert.equal(await port.write(client.fd, new Uint8Array([7, 8, 9])), 3);
  assert.equal(await reading, 3);
  client.shutdown("write");
  assert.equal(await port.read(server.fd, buffer), null);
  assert.equal(await port.read(server.fd, buffer), null);
  // The other direction still works.
  assert.equal(await port.write(server.fd, new Uint8Array([1])), 1);
  assert.equal(await port.read(client.fd, buffer), 1);
  server.shutdown("both");
  assert.equal(await port.read(client.fd, buffer), null);
});

windowsTest("a write after shutdown('write') is BrokenPipe", async () => {
  await using port = openCompletionPort();
  using listener = listenTcp({ port: 0 });
  const [client, server] = await connectedPair(port, listener);
  using _client = client;
  using _server = server;
  client.shutdown();
  await assert.rejects(port.write(client.fd, new Uint8Array([1])), (error: Error) => {
    assert.ok(error instanceof Deno.errors.BrokenPipe, String(error));
    assert.match(error.message, new RegExp(`^Cannot write to socket ${client.fd}: WSAESHUTDOWN`));
    return true;
  });
});

for (const hostname of ["127.0.0.1", "::1"]) {
  windowsTest(`connecting to a closed port on ${hostname} is ConnectionRefused`, async () => {
    await using port = openCompletionPort();
    const closed = closedPort(hostname);
    const where = hostname.includes(":") ? `[${hostname}]:${closed}` : `${hostname}:${closed}`;
    await assert.rejects(port.connect({ hostname, port: closed }), (error: Error) => {
      assert.ok(error instanceof Deno.errors.ConnectionRefused, String(error));
      assert.equal(
        error.message,
        `Cannot connect to ${where}: WSAECONNREFUSED (os error 10061)`,
      );
      assert.equal((error as Error & { code: string }).code, "WSAECONNREFUSED");
      assert.equal((error as Error & { errno: number }).errno, 10061);
      return true;
    });
  });
}

windowsTest("listening on an address in use is AddrInUse", () => {
  for (const hostname of ["127.0.0.1", "::1"]) {
    using first = listenTcp({ hostname, port: 0 });
    assert.throws(() => listenTcp({ hostname, port: first.addr.port }), (error: Error) => {
      assert.ok(error instanceof Deno.errors.AddrInUse, String(error));
      assert.match(error.message, /: WSAEADDRINUSE \(os error 10048\)$/);
      assert.equal((error as Error & { code: string }).code, "WSAEADDRINUSE");
      assert.equal((error as Error & { errno: number }).errno, 10048);
      return true;
    });
  }
});

windowsTest(
  "bad ports and hostnames are RangeError and TypeError before any system call",
  async () => {
    const port = openCompletionPort();
    port.close(); // a closed port would be BadResource: the arguments are checked first
    for (const bad of [-1, 65536, 1.5, NaN, Infinity, "80", undefined]) {
      assert.throws(() => listenTcp({ port: bad as number }), RangeError);
      await assert.rejects(port.connect({ port: bad as number }), RangeError);
    }
    for (const bad of ["example.com", "127.0.0.256", "01.2.3.4", "1::2::3", "", "::1%eth0", 7]) {
      assert.throws(() => listenTcp({ hostname: bad as string, port: 0 }), TypeError);
      await assert.rejects(port.connect({ hostname: bad as string, port: 1 }), TypeError);
    }
    assert.throws(
      () => listenTcp({ hostname: "example.com", port: 80 }),
      (error: Error) => {
        assert.equal(
          error.message,
          'Cannot listen on example.com:80: hostname must be an IPv4 or IPv6 literal or "localhost" ' +
            '(names are not resolved), got "example.com"',
        );
        return true;
      },
    );
    assert.throws(() => listenTcp({ port: 0, backlog: -1 }), RangeError);
    // @ts-expect-error: not a listener
    await assert.rejects(port.accept({}), TypeError);
    await assert.rejects(port.connect({ port: 1 }), Deno.errors.BadResource);
  },
);

windowsTest(
  "an accept cancelled by a signal rejects with its reason; the listener still accepts",
  async () => {
    await using port = openCompletionPort();
    using listener = listenTcp({ port: 0 });
    const controller = new AbortController();
    const accepting = port.accept(listener, { signal: controller.signal });
    const reason = new Error("no longer wanted");
    setTimeout(() => controller.abort(reason), 20);
    await assert.rejects(accepting, (error) => error === reason);
    // An aborted signal rejects at once.
    await assert.rejects(port.accept(listener, { signal: controller.signal }), (e) => e === reason);
    const [client, server] = await connectedPair(port, listener);
    client.close();
    server.close();
  },
);

windowsTest("a read cancelled by a signal rejects with its reason and takes no bytes", async () => {
  await using port = openCompletionPort();
  using listener = listenTcp({ port: 0 });
  const [client, server] = await connectedPair(port, listener);
  using _client = client;
  using _server = server;
  const controller = new AbortController();
  const reading = port.read(server.fd, new Uint8Array(4), { signal: controller.signal });
  controller.abort();
  await assert.rejects(reading, (error: Error) => error.name === "AbortError");
  await port.write(client.fd, new Uint8Array([1, 2, 3]));
  assert.deepEqual([...await readExactly(port, server.fd, 3)], [1, 2, 3]);
});

windowsTest("closing the port with an accept in flight rejects it with Interrupted", async () => {
  const port = openCompletionPort();
  using listener = listenTcp({ port: 0 });
  const accepting = port.accept(listener);
  port.close();
  await assert.rejects(accepting, (error: Error) => {
    assert.ok(error instanceof Deno.errors.Interrupted, String(error));
    assert.match(
      error.message,
      /^Cannot accept on 127\.0\.0\.1:\d+: the completion port was closed$/,
    );
    return true;
  });
  await port[Symbol.asyncDispose]();
  await assert.rejects(port.accept(listener), (error: Error) => {
    assert.ok(error instanceof Deno.errors.BadResource, String(error));
    assert.match(
      error.message,
      /^Cannot accept on 127\.0\.0\.1:\d+: the completion port is closed$/,
    );
    return true;
  });
});

windowsTest("closing the port with a read in flight rejects it with Interrupted", async () => {
  const port = openCompletionPort();
  using listener = listenTcp({ port: 0 });
  const [client, server] = await connectedPair(port, listener);
  using _client = client;
  using _server = server;
  const reading = port.read(server.fd, new Uint8Array(4));
  port.close();
  await assert.rejects(reading, Deno.errors.Interrupted);
  await port[Symbol.asyncDispose]();
  // The port is gone: its sockets are not usable through it.
  await assert.rejects(port.read(server.fd, new Uint8Array(4)), Deno.errors.BadResource);
});

windowsTest(
  "closing a connection or a listener with an operation in flight rejects it with Interrupted",
  async () => {
    await using port = openCompletionPort();
    const listener = listenTcp({ port: 0 });
    const [client, server] = await connectedPair(port, listener);
    using _client = client;
    const reading = port.read(server.fd, new Uint8Array(4));
    server.close();
    await assert.rejects(reading, Deno.errors.Interrupted);
    const accepting = port.accept(listener);
    listener.close();
    await assert.rejects(accepting, Deno.errors.Interrupted);
  },
);

windowsTest("a reset by the peer is ConnectionReset", async () => {
  await using port = openCompletionPort();
  using listener = listenTcp({ port: 0 });
  const [client, server] = await connectedPair(port, listener);
  using _server = server;
  const reading = port.read(server.fd, new Uint8Array(4));
  // SO_LINGER { l_onoff: 1, l_linger: 0 }: closesocket() resets the connection.
  const ws2_32 = Deno.dlopen("ws2_32.dll", {
    setsockopt: { parameters: ["pointer", "i32", "i32", "buffer", "i32"], result: "i32" },
  });
  try {
    const SOL_SOCKET = 0xffff;
    const SO_LINGER = 0x0080;
    const linger = new Uint16Array([1, 0]);
    const socket = Deno.UnsafePointer.create(BigInt(client.fd));
    assert.equal(ws2_32.symbols.setsockopt(socket, SOL_SOCKET, SO_LINGER, linger, 4), 0);
  } finally {
    ws2_32.close();
  }
  client.close();
  await assert.rejects(reading, (error: Error) => {
    assert.ok(error instanceof Deno.errors.ConnectionReset, String(error));
    assert.equal((error as Error & { code: string }).code, "WSAECONNRESET");
    return true;
  });
});

windowsTest("sockets and listeners close cleanly, once, and refuse use afterwards", async () => {
  await using port = openCompletionPort();
  const listener = listenTcp({ hostname: "localhost", port: 0, backlog: 4 });
  assert.equal(listener.addr.hostname, "127.0.0.1");
  const [client, server] = await connectedPair(port, listener);
  const fd = server.fd;
  for (const socket of [client, server, listener]) {
    assert.equal(socket.closed, false);
    socket.close();
    socket.close();
    assert.equal(socket.closed, true);
    assert.equal(socket.fd, -1);
  }
  assert.throws(() => server.shutdown(), Deno.errors.BadResource);
  assert.throws(() => server.setNoDelay(true), Deno.errors.BadResource);
  // @ts-expect-error: not a boolean
  assert.throws(() => client.setNoDelay("yes"), TypeError);
  // @ts-expect-error: not a direction
  assert.throws(() => client.shutdown("sideways"), TypeError);
  await assert.rejects(port.accept(listener), Deno.errors.BadResource);
  await assert.rejects(port.read(fd, new Uint8Array(1)), Deno.errors.BadResource);
  // Sockets reusing the values of closed ones work with the same port.
  for (let i = 0; i < 20; i++) {
    using again = listenTcp({ port: 0 });
    const [c, s] = await connectedPair(port, again);
    assert.equal(await port.write(c.fd, new Uint8Array([i])), 1);
    assert.deepEqual([...await readExactly(port, s.fd, 1)], [i]);
    c.close();
    s.close();
  }
});

windowsTest("the readiness-driven members throw NotSupported naming the OS", async () => {
  await using port = openCompletionPort();
  using listener = listenTcp({ port: 0 });
  const notSupported = (pattern: RegExp) => (error: Error) => {
    assert.ok(error instanceof Deno.errors.NotSupported, String(error));
    assert.match(error.message, pattern);
    assert.match(error.message, / on windows: /);
    return true;
  };
  assert.throws(() => listener.accept(), notSupported(/^Cannot accept on 127\.0\.0\.1:\d+/));
  const [client, server] = await connectedPair(port, listener);
  using _client = client;
  using _server = server;
  assert.throws(() => client.tryRead(new Uint8Array(1)), notSupported(/^Cannot read from/));
  assert.throws(() => client.tryWrite(new Uint8Array(1)), notSupported(/^Cannot write to/));
  assert.throws(() => client.finishConnect(), notSupported(/^Cannot finish connecting/));
  assert.throws(
    () => connectTcp({ port: listener.addr.port }),
    notSupported(/^Cannot connect to 127\.0\.0\.1:\d+/),
  );
  assert.throws(() => bindUdp({ port: 0 }), notSupported(/^Cannot bind to 127\.0\.0\.1:0/));
  assert.throws(
    () => listenTcp({ port: 0, reusePort: true }),
    notSupported(/^Cannot listen on 127\.0\.0\.1:0/),
  );
  // Bad arguments are still told first.
  assert.throws(() => connectTcp({ port: 70000 }), RangeError);
  assert.throws(() => bindUdp({ hostname: "example.com", port: 0 }), TypeError);
  // The completion-driven path still works on the same sockets.
  assert.equal(await port.write(client.fd, new Uint8Array([7])), 1);
  assert.equal(await port.read(server.fd, new Uint8Array(4)), 1);
});
