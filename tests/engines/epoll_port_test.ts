// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The epoll CompletionPort (Linux): what is particular to completions
 * emulated over readiness. Regular files by pread/pwrite at offsets (large
 * ones off the event loop), operations done at once or when their fd turns
 * ready, several on one fd served in order, cancellation before and after
 * the fd turned ready, close with operations in flight, fds closed by
 * their owners, blocking and unwatchable fds, and the fallback from a
 * refused io_uring. The contract every backend meets is in
 * tests/contract/completion_port_test.ts.
 */

import assert from "node:assert/strict";
import {
  type CompletionPort,
  listenTcp,
  openCompletionPort,
  openEventFd,
  openPipe,
  openSocketPair,
  startConnectTcp,
  type TcpConn,
} from "../../mod.ts";
import { OFFLOAD_BYTES } from "../../backends/linux/_epoll_files.ts";
import { openLinuxPort } from "../../backends/linux/_open_port.ts";
import {
  EACCES,
  EMFILE,
  ENOMEM,
  ENOSYS,
  EPERM,
  MFD_CLOEXEC,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  O_TMPFILE,
} from "../../ffi/libc.ts";
import {
  assertBytes,
  delay,
  linuxTest,
  openFds,
  pattern,
  readExactly,
  slack,
  timeLimit,
} from "../_helpers/mod.ts";

/** No test here takes this long, even on a loaded machine. */
const TEST_TIMEOUT_MS = slack(30_000);
/** Slack on every upper bound of a duration: the machine is shared. */
const SLACK_MS = slack(5_000);

/** A Linux-only test of this file that fails if it has not ended after TEST_TIMEOUT_MS. */
function test(name: string, fn: (t: Deno.TestContext) => Promise<void> | void): void {
  linuxTest(`epoll port: ${name}`, (t) => timeLimit(TEST_TIMEOUT_MS, () => fn(t)));
}

