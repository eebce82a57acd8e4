// Copyright 2026 the @evented/io authors. MIT license.
// The Selector's Windows suite, on the afd backend: real TCP and UDP
// sockets over loopback and a real kernel (Wine's, on Linux:
// tools/wine/run.sh test ... --v8-flags=--expose-gc tests/engines/afd_test.ts).
// The behaviours are those the Linux suites check with pipes (level and
// oneshot triggering, timeouts, wakeups, wait(), Busy, abort, close, the
// error model), on sockets, plus what is AFD's own (polls pending while
// registrations change, sockets closed while registered, handles that are
// not sockets). Timings under Wine are slow and noisy: lower bounds are
// exact, upper bounds get seconds of slack.
import assert from "node:assert/strict";
import {
  bindUdp,
  Interest,
  listenTcp,
  openCompletionPort,
  openNamedPipePair,
  openSelector,
  openWaker,
  Ready,
  type Selector,
  type SelectorEvent,
  SelectorEvents,
  startConnectTcp,
  type TcpConn,
  type TcpListener,
  wake,
} from "../../mod.ts";
import {
  delay,
  Helper,
  lingerZero,
  pattern,
  summary,
  windowsTest as sharedWindowsTest,
} from "../_helpers/mod.ts";

/** No test here takes this long, even under a loaded Wine. */
const TEST_TIMEOUT_MS = 120_000;
/** Slack on every upper bound of a duration: Wine is slow and the machine is shared. */
const SLACK_MS = 5_000;
/** How long a socket may take to turn ready over loopback, at most. */
const READY_MS = 10_000;
const R = Interest.READABLE;
const W = Interest.WRITABLE;
const ONE = new Uint8Array([1]);

/** A Windows-only test of this file. */
function windowsTest(name: string, fn: (t: Deno.TestContext) => Promise<void> | void): void {
  sharedWindowsTest("afd", TEST_TIMEOUT_MS, name, fn);
}

/** select() until at least one event comes (a loopback socket turns ready soon, not at once). */
function selectSome<T>(selector: Selector<T>, timeout = READY_MS): SelectorEvent<T>[] {
  const deadline = performance.now() + timeout;
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0) return [];
    const events = selector.select(left);
    if (events.length > 0) return events;
  }
}

/**
 * Connected TCP pairs: `[client, server]`, the client from startConnectTcp()
 * (its connect finished), the server from the listener's accept().
 */
class Pairs implements Disposable {
  readonly listener: TcpListener;
  readonly pairs: [TcpConn, TcpConn][] = [];
  #selector = openSelector();

  constructor(hostname = "127.0.0.1") {
    this.listener = listenTcp({ hostname, port: 0, backlog: 4096 });
    this.#selector.register(this.listener.fd, R);
  }

  /** Opens `count` more pairs. */
  open(count = 1): [TcpConn, TcpConn][] {
    const { hostname, port } = this.listener.addr;
    const clients = [];
    for (let i = 0; i < count; i++) clients.push(startConnectTcp({ hostname, port }));
    const made: [TcpConn, TcpConn][] = [];
    const deadline = performance.now() + READY_MS + count * 20;
    while (made.length < count) {
      const server = this.listener.tryAccept();
      if (server === null) {
        assert.ok(performance.now() < deadline, `only ${made.length} of ${count} accepted`);
        this.#selector.select(100);
        continue;
      }
      made.push([clients[made.length], server]);
    }
    // Accepted: every client has connected (loopback accepts in order of connection).
    for (const [client] of made) waitConnected(client);
    this.pairs.push(...made);
    return made;
  }

  [Symbol.dispose](): void {
    for (const [client, server] of this.pairs) {
      client.close();
      server.close();
    }
    this.#selector.unregister(this.listener.fd);
    this.#selector.close();
    this.listener.close();
  }
}

/** finishConnect() until the connect is over. */
function waitConnected(client: TcpConn): void {
  const deadline = performance.now() + READY_MS;
  for (;;) {
    try {
      client.finishConnect();
      return;
    } catch (error) {
      if (!(error instanceof Deno.errors.WouldBlock) || performance.now() > deadline) throw error;
    }
  }
}

/** A number that is no open handle: far above any handle value a process gets. */
const NOT_OPEN = 0x7ffffff0;

// deno-lint-ignore no-explicit-any
type ErrorClass = new (...args: any[]) => Error;

/** Checks that `error` is exactly `Class`, with the message, and `code`/`errno` if given. */
function check(
  error: unknown,
  Class: ErrorClass,
  message: RegExp,
  code?: string,
  errno?: number,
): true {
  assert.ok(error instanceof Error, `expected an Error, got ${String(error)}`);
  assert.equal(
    Object.getPrototypeOf(error),
    Class.prototype,
    `expected ${Class.name}, got ${error.constructor.name}: ${error.message}`,
  );
  assert.match(error.message, message);
  const fields = error as Error & { code?: unknown; errno?: unknown };
  if (code === undefined) {
    assert.equal(Object.hasOwn(error, "code"), false, `unexpected code ${String(fields.code)}`);
  } else {
    assert.equal(fields.code, code);
    assert.equal(fields.errno, errno);
  }
  return true;
}

// ---------------------------------------------------------------------------
// Opening

windowsTest("openSelector() picks afd on Windows; epoll and poll are NotSupported", () => {
  using selector = openSelector();
  assert.equal(selector.backend, "afd");
  assert.equal(selector.size, 0);
  assert.ok(Number.isInteger(selector.wakerHandle) && selector.wakerHandle > 0);
  using explicit = openSelector({ backend: "afd" });
  assert.equal(explicit.backend, "afd");
  for (const backend of ["epoll", "poll"] as const) {
    assert.throws(
      () => openSelector({ backend }),
      (error) =>
        check(
          error,
          Deno.errors.NotSupported,
          new RegExp(`^Cannot open selector: the ${backend} backend is for Linux, not windows$`),
        ),
    );
  }
  assert.throws(() => openSelector({ backend: "kqueue" as "afd" }), TypeError);
});

