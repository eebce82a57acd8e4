// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Unix domain sockets on Linux (listenUnix, connectUnix, bindUnixDatagram),
 * on paths under a temporary directory and on abstract names, driven by a
 * real Selector: round trips of exact bytes, the socket file's life, a
 * connect that waits for room in a full queue, refusals, addresses, flags,
 * bad input, and no fd left open.
 */

import assert from "node:assert/strict";
import {
  adoptSocket,
  bindUnixDatagram,
  connectUnix,
  Interest,
  listenFds,
  listenUnix,
  notify,
  openSelector,
  type Selector,
  type UnixConn,
  type UnixListener,
} from "../../mod.ts";
import { F_GETFD, F_GETFL, FD_CLOEXEC, O_NONBLOCK } from "../../ffi/libc.ts";
import {
  assertNoNewFds,
  linuxTest,
  pattern,
  settledFds,
  windowsTest,
  withLibc,
} from "../_helpers/mod.ts";

const TEST_LIBC = {
  fcntl: { parameters: ["i32", "i32"], result: "i32" },
  getuid: { parameters: [], result: "u32" },
  getgid: { parameters: [], result: "u32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** A Linux test that must leave no new fd open. */
function unixTest(name: string, fn: () => void | Promise<void>): void {
  linuxTest(name, async () => {
    const before = await settledFds();
    await fn();
    assertNoNewFds(before);
  });
}

/** A fresh abstract name: no file, no clash with another run. */
function abstractName(what: string): string {
  return `\0evented-io-test-${what}-${crypto.randomUUID()}`;
}

/** A temporary directory, removed with what is left in it when disposed. */
function tempDir(): { path: string } & Disposable {
  const path = Deno.makeTempDirSync({ prefix: "evented-io-unix-" });
  return { path, [Symbol.dispose]: () => Deno.removeSync(path, { recursive: true }) };
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Waits (at most 5 s) until `fd` is ready for `interest`. */
function waitFor(selector: Selector, fd: number, interest: number): void {
  selector.register(fd, interest);
  try {
    const deadline = performance.now() + 5_000;
    while (selector.select(100).length === 0) {
      if (performance.now() > deadline) throw new Error(`fd ${fd} never became ready`);
    }
  } finally {
    selector.unregister(fd);
  }
}

/** Sends `payload` from `a` to `b` and back through a Selector, byte for byte. */
function roundTrip(selector: Selector, a: UnixConn, b: UnixConn, payload: Uint8Array): void {
  for (const [from, to] of [[a, b], [b, a]]) {
    let sent = 0;
    let received = 0;
    const got = new Uint8Array(payload.length);
    const deadline = performance.now() + 10_000;
    while (received < payload.length) {
      if (performance.now() > deadline) throw new Error(`only ${received} bytes came`);
      if (sent < payload.length) sent += from.tryWrite(payload.subarray(sent));
      waitFor(selector, to.fd, Interest.READABLE);
      const n = to.tryRead(got.subarray(received));
      assert.ok(n !== null, "the stream ended early");
      received += n;
    }
    assert.deepEqual(got, payload);
  }
}

/** A listener with a connected pair on it. */
async function connectedPair(path: string): Promise<[UnixListener, UnixConn, UnixConn]> {
  const listener = listenUnix({ path });
  const client = await connectUnix({ path });
  const server = listener.tryAccept();
  assert.ok(server !== null, "the connection is not waiting");
  return [listener, client, server];
}

unixTest(
  "a round trip over a path: exact bytes, addresses, and the file removed on close",
  async () => {
    using dir = tempDir();
    const path = `${dir.path}/echo.sock`;
    using selector = openSelector();
    const [listener, client, server] = await connectedPair(path);
    using _listener = listener;
    using _client = client;
    using _server = server;
    assert.ok(Deno.lstatSync(path).isSocket);
    assert.deepEqual(listener.addr, { transport: "unix", path });
    assert.deepEqual(client.remoteAddr, { transport: "unix", path });
    assert.deepEqual(client.localAddr, { transport: "unix", path: "" }); // unnamed
    assert.deepEqual(server.localAddr, { transport: "unix", path });
    assert.deepEqual(server.remoteAddr, { transport: "unix", path: "" });
    roundTrip(selector, client, server, pattern(300_000, 1));
    assert.equal(listener.tryAccept(), null);
    listener.close();
    assert.equal(exists(path), false, "the socket file is still there");
    listener.close(); // idempotent
    // The connections outlive their listener.
    roundTrip(selector, client, server, pattern(10, 2));
  },
);

unixTest("a round trip over an abstract name, which makes no file", async () => {
  using dir = tempDir();
  const path = abstractName("abstract");
  using selector = openSelector();
  const [listener, client, server] = await connectedPair(path);
  using _listener = listener;
  using _client = client;
  using _server = server;
  assert.deepEqual(listener.addr, { transport: "unix", path });
  assert.deepEqual(server.localAddr, { transport: "unix", path });
  roundTrip(selector, client, server, pattern(70_000, 3));
  assert.deepEqual([...Deno.readDirSync(dir.path)], []);
  // A second listener on the name is refused while the first holds it, and may take it after.
  assert.throws(() => listenUnix({ path }), Deno.errors.AddrInUse);
  listener.close();
  listenUnix({ path }).close();
});

unixTest("listenUnix on a path that exists is AddrInUse, whatever the file is", async () => {
  using dir = tempDir();
  const stale = `${dir.path}/stale.sock`;
  listenUnix({ path: stale }).close();
  const regular = `${dir.path}/regular`;
  Deno.writeTextFileSync(regular, "mine");
  using live = listenUnix({ path: `${dir.path}/live.sock` });
  for (const path of [regular, live.addr.path]) {
    assert.throws(() => listenUnix({ path }), (error: Error & { code?: string }) => {
      assert.ok(error instanceof Deno.errors.AddrInUse, String(error));
      assert.equal(error.code, "EADDRINUSE");
      assert.match(error.message, /^Cannot bind fd \d+ to .+: EADDRINUSE \(os error 98\)$/);
      return true;
    });
  }
  assert.equal(Deno.readTextFileSync(regular), "mine");
  await assert.rejects(connectUnix({ path: regular }), Deno.errors.ConnectionRefused);
  // A socket file nobody listens on (a stale one) refuses, and one that is not there is NotFound.
  listenUnix({ path: stale }).close();
  await assert.rejects(connectUnix({ path: `${dir.path}/none.sock` }), Deno.errors.NotFound);
  await assert.rejects(connectUnix({ path: abstractName("none") }), Deno.errors.ConnectionRefused);
  assert.throws(() => listenUnix({ path: `${dir.path}/no/such/dir.sock` }), Deno.errors.NotFound);
});

unixTest("closing a listener leaves alone a file that took its socket's place", () => {
  using dir = tempDir();
  const path = `${dir.path}/replaced.sock`;
  const listener = listenUnix({ path });
  Deno.removeSync(path);
  Deno.writeTextFileSync(path, "someone else's");
  listener.close();
  assert.equal(Deno.readTextFileSync(path), "someone else's");
  Deno.removeSync(path);
  const second = listenUnix({ path });
  Deno.removeSync(path);
  using third = listenUnix({ path }); // a new socket at the same path
  second.close(); // not its file any more
  assert.ok(Deno.lstatSync(path).isSocket);
  third.close();
  assert.equal(exists(path), false);
});

unixTest(
  "a relative path's file is removed where it was made, whatever the directory at close",
  () => {
    using dir = tempDir();
    const cwd = Deno.cwd();
    let listener;
    Deno.chdir(dir.path);
    try {
      listener = listenUnix({ path: "relative.sock" });
    } finally {
      Deno.chdir(cwd);
    }
    assert.deepEqual(listener.addr, { transport: "unix", path: "relative.sock" });
    assert.ok(Deno.lstatSync(`${dir.path}/relative.sock`).isSocket);
    listener.close(); // from another working directory
    assert.equal(exists(`${dir.path}/relative.sock`), false);
  },
);

unixTest("a connect to a full queue waits until the listener accepts, then resolves", async () => {
  const path = abstractName("backlog");
  using listener = listenUnix({ path, backlog: 0 });
  // Backlog 0 holds one connection; the one after finds the queue full (EAGAIN).
  using first = await connectUnix({ path });
  let settled = false;
  const second = connectUnix({ path }).finally(() => settled = true);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(settled, false, "the connect did not wait for room");
  using accepted = listener.tryAccept()!; // room for one more
  using conn = await second;
  using accepted2 = listener.tryAccept()!;
  assert.equal(first.tryWrite(new Uint8Array([1])), 1);
  assert.equal(conn.tryWrite(new Uint8Array([2, 3])), 2);
  const buffer = new Uint8Array(4);
  assert.equal(accepted.tryRead(buffer), 1);
  assert.equal(accepted2.tryRead(buffer), 2);
});

unixTest(
  "a connect waiting for room rejects with its signal's reason, and keeps no fd",
  async () => {
    const path = abstractName("abort");
    using listener = listenUnix({ path, backlog: 0 });
    using first = await connectUnix({ path });
    const controller = new AbortController();
    const waiting = connectUnix({ path, signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const reason = new Error("given up");
    controller.abort(reason);
    await assert.rejects(waiting, (error) => error === reason);
    await assert.rejects(connectUnix({ path, signal: controller.signal }), (e) => e === reason);
    assert.ok(first.fd >= 0 && listener.fd >= 0);
  },
);

unixTest(
  "listeners, accepted and connected sockets are nonblocking and close-on-exec",
  async () => {
    const [listener, client, server] = await connectedPair(abstractName("flags"));
    using _listener = listener;
    using _client = client;
    using _server = server;
    using datagram = bindUnixDatagram({});
    withLibc(TEST_LIBC, (libc) => {
      for (const fd of [listener.fd, client.fd, server.fd, datagram.fd]) {
        assert.ok(libc.fcntl(fd, F_GETFL) & O_NONBLOCK, `fd ${fd} blocks`);
        assert.ok(libc.fcntl(fd, F_GETFD) & FD_CLOEXEC, `fd ${fd} is inherited`);
      }
    });
    assert.equal(server.tryRead(new Uint8Array(8)), 0); // nothing yet
    assert.equal(server.tryRead(new Uint8Array(0)), 0);
    assert.equal(server.tryWrite(new Uint8Array(0)), 0);
  },
);

unixTest("peerCredentials() names this process on both ends", async () => {
  const [listener, client, server] = await connectedPair(abstractName("creds"));
  using _listener = listener;
  using _client = client;
  using _server = server;
  const [uid, gid] = withLibc(TEST_LIBC, (libc) => [libc.getuid(), libc.getgid()]);
  assert.deepEqual(server.peerCredentials(), { pid: Deno.pid, uid, gid });
  assert.deepEqual(client.peerCredentials(), { pid: Deno.pid, uid, gid });
});

unixTest(
  "closeWrite() and shutdown() end the stream for the peer, who can still write",
  async () => {
    using selector = openSelector();
    const [listener, client, server] = await connectedPair(abstractName("half"));
    using _listener = listener;
    using _client = client;
    using _server = server;
    assert.equal(client.tryWrite(new Uint8Array([1, 2])), 2);
    await client.closeWrite();
    const buffer = new Uint8Array(8);
    waitFor(selector, server.fd, Interest.READABLE);
    assert.equal(server.tryRead(buffer), 2);
    assert.equal(server.tryRead(buffer), null);
    assert.equal(server.tryWrite(new Uint8Array([3])), 1);
    assert.equal(client.tryRead(buffer), 1);
    assert.throws(() => client.tryWrite(new Uint8Array([4])), Deno.errors.BrokenPipe);
    server.shutdown("both");
    assert.equal(client.tryRead(buffer), null);
    assert.throws(() => server.shutdown("sideways" as "read"), TypeError);
  },
);

unixTest("closed sockets are BadResource, and close() is idempotent", async () => {
  const [listener, client, server] = await connectedPair(abstractName("closed"));
  const datagram = bindUnixDatagram({});
  for (const socket of [listener, client, server, datagram]) {
    socket.close();
    socket.close();
    assert.equal(socket.fd, -1);
    assert.equal(socket.closed, true);
  }
  const buffer = new Uint8Array(4);
  assert.throws(() => listener.tryAccept(), Deno.errors.BadResource);
  assert.throws(() => client.tryRead(buffer), Deno.errors.BadResource);
  assert.throws(() => client.tryWrite(buffer), Deno.errors.BadResource);
  assert.throws(() => client.sendFds(buffer, [0]), Deno.errors.BadResource);
  assert.throws(() => client.receiveFds(buffer), Deno.errors.BadResource);
  assert.throws(() => client.peerCredentials(), Deno.errors.BadResource);
  assert.throws(() => client.shutdown(), Deno.errors.BadResource);
  await assert.rejects(client.closeWrite(), Deno.errors.BadResource);
  assert.throws(() => datagram.tryReceive(buffer), Deno.errors.BadResource);
  assert.throws(() => datagram.trySend(buffer, { path: "/x" }), Deno.errors.BadResource);
});

unixTest("bad paths and options are TypeError or RangeError before any syscall", async () => {
  const long = `/tmp/${"x".repeat(103)}`; // 108 bytes: no room for the NUL
  assert.equal(new TextEncoder().encode(long).length, 108);
  for (
    const [call, ErrorClass] of [
      [() => listenUnix({ path: "" }), TypeError],
      [() => listenUnix({ path: "\0" }), TypeError],
      [() => listenUnix({ path: "/tmp/a\0b" }), TypeError],
      [() => listenUnix({ path: 7 as unknown as string }), TypeError],
      [() => listenUnix(undefined as unknown as { path: string }), TypeError],
      [() => listenUnix({ path: long }), RangeError],
      [() => listenUnix({ path: `\0${"x".repeat(108)}` }), RangeError],
      [() => listenUnix({ path: abstractName("b"), backlog: -1 }), RangeError],
      [() => listenUnix({ path: abstractName("b"), backlog: 1.5 }), RangeError],
      [() => bindUnixDatagram({ path: "" }), TypeError],
      [() => bindUnixDatagram(null as unknown as { path: string }), TypeError],
    ] as const
  ) {
    assert.throws(call, ErrorClass);
  }
  await assert.rejects(connectUnix({ path: long }), RangeError);
  await assert.rejects(connectUnix({ path: "" }), TypeError);
  await assert.rejects(connectUnix({ path: "/x", signal: {} as AbortSignal }), TypeError);
  // The longest path and abstract name that fit are taken.
  using dir = tempDir();
  const room = 107 - dir.path.length - 1;
  const fits = `${dir.path}/${"y".repeat(room)}`;
  listenUnix({ path: fits }).close();
  listenUnix({ path: `\0${"z".repeat(107)}` }).close();
});

unixTest("datagrams between a bound socket, an abstract one and an unbound sender", () => {
  using dir = tempDir();
  const path = `${dir.path}/log.sock`;
  using log = bindUnixDatagram({ path });
  const name = abstractName("dgram");
  using named = bindUnixDatagram({ path: name });
  using unbound = bindUnixDatagram();
  assert.deepEqual(log.addr, { transport: "unixpacket", path });
  assert.deepEqual(named.addr, { transport: "unixpacket", path: name });
  assert.deepEqual(unbound.addr, { transport: "unixpacket", path: "" });
  const buffer = new Uint8Array(64);
  assert.equal(unbound.trySend(new TextEncoder().encode("<14>one"), { path }), 7);
  assert.deepEqual(log.tryReceive(buffer), [7, { transport: "unixpacket", path: "" }]);
  assert.equal(log.trySend(pattern(40, 5), named.addr), 40);
  const [n, from] = named.tryReceive(buffer)!;
  assert.equal(n, 40);
  assert.deepEqual(buffer.subarray(0, 40), pattern(40, 5));
  assert.deepEqual(from, { transport: "unixpacket", path }); // a bound sender has a name
  assert.equal(named.tryReceive(buffer), null);
  // A datagram longer than the buffer: what fits, the rest is lost.
  assert.equal(unbound.trySend(pattern(100, 6), { path: name }), 100);
  assert.equal(named.tryReceive(buffer.subarray(0, 10))![0], 10);
  assert.equal(named.tryReceive(buffer), null);
  assert.throws(() => unbound.trySend(buffer, { path: `${dir.path}/none` }), Deno.errors.NotFound);
  assert.throws(
    () => unbound.trySend(buffer, { path: abstractName("nobody") }),
    Deno.errors.ConnectionRefused,
  );
  assert.throws(() => unbound.trySend(buffer, "x" as unknown as { path: string }), TypeError);
  assert.throws(() => bindUnixDatagram({ path }), Deno.errors.AddrInUse);
  log.close();
  assert.equal(exists(path), false, "the datagram socket's file is still there");
});

unixTest("200 connections driven by one Selector each echo their own bytes", async () => {
  const COUNT = 200;
  const path = abstractName("many");
  using selector = openSelector<UnixConn>();
  using listener = listenUnix({ path, backlog: COUNT });
  const clients = await Promise.all(
    Array.from({ length: COUNT }, () => connectUnix({ path })),
  );
  const servers: UnixConn[] = [];
  for (let conn; (conn = listener.tryAccept()) !== null;) servers.push(conn);
  assert.equal(servers.length, COUNT);
  try {
    const payloads = clients.map((_, i) => pattern(1 + ((i * 7919) % 20_000), i));
    clients.forEach((client, i) => assert.equal(client.tryWrite(payloads[i]), payloads[i].length));
    // Each server echoes whatever arrives; each client collects its echo.
    for (const server of servers) selector.register(server.fd, Interest.READABLE, { data: server });
    const buffer = new Uint8Array(65536);
    let echoed = 0;
    const total = payloads.reduce((sum, p) => sum + p.length, 0);
    const deadline = performance.now() + 10_000;
    while (echoed < total) {
      if (performance.now() > deadline) throw new Error(`only ${echoed} of ${total} bytes echoed`);
      for (const event of selector.select(100)) {
        const n = event.data!.tryRead(buffer);
        if (n) echoed += event.data!.tryWrite(buffer.subarray(0, n));
      }
    }
    for (const [i, client] of clients.entries()) {
      const got = new Uint8Array(payloads[i].length);
      let have = 0;
      while (have < got.length) have += client.tryRead(got.subarray(have)) ?? 0;
      assert.deepEqual(got, payloads[i]);
    }
    for (const server of servers) selector.unregister(server.fd);
  } finally {
    for (const conn of [...clients, ...servers]) conn.close();
  }
});

windowsTest(
  "unix",
  30_000,
  "Unix sockets, adopting and systemd's protocols are NotSupported, naming the OS",
  async () => {
    const notHere = (why: RegExp) => (error: Error) => {
      assert.ok(error instanceof Deno.errors.NotSupported, String(error));
      assert.match(error.message, / on windows: /);
      assert.match(error.message, why);
      return true;
    };
    const wine = /Wine 10, .* has none: WSAEAFNOSUPPORT/;
    assert.throws(() => listenUnix({ path: "\0evented-io" }), notHere(wine));
    await assert.rejects(connectUnix({ path: "\0evented-io" }), notHere(wine));
    assert.throws(() => bindUnixDatagram({}), notHere(/Linux only/));
    assert.throws(() => adoptSocket(3), notHere(/WSADuplicateSocket/));
    assert.throws(() => listenFds(), notHere(/systemd's, Linux only/));
    assert.throws(() => notify("READY=1"), notHere(/systemd's, Linux only/));
    // Bad arguments are still refused first.
    assert.throws(() => listenUnix({ path: "" }), TypeError);
  },
);