/** libc calls the tests make themselves (files, raw and blocking fds, resets). */
const TEST_LIBC = {
  memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;
type TestLibc = Deno.DynamicLibrary<typeof TEST_LIBC>["symbols"];

/** The test's own libc, closed at the end of the scope. */
function testLibc(): { libc: TestLibc } & Disposable {
  const library = Deno.dlopen("libc.so.6", TEST_LIBC);
  return { libc: library.symbols, [Symbol.dispose]: () => library.close() };
}

/** A C string. */
function cString(text: string): Uint8Array {
  return new TextEncoder().encode(`${text}\0`);
}

/** A regular file: a memfd (no filesystem permission needed), closed at the end of the scope. */
function memFile(libc: TestLibc): { fd: number } & Disposable {
  const fd = libc.memfd_create(cString("epoll_port_test"), MFD_CLOEXEC);
  assert.ok(fd >= 0, "memfd_create failed");
  return { fd, [Symbol.dispose]: () => void libc.close(fd) };
}

/** A raw pipe made by the test (blocking unless `flags` says otherwise): [reader, writer]. */
function rawPipe(libc: TestLibc, flags = 0): [number, number] {
  const pair = new Int32Array(2);
  assert.equal(libc.pipe2(new Uint8Array(pair.buffer), O_CLOEXEC | flags), 0);
  return [pair[0], pair[1]];
}

/** An assertion on an OS error: its class, code, errno and message. */
function osError(
  Class: new (...args: never[]) => Error,
  code: string,
  errno: number,
  message?: RegExp,
): (error: unknown) => true {
  return (error) => {
    assert.ok(error instanceof Class, `expected ${Class.name}, got ${String(error)}`);
    const fields = error as Error & { code: string; errno: number };
    assert.equal(fields.code, code);
    assert.equal(fields.errno, errno);
    if (message) assert.match(fields.message, message);
    return true;
  };
}

/** Records when a promise settles, for order assertions. */
function track<T>(events: string[], name: string, promise: Promise<T>): Promise<T | unknown> {
  return promise.then(
    (value) => {
      events.push(`${name} ${value === null ? "null" : typeof value === "number" ? value : "ok"}`);
      return value;
    },
    (error) => {
      events.push(`${name} rejected`);
      return error;
    },
  );
}

// ---------------------------------------------------------------------------
// The fallback

test("a refused io_uring_setup (EPERM, EACCES, ENOSYS, ENOMEM) falls back to epoll", async () => {
  for (const setupErrno of [EPERM, EACCES, ENOSYS, ENOMEM]) {
    await using port = openLinuxPort(undefined, { setupErrno });
    assert.equal(port.backend, "epoll", `errno ${setupErrno}`);
    port.post(setupErrno, 1);
    assert.deepEqual(port.get(0).map((c) => [c.key, c.bytes]), [[setupErrno, 1]]);
  }
});

test("io_uring asked for by name is not replaced: its refusal is thrown with its code", () => {
  assert.throws(
    () => openLinuxPort("io_uring", { setupErrno: EPERM }),
    (error: Error & { code?: string; errno?: number }) => {
      assert.equal(error.code, "EPERM", String(error));
      assert.equal(error.errno, EPERM);
      assert.ok(error instanceof Deno.errors.PermissionDenied, String(error));
      return true;
    },
  );
  // An errno that is not a refusal is not hidden by the fallback either.
  assert.throws(
    () => openLinuxPort(undefined, { setupErrno: EMFILE }),
    (error: Error & { code?: string }) => error.code === "EMFILE",
  );
});

test("backend: 'epoll' is the epoll port, whatever io_uring can do", async () => {
  await using port = openCompletionPort({ backend: "epoll" });
  assert.equal(port.backend, "epoll");
  await using named = openLinuxPort("epoll", { setupErrno: EPERM });
  assert.equal(named.backend, "epoll");
});

// ---------------------------------------------------------------------------
// Regular files

test("a file on disk (O_TMPFILE) is read and written at offsets above 4 GiB", async () => {
  using lib = testLibc();
  let fd = -1;
  for (const dir of ["/var/tmp", "/tmp"]) {
    fd = lib.libc.open(cString(dir), O_TMPFILE | O_RDWR | O_CLOEXEC, 0o600);
    if (fd >= 0) break;
  }
  assert.ok(fd >= 0, "Cannot open an O_TMPFILE in /var/tmp or /tmp");
  try {
    await using port = openCompletionPort({ backend: "epoll" });
    const data = pattern(10_000, 9);
    const AT = 2 ** 32 + 4_093; // sparse: nothing is allocated below
    assert.equal(await port.write(fd, data, { offset: AT }), data.length);
    const back = new Uint8Array(data.length + 10);
    assert.equal(await port.read(fd, back, { offset: BigInt(AT - 5) }), data.length + 5);
    assertBytes(back.subarray(5, 5 + data.length), data);
    // The low 32 bits alone would name a hole of zeros.
    const aliased = new Uint8Array(16).fill(1);
    assert.equal(await port.read(fd, aliased, { offset: 4_093 }), 16);
    assert.ok(aliased.every((b) => b === 0));
  } finally {
    lib.libc.close(fd);
  }
});

test("large file transfers run off the event loop and move every byte", async () => {
  using lib = testLibc();
  using file = memFile(lib.libc);
  await using port = openCompletionPort({ backend: "epoll" });
  const SIZE = 48 * 1024 * 1024 + 3; // tens of ms of copying: timers run meanwhile
  assert.ok(SIZE >= OFFLOAD_BYTES);
  const data = pattern(SIZE, 11);
  const events: string[] = [];
  let timer = setTimeout(() => events.push("timer"), 0);
  const written = await track(events, "write", port.write(file.fd, data, { offset: 5 }));
  clearTimeout(timer);
  assert.equal(written, SIZE);
  assert.deepEqual(events, ["timer", `write ${SIZE}`]);
  events.length = 0;
  const back = new Uint8Array(SIZE + 10);
  timer = setTimeout(() => events.push("timer"), 0);
  const read = await track(events, "read", port.read(file.fd, back, { offset: 5n }));
  clearTimeout(timer);
  assert.equal(read, SIZE);
  assert.deepEqual(events, ["timer", `read ${SIZE}`]);
  assertBytes(back.subarray(0, SIZE), data, "read back");
  // Past the end: null, also off the loop.
  assert.equal(await port.read(file.fd, back, { offset: SIZE + 5 }), null);
});

test("a small file read is done at once: it settles before a 0 ms timer", async () => {
  using lib = testLibc();
  using file = memFile(lib.libc);
  await using port = openCompletionPort({ backend: "epoll" });
  assert.equal(await port.write(file.fd, pattern(4096, 3), { offset: 0 }), 4096);
  const events: string[] = [];
  const timer = setTimeout(() => events.push("timer"), 0);
  await track(events, "read", port.read(file.fd, new Uint8Array(4096), { offset: 0 }));
  clearTimeout(timer);
  assert.deepEqual(events, ["read 4096"]);
});

test("a loop of operations done at once still lets timers fire", async () => {
  using lib = testLibc();
  using file = memFile(lib.libc);
  await using port = openCompletionPort({ backend: "epoll" });
  assert.equal(await port.write(file.fd, pattern(64, 3), { offset: 0 }), 64);
  const buffer = new Uint8Array(64);
  let fired = false;
  const timer = setTimeout(() => fired = true, 1);
  const start = performance.now();
  let reads = 0;
  try {
    // Every read is done at once; without a yield now and then this never ends.
    while (!fired && performance.now() - start < 3 * SLACK_MS) {
      assert.equal(await port.read(file.fd, buffer, { offset: 0 }), 64);
      reads++;
    }
  } finally {
    clearTimeout(timer);
  }
  assert.ok(fired, `the timer never fired in ${reads} reads`);
  // The same holds on a stream whose reads never wait.
  using counter = openEventFd({ initial: 1, semaphore: false });
  fired = false;
  const again = setTimeout(() => fired = true, 1);
  const bytes = new Uint8Array(8);
  try {
    while (!fired && performance.now() - start < 6 * SLACK_MS) {
      assert.equal(
        await port.write(counter.fd, new Uint8Array(new BigUint64Array([1n]).buffer)),
        8,
      );
      assert.equal(await port.read(counter.fd, bytes), 8);
    }
  } finally {
    clearTimeout(again);
  }
  assert.ok(fired, "the timer never fired on the eventfd");
});

// ---------------------------------------------------------------------------
// Readiness: pipes, eventfds, sockets

test("a read on an empty pipe waits until bytes are written, then gets them", async () => {
  using pipe = openPipe();
  await using port = openCompletionPort({ backend: "epoll" });
  const buffer = new Uint8Array(16);
  const events: string[] = [];
  const reading = track(events, "read", port.read(pipe.reader.fd, buffer));
  await delay(30);
  assert.equal(events.length, 0, events.join());
  // Written from outside the port: the fd turns ready and the read is done then.
  assert.equal(pipe.writer.tryWrite(new Uint8Array([1, 2, 3])), 3);
  assert.equal(await reading, 3);
  assert.deepEqual([...buffer.subarray(0, 3)], [1, 2, 3]);
  // Bytes already there: done at once.
  assert.equal(pipe.writer.tryWrite(new Uint8Array([4])), 1);
  assert.equal(await port.read(pipe.reader.fd, buffer), 1);
  assert.equal(buffer[0], 4);
});

test("a write to a pipe whose reader is gone is BrokenPipe (EPIPE), and no signal kills us", async () => {
  using pipe = openPipe();
  await using port = openCompletionPort({ backend: "epoll" });
  pipe.reader.close();
  await assert.rejects(
    port.write(pipe.writer.fd, new Uint8Array([1])),
    osError(Deno.errors.BrokenPipe, "EPIPE", 32, /^Cannot write to fd \d+: EPIPE \(os error 32\)$/),
  );
  // A write waiting for room (a part of it moved already) when the reader goes.
  using second = openPipe();
  const writing = port.write(second.writer.fd, new Uint8Array(1024 * 1024));
  await delay(10);
  second.reader.close();
  await assert.rejects(writing, osError(Deno.errors.BrokenPipe, "EPIPE", 32));
});

test("a write larger than the pipe takes all its bytes, written as room comes", async () => {
  using pipe = openPipe();
  await using port = openCompletionPort({ backend: "epoll" });
  const data = pattern(3 * 1024 * 1024 + 12_345, 7);
  const writing = port.write(pipe.writer.fd, data);
  const received = await readExactly(port, pipe.reader.fd, data.length);
  assert.equal(await writing, data.length);
  assertBytes(received, data, "received");
});

test("several reads on one fd are served in order", async () => {
  using pipe = openPipe();
  await using port = openCompletionPort({ backend: "epoll" });
  const buffers = Array.from({ length: 5 }, () => new Uint8Array(1));
  const events: string[] = [];
  const reads = buffers.map((buffer, i) =>
    track(events, `read${i}`, port.read(pipe.reader.fd, buffer))
  );
  await delay(10);
  assert.equal(pipe.writer.tryWrite(new Uint8Array([10, 11, 12, 13, 14])), 5);
  assert.deepEqual(await Promise.all(reads), [1, 1, 1, 1, 1]);
  assert.deepEqual(buffers.map((b) => b[0]), [10, 11, 12, 13, 14]);
  assert.deepEqual(events, ["read0 1", "read1 1", "read2 1", "read3 1", "read4 1"]);
  // A read that comes while others wait queues behind them, even with bytes there.
  const first = port.read(pipe.reader.fd, buffers[0]);
  const second = port.read(pipe.reader.fd, buffers[1]);
  pipe.writer.tryWrite(new Uint8Array([20, 21]));
  assert.deepEqual(await Promise.all([first, second]), [1, 1]);
  assert.deepEqual([buffers[0][0], buffers[1][0]], [20, 21]);
});

test("several writes on one fd are served in order, each whole", async () => {
  using pipe = openPipe();
  await using port = openCompletionPort({ backend: "epoll" });
  const SIZE = 100_000; // more than the pipe holds: the first waits, the rest queue behind it
  const chunks = Array.from({ length: 4 }, (_, i) => pattern(SIZE, 50 + i));
  const events: string[] = [];
  const writes = chunks.map((chunk, i) =>
    track(events, `write${i}`, port.write(pipe.writer.fd, chunk))
  );
  const received = await readExactly(port, pipe.reader.fd, 4 * SIZE);
  assert.deepEqual(await Promise.all(writes), chunks.map(() => SIZE));
  assert.deepEqual(events, chunks.map((_, i) => `write${i} ${SIZE}`));
  chunks.forEach((chunk, i) =>
    assertBytes(received.subarray(i * SIZE, (i + 1) * SIZE), chunk, `chunk ${i}`)
  );
});

test("a socketpair carries bytes both ways, and end of stream after shutdown", async () => {
  using pair = openSocketPair();
  await using port = openCompletionPort({ backend: "epoll" });
  const buffer = new Uint8Array(8);
  const reading = port.read(pair.second.fd, buffer);
  assert.equal(await port.write(pair.first.fd, new Uint8Array([1, 2, 3])), 3);
  assert.equal(await reading, 3);
  assert.equal(await port.write(pair.second.fd, new Uint8Array([9])), 1);
  assert.equal(await port.read(pair.first.fd, buffer), 1);
  assert.equal(buffer[0], 9);
  pair.first.shutdown("write");
  assert.equal(await port.read(pair.second.fd, buffer), null);
  await assert.rejects(port.write(pair.first.fd, new Uint8Array([1])), Deno.errors.BrokenPipe);
});

for (const hostname of ["127.0.0.1", "::1"]) {
  test(`TCP over ${hostname}: accept, connect, echo of 2 MiB, end of stream`, async () => {
    await using port = openCompletionPort({ backend: "epoll" });
    using listener = listenTcp({ hostname, port: 0 });
    const accepting = port.accept(listener);
    using client = await port.connect({ hostname, port: listener.addr.port });
    using server = await accepting;
    assert.deepEqual(server.remoteAddr, client.localAddr);
    assert.deepEqual(client.remoteAddr, { transport: "tcp", hostname, port: listener.addr.port });
    const data = pattern(2 * 1024 * 1024 + 77, 5);
    const echo = (async () => {
      const buffer = new Uint8Array(65_536);
      for (;;) {
        const n = await port.read(server.fd, buffer);
        if (n === null) break;
        assert.equal(await port.write(server.fd, buffer.subarray(0, n)), n);
      }
      server.shutdown("write");
    })();
    const [written, back] = await Promise.all([
      port.write(client.fd, data).then((n) => {
        client.shutdown("write");
        return n;
      }),
      readExactly(port, client.fd, data.length),
    ]);
    assert.equal(written, data.length);
    assertBytes(back, data, "echoed");
    await echo;
    assert.equal(await port.read(client.fd, new Uint8Array(1)), null);
  });
}

test("after a short read, the next read still gets what came meanwhile, then the end of stream", async (t) => {
  await using port = openCompletionPort({ backend: "epoll" });
  using listener = listenTcp({ port: 0 });
  /** Reads 3 bytes (short: the buffer holds 64), then what comes later, then the end. */
  const exercise = async (reader: number, write: (bytes: Uint8Array) => void, end: () => void) => {
    const buffer = new Uint8Array(64);
    write(new Uint8Array([1, 2, 3]));
    await delay(5);
    assert.equal(await port.read(reader, buffer), 3);
    // Bytes that come after the short read, while no read waits.
    write(new Uint8Array([4, 5]));
    await delay(5);
    assert.equal(await port.read(reader, buffer), 2);
    assert.deepEqual([...buffer.subarray(0, 2)], [4, 5]);
    // A read that waits, then bytes and the end at once.
    const reading = port.read(reader, buffer);
    write(new Uint8Array([6]));
    end();
    assert.equal(await reading, 1);
    assert.equal(await port.read(reader, buffer), null);
    // The end, once seen, stays: every later read is null at once.
    assert.equal(await port.read(reader, buffer), null);
  };
  await t.step("connections the port accepted and made", async () => {
    const accepting = port.accept(listener);
    using client = await port.connect({ port: listener.addr.port });
    using server = await accepting;
    await exercise(server.fd, (bytes) => client.tryWrite(bytes), () => client.shutdown());
    await exercise(client.fd, (bytes) => server.tryWrite(bytes), () => server.shutdown());
  });
  await t.step("connections made without the port", async () => {
    using client = startConnectTcp({ port: listener.addr.port });
    await delay(10);
    using server = listener.tryAccept()!;
    client.finishConnect();
    await exercise(server.fd, (bytes) => client.tryWrite(bytes), () => client.shutdown());
  });
  await t.step("a socketpair and a pipe", async () => {
    using pair = openSocketPair();
    await exercise(pair.first.fd, (b) => pair.second.tryWrite(b), () => pair.second.shutdown());
    using pipe = openPipe();
    await exercise(pipe.reader.fd, (b) => pipe.writer.tryWrite(b), () => pipe.writer.close());
  });
});

// ---------------------------------------------------------------------------
// Cancellation

test("a read aborted before its fd turned ready is cancelled: it rejects, no byte is taken", async () => {
  using pipe = openPipe();
  await using port = openCompletionPort({ backend: "epoll" });
  const reason = new Error("no longer wanted");
  const controller = new AbortController();
  const reading = port.read(pipe.reader.fd, new Uint8Array(8), { signal: controller.signal });
  await delay(10);
  controller.abort(reason);
  await assert.rejects(reading, (error) => error === reason);
  // Bytes written now go to the next read, whole.
  const buffer = new Uint8Array(8);
  const next = port.read(pipe.reader.fd, buffer);
  assert.equal(pipe.writer.tryWrite(new Uint8Array([1, 2, 3])), 3);
  assert.equal(await next, 3);
  assertBytes(buffer.subarray(0, 3), new Uint8Array([1, 2, 3]));
});

test("a read aborted once bytes are there resolves with them, seen by the port or not", async () => {
  using pipe = openPipe();
  await using port = openCompletionPort({ backend: "epoll" });
  for (let round = 0; round < 4; round++) {
    const controller = new AbortController();
    const buffer = new Uint8Array(8);
    const reading = port.read(pipe.reader.fd, buffer, { signal: controller.signal });
    // The port has not looked at the fd since: a completion port would have
    // completed the read already, so the abort comes too late.
    assert.equal(pipe.writer.tryWrite(new Uint8Array([round, 8])), 2);
    controller.abort();
    assert.equal(await reading, 2);
    assertBytes(buffer.subarray(0, 2), new Uint8Array([round, 8]));
  }
  // Behind another read, it cannot be done first: it is cancelled, the first gets the bytes.
  const first = new Uint8Array(8);
  const reading = port.read(pipe.reader.fd, first);
  const controller = new AbortController();
  const behind = port.read(pipe.reader.fd, new Uint8Array(8), { signal: controller.signal });
  controller.abort();
  await assert.rejects(behind, (error: Error) => error.name === "AbortError");
  pipe.writer.tryWrite(new Uint8Array([5]));
  assert.equal(await reading, 1);
  assert.equal(first[0], 5);
});

test("a read done before its abort resolves with its bytes", async () => {
  using pipe = openPipe();
  await using port = openCompletionPort({ backend: "epoll" });
  for (let round = 0; round < 4; round++) {
    const controller = new AbortController();
    const buffer = new Uint8Array(8);
    const reading = port.read(pipe.reader.fd, buffer, { signal: controller.signal });
    assert.equal(pipe.writer.tryWrite(new Uint8Array([round, 2, 3])), 3);
    // get(0) harvests the readiness on this thread: the read is done here.
    assert.deepEqual(port.get(0), []);
    controller.abort(new Error("too late"));
    assert.equal(await reading, 3, `round ${round}`);
    assertBytes(buffer.subarray(0, 3), new Uint8Array([round, 2, 3]));
  }
  // And one that is done at once (bytes were there), before its signal is aborted.
  using fresh = openPipe();
  fresh.writer.tryWrite(new Uint8Array([9]));
  const controller = new AbortController();
  const reading = port.read(fresh.reader.fd, new Uint8Array(1), { signal: controller.signal });
  controller.abort();
  assert.equal(await reading, 1);
});

test("a write aborted while it waits for room resolves with what went out; one behind it rejects; the next write goes on", async () => {
  using pipe = openPipe();
  await using port = openCompletionPort({ backend: "epoll" });
  const data = pattern(1024 * 1024, 12);
  const controller = new AbortController();
  const writing = port.write(pipe.writer.fd, data, { signal: controller.signal });
  const queued = new AbortController();
  const behind = port.write(pipe.writer.fd, new Uint8Array(10), { signal: queued.signal });
  await delay(10);
  const reason = new Error("enough");
  controller.abort(reason);
  queued.abort(reason);
  const written = await writing;
  await assert.rejects(behind, (error) => error === reason);
  // What the first had moved before (as much as the pipe held) is there, in order, and no more.
  const buffer = new Uint8Array(2 * 1024 * 1024);
  let moved = 0;
  for (let n; (n = pipe.reader.tryRead(buffer.subarray(moved))) !== 0;) moved += n!;
  assert.ok(moved > 0 && moved < data.length, `moved ${moved}`);
  assert.equal(written, moved, "the aborted write resolved with another count than went out");
  assertBytes(buffer.subarray(0, moved), data.subarray(0, moved));
  // The port still writes to it.
  assert.equal(await port.write(pipe.writer.fd, new Uint8Array([1, 2])), 2);
  assert.equal(pipe.reader.tryRead(buffer), 2);
});

test("an already-aborted signal rejects at once and does nothing", async () => {
  using pipe = openPipe();
  await using port = openCompletionPort({ backend: "epoll" });
  pipe.writer.tryWrite(new Uint8Array([5]));
  const reason = new RangeError("before it started");
  await assert.rejects(
    port.read(pipe.reader.fd, new Uint8Array(1), { signal: AbortSignal.abort(reason) }),
    (error) => error === reason,
  );
  await assert.rejects(
    port.write(pipe.writer.fd, new Uint8Array(1), { signal: AbortSignal.abort(reason) }),
    (error) => error === reason,
  );
  const buffer = new Uint8Array(4);
  assert.equal(await port.read(pipe.reader.fd, buffer), 1);
  assert.equal(buffer[0], 5);
});

test("an accept and a connect aborted while they wait reject with the reason", async () => {
  await using port = openCompletionPort({ backend: "epoll" });
  using listener = listenTcp({ port: 0 });
  const reason = new Error("stop");
  const controller = new AbortController();
  const accepting = port.accept(listener, { signal: controller.signal });
  await delay(10);
  controller.abort(reason);
  await assert.rejects(accepting, (error) => error === reason);
  // The listener still accepts through the port.
  const next = port.accept(listener);
  using client = await port.connect({ port: listener.addr.port });
  using server = await next;
  assert.deepEqual(server.remoteAddr, client.localAddr);

  // A connect kept waiting: a listener whose queue is full drops the SYN.
  using full = listenTcp({ port: 0, backlog: 0 });
  const fillers: TcpConn[] = [];
  try {
    for (let i = 0; i < 4; i++) fillers.push(startConnectTcp({ port: full.addr.port }));
    await delay(20);
    const before = openFds().length;
    const stop = new AbortController();
    const connecting = port.connect({ port: full.addr.port }, { signal: stop.signal });
    await delay(50);
    stop.abort(reason);
    await assert.rejects(connecting, (error) => error === reason);
    assert.equal(openFds().length, before, "the cancelled connect's socket was closed");
  } finally {
    for (const conn of fillers) conn.close();
  }
});

// ---------------------------------------------------------------------------
// Closing

test("close() with operations in flight: they reject Interrupted, wait() gets [], asyncDispose waits", async () => {
  using readPipe = openPipe();
  using writePipe = openPipe();
  using listener = listenTcp({ port: 0 });
  const events: string[] = [];
  let reading: Promise<unknown>;
  let writing: Promise<unknown>;
  let accepting: Promise<unknown>;
  let waiting: Promise<unknown>;
  let port: CompletionPort;
  {
    await using p = openCompletionPort({ backend: "epoll" });
    port = p;
    reading = track(events, "read", p.read(readPipe.reader.fd, new Uint8Array(64)));
    // Nobody reads: a write of more than the pipe holds moves some bytes, then waits.
    writing = track(events, "write", p.write(writePipe.writer.fd, new Uint8Array(1024 * 1024)));
    const queuedWrite = track(events, "write2", p.write(writePipe.writer.fd, new Uint8Array(5)));
    accepting = track(events, "accept", p.accept(listener));
    waiting = track(events, "wait", p.wait());
    await delay(20);
    assert.equal(events.length, 0, events.join());
    void queuedWrite;
  }
  events.push("disposed");
  assert.equal(port.closed, true);
  const readError = await reading;
  const acceptError = await accepting;
  assert.ok(readError instanceof Deno.errors.Interrupted, String(readError));
  assert.match(
    (readError as Error).message,
    /^Cannot read from fd \d+: the completion port was closed$/,
  );
  assert.ok(acceptError instanceof Deno.errors.Interrupted, String(acceptError));
  assert.match(
    (acceptError as Error).message,
    /^Cannot accept on 127\.0\.0\.1:\d+: the completion port was closed$/,
  );
  // Also the write that had moved some of its bytes.
  const writeError = await writing;
  assert.ok(writeError instanceof Deno.errors.Interrupted, String(writeError));
  assert.deepEqual(await waiting, []);
  assert.equal(events.at(-1), "disposed");
  assert.deepEqual(
    events.slice(0, -1).sort(),
    ["accept rejected", "read rejected", "wait ok", "write rejected", "write2 rejected"].sort(),
  );
  // Closed: every method says so.
  await assert.rejects(
    port.read(readPipe.reader.fd, new Uint8Array(1)),
    /completion port is closed$/,
  );
  assert.throws(() => port.post(1), Deno.errors.BadResource);
});

test("close() waits for a file transfer running on a worker, which completes", async () => {
  using lib = testLibc();
  using file = memFile(lib.libc);
  const port = openCompletionPort({ backend: "epoll" });
  const data = pattern(32 * 1024 * 1024, 4);
  const writing = port.write(file.fd, data, { offset: 0 });
  port.close();
  let released = false;
  const disposing = port[Symbol.asyncDispose]().then(() => released = true);
  assert.equal(await writing, data.length);
  await disposing;
  assert.ok(released);
  const check = new Uint8Array(4096);
  assert.equal(Number(lib.libc.pread(file.fd, check, 4096n, BigInt(data.length - 4096))), 4096);
  assertBytes(check, data.subarray(-4096));
});

test("closing a pipe, a connection or a listener with an operation in flight rejects it Interrupted", async () => {
  await using port = openCompletionPort({ backend: "epoll" });
  {
    const pipe = openPipe();
    const reading = port.read(pipe.reader.fd, new Uint8Array(4));
    pipe.reader.close();
    await assert.rejects(reading, (error: Error) => {
      assert.ok(error instanceof Deno.errors.Interrupted, String(error));
      assert.match(error.message, /^Cannot read from fd \d+: the fd was closed$/);
      return true;
    });
    pipe.close();
  }
  const listener = listenTcp({ port: 0 });
  const accepting = port.accept(listener);
  const client = await port.connect({ port: listener.addr.port });
  const server = await accepting;
  const reading = port.read(server.fd, new Uint8Array(4));
  server.close();
  await assert.rejects(reading, (error: Error) => {
    assert.ok(error instanceof Deno.errors.Interrupted, String(error));
    assert.match(error.message, /: the socket was closed$/);
    return true;
  });
  const again = port.accept(listener);
  listener.close();
  await assert.rejects(again, Deno.errors.Interrupted);
  client.close();
  // The port goes on: numbers reused by new fds work.
  for (let i = 0; i < 10; i++) {
    using pipe = openPipe();
    const buffer = new Uint8Array(1);
    const next = port.read(pipe.reader.fd, buffer);
    assert.equal(await port.write(pipe.writer.fd, new Uint8Array([i])), 1);
    assert.equal(await next, 1);
    assert.equal(buffer[0], i);
  }
});

test("an fd number reused by a file of another kind is learnt again", async () => {
  using lib = testLibc();
  await using port = openCompletionPort({ backend: "epoll" });
  // A file closed behind the port's back; a pipe takes its number.
  const file = memFile(lib.libc);
  const number = file.fd;
  assert.equal(await port.write(number, new Uint8Array([1]), { offset: 0 }), 1);
  file[Symbol.dispose]();
  const [reader, writer] = rawPipe(lib.libc, O_NONBLOCK);
  try {
    assert.equal(reader, number, "the pipe took the file's number");
    const buffer = new Uint8Array(4);
    const reading = port.read(reader, buffer);
    lib.libc.write(writer, new Uint8Array([6, 7]), 2n);
    assert.equal(await reading, 2);
    // And back: associate() makes the port look again.
    lib.libc.close(reader);
    using second = memFile(lib.libc);
    assert.equal(second.fd, number);
    port.associate(second.fd, 5);
    await assert.rejects(port.read(second.fd, buffer), /offset is required/);
    assert.equal(await port.write(second.fd, new Uint8Array([3]), { offset: 1 }), 1);
  } finally {
    lib.libc.close(writer);
  }
  // A number that is closed is BadResource (EBADF), named in the message.
  await assert.rejects(
    port.read(number, new Uint8Array(1)),
    osError(Deno.errors.BadResource, "EBADF", 9, /^Cannot read from fd \d+: EBADF \(os error 9\)$/),
  );
});

test("the port's own fds are refused with BadResource (EBADF)", async () => {
  const before = new Set(openFds());
  await using port = openCompletionPort({ backend: "epoll" });
  // What the port opened: an epoll fd and an eventfd.
  const own = openFds().filter((fd) => !before.has(fd));
  assert.equal(own.length, 2, `the port opened ${own.join()}`);
  for (const fd of own) {
    await assert.rejects(
      port.read(fd, new Uint8Array(8)),
      osError(Deno.errors.BadResource, "EBADF", 9),
    );
    await assert.rejects(
      port.write(fd, new Uint8Array(8)),
      osError(Deno.errors.BadResource, "EBADF", 9),
    );
    assert.throws(() => port.associate(fd, 1), osError(Deno.errors.BadResource, "EBADF", 9));
  }
  await port[Symbol.asyncDispose]();
  assert.deepEqual(openFds().filter((fd) => own.includes(fd) && !before.has(fd)), []);
});

// ---------------------------------------------------------------------------
// Blocking and unwatchable fds

test("a blocking pipe is waited for, never blocking the event loop", async () => {
  using lib = testLibc();
  await using port = openCompletionPort({ backend: "epoll" });
  const [reader, writer] = rawPipe(lib.libc);
  try {
    const buffer = new Uint8Array(8);
    const reading = port.read(reader, buffer);
    let ticks = 0;
    const interval = setInterval(() => ticks++, 1);
    await delay(30);
    clearInterval(interval);
    assert.ok(ticks > 0, "the event loop was blocked");
    assert.equal(Number(lib.libc.write(writer, new Uint8Array([1, 2]), 2n)), 2);
    assert.equal(await reading, 2);
    // A write of more than the pipe holds, to a blocking writer, while the port reads.
    const data = pattern(300_000, 8);
    const writing = port.write(writer, data);
    const received = await readExactly(port, reader, data.length);
    assert.equal(await writing, data.length);
    assertBytes(received, data);
  } finally {
    lib.libc.close(reader);
    lib.libc.close(writer);
  }
});

test("an fd epoll cannot watch (/dev/null) is read and written at once", async () => {
  using lib = testLibc();
  await using port = openCompletionPort({ backend: "epoll" });
  const fd = lib.libc.open(cString("/dev/null"), O_RDWR | O_CLOEXEC, 0);
  assert.ok(fd >= 0);
  try {
    assert.equal(await port.read(fd, new Uint8Array(8)), null);
    assert.equal(await port.write(fd, new Uint8Array(100)), 100);
    assert.equal(await port.read(fd, new Uint8Array(8)), null);
  } finally {
    lib.libc.close(fd);
  }
});

// ---------------------------------------------------------------------------
// get() and wait() beside operations

test("get() with a timeout is Busy while an operation waits; get(0) does the ready work", async () => {
  using pipe = openPipe();
  await using port = openCompletionPort({ backend: "epoll" });
  const buffer = new Uint8Array(4);
  const reading = port.read(pipe.reader.fd, buffer);
  assert.throws(() => port.get(10), Deno.errors.Busy);
  assert.throws(() => port.get(), Deno.errors.Busy);
  assert.deepEqual(port.get(0), []);
  pipe.writer.tryWrite(new Uint8Array([4, 2]));
  port.post(9, 1);
  assert.deepEqual(port.get(0).map((c) => [c.key, c.bytes, c.error, c.overlapped]), [[
    9,
    1,
    0,
    null,
  ]]);
  assert.equal(await reading, 2);
  // Nothing in flight any more: get() may block, and never returns early.
  const start = performance.now();
  assert.deepEqual(port.get(15.5), []);
  assert.ok(performance.now() - start >= 15.5);
});

test("wait() resolves with a packet posted while operations complete around it", async () => {
  using pipe = openPipe();
  await using port = openCompletionPort({ backend: "epoll" });
  const reading = port.read(pipe.reader.fd, new Uint8Array(4));
  const waiting = port.wait({ timeout: 10_000 });
  setTimeout(() => pipe.writer.tryWrite(new Uint8Array([1])), 5);
  assert.equal(await reading, 1);
  setTimeout(() => port.post(3, 4), 5);
  assert.deepEqual((await waiting).map((c) => [c.key, c.bytes]), [[3, 4]]);
});