// ---------------------------------------------------------------------------
// Readiness of TCP sockets

windowsTest("a listener is readable while a connection waits, and tryAccept() takes it", () => {
  using selector = openSelector<string>();
  using listener = listenTcp({ port: 0 });
  selector.register(listener.fd, R, { data: "listener" });
  assert.deepEqual(selector.select(0), []);
  assert.equal(listener.tryAccept(), null);
  using client = startConnectTcp({ port: listener.addr.port });
  assert.deepEqual(summary(selectSome(selector)), ["listener:r"]);
  // Level-triggered: still readable until the connection is taken.
  assert.deepEqual(summary(selector.select(0)), ["listener:r"]);
  using server = listener.tryAccept()!;
  assert.notEqual(server, null);
  assert.equal(server.remoteAddr.port, client.localAddr.port);
  assert.equal(server.localAddr.port, listener.addr.port);
  assert.equal(listener.tryAccept(), null);
  assert.deepEqual(selector.select(0), []);
  selector.unregister(listener.fd);
});

windowsTest(
  "a oneshot event found by a wait() after an idle spell is handed out, not lost",
  async () => {
    using pairs = new Pairs();
    const [[client, server]] = pairs.open();
    client.tryWrite(ONE);
    using selector = openSelector();
    selector.register(server.fd, R, { oneshot: true });
    assert.deepEqual(summary(selectSome(selector)), ["undefined:r"]); // seen: disarmed now
    selector.modify(server.fd, R, { oneshot: true }); // armed again, and still readable
    // Idle for longer than the fairness interval: the wait yields a turn
    // before it resolves, and must hand out what it harvested before it.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const events = new SelectorEvents();
    assert.equal(await selector.waitInto(events, { timeout: READY_MS }), 1);
    assert.equal(events.fd(0), server.fd);
    selector.unregister(server.fd);
  },
);

windowsTest("a connecting socket turns writable, and finishConnect() then returns", () => {
  using selector = openSelector<string>();
  using listener = listenTcp({ port: 0 });
  using client = startConnectTcp({ port: listener.addr.port });
  assert.equal(client.remoteAddr.port, listener.addr.port);
  selector.register(client.fd, W, { data: "client" });
  assert.deepEqual(summary(selectSome(selector)), ["client:w"]);
  client.finishConnect();
  client.finishConnect(); // once connected, it stays so
  using server = listener.tryAccept()!;
  assert.equal(server.remoteAddr.port, client.localAddr.port);
  // Writable, level-triggered, as long as the send buffer has room.
  assert.deepEqual(summary(selector.select(0)), ["client:w"]);
  server.finishConnect(); // an accepted connection is complete
  selector.unregister(client.fd);
});

windowsTest("a connect to a closed port is an error event, and finishConnect() says why", () => {
  using selector = openSelector<string>();
  // A port nothing listens on: one that was just freed.
  const listener = listenTcp({ port: 0 });
  const port = listener.addr.port;
  listener.close();
  using client = startConnectTcp({ port });
  selector.register(client.fd, W, { data: "client" });
  const [event] = selectSome(selector);
  assert.equal(event.data, "client");
  assert.equal(event.error, true);
  assert.equal(event.writable, true); // error sets the registered direction
  assert.equal(event.readable, false);
  const refused = (error: unknown) =>
    check(
      error,
      Deno.errors.ConnectionRefused,
      new RegExp(
        `^Cannot connect socket ${client.fd} to 127\\.0\\.0\\.1:${port}: WSAECONNREFUSED \\(os error 10061\\)$`,
      ),
      "WSAECONNREFUSED",
      10061,
    );
  assert.throws(() => client.finishConnect(), refused);
  assert.throws(() => client.finishConnect(), refused); // the same error again
  selector.unregister(client.fd);
});

windowsTest("a socket is readable once its peer sends, level-triggered until it is read", () => {
  using selector = openSelector<string>();
  using pairs = new Pairs();
  const [[client, server], [otherClient, otherServer]] = pairs.open(2);
  selector.register(server.fd, R, { data: "a" });
  selector.register(otherServer.fd, R | W, { data: "b" });
  assert.equal(selector.size, 2);
  assert.deepEqual(summary(selector.select(0)), ["b:w"]);
  assert.equal(client.tryWrite(new Uint8Array([1, 2, 3])), 3);
  assert.equal(otherClient.tryWrite(new Uint8Array([4])), 1);
  const deadline = performance.now() + READY_MS;
  let events = selector.select(0);
  while (summary(events).join() !== "a:r,b:r+w" && performance.now() < deadline) {
    events = selector.select(50);
  }
  assert.deepEqual(summary(events), ["a:r", "b:r+w"]);
  assert.deepEqual(summary(selector.select(0)), ["a:r", "b:r+w"]);
  const buffer = new Uint8Array(8);
  assert.equal(server.tryRead(buffer), 3);
  assert.deepEqual([...buffer.subarray(0, 3)], [1, 2, 3]);
  assert.equal(server.tryRead(buffer), 0); // nothing more yet
  assert.deepEqual(summary(selector.select(0)), ["b:r+w"]);
  selector.modify(otherServer.fd, W, { data: "b2" });
  assert.deepEqual(summary(selector.select(0)), ["b2:w"]);
  selector.unregister(server.fd);
  selector.unregister(otherServer.fd);
  assert.equal(selector.size, 0);
});

