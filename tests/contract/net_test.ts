// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The Linux sockets (listenTcp, startConnectTcp, bindUdp) on loopback, driven by
 * a real Selector: echo at scale with exact bytes, resets, half-closes,
 * refused connects, addresses in use, accept storms, UDP over IPv4 and
 * IPv6, bad input, and no fd left open. Every test is bounded in time (its
 * loops check a deadline) and in count.
 */

import assert from "node:assert/strict";
import {
  bindUdp,
  Interest,
  listenTcp,
  openSelector,
  raiseFdLimit,
  type Selector,
  startConnectTcp,
  type TcpConn,
  type TcpListener,
} from "../../mod.ts";
import { closedPort, linuxTest, openFds, settledFds, slack, withLibc } from "../_helpers/mod.ts";
import {
  F_GETFD,
  F_GETFL,
  FD_CLOEXEC,
  O_NONBLOCK,
  SO_LINGER,
  SO_REUSEPORT,
  SOL_SOCKET,
} from "../../ffi/libc.ts";

/** libc calls the tests make themselves, on the library's fds. */
const TEST_LIBC = {
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  fcntl: { parameters: ["i32", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;
type TestLibc = Deno.DynamicLibrary<typeof TEST_LIBC>["symbols"];

/** A Linux test that must leave no fd open: the fds after are the fds before. */
function netTest(name: string, fn: () => void | Promise<void>): void {
  linuxTest(name, async () => {
    const before = await settledFds();
    await fn();
    assert.deepEqual(openFds(), before, "an fd was left open");
  });
}

/** Something a selector event is handed to. */
interface Handler {
  handle(readable: boolean, writable: boolean): void;
}

/** Runs `selector` until `done()`, failing after `ms` milliseconds (scaled to this machine). */
function drive(selector: Selector<Handler>, done: () => boolean, ms: number, what: string): void {
  ms = slack(ms);
  const deadline = performance.now() + ms;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`Timed out after ${ms} ms: ${what}`);
    for (const event of selector.select(100)) event.data!.handle(event.readable, event.writable);
  }
}

/** Where every echo connection reads into (one read at a time, then echoes it). */
const scratch = new Uint8Array(65536);

/** Echoes every connection of a listener; unsent bytes wait for WRITABLE. */
class EchoServer implements Handler {
  readonly conns = new Set<EchoConn>();
  readonly errors: Error[] = [];
  accepted = 0;
  ended = 0;

  constructor(readonly selector: Selector<Handler>, readonly listener: TcpListener) {
    selector.register(listener.fd, Interest.READABLE, { data: this });
  }

  handle(): void {
    for (let conn; (conn = this.listener.tryAccept()) !== null;) {
      this.accepted++;
      this.conns.add(new EchoConn(this, conn));
    }
  }

  close(): void {
    for (const conn of this.conns) conn.end();
    this.selector.unregister(this.listener.fd);
    this.listener.close();
  }
}

class EchoConn implements Handler {
  #pending: Uint8Array | null = null;

  constructor(readonly server: EchoServer, readonly conn: TcpConn) {
    server.selector.register(conn.fd, Interest.READABLE, { data: this });
  }

  handle(): void {
    try {
      if (this.#pending !== null) {
        const n = this.conn.tryWrite(this.#pending);
        if (n < this.#pending.length) {
          this.#pending = this.#pending.subarray(n);
          return;
        }
        this.#pending = null;
        this.server.selector.modify(this.conn.fd, Interest.READABLE);
      }
      for (;;) {
        const n = this.conn.tryRead(scratch);
        if (n === null) return this.end();
        if (n === 0) return;
        const written = this.conn.tryWrite(scratch.subarray(0, n));
        if (written < n) {
          this.#pending = scratch.slice(written, n);
          this.server.selector.modify(this.conn.fd, Interest.WRITABLE);
          return;
        }
      }
    } catch (error) {
      this.server.errors.push(error as Error);
      this.end();
    }
  }

  end(): void {
    if (this.conn.closed) return;
    this.server.selector.unregister(this.conn.fd);
    this.conn.close();
    this.server.conns.delete(this);
    this.server.ended++;
  }
}

/** Random bytes (getRandomValues fills at most 64 KiB at a time). */
function randomBytes(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
  return bytes;
}

/** Connects, sends its payload, and checks that every byte comes back in order. */
class EchoClient implements Handler {
  readonly conn: TcpConn;
  sent = 0;
  received = 0;
  mismatches = 0;
  connected = false;
  finished = false;
  #buffer = new Uint8Array(16384);

  constructor(
    readonly selector: Selector<Handler>,
    port: number,
    readonly payload: Uint8Array,
    hostname = "127.0.0.1",
  ) {
    this.conn = startConnectTcp({ hostname, port });
    selector.register(this.conn.fd, Interest.READABLE | Interest.WRITABLE, { data: this });
  }

  handle(readable: boolean, writable: boolean): void {
    if (!this.connected) {
      this.conn.finishConnect();
      this.connected = true;
    }
    if (writable && this.sent < this.payload.length) {
      this.sent += this.conn.tryWrite(this.payload.subarray(this.sent));
      if (this.sent === this.payload.length) {
        this.selector.modify(this.conn.fd, Interest.READABLE);
      }
    }
    if (readable) {
      for (;;) {
        const n = this.conn.tryRead(this.#buffer);
        if (n === null) throw new Error(`Echo ended after ${this.received} bytes`);
        if (n === 0) break;
        for (let i = 0; i < n; i++) {
          if (this.#buffer[i] !== this.payload[this.received + i]) this.mismatches++;
        }
        this.received += n;
      }
      if (this.received >= this.payload.length) this.finish();
    }
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.selector.unregister(this.conn.fd);
    this.conn.close();
  }
}

netTest("2,000 concurrent connections each echo random payloads of random sizes exactly", () => {
  const COUNT = 2_000;
  using selector = openSelector<Handler>();
  const server = new EchoServer(selector, listenTcp({ port: 0, backlog: 4096 }));
  const clients: EchoClient[] = [];
  try {
    for (let i = 0; i < COUNT; i++) {
      const size = 1 + Math.floor(Math.random() * 32768);
      clients.push(new EchoClient(selector, server.listener.addr.port, randomBytes(size)));
    }
    assert.equal(selector.size, COUNT + 1);
    drive(
      selector,
      () => clients.every((c) => c.finished) && server.ended === COUNT,
      30_000,
      "2,000 echoes",
    );
    assert.equal(server.accepted, COUNT);
    assert.deepEqual(server.errors, []);
    for (const client of clients) {
      assert.equal(client.received, client.payload.length);
      assert.equal(client.mismatches, 0);
    }
  } finally {
    for (const client of clients) client.finish();
    server.close();
  }
});

netTest("a client that resets mid-stream ends its connection while the others are served", () => {
  using selector = openSelector<Handler>();
  const server = new EchoServer(selector, listenTcp({ port: 0 }));
  const port = server.listener.addr.port;
  const clients: EchoClient[] = [];
  try {
    withLibc(TEST_LIBC, (libc) => {
      for (let i = 0; i < 50; i++) {
        clients.push(new EchoClient(selector, port, randomBytes(200_000)));
      }
      // The resetting client stops once some of its echo is back: mid-stream.
      const resetter = new EchoClient(selector, port, randomBytes(16 << 20));
      const handle = resetter.handle.bind(resetter);
      resetter.handle = (readable, writable) => {
        handle(readable, writable);
        if (resetter.finished || resetter.received === 0) return;
        const linger = new Int32Array([1, 0]); // l_onoff 1, l_linger 0: close sends RST
        assert.equal(libc.setsockopt(resetter.conn.fd, SOL_SOCKET, SO_LINGER, linger, 8), 0);
        resetter.finish();
      };
      drive(
        selector,
        () => resetter.finished && clients.every((c) => c.finished),
        20_000,
        "50 echoes beside a reset",
      );
      assert.ok(resetter.received < resetter.payload.length, "the reset came after the end");
      drive(selector, () => server.ended === 51, 5_000, "the server ending every connection");
    });
    assert.equal(server.errors.length, 1, String(server.errors));
    const [error] = server.errors as (Error & { code: string; errno: number })[];
    assert.ok(error instanceof Deno.errors.ConnectionReset, String(error));
    assert.equal(error.code, "ECONNRESET");
    assert.equal(error.errno, 104);
    assert.match(
      error.message,
      /^Cannot (read from|write to) fd \d+: ECONNRESET \(os error 104\)$/,
    );
    for (const client of clients) {
      assert.equal(client.received, client.payload.length);
      assert.equal(client.mismatches, 0);
    }
  } finally {
    for (const client of clients) client.finish();
    server.close();
  }
});

/** A listener and a client connected to it, accepted: [listener, client, server]. */
function connectedPair(hostname = "127.0.0.1"): [TcpListener, TcpConn, TcpConn] {
  const listener = listenTcp({ hostname, port: 0 });
  try {
    const client = startConnectTcp({ hostname, port: listener.addr.port });
    try {
      using selector = openSelector();
      selector.register(client.fd, Interest.WRITABLE);
      assert.equal(selector.select(5_000).length, 1);
      client.finishConnect();
      selector.unregister(client.fd);
      selector.register(listener.fd, Interest.READABLE);
      assert.equal(selector.select(5_000).length, 1);
      selector.unregister(listener.fd);
      const server = listener.tryAccept();
      assert.ok(server !== null);
      return [listener, client, server];
    } catch (error) {
      client.close();
      throw error;
    }
  } catch (error) {
    listener.close();
    throw error;
  }
}

/** Waits until `fd` is ready for `interest`, failing after 5 s (scaled to this machine). */
function waitFor(fd: number, interest: number): void {
  using selector = openSelector();
  selector.register(fd, interest);
  assert.equal(selector.select(slack(5_000)).length, 1, `fd ${fd} never became ready`);
  selector.unregister(fd);
}

netTest("a half-closed peer is read to its end and can still be written to", () => {
  const [listener, client, server] = connectedPair();
  using _listener = listener;
  using _client = client;
  using _server = server;
  const buffer = new Uint8Array(64);
  assert.equal(client.tryWrite(new TextEncoder().encode("ping")), 4);
  client.shutdown("write");
  waitFor(server.fd, Interest.READABLE);
  assert.equal(server.tryRead(buffer), 4);
  assert.equal(new TextDecoder().decode(buffer.subarray(0, 4)), "ping");
  waitFor(server.fd, Interest.READABLE);
  assert.equal(server.tryRead(buffer), null); // the client's end of stream
  assert.equal(server.tryRead(buffer), null); // and it stays there
  assert.equal(server.tryWrite(new TextEncoder().encode("pong")), 4); // still writable
  server.shutdown("write");
  waitFor(client.fd, Interest.READABLE);
  assert.equal(client.tryRead(buffer), 4);
  assert.equal(new TextDecoder().decode(buffer.subarray(0, 4)), "pong");
  waitFor(client.fd, Interest.READABLE);
  assert.equal(client.tryRead(buffer), null);
  // Writing after shutting writing down is a broken pipe, not a SIGPIPE.
  assert.throws(() => client.tryWrite(new Uint8Array(1)), (error: Error & { code: string }) => {
    assert.ok(error instanceof Deno.errors.BrokenPipe, String(error));
    assert.equal(error.code, "EPIPE");
    assert.match(error.message, new RegExp(`^Cannot write to fd ${client.fd}: EPIPE`));
    return true;
  });
});

for (const hostname of ["127.0.0.1", "::1"]) {
  netTest(`a connect to a closed port on ${hostname} is ConnectionRefused`, () => {
    const port = closedPort(hostname);
    const where = hostname.includes(":") ? `\\[${hostname}\\]:${port}` : `${hostname}:${port}`;
    const refused = (error: Error & { code: string; errno: number }) => {
      assert.ok(error instanceof Deno.errors.ConnectionRefused, String(error));
      assert.equal(error.code, "ECONNREFUSED");
      assert.equal(error.errno, 111);
      assert.match(
        error.message,
        new RegExp(`^Cannot connect fd \\d+ to ${where}: ECONNREFUSED \\(os error 111\\)$`),
      );
      return true;
    };
    let conn: TcpConn;
    try {
      conn = startConnectTcp({ hostname, port });
    } catch (error) {
      refused(error as Error & { code: string; errno: number }); // the kernel said so at once
      return;
    }
    using _conn = conn;
    assert.deepEqual(conn.remoteAddr, { transport: "tcp", hostname, port });
    waitFor(conn.fd, Interest.WRITABLE);
    assert.throws(() => conn.finishConnect(), refused);
    assert.throws(() => conn.finishConnect(), refused); // told again, not "in progress"
  });
}

netTest("an address in use is AddrInUse, unless every listener asks for reusePort", () => {
  using first = listenTcp({ port: 0 });
  const port = first.addr.port;
  assert.throws(() => listenTcp({ port }), (error: Error & { code: string; errno: number }) => {
    assert.ok(error instanceof Deno.errors.AddrInUse, String(error));
    assert.equal(error.code, "EADDRINUSE");
    assert.equal(error.errno, 98);
    assert.match(error.message, new RegExp(`^Cannot bind fd \\d+ to 127\\.0\\.0\\.1:${port}: `));
    return true;
  });
  using udp = bindUdp({ port: 0 });
  assert.throws(() => bindUdp({ port: udp.addr.port }), Deno.errors.AddrInUse);

  using a = listenTcp({ port: 0, reusePort: true });
  using b = listenTcp({ port: a.addr.port, reusePort: true });
  assert.equal(b.addr.port, a.addr.port);
  withLibc(TEST_LIBC, (libc) => {
    const value = new Int32Array(1);
    const length = new Uint32Array([4]);
    assert.equal(libc.getsockopt(b.fd, SOL_SOCKET, SO_REUSEPORT, value, length), 0);
    assert.equal(value[0], 1);
  });
  // An address that is not this machine's.
  assert.throws(() => listenTcp({ hostname: "192.0.2.1", port: 0 }), Deno.errors.AddrNotAvailable);
});

netTest("an accept storm of 500 connects at once drops none", () => {
  const COUNT = 500;
  using listener = listenTcp({ port: 0 }); // the default backlog, 511
  const clients: TcpConn[] = [];
  const servers: TcpConn[] = [];
  try {
    for (let i = 0; i < COUNT; i++) clients.push(startConnectTcp({ port: listener.addr.port }));
    // Every connect completes before a single accept: the queue holds them all.
    using selector = openSelector<Handler>();
    let connected = 0;
    for (const client of clients) {
      selector.register(client.fd, Interest.WRITABLE, {
        data: {
          handle() {
            client.finishConnect();
            selector.unregister(client.fd);
            connected++;
          },
        },
      });
    }
    drive(selector, () => connected === COUNT, 10_000, "500 connects");
    selector.register(listener.fd, Interest.READABLE, {
      data: {
        handle() {
          for (let conn; (conn = listener.tryAccept()) !== null;) servers.push(conn);
        },
      },
    });
    drive(selector, () => servers.length === COUNT, 10_000, "500 accepts");
    assert.equal(listener.tryAccept(), null);
    selector.unregister(listener.fd);
    const ports = new Set(clients.map((c) => c.localAddr.port));
    assert.equal(ports.size, COUNT);
    for (const server of servers) {
      assert.ok(ports.delete(server.remoteAddr.port), "an accepted peer is no client");
      assert.deepEqual(server.localAddr, listener.addr);
    }
  } finally {
    for (const conn of [...clients, ...servers]) conn.close();
  }
});

netTest("connections over ::1 echo exact bytes and report IPv6 addresses", () => {
  using selector = openSelector<Handler>();
  const server = new EchoServer(selector, listenTcp({ hostname: "::1", port: 0 }));
  const clients: EchoClient[] = [];
  try {
    assert.deepEqual(server.listener.addr.hostname, "::1");
    for (let i = 0; i < 20; i++) {
      clients.push(
        new EchoClient(selector, server.listener.addr.port, randomBytes(1 + i * 5_000), "::1"),
      );
    }
    drive(selector, () => clients.every((c) => c.finished), 10_000, "20 echoes over ::1");
    for (const client of clients) {
      assert.equal(client.received, client.payload.length);
      assert.equal(client.mismatches, 0);
    }
  } finally {
    for (const client of clients) client.finish();
    server.close();
  }
  const [listener, client, accepted] = connectedPair("::1");
  using _listener = listener;
  using _client = client;
  using _accepted = accepted;
  assert.deepEqual(client.remoteAddr, listener.addr);
  assert.deepEqual(accepted.localAddr, listener.addr);
  assert.deepEqual(accepted.remoteAddr, client.localAddr);
  assert.equal(client.localAddr.hostname, "::1");
});

netTest("accepted and connected sockets are nonblocking and close-on-exec", () => {
  const [listener, client, server] = connectedPair();
  using _listener = listener;
  using _client = client;
  using _server = server;
  withLibc(TEST_LIBC, (libc) => {
    for (const fd of [listener.fd, client.fd, server.fd]) {
      assert.ok(libc.fcntl(fd, F_GETFL) & O_NONBLOCK, `fd ${fd} blocks`);
      assert.ok(libc.fcntl(fd, F_GETFD) & FD_CLOEXEC, `fd ${fd} is inherited`);
    }
  });
  client.finishConnect(); // again: nothing to do
  server.finishConnect(); // accepted: nothing to do
  client.setNoDelay();
  client.setNoDelay(false);
  assert.equal(server.tryRead(new Uint8Array(8)), 0); // nothing yet
  assert.equal(server.tryRead(new Uint8Array(0)), 0);
  assert.equal(server.tryWrite(new Uint8Array(0)), 0);
});

netTest("tryWrite takes what fits, returns 0 when the buffer is full, and the rest follows", () => {
  const [listener, client, server] = connectedPair();
  using _listener = listener;
  using _client = client;
  using _server = server;
  const chunk = randomBytes(1 << 20);
  let written = 0;
  for (let n; (n = client.tryWrite(chunk)) > 0;) {
    assert.ok(n <= chunk.length);
    written += n;
    assert.ok(written < 64 << 20, "the socket never filled");
  }
  assert.equal(client.tryWrite(chunk), 0);
  const buffer = new Uint8Array(65536);
  let read = 0;
  let mismatches = 0;
  const deadline = performance.now() + slack(10_000);
  while (read < written) {
    assert.ok(performance.now() < deadline, "timed out reading back");
    const n = server.tryRead(buffer);
    assert.notEqual(n, null);
    if (n === 0) {
      waitFor(server.fd, Interest.READABLE);
      continue;
    }
    for (let i = 0; i < n!; i++) if (buffer[i] !== chunk[(read + i) % chunk.length]) mismatches++;
    read += n!;
  }
  assert.equal(read, written);
  assert.equal(mismatches, 0);
  waitFor(client.fd, Interest.WRITABLE);
  assert.ok(client.tryWrite(chunk) > 0);
});

netTest("writing to a peer that has gone is an error, never a SIGPIPE", () => {
  const [listener, client, server] = connectedPair();
  using _listener = listener;
  using _client = client;
  server.close();
  const deadline = performance.now() + slack(5_000);
  assert.throws(() => {
    while (performance.now() < deadline) client.tryWrite(new Uint8Array(1024));
  }, (error: Error) => {
    assert.ok(
      error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.ConnectionReset,
      String(error),
    );
    return true;
  });
});

netTest("closed sockets are BadResource and close() is idempotent", () => {
  const [listener, client, server] = connectedPair();
  const fd = client.fd;
  client.close();
  client.close();
  assert.equal(client.closed, true);
  assert.equal(client.fd, -1);
  assert.throws(() => client.tryRead(new Uint8Array(1)), Deno.errors.BadResource);
  assert.throws(() => client.tryWrite(new Uint8Array(1)), Deno.errors.BadResource);
  assert.throws(() => client.finishConnect(), Deno.errors.BadResource);
  assert.throws(() => client.shutdown(), Deno.errors.BadResource);
  assert.throws(() => client.setNoDelay(), Deno.errors.BadResource);
  assert.ok(fd >= 0);
  server.close();
  listener.close();
  listener.close();
  assert.equal(listener.closed, true);
  assert.throws(() => listener.tryAccept(), Deno.errors.BadResource);
  const udp = bindUdp({ port: 0 });
  udp.close();
  udp.close();
  assert.throws(() => udp.tryReceive(new Uint8Array(1)), Deno.errors.BadResource);
  assert.throws(() => udp.trySend(new Uint8Array(1), { port: 9 }), Deno.errors.BadResource);
});

for (const hostname of ["127.0.0.1", "::1"]) {
  netTest(`UDP datagrams round-trip over ${hostname}`, () => {
    using a = bindUdp({ hostname, port: 0 });
    using b = bindUdp({ hostname, port: 0 });
    assert.equal(a.addr.transport, "udp");
    assert.equal(a.addr.hostname, hostname);
    assert.ok(a.addr.port > 0);
    const buffer = new Uint8Array(65536);
    assert.equal(b.tryReceive(buffer), null); // nothing waits
    const max = hostname === "::1" ? 65527 : 65507;
    for (const size of [1, 100, 1400, 8192, max]) {
      const datagram = randomBytes(size);
      assert.equal(a.trySend(datagram, b.addr), size);
      waitFor(b.fd, Interest.READABLE);
      const received = b.tryReceive(buffer);
      assert.ok(received !== null);
      assert.equal(received[0], size);
      assert.deepEqual(received[1], a.addr);
      assert.deepEqual(buffer.subarray(0, size), datagram);
      // And back, to the address it came from.
      assert.equal(b.trySend(datagram.subarray(0, 10), received[1]), Math.min(size, 10));
      waitFor(a.fd, Interest.READABLE);
      const back = a.tryReceive(buffer);
      assert.ok(back !== null);
      assert.equal(back[0], Math.min(size, 10));
      assert.deepEqual(back[1], b.addr);
    }
    assert.equal(b.tryReceive(buffer), null);
    assert.throws(
      () => a.trySend(new Uint8Array(max + 1), b.addr),
      (error: Error & { code: string }) => error.code === "EMSGSIZE",
    );
  });
}

netTest("bad ports and hosts are RangeError or TypeError before any syscall", () => {
  const fds = openFds();
  using udp = bindUdp({ port: 0 });
  for (const port of [-1, 65536, 1.5, "80", NaN, undefined]) {
    const bad = port as number;
    assert.throws(() => listenTcp({ port: bad }), RangeError, `listenTcp port ${port}`);
    assert.throws(() => startConnectTcp({ port: bad }), RangeError, `startConnectTcp port ${port}`);
    assert.throws(() => bindUdp({ port: bad }), RangeError, `bindUdp port ${port}`);
    assert.throws(() => udp.trySend(new Uint8Array(1), { port: bad }), RangeError);
  }
  assert.throws(() => startConnectTcp({ port: 0 }), RangeError);
  assert.throws(() => udp.trySend(new Uint8Array(1), { port: 0 }), RangeError);
  for (const hostname of ["example.com", "1.2.3", "::g", "1.2.3.256", "", 42]) {
    const bad = hostname as string;
    assert.throws(() => listenTcp({ hostname: bad, port: 0 }), TypeError, `listenTcp ${hostname}`);
    assert.throws(() => startConnectTcp({ hostname: bad, port: 80 }), TypeError);
    assert.throws(() => bindUdp({ hostname: bad, port: 0 }), TypeError);
    assert.throws(() => udp.trySend(new Uint8Array(1), { hostname: bad, port: 80 }), TypeError);
  }
  assert.throws(() => listenTcp({ port: 0, backlog: -1 }), RangeError);
  assert.throws(() => listenTcp({ port: 0, reusePort: 1 as unknown as boolean }), TypeError);
  assert.throws(() => listenTcp(null as unknown as { port: number }), TypeError);
  assert.throws(() => startConnectTcp("127.0.0.1:80" as unknown as { port: number }), TypeError);
  assert.throws(() => udp.trySend("hi" as unknown as Uint8Array, { port: 9 }), TypeError);
  assert.throws(() => udp.trySend(new Uint8Array(1), { hostname: "::1", port: 9 }), TypeError);
  assert.throws(() => udp.tryReceive([] as unknown as Uint8Array), TypeError);
  assert.deepEqual(openFds(), [...fds, udp.fd].sort((a, b) => a - b), "a syscall opened an fd");
});

netTest("connections' bad arguments are TypeError", () => {
  const [listener, client, server] = connectedPair();
  using _listener = listener;
  using _client = client;
  using _server = server;
  assert.throws(() => client.tryRead("x" as unknown as Uint8Array), TypeError);
  assert.throws(() => client.tryWrite([1] as unknown as Uint8Array), TypeError);
  assert.throws(() => client.shutdown("up" as "read"), TypeError);
  assert.throws(() => client.setNoDelay(1 as unknown as boolean), TypeError);
});

netTest("raiseFdLimit() raises the soft limit toward the hard one and never lowers it", () => {
  const { soft, hard } = raiseFdLimit(1);
  assert.ok(soft >= 1 && soft <= hard);
  assert.deepEqual(raiseFdLimit(), { soft: hard, hard });
  assert.deepEqual(raiseFdLimit(soft), { soft: hard, hard }); // not lowered
  assert.throws(() => raiseFdLimit(0), RangeError);
  assert.throws(() => raiseFdLimit(1.5), RangeError);
});