windowsTest("a peer's shutdown is readable + readHangup, and the read is the end of stream", () => {
  using selector = openSelector<string>();
  using pairs = new Pairs();
  const [[client, server]] = pairs.open();
  selector.register(server.fd, R, { data: "s" });
  assert.deepEqual(selector.select(0), []);
  client.tryWrite(new Uint8Array([9]));
  client.shutdown("write");
  const events = selectSome(selector);
  assert.deepEqual(events.map((e) => e.data), ["s"]);
  assert.equal(events[0].readable, true);
  const buffer = new Uint8Array(4);
  // The byte first, then the end of the stream (the FIN may be seen with the byte).
  assert.equal(server.tryRead(buffer), 1);
  const deadline = performance.now() + READY_MS;
  let event = selector.select(0)[0];
  while (!event?.readHangup && performance.now() < deadline) event = selector.select(50)[0];
  assert.equal(event.readable, true);
  assert.equal(event.readHangup, true);
  assert.equal(event.hangup, false);
  assert.equal(event.error, false);
  assert.equal(server.tryRead(buffer), null);
  // Level-triggered: the end of the stream stays readable.
  assert.deepEqual(summary(selector.select(0)), ["s:r+rdhup"]);
  // The peer's close changes nothing more for a reader.
  client.close();
  assert.equal(selector.select(0)[0].readHangup, true);
  selector.unregister(server.fd);
});

windowsTest("a reset by the peer is hangup and error, and the read is ConnectionReset", () => {
  using selector = openSelector<string>();
  using pairs = new Pairs();
  const [[client, server]] = pairs.open();
  selector.register(server.fd, R, { data: "s" });
  lingerZero(client);
  client.close(); // with SO_LINGER 0: a reset
  const [event] = selectSome(selector);
  assert.equal(event.data, "s");
  assert.equal(event.hangup || event.error, true, JSON.stringify(event));
  assert.equal(event.readable, true);
  assert.throws(
    () => server.tryRead(new Uint8Array(4)),
    (error) =>
      check(
        error,
        Deno.errors.ConnectionReset,
        new RegExp(`^Cannot read from socket ${server.fd}: WSAECONNRESET \\(os error 10054\\)$`),
        "WSAECONNRESET",
        10054,
      ),
  );
  selector.unregister(server.fd);
});

windowsTest(
  "tryWrite() after shutdown('write') is BrokenPipe; tryRead() of an empty buffer is 0",
  () => {
    using pairs = new Pairs();
    const [[client, server]] = pairs.open();
    assert.equal(server.tryRead(new Uint8Array(0)), 0);
    assert.equal(client.tryWrite(new Uint8Array(0)), 0);
    client.shutdown("write");
    assert.throws(
      () => client.tryWrite(ONE),
      (error) =>
        check(
          error,
          Deno.errors.BrokenPipe,
          /^Cannot write to socket \d+: WSAESHUTDOWN \(os error 10058\)$/,
          "WSAESHUTDOWN",
          10058,
        ),
    );
    // Reading shut down here: the end of the stream.
    server.shutdown("read");
    assert.equal(server.tryRead(new Uint8Array(4)), null);
    client.close();
    assert.throws(() => client.tryRead(new Uint8Array(1)), Deno.errors.BadResource);
    assert.throws(() => client.tryWrite(ONE), Deno.errors.BadResource);
    assert.throws(() => client.finishConnect(), Deno.errors.BadResource);
    assert.throws(() => client.tryRead("no" as unknown as Uint8Array), TypeError);
  },
);

windowsTest("bytes written through tryWrite() until it takes no more all arrive, in order", () => {
  using selector = openSelector<string>();
  using pairs = new Pairs();
  const [[client, server]] = pairs.open();
  const data = pattern(4 * 1024 * 1024, 7);
  const received = new Uint8Array(data.length);
  let sent = 0;
  let got = 0;
  let stalls = 0;
  selector.register(client.fd, W, { data: "client" });
  selector.register(server.fd, R, { data: "server" });
  const buffer = new Uint8Array(256 * 1024);
  const deadline = performance.now() + 60_000;
  while (got < data.length) {
    assert.ok(performance.now() < deadline, `${got} of ${data.length} bytes after 60 s`);
    for (const event of selector.select(1_000)) {
      if (event.data === "client" && sent < data.length) {
        const n = client.tryWrite(data.subarray(sent));
        if (n === 0) stalls++;
        sent += n;
        if (sent === data.length) selector.unregister(client.fd);
      } else if (event.data === "server") {
        const n = server.tryRead(buffer);
        assert.notEqual(n, null);
        received.set(buffer.subarray(0, n!), got);
        got += n!;
      }
    }
  }
  assert.equal(got, data.length);
  for (let i = 0; i < data.length; i++) {
    if (received[i] !== data[i]) assert.fail(`byte ${i} differs`);
  }
  assert.equal(selector.size, 1);
  selector.unregister(server.fd);
  void stalls;
});

windowsTest("IPv6 sockets are watched too", () => {
  using selector = openSelector<string>();
  using pairs = new Pairs("::1");
  const [[client, server]] = pairs.open();
  assert.equal(server.remoteAddr.hostname, "::1");
  selector.register(server.fd, R, { data: "v6" });
  client.tryWrite(ONE);
  assert.deepEqual(summary(selectSome(selector)), ["v6:r"]);
  selector.unregister(server.fd);
});

// ---------------------------------------------------------------------------
// UDP

windowsTest("a UDP socket is readable when a datagram waits; tryReceive() takes it", () => {
  using selector = openSelector<string>();
  using a = bindUdp({ port: 0 });
  using b = bindUdp({ port: 0 });
  assert.equal(b.addr.transport, "udp");
  selector.register(b.fd, R, { data: "b" });
  selector.register(a.fd, W, { data: "a" });
  assert.deepEqual(summary(selector.select(0)), ["a:w"]);
  assert.equal(a.trySend(new Uint8Array([1, 2, 3]), b.addr), 3);
  let events = selectSome(selector);
  while (!events.some((e) => e.data === "b")) events = selectSome(selector);
  const buffer = new Uint8Array(1500);
  const [length, from] = b.tryReceive(buffer)!;
  assert.equal(length, 3);
  assert.deepEqual([...buffer.subarray(0, 3)], [1, 2, 3]);
  assert.deepEqual(from, a.addr);
  assert.equal(b.tryReceive(buffer), null);
  // A datagram longer than the buffer: what fits is received, the rest lost.
  a.trySend(pattern(100, 1), b.addr);
  selector.modify(a.fd, R, { data: "a" });
  selectSome(selector);
  const small = new Uint8Array(10);
  const [cut] = b.tryReceive(small)!;
  assert.equal(cut, 10);
  assert.deepEqual(small, pattern(100, 1).subarray(0, 10));
  // A send to a port where nobody listens does not fail a later receive.
  const gone = bindUdp({ port: 0 });
  const goneAddr = gone.addr;
  gone.close();
  a.trySend(ONE, goneAddr);
  assert.equal(a.tryReceive(buffer), null);
  selector.unregister(a.fd);
  selector.unregister(b.fd);
  assert.throws(() => a.trySend(ONE, { hostname: "::1", port: 1 }), TypeError);
  assert.throws(() => a.trySend(ONE, { port: 0 }), RangeError);
});

windowsTest("an IPv6 UDP socket sends to and receives from IPv4 peers", () => {
  using selector = openSelector();
  using six = bindUdp({ hostname: "::", port: 0 });
  using four = bindUdp({ port: 0 });
  assert.equal(six.trySend(new Uint8Array([5]), four.addr), 1);
  selector.register(four.fd, R);
  selectSome(selector);
  const buffer = new Uint8Array(8);
  const [n, from] = four.tryReceive(buffer)!;
  assert.equal(n, 1);
  assert.equal(from.port, six.addr.port);
  assert.equal(
    four.trySend(new Uint8Array([6]), { hostname: "127.0.0.1", port: six.addr.port }),
    1,
  );
  selector.register(six.fd, R);
  const deadline = performance.now() + READY_MS;
  let got = six.tryReceive(buffer);
  while (got === null && performance.now() < deadline) {
    selector.select(50);
    got = six.tryReceive(buffer);
  }
  assert.notEqual(got, null);
  assert.equal(got![1].hostname, "::ffff:127.0.0.1");
  selector.unregister(four.fd);
  selector.unregister(six.fd);
});

// ---------------------------------------------------------------------------
// Triggering and registrations

windowsTest("a oneshot socket fires once, then not until modify() re-arms it", () => {
  using selector = openSelector<number>();
  using pairs = new Pairs();
  const [[client, server]] = pairs.open();
  selector.register(server.fd, R, { oneshot: true, data: 1 });
  client.tryWrite(ONE);
  assert.deepEqual(summary(selectSome(selector)), ["1:r"]);
  assert.deepEqual(selector.select(0), []);
  assert.deepEqual(selector.select(30), []);
  const key = selector.modify(server.fd, R);
  assert.equal(key.oneshot, true);
  assert.equal(key.data, 1);
  assert.deepEqual(summary(selectSome(selector)), ["1:r"]);
  assert.deepEqual(selector.select(0), []);
  selector.modify(server.fd, R, { oneshot: false, data: 2 });
  assert.deepEqual(summary(selectSome(selector)), ["2:r"]);
  assert.deepEqual(summary(selector.select(0)), ["2:r"]);
  selector.unregister(server.fd);
});

windowsTest("modify() while a poll is pending replaces it: the new interest counts at once", () => {
  using selector = openSelector<string>();
  using pairs = new Pairs();
  const [[client, server]] = pairs.open();
  selector.register(server.fd, R, { data: "r" }); // nothing to read: its poll stays pending
  assert.deepEqual(selector.select(0), []);
  selector.modify(server.fd, R | W, { data: "rw" });
  assert.deepEqual(summary(selectSome(selector)), ["rw:w"]);
  selector.modify(server.fd, R, { data: "r2" });
  assert.deepEqual(selector.select(0), []); // the cancelled polls report nothing
  assert.deepEqual(selector.select(30), []);
  client.tryWrite(ONE);
  assert.deepEqual(summary(selectSome(selector)), ["r2:r"]);
  // modify() keeps what it is not given, and clears data only when told.
  const key = selector.modify(server.fd, W);
  assert.deepEqual([key.data, key.oneshot, key.edge, key.exclusive], ["r2", false, false, false]);
  assert.equal(selector.modify(server.fd, W, { data: undefined }).data, undefined);
  assert.equal(selector.getKey(server.fd), selector.getKey(server.fd));
  selector.unregister(server.fd);
});

windowsTest("unregister() then close: the cancelled poll reports nothing", () => {
  using selector = openSelector<string>();
  using pairs = new Pairs();
  const [[client, server], [otherClient, otherServer]] = pairs.open(2);
  selector.register(server.fd, R, { data: "gone" });
  selector.register(otherServer.fd, R, { data: "kept" });
  selector.unregister(server.fd);
  client.tryWrite(ONE);
  server.close();
  assert.deepEqual(selector.select(50), []);
  otherClient.tryWrite(ONE);
  assert.deepEqual(summary(selectSome(selector)), ["kept:r"]);
  selector.unregister(otherServer.fd);
  assert.deepEqual(selector.select(30), []);
});

windowsTest("closing one of the module's sockets removes its key: nothing more is reported", () => {
  using selector = openSelector<string>();
  using pairs = new Pairs();
  const [[client, server]] = pairs.open();
  selector.register(server.fd, R | W, { data: "closed" });
  assert.deepEqual(summary(selectSome(selector)), ["closed:w"]);
  client.tryWrite(ONE);
  const fd = server.fd;
  server.close(); // registered, and reported a moment ago (its poll is re-armed lazily)
  assert.equal(selector.size, 0);
  assert.equal(selector.getKey(fd), undefined);
  assert.deepEqual(selector.select(0), []);
  assert.deepEqual(selector.select(50), []);
  assert.throws(() => selector.unregister(fd), Deno.errors.NotFound);
});

windowsTest(
  "a socket closed behind the module's back reports nothing more; its key stays until unregister()",
  () => {
    using selector = openSelector<string>();
    using listener = listenTcp({ hostname: "127.0.0.1", port: 0 });
    const ws2_32 = Deno.dlopen("ws2_32.dll", {
      WSASocketW: { parameters: ["i32", "i32", "i32", "pointer", "u32", "u32"], result: "pointer" },
      connect: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
      closesocket: { parameters: ["pointer"], result: "i32" },
    });
    try {
      // A socket of the test's own (AF_INET, SOCK_STREAM, IPPROTO_TCP), connected to the listener.
      const socket = ws2_32.symbols.WSASocketW(2, 1, 6, null, 0, 0)!;
      const address = new Uint8Array(16);
      const view = new DataView(address.buffer);
      view.setUint16(0, 2, true);
      view.setUint16(2, listener.addr.port, false);
      address.set([127, 0, 0, 1], 4);
      assert.equal(ws2_32.symbols.connect(socket, address, 16), 0);
      const fd = Number(Deno.UnsafePointer.value(socket));
      selector.register(fd, R | W, { data: "closed" });
      assert.deepEqual(summary(selectSome(selector)), ["closed:w"]);
      ws2_32.symbols.closesocket(socket); // not announced: the module cannot know
      assert.deepEqual(selector.select(0), []);
      assert.deepEqual(selector.select(50), []);
      assert.equal(selector.size, 1);
      assert.equal(selector.getKey(fd)?.data, "closed");
      assert.throws(
        () => selector.modify(fd, R),
        (error) =>
          check(
            error,
            Deno.errors.BadResource,
            new RegExp(`^Cannot modify fd ${fd} with afd: ERROR_INVALID_HANDLE \\(os error 6\\)$`),
            "ERROR_INVALID_HANDLE",
            6,
          ),
      );
      assert.equal(selector.getKey(fd)?.data, "closed");
      assert.equal(selector.unregister(fd).data, "closed");
      assert.equal(selector.size, 0);
      assert.deepEqual(selector.select(30), []);
      listener.tryAccept()?.close();
    } finally {
      ws2_32.close();
    }
  },
);

windowsTest("registering a socket twice is AlreadyExists; an unknown one NotFound", () => {
  using selector = openSelector();
  using pairs = new Pairs();
  const [[client, server]] = pairs.open();
  const key = selector.register(server.fd, R, { data: 1 });
  assert.throws(
    () => selector.register(server.fd, W),
    (error) =>
      check(
        error,
        Deno.errors.AlreadyExists,
        new RegExp(
          `^Cannot register fd ${server.fd} with afd: fd ${server.fd} is registered already$`,
        ),
      ),
  );
  assert.throws(
    () => selector.modify(client.fd, R),
    (error) =>
      check(
        error,
        Deno.errors.NotFound,
        new RegExp(`^Cannot modify fd ${client.fd} with afd: fd ${client.fd} is not registered$`),
      ),
  );
  assert.throws(() => selector.unregister(client.fd), Deno.errors.NotFound);
  assert.throws(
    () => selector.register(selector.wakerHandle, R),
    (error) => check(error, Deno.errors.AlreadyExists, /is the selector's own$/),
  );
  assert.equal(selector.getKey(server.fd), key);
  assert.equal(selector.size, 1);
  selector.unregister(server.fd);
});

windowsTest("edge and exclusive are NotSupported, and the refused call changes nothing", () => {
  using selector = openSelector<string>();
  using pairs = new Pairs();
  const [[client, server]] = pairs.open();
  const fd = server.fd;
  assert.throws(
    () => selector.register(fd, R, { edge: true }),
    (error) =>
      check(
        error,
        Deno.errors.NotSupported,
        new RegExp(
          `^Cannot register fd ${fd} with afd: afd is level-triggered only \\(edge; oneshot is supported\\)$`,
        ),
      ),
  );
  assert.throws(
    () => selector.register(fd, R, { exclusive: true }),
    (error) =>
      check(
        error,
        Deno.errors.NotSupported,
        new RegExp(`^Cannot register fd ${fd} with afd: exclusive is an epoll option$`),
      ),
  );
  assert.equal(selector.size, 0);
  assert.equal(selector.getKey(fd), undefined);
  const key = selector.register(fd, R, { data: "kept", edge: false, exclusive: false });
  assert.throws(() => selector.modify(fd, W, { edge: true, data: "x" }), Deno.errors.NotSupported);
  assert.equal(selector.getKey(fd), key);
  // Still registered for READABLE only, with its data.
  assert.deepEqual(selector.select(0), []);
  client.tryWrite(ONE);
  assert.deepEqual(summary(selectSome(selector)), ["kept:r"]);
  selector.unregister(fd);
});

windowsTest("a handle that is no socket is NotSupported (WSAENOTSOCK), and adds nothing", () => {
  using selector = openSelector();
  using pipe = openNamedPipePair();
  const fd = Number(Deno.UnsafePointer.value(pipe.server.handle));
  assert.throws(
    () => selector.register(fd, R),
    (error) => {
      // Windows says WSAENOTSOCK; Wine WSAEOPNOTSUPP.
      const { code } = error as { code?: string };
      const errno = code === "WSAEOPNOTSUPP" ? 10045 : 10038;
      return check(
        error,
        Deno.errors.NotSupported,
        new RegExp(
          `^Cannot register fd ${fd} with afd: afd watches sockets only: ${code} \\(os error ${errno}\\)$`,
        ),
        code === "WSAEOPNOTSUPP" ? code : "WSAENOTSOCK",
        errno,
      );
    },
  );
  assert.equal(selector.size, 0);
  assert.equal(selector.getKey(fd), undefined);
  // Nor is the selector's own completion port a socket.
  assert.throws(() => selector.register(selector.wakerHandle, R), Deno.errors.AlreadyExists);
});

windowsTest("a number that is no open handle is BadResource (ERROR_INVALID_HANDLE)", () => {
  using selector = openSelector();
  for (const fd of [NOT_OPEN, 0]) {
    assert.throws(
      () => selector.register(fd, R),
      (error) =>
        check(
          error,
          Deno.errors.BadResource,
          new RegExp(`^Cannot register fd ${fd} with afd: ERROR_INVALID_HANDLE \\(os error 6\\)$`),
          "ERROR_INVALID_HANDLE",
          6,
        ),
    );
  }
  // A socket that was closed.
  using pairs = new Pairs();
  const [[client]] = pairs.open();
  const fd = client.fd;
  client.close();
  assert.throws(() => selector.register(fd, R), Deno.errors.BadResource);
  assert.equal(selector.size, 0);
});

windowsTest("argument errors come before any system call", () => {
  using selector = openSelector();
  assert.throws(() => selector.register(NOT_OPEN, 0), RangeError);
  assert.throws(() => selector.register(NOT_OPEN, 8), RangeError);
  assert.throws(() => selector.register(-1, R), RangeError);
  assert.throws(() => selector.register(1.5, R), TypeError);
  assert.throws(
    () => selector.register(NOT_OPEN, R, { edge: "yes" as unknown as boolean }),
    TypeError,
  );
  assert.throws(() => selector.select(NaN), TypeError);
  assert.equal(selector.size, 0);
});

windowsTest(
  "thousands of sockets: one ready is the only event, and when all are, none is lost",
  () => {
    const COUNT = 1_000; // connections: 2,000 registered sockets
    using selector = openSelector<number>();
    using pairs = new Pairs();
    const made = pairs.open(COUNT);
    made.forEach(([client, server], i) => {
      selector.register(server.fd, R, { data: i });
      selector.register(client.fd, R, { data: -1 - i });
    });
    assert.equal(selector.size, 2 * COUNT);
    assert.deepEqual(selector.select(0), []);
    made[COUNT >> 1][0].tryWrite(ONE);
    assert.deepEqual(selectSome(selector).map((e) => e.data), [COUNT >> 1]);
    made[COUNT >> 1][1].tryRead(new Uint8Array(4));
    assert.deepEqual(selector.select(30), []);
    // All of them: each server end is reported, and no client end.
    for (const [client] of made) client.tryWrite(ONE);
    const seen = new Set<number>();
    const events = new SelectorEvents<number>();
    const deadline = performance.now() + 60_000;
    while (seen.size < COUNT) {
      assert.ok(performance.now() < deadline, `${seen.size} of ${COUNT} reported`);
      const n = selector.selectInto(events, 1_000);
      for (let i = 0; i < n; i++) {
        const data = events.data(i)!;
        assert.ok(data >= 0, `client end ${-1 - data} reported`);
        assert.equal(events.flags(i), Ready.READABLE);
        seen.add(data);
      }
    }
    // Level-triggered: one call now returns all of them.
    assert.equal(selector.selectInto(events, 0), COUNT);
    for (const [client, server] of made) {
      selector.unregister(server.fd);
      selector.unregister(client.fd);
    }
    assert.equal(selector.size, 0);
    assert.equal(selector.selectInto(events, 0), 0);
  },
);

windowsTest("polls in flight survive garbage collection", async () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  assert.ok(gc, "run with --v8-flags=--expose-gc");
  using selector = openSelector<number>();
  using pairs = new Pairs();
  const made = pairs.open(64);
  made.forEach(([, server], i) => selector.register(server.fd, R, { data: i }));
  for (let i = 0; i < 3; i++) {
    gc();
    await delay(10);
  }
  for (const [client] of made) client.tryWrite(ONE);
  const seen = new Set<number>();
  const deadline = performance.now() + READY_MS;
  while (seen.size < made.length && performance.now() < deadline) {
    for (const event of selector.select(100)) seen.add(event.data!);
    gc();
  }
  assert.equal(seen.size, made.length);
  for (const [, server] of made) selector.unregister(server.fd);
});

// ---------------------------------------------------------------------------
// select(), wakeups, timeouts

windowsTest("select(timeout) never returns early, fractions round up", () => {
  using selector = openSelector();
  for (const timeout of [30, 12.5, 0.2]) {
    const start = performance.now();
    assert.deepEqual(selector.select(timeout), []);
    const elapsed = performance.now() - start;
    assert.ok(elapsed >= Math.ceil(timeout), `select(${timeout}) returned after ${elapsed} ms`);
  }
  for (const timeout of [0, -1, -Infinity]) {
    const start = performance.now();
    assert.deepEqual(selector.select(timeout), []);
    assert.ok(performance.now() - start < SLACK_MS);
  }
});

windowsTest("a wakeup is kept until select() takes it, then select() waits again", () => {
  using selector = openSelector();
  selector.wakeup();
  selector.wakeup();
  let start = performance.now();
  assert.deepEqual(selector.select(20_000), []);
  assert.ok(performance.now() - start < SLACK_MS);
  start = performance.now();
  assert.deepEqual(selector.select(20), []);
  assert.ok(performance.now() - start >= 20);
});

windowsTest("a Worker's wake(wakerHandle) ends a blocked select()", async () => {
  using selector = openSelector();
  for (const timeout of [60_000, 2 ** 40]) {
    using helper = new Helper();
    await helper.start({ kind: "wake", handle: selector.wakerHandle, delay: 30 });
    const start = performance.now();
    assert.deepEqual(selector.select(timeout), []);
    const elapsed = performance.now() - start;
    assert.ok(elapsed >= 25 && elapsed < 30_000, `select() returned after ${elapsed} ms`);
    assert.equal(await helper.next(), "done");
  }
});

windowsTest(
  "a Waker wakes a selector as often as asked; bad and closed handles are refused",
  () => {
    using selector = openSelector();
    const waker = openWaker(selector.wakerHandle);
    assert.equal(waker.handle, selector.wakerHandle);
    for (let i = 0; i < 3; i++) {
      waker.wake();
      const start = performance.now();
      assert.deepEqual(selector.select(20_000), []);
      assert.ok(performance.now() - start < SLACK_MS);
    }
    waker.close();
    waker.close();
    assert.throws(() => waker.wake(), Deno.errors.BadResource);
    assert.throws(() => openWaker(-1), RangeError);
    assert.throws(() => wake(0.5), TypeError);
    assert.throws(
      () => wake(NOT_OPEN),
      (error) =>
        check(
          error,
          Deno.errors.BadResource,
          new RegExp(
            `^Cannot wake selector handle ${NOT_OPEN}: ERROR_INVALID_HANDLE \\(os error 6\\)$`,
          ),
          "ERROR_INVALID_HANDLE",
          6,
        ),
    );
  },
);

windowsTest(
  "a Waker used after its selector closed posts nothing to the port that took its handle",
  () => {
    const k32 = Deno.dlopen("kernel32.dll", {
      CreateIoCompletionPort: {
        parameters: ["pointer", "pointer", "usize", "u32"],
        result: "pointer",
      },
      GetQueuedCompletionStatus: {
        parameters: ["pointer", "buffer", "buffer", "buffer", "u32"],
        result: "i32",
      },
      CloseHandle: { parameters: ["pointer"], result: "i32" },
    });
    const ports: Deno.PointerValue[] = [];
    try {
      const selector = openSelector();
      const handle = selector.wakerHandle;
      using waker = openWaker(handle);
      selector.close();
      // Windows hands a freed handle value out again: open ports until one has the waker's.
      const none = Deno.UnsafePointer.create(0xffffffffffffffffn);
      let port: Deno.PointerValue = null;
      for (let i = 0; i < 256 && port === null; i++) {
        const made = k32.symbols.CreateIoCompletionPort(none, null, 0n, 0);
        assert.ok(made !== null, "CreateIoCompletionPort failed");
        ports.push(made);
        if (Number(Deno.UnsafePointer.value(made)) === handle) port = made;
      }
      assert.ok(port !== null, `no new port took handle ${handle}`);
      waker.wake(); // wakes nothing, and throws nothing
      waker.wake();
      const bytes = new Uint32Array(1);
      const key = new BigUint64Array(1);
      const overlapped = new BigUint64Array(1);
      const dequeued = k32.symbols.GetQueuedCompletionStatus(
        port,
        new Uint8Array(bytes.buffer),
        new Uint8Array(key.buffer),
        new Uint8Array(overlapped.buffer),
        0,
      );
      assert.equal(dequeued, 0, `the new port received a packet with key ${key[0]}`);
    } finally {
      for (const port of ports) k32.symbols.CloseHandle(port);
      k32.close();
    }
  },
);

// ---------------------------------------------------------------------------
// wait()

windowsTest("wait() resolves from ready events without parking a thread", async () => {
  using selector = openSelector<string>();
  using pairs = new Pairs();
  const [[client]] = pairs.open();
  selector.register(client.fd, W, { data: "w" });
  selectSome(selector); // the poll has completed: its packet is in the port again
  // A wait() also lets the event loop turn when it last did over 5 ms ago
  // (setting up took longer than that under Wine): have it turn now.
  await selector.wait();
  let timerFired = false;
  const timer = setTimeout(() => timerFired = true, 0);
  const events = await selector.wait();
  assert.equal(timerFired, false);
  clearTimeout(timer);
  assert.deepEqual(summary(events), ["w:w"]);
  selector.unregister(client.fd);
});

windowsTest(
  "wait() parks without blocking timers, and resolves when a socket turns ready",
  async () => {
    using selector = openSelector<string>();
    using pairs = new Pairs();
    const [[client, server]] = pairs.open();
    selector.register(server.fd, R, { data: "s" });
    let ticks = 0;
    const interval = setInterval(() => {
      if (++ticks === 10) client.tryWrite(ONE);
    }, 5);
    try {
      const events = await selector.wait({ timeout: 60_000 });
      assert.ok(ticks >= 10);
      assert.deepEqual(summary(events), ["s:r"]);
    } finally {
      clearInterval(interval);
    }
    selector.unregister(server.fd);
  },
);

windowsTest("wait() under constant readiness still lets timers run", async () => {
  using selector = openSelector();
  using pairs = new Pairs();
  const [[client]] = pairs.open();
  selector.register(client.fd, W); // always writable
  let ticks = 0;
  const interval = setInterval(() => ticks++, 1);
  try {
    const events = new SelectorEvents();
    const start = performance.now();
    let calls = 0;
    while (performance.now() - start < 400) {
      assert.equal(await selector.waitInto(events), 1);
      calls++;
    }
    assert.ok(ticks >= 5, `only ${ticks} timer ticks in 400 ms of ready waits (${calls} waits)`);
  } finally {
    clearInterval(interval);
  }
  selector.unregister(client.fd);
});

windowsTest("wait({ timeout }) never resolves early", async () => {
  using selector = openSelector();
  for (const timeout of [40, 5.5, 0.3]) {
    const start = performance.now();
    assert.deepEqual(await selector.wait({ timeout }), []);
    const elapsed = performance.now() - start;
    assert.ok(elapsed >= Math.ceil(timeout), `wait(${timeout}) resolved after ${elapsed} ms`);
  }
  const start = performance.now();
  assert.deepEqual(await selector.wait({ timeout: 0 }), []);
  assert.deepEqual(await selector.wait({ timeout: -5 }), []);
  assert.ok(performance.now() - start < SLACK_MS);
});

windowsTest(
  "an aborted wait() rejects with the signal's reason and leaves no thread parked",
  async () => {
    using selector = openSelector();
    using pairs = new Pairs();
    const [[client, server]] = pairs.open();
    selector.register(server.fd, R);
    const reason = new Error("stop");
    await assert.rejects(selector.wait({ signal: AbortSignal.abort(reason) }), (e) => e === reason);
    const controller = new AbortController();
    setTimeout(() => controller.abort(reason), 20);
    const start = performance.now();
    await assert.rejects(selector.wait({ signal: controller.signal }), (e) => e === reason);
    assert.ok(performance.now() - start >= 15);
    await assert.rejects(
      selector.wait({ signal: AbortSignal.timeout(10) }),
      (e: Error) => e.name === "TimeoutError",
    );
    client.tryWrite(ONE);
    const fresh = new AbortController();
    assert.equal((await selector.wait({ signal: fresh.signal, timeout: 60_000 })).length, 1);
    selector.unregister(server.fd);
  },
);

windowsTest("a second wait(), or a select(), during a pending wait() is Busy", async () => {
  using selector = openSelector();
  const pending = selector.wait();
  await assert.rejects(selector.wait(), Deno.errors.Busy);
  await assert.rejects(selector.waitInto(new SelectorEvents()), Deno.errors.Busy);
  assert.throws(() => selector.select(0), Deno.errors.Busy);
  assert.throws(() => selector.selectInto(new SelectorEvents(), 0), Deno.errors.Busy);
  selector.wakeup();
  assert.deepEqual(await pending, []);
  assert.deepEqual(selector.select(0), []);
});

windowsTest("wakeup() resolves a pending wait(), and is consumed by it", async () => {
  using selector = openSelector();
  setTimeout(() => selector.wakeup(), 20);
  const start = performance.now();
  assert.deepEqual(await selector.wait({ timeout: 60_000 }), []);
  assert.ok(performance.now() - start >= 15);
  const again = performance.now();
  assert.deepEqual(await selector.wait({ timeout: 20 }), []);
  assert.ok(performance.now() - again >= 20);
});

windowsTest("a Worker's wake(wakerHandle) resolves a pending wait()", async () => {
  using selector = openSelector();
  using helper = new Helper();
  await helper.start({ kind: "wake", handle: selector.wakerHandle, delay: 20 });
  assert.deepEqual(await selector.wait({ timeout: 60_000 }), []);
  assert.equal(await helper.next(), "done");
});

windowsTest("registrations made while wait() is parked are armed at once", async (t) => {
  using selector = openSelector<string>();
  using pairs = new Pairs();
  const [[client, server], [otherClient]] = pairs.open(2);
  await t.step("register", async () => {
    const pending = selector.wait({ timeout: 60_000 });
    await delay(30);
    const start = performance.now();
    selector.register(otherClient.fd, W, { data: "late" }); // writable: ready at once
    assert.deepEqual(summary(await pending), ["late:w"]);
    assert.ok(performance.now() - start < SLACK_MS);
  });
  await t.step("modify", async () => {
    selector.modify(otherClient.fd, R, { data: "r" }); // nothing to read
    const pending = selector.wait({ timeout: 60_000 });
    await delay(30);
    selector.modify(otherClient.fd, W, { data: "w" });
    assert.deepEqual(summary(await pending), ["w:w"]);
    selector.unregister(otherClient.fd);
  });
  await t.step("register, then data", async () => {
    const pending = selector.wait({ timeout: 60_000 });
    await delay(30);
    selector.register(server.fd, R, { data: "data" });
    await delay(30);
    client.tryWrite(ONE);
    assert.deepEqual(summary(await pending), ["data:r"]);
    server.tryRead(new Uint8Array(8));
  });
  await t.step("unregister", async () => {
    const pending = selector.wait({ timeout: 100 });
    await delay(20);
    selector.unregister(server.fd);
    client.tryWrite(ONE); // no longer watched: the wait times out
    assert.deepEqual(await pending, []);
  });
});

windowsTest(
  "close() during a pending wait() resolves it with [], and the selector is spent",
  async () => {
    const selector = openSelector();
    using pairs = new Pairs();
    const [[, server]] = pairs.open();
    selector.register(server.fd, R);
    const events = new SelectorEvents();
    const pending = selector.waitInto(events, { timeout: 60_000 });
    await delay(30);
    selector.close();
    assert.equal(selector.closed, true);
    assert.equal(await pending, 0);
    assert.equal(events.length, 0);
    assert.equal(selector.wakerHandle, -1);
    await assert.rejects(selector.wait(), Deno.errors.BadResource);
    assert.throws(() => selector.register(server.fd, R), Deno.errors.BadResource);
    assert.throws(() => selector.wakeup(), Deno.errors.BadResource);
    selector.close();
  },
);

windowsTest("waitInto() fills the buffer and returns the count", async () => {
  using selector = openSelector<number>();
  using pairs = new Pairs();
  const [[a], [b]] = pairs.open(2);
  selector.register(a.fd, W, { data: 1 });
  selector.register(b.fd, W, { data: 2 });
  const events = new SelectorEvents<number>(1);
  const deadline = performance.now() + READY_MS;
  let n = await selector.waitInto(events, { timeout: READY_MS });
  while (n < 2 && performance.now() < deadline) {
    n = await selector.waitInto(events, { timeout: 100 });
  }
  assert.equal(n, 2);
  assert.deepEqual([events.data(0), events.data(1)].sort(), [1, 2]);
  selector.unregister(a.fd);
  selector.unregister(b.fd);
});

windowsTest("close() with registrations and polls in flight releases everything, once", () => {
  using pairs = new Pairs();
  const made = pairs.open(8);
  for (let round = 0; round < 3; round++) {
    const selector = openSelector();
    for (const [client, server] of made) {
      selector.register(client.fd, R);
      selector.register(server.fd, R | W);
    }
    selector.select(0);
    selector.close();
    selector.close();
    assert.equal(selector.closed, true);
    assert.equal(selector.size, 0);
  }
  // The sockets are fine: a new selector watches them.
  using selector = openSelector();
  selector.register(made[0][0].fd, W);
  assert.equal(selectSome(selector).length, 1);
  selector.unregister(made[0][0].fd);
});

// ---------------------------------------------------------------------------
// Both models on the same sockets

windowsTest(
  "sockets from listenTcp()/startConnectTcp() work with a CompletionPort too",
  async () => {
    await using port = openCompletionPort();
    using pairs = new Pairs();
    const [[client, server]] = pairs.open();
    assert.equal(await port.write(client.fd, new Uint8Array([1, 2, 3])), 3);
    const buffer = new Uint8Array(8);
    assert.equal(await port.read(server.fd, buffer), 3);
    // And a readiness read after a completion write, on the same socket.
    assert.equal(await port.write(server.fd, new Uint8Array([4])), 1);
    using selector = openSelector();
    selector.register(client.fd, R);
    selectSome(selector);
    assert.equal(client.tryRead(buffer), 1);
    assert.equal(buffer[0], 4);
    selector.unregister(client.fd);
    const accepting = port.accept(pairs.listener);
    using third = startConnectTcp({ port: pairs.listener.addr.port });
    using accepted = await accepting;
    assert.equal(accepted.remoteAddr.port, third.localAddr.port);
  },
);
