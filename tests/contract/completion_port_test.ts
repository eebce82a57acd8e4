// Copyright 2026 the @evented/io authors. MIT license.
// The CompletionPort suite that every backend meets: io_uring and epoll on
// Linux, iocp on Windows (run under Wine on Linux: tools/wine/run.sh test
// ... --v8-flags=--expose-gc tests/contract/completion_port_test.ts). Each test runs
// once per backend of the OS, named "<backend>: <behaviour>", on real
// handles: pipes and socketpairs (Linux) or named pipes (Windows), regular
// files at offsets, eventfds (Linux), and TCP sockets over loopback.
// Timings: lower bounds are exact, upper bounds get seconds of slack.
// Windows-only behaviour (the caller's own OVERLAPPED, associating a HANDLE
// twice, handle values reused behind the port's back) is in engines/iocp_test.ts
// and iocp_net_test.ts; io_uring's own (ring overflow…) in engines/io_uring_test.ts.
import assert from "node:assert/strict";
import {
  type Completion,
  type CompletionBackend,
  type CompletionPort,
  type Handle,
  listenTcp,
  openCompletionPort,
  openEventFd,
  openOverlappedFile,
  openPipe,
  type TcpConn,
  type TcpListener,
} from "../../mod.ts";
import {
  FILE_ATTRIBUTE_NORMAL,
  FILE_SHARE_DELETE,
  FILE_SHARE_READ,
  FILE_SHARE_WRITE,
  GENERIC_READ,
  GENERIC_WRITE,
  INVALID_HANDLE_ADDRESS,
  OPEN_EXISTING,
  wide,
} from "../../ffi/kernel32.ts";
import { O_CLOEXEC, O_RDWR, O_TMPFILE } from "../../ffi/libc.ts";
import {
  assertBytes,
  closedPort,
  delay,
  ioUringNote,
  ioUringSupport,
  lingerZero,
  openStream,
  pattern,
  readExactly,
  slack,
  slowdown,
  STREAM_KINDS,
  timeLimit,
  tuple,
  writeAll,
} from "../_helpers/mod.ts";

const OS = Deno.build.os;
/** The backends under test on this OS (none elsewhere: every test is then ignored). */
const BACKENDS: readonly CompletionBackend[] = OS === "linux"
  ? ["io_uring", "epoll"]
  : OS === "windows"
  ? ["iocp"]
  : [];
/** No test here takes this long, even under a loaded Wine (scaled to this machine's speed). */
const TEST_TIMEOUT_MS = slack(OS === "windows" ? 60_000 : 30_000);
/** Slack on every upper bound of a duration: Wine and emulators are slow, the machine is shared. */
const SLACK_MS = slack(5_000);

type PortTest = (t: Deno.TestContext, backend: CompletionBackend) => Promise<void> | void;

/** Declares a test that fails if it has not ended after `TEST_TIMEOUT_MS`. */
function timedTest(name: string, ignore: boolean, fn: (t: Deno.TestContext) => unknown): void {
  Deno.test({
    name,
    ignore,
    async fn(t) {
      await timeLimit(TEST_TIMEOUT_MS, () => fn(t));
    },
  });
}

/**
 * Declares `fn` for `backend`, named "<backend>: <name>". An io_uring test
 * where io_uring_setup refuses io_uring is ignored, and its name says
 * "io_uring unavailable here" with the errno.
 */
function backendTest(backend: CompletionBackend, name: string, ignore: boolean, fn: PortTest) {
  const unavailable = OS === "linux" && backend === "io_uring" && !ioUringSupport().usable;
  const note = backend === "io_uring" ? ioUringNote() : "";
  timedTest(`${backend}: ${name}${note}`, ignore || unavailable, (t) => fn(t, backend));
}

/** Declares `fn` once for each backend of this OS. */
function portTest(name: string, fn: PortTest): void {
  for (const backend of BACKENDS) backendTest(backend, name, false, fn);
}

/** Declares `fn` once for each Linux backend (ignored elsewhere). */
function linuxPortTest(name: string, fn: PortTest): void {
  for (const backend of ["io_uring", "epoll"] as const) {
    backendTest(backend, name, OS !== "linux", fn);
  }
}

/** Opens a port of `backend`. */
function open(backend: CompletionBackend): CompletionPort {
  return openCompletionPort({ backend });
}

// ---------------------------------------------------------------------------
// Handles of each OS

/** libc calls the Linux tests make themselves (the library does not export them). */
const TEST_LIBC = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
} as const satisfies Deno.ForeignLibraryInterface;

/** A regular file to read and write at offsets. */
interface TestFile extends Disposable {
  readonly handle: Handle;
  /** Whether a write far out leaves a hole (no bytes allocated in between). */
  readonly sparse: boolean;
  /** `length` bytes at `offset` as the OS reads the file itself, not through a port. */
  peek(offset: number, length: number): Uint8Array;
}

/**
 * Opens an empty regular file: on Linux an unnamed O_TMPFILE in /tmp
 * (through the test's own libc: no --allow-write needed), on Windows a
 * temporary file opened for overlapped I/O, marked sparse if asked.
 */
function openTestFile(options: { sparse?: boolean } = {}): TestFile {
  if (OS === "windows") {
    const path = Deno.makeTempFileSync();
    const sparse = options.sparse === true && markSparse(path);
    const file = openOverlappedFile(path, { write: true });
    return {
      handle: file.handle,
      sparse,
      peek: (offset, length) => Deno.readFileSync(path).slice(offset, offset + length),
      [Symbol.dispose]() {
        file.close();
        Deno.removeSync(path);
      },
    };
  }
  const libc = Deno.dlopen("libc.so.6", TEST_LIBC);
  const fd = libc.symbols.open(
    new TextEncoder().encode("/tmp\0"),
    O_TMPFILE | O_RDWR | O_CLOEXEC,
    0o600,
  );
  if (fd < 0) {
    libc.close();
    throw new Error("Cannot open an O_TMPFILE in /tmp");
  }
  return {
    handle: fd,
    sparse: true,
    peek(offset, length) {
      const bytes = new Uint8Array(length);
      const n = Number(libc.symbols.pread(fd, bytes, BigInt(length), BigInt(offset)));
      assert.ok(n >= 0, "pread failed");
      return bytes.subarray(0, n);
    },
    [Symbol.dispose]() {
      libc.symbols.close(fd);
      libc.close();
    },
  };
}

/** FSCTL_SET_SPARSE: marks a file sparse, so a write far out allocates nothing in between. */
const FSCTL_SET_SPARSE = 0x900c4;

/** Marks the (Windows) file at `path` sparse; false if the file system (or Wine) will not. */
function markSparse(path: string): boolean {
  const k32 = Deno.dlopen("kernel32.dll", {
    CreateFileW: {
      parameters: ["buffer", "u32", "u32", "pointer", "u32", "u32", "pointer"],
      result: "pointer",
    },
    DeviceIoControl: {
      parameters: ["pointer", "u32", "pointer", "u32", "pointer", "u32", "buffer", "pointer"],
      result: "i32",
    },
    CloseHandle: { parameters: ["pointer"], result: "i32" },
  });
  try {
    const handle = k32.symbols.CreateFileW(
      wide(path),
      (GENERIC_READ | GENERIC_WRITE) >>> 0,
      FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
      null,
      OPEN_EXISTING,
      FILE_ATTRIBUTE_NORMAL,
      null,
    );
    if (handle === null || Deno.UnsafePointer.value(handle) === INVALID_HANDLE_ADDRESS) {
      return false;
    }
    try {
      const returned = new Uint8Array(4);
      return k32.symbols.DeviceIoControl(
        handle,
        FSCTL_SET_SPARSE,
        null,
        0,
        null,
        0,
        returned,
        null,
      ) !== 0;
    } finally {
      k32.symbols.CloseHandle(handle);
    }
  } finally {
    k32.close();
  }
}

/** The OS errors the suite meets, as each OS names them. */
const ERRORS = OS === "windows"
  ? {
    badHandle: { code: "ERROR_INVALID_HANDLE", errno: 6 },
    refused: { code: "WSAECONNREFUSED", errno: 10061 },
    reset: { code: "WSAECONNRESET", errno: 10054 },
    writeAfterShutdown: "WSAESHUTDOWN",
  }
  : {
    badHandle: { code: "EBADF", errno: 9 },
    refused: { code: "ECONNREFUSED", errno: 111 },
    reset: { code: "ECONNRESET", errno: 104 },
    writeAfterShutdown: "EPIPE",
  };

/** How a handle is named in messages: "handle 0x1c" on Windows, "fd 7" on Linux. */
function handleName(handle: Handle): string {
  if (OS === "windows") {
    const value = typeof handle === "number"
      ? BigInt(handle)
      : Deno.UnsafePointer.value(handle as Deno.PointerObject);
    return `handle 0x${value.toString(16)}`;
  }
  return `fd ${handle}`;
}

/** How a socket is named in messages: "socket 123" on Windows, "fd 7" on Linux. */
function socketName(conn: TcpConn): string {
  return OS === "windows" ? `socket ${conn.fd}` : `fd ${conn.fd}`;
}

// ---------------------------------------------------------------------------
// Helpers

/** Milliseconds `fn` took, and what it returned. */
async function timed<R>(fn: () => R | Promise<R>): Promise<[number, R]> {
  const start = performance.now();
  const result = await fn();
  return [performance.now() - start, result];
}

/** Reads until the end of the stream; returns everything read. */
async function readToEnd(port: CompletionPort, handle: Handle): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buffer = new Uint8Array(65536);
  for (;;) {
    const n = await port.read(handle, buffer);
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

/** Takes what `get(0)` returns until `count` packets came back, or fails after a while. */
async function getSoon(port: CompletionPort, count = 1): Promise<Completion[]> {
  const got: Completion[] = [];
  for (const deadline = performance.now() + SLACK_MS; got.length < count;) {
    got.push(...port.get(0));
    if (got.length < count) {
      assert.ok(performance.now() < deadline, `${got.length} of ${count} packets came back`);
      await delay(1);
    }
  }
  return got;
}

/** The `gc()` of V8: exposed by --v8-flags=--expose-gc, or made available here. */
async function exposedGc(): Promise<() => void> {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === "function") return exposed;
  const { setFlagsFromString } = await import("node:v8");
  const { runInNewContext } = await import("node:vm");
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

// ---------------------------------------------------------------------------
// post, get, wait

portTest("a posted packet comes back from get() with its key and byte count", (_t, backend) => {
  using port = open(backend);
  assert.equal(port.backend, backend);
  port.post(42, 5);
  port.post(2 ** 40, 7);
  assert.deepEqual(port.get(1_000).map(tuple), [
    [42, 5, 0, null],
    [2 ** 40, 7, 0, null],
  ]);
});

portTest(
  "post() round-trips every key up to MAX_SAFE_INTEGER, every 32-bit byte count, and its pointer as is",
  (_t, backend) => {
    using port = open(backend);
    const own = new Uint8Array(new ArrayBuffer(32));
    const ownAddress = Deno.UnsafePointer.value(Deno.UnsafePointer.of(own));
    const sent: [number, number, bigint | null][] = [
      [0, 0, null],
      [1, 1, null],
      [2 ** 31, 0x7fffffff, null],
      [2 ** 32 - 1, 2 ** 31, 0x7ffedeadbeefn],
      [2 ** 32, 0xffffffff, 0x1000n],
      [2 ** 52 + 1, 12345, ownAddress],
      [Number.MAX_SAFE_INTEGER - 1, 3, null],
      [Number.MAX_SAFE_INTEGER, 0xfffffffe, 0x7fffffffffffn],
    ];
    for (const [key, bytes, address] of sent) {
      port.post(key, bytes, address === null ? null : Deno.UnsafePointer.create(address));
    }
    const got = port.get(1_000);
    assert.deepEqual(got.map(tuple), sent.map(([key, bytes, address]) => [key, bytes, 0, address]));
    // The pointer handed back is the one posted: it reads the caller's own memory.
    own[0] = 0x5a;
    const back = got[5].overlapped!;
    assert.ok(Deno.UnsafePointer.equals(back, Deno.UnsafePointer.of(own)));
    assert.equal(new Deno.UnsafePointerView(back).getUint8(0), 0x5a);
    // post() with the defaults: 0 bytes, no pointer.
    port.post(9);
    assert.deepEqual(port.get(1_000).map(tuple), [[9, 0, 0, null]]);
  },
);

/** Packets one dequeue of backends/windows/iocp.ts takes at most (its BATCH). */
const IOCP_BATCH = 256;

portTest("600 posted packets come back from get(), in order, none lost", (_t, backend) => {
  using port = open(backend);
  const COUNT = 600;
  for (let i = 0; i < COUNT; i++) port.post(i, i * 3);
  const batches: Completion[][] = [];
  while (batches.flat().length < COUNT) {
    const got = port.get(5_000);
    assert.ok(got.length > 0, `get() timed out after ${batches.flat().length} packets`);
    batches.push(got);
  }
  if (backend === "iocp") {
    assert.deepEqual(batches.map((b) => b.length), [
      IOCP_BATCH,
      IOCP_BATCH,
      COUNT - 2 * IOCP_BATCH,
    ]);
  }
  assert.deepEqual(
    batches.flat().map((c) => [c.key, c.bytes]),
    Array.from({ length: COUNT }, (_, i) => [i, i * 3]),
  );
  assert.deepEqual(port.get(0), []);
});

portTest("600 posted packets come back from wait(), in order, none lost", async (_t, backend) => {
  await using port = open(backend);
  const COUNT = 600;
  for (let i = 0; i < COUNT; i++) port.post(i + 1_000, i);
  const batches: Completion[][] = [];
  while (batches.flat().length < COUNT) {
    const got = await port.wait({ timeout: 5_000 });
    assert.ok(got.length > 0, `wait() timed out after ${batches.flat().length} packets`);
    batches.push(got);
  }
  if (backend === "iocp") {
    assert.deepEqual(batches.map((b) => b.length), [
      IOCP_BATCH,
      IOCP_BATCH,
      COUNT - 2 * IOCP_BATCH,
    ]);
  }
  assert.deepEqual(
    batches.flat().map((c) => [c.key, c.bytes]),
    Array.from({ length: COUNT }, (_, i) => [i + 1_000, i]),
  );
  assert.deepEqual(await port.wait({ timeout: 0 }), []);
});

// ---------------------------------------------------------------------------
// Timeouts

portTest("get(timeout) never returns before its timeout, fractions included", (_t, backend) => {
  using port = open(backend);
  for (const timeout of [0.5, 1, 2.5, 10, 15.2, 40]) {
    const start = performance.now();
    const got = port.get(timeout);
    const elapsed = performance.now() - start;
    assert.deepEqual(got, []);
    assert.ok(elapsed >= timeout, `get(${timeout}) returned after ${elapsed} ms`);
    assert.ok(elapsed < timeout + SLACK_MS, `get(${timeout}) returned after ${elapsed} ms`);
  }
});

portTest(
  "wait({ timeout }) never resolves before its timeout, fractions included",
  async (_t, backend) => {
    await using port = open(backend);
    for (const timeout of [0.5, 1, 2.5, 10, 15.2, 40]) {
      const [elapsed, got] = await timed(() => port.wait({ timeout }));
      assert.deepEqual(got, []);
      assert.ok(elapsed >= timeout, `wait(${timeout}) resolved after ${elapsed} ms`);
      assert.ok(elapsed < timeout + SLACK_MS, `wait(${timeout}) resolved after ${elapsed} ms`);
    }
  },
);

portTest(
  "a wait() whose deadline passed before it was even pending still resolves with []",
  async (_t, backend) => {
    // A process paused (by a GC, a debugger, an emulator) while wait()
    // starts: every reading of the clock there is 50 ms later than the last.
    await using port = open(backend);
    const realNow = performance.now.bind(performance);
    let jumps = 0;
    Object.defineProperty(performance, "now", {
      configurable: true,
      value: () => realNow() + 50 * ++jumps,
    });
    let waiting: Promise<Completion[]>;
    try {
      waiting = port.wait({ timeout: 1 });
    } finally {
      delete (performance as { now?: unknown }).now;
    }
    assert.ok(jumps >= 1, "wait() never read the clock");
    assert.deepEqual(await waiting, []);
    // The port is left as it was: the next wait() takes the next packet.
    port.post(4);
    assert.deepEqual((await port.wait({ timeout: SLACK_MS })).map((c) => c.key), [4]);
  },
);

portTest(
  "get(0), wait({ timeout: 0 }) and negative timeouts return at once",
  async (_t, backend) => {
    await using port = open(backend);
    for (const timeout of [0, -1, -0.5, -Infinity]) {
      const [elapsedGet, got] = await timed(() => port.get(timeout));
      assert.deepEqual(got, []);
      assert.ok(elapsedGet < SLACK_MS, `get(${timeout}) took ${elapsedGet} ms`);
      const [elapsedWait, waited] = await timed(() => port.wait({ timeout }));
      assert.deepEqual(waited, []);
      assert.ok(elapsedWait < SLACK_MS, `wait(${timeout}) took ${elapsedWait} ms`);
    }
    // A packet that is there is returned at once, also by a 0 timeout.
    port.post(1);
    assert.deepEqual(port.get(0).map((c) => c.key), [1]);
    port.post(2);
    assert.deepEqual((await port.wait({ timeout: 0 })).map((c) => c.key), [2]);
  },
);

portTest("wait() resolves when a packet is posted from a timer", async (_t, backend) => {
  await using port = open(backend);
  setTimeout(() => port.post(7, 1), 20);
  const [elapsed, got] = await timed(() => port.wait({ timeout: slack(10_000) }));
  assert.deepEqual(got.map(tuple), [[7, 1, 0, null]]);
  assert.ok(elapsed >= 15, `resolved after ${elapsed} ms`);
});

// ---------------------------------------------------------------------------
// wait() and the event loop

portTest("timers keep firing while wait() is parked", async (_t, backend) => {
  await using port = open(backend);
  let ticks = 0;
  const interval = setInterval(() => {
    if (++ticks === 5) port.post(5, ticks);
  }, 5);
  try {
    const got = await port.wait({ timeout: 30_000 });
    // Only the fifth tick posts: the loop turned five times while wait() was parked.
    assert.deepEqual(got.map(tuple), [[5, 5, 0, null]]);
    assert.ok(ticks >= 5);
  } finally {
    clearInterval(interval);
  }
});

portTest(
  "a busy port still lets the event loop turn every few milliseconds",
  async (_t, backend) => {
    // Many reads complete together, look after look: the port then looks again
    // after microtasks, not turns of the event loop, and must still give the
    // loop a turn every 5 ms (a timer chained on itself measures the gaps).
    // Two budgets see to it, the looks' and the starts' (operations started
    // for 5 ms without a turn wait for one): with neither, no timer fires
    // for the whole busy time.
    const streams = Array.from({ length: 24 }, () => openStream());
    // A read kept waiting throughout, as a server's other connections keep
    // one: the pump goes on looking between the rounds.
    const idle = openStream();
    try {
      await using port = open(backend);
      const waiting = port.read(idle.reader, new Uint8Array(1));
      const busyMs = slack(600);
      let last = performance.now();
      let worst = 0;
      let ticks = 0;
      let ticking = true;
      const tick = () => {
        const now = performance.now();
        worst = Math.max(worst, now - last);
        last = now;
        ticks++;
        if (ticking) timer = setTimeout(tick, 0);
      };
      let timer = setTimeout(tick, 0);
      let rounds = 0;
      try {
        const buffers = streams.map(() => new Uint8Array(1));
        // Every read waits, then every stream gets its byte in the same run of
        // JavaScript: the next look finds them all at once, however slow the
        // machine (an emulator's included).
        const one = new Uint8Array([7]);
        const until = performance.now() + busyMs;
        while (performance.now() < until) {
          const reads = streams.map((stream, i) => port.read(stream.reader, buffers[i]));
          const writes = streams.map((stream) => port.write(stream.writer, one));
          assert.deepEqual(await Promise.all(writes), streams.map(() => 1));
          assert.deepEqual(await Promise.all(reads), streams.map(() => 1));
          rounds++;
        }
      } finally {
        ticking = false;
        clearTimeout(timer);
        await port.write(idle.writer, new Uint8Array([1]));
        await waiting;
      }
      const busyLooks =
        (port as unknown as { coreStats: { busyLooks: number } }).coreStats.busyLooks;
      if (backend === "epoll") {
        // The engine whose completions all come through the pump's looks (io_uring
        // reaps most as it submits; IOCP under Wine finds few at a time).
        assert.ok(busyLooks > 0, `${rounds} rounds, but no look came after microtasks alone`);
      }
      assert.ok(ticks >= 3, `${ticks} timer ticks in ${busyMs} ms`);
      assert.ok(worst < busyMs / 2, `the event loop waited ${worst.toFixed(1)} ms for a turn`);
    } finally {
      for (const stream of streams) stream[Symbol.dispose]();
      idle[Symbol.dispose]();
    }
  },
);

portTest("wait() with packets already there resolves without a thread hop", async (_t, backend) => {
  await using port = open(backend);
  for (let round = 0; round < 3; round++) {
    port.post(round);
    let fired = false;
    const timer = setTimeout(() => fired = true, 0);
    const got = await port.wait();
    assert.equal(fired, false, "a 0 ms timer fired before wait() resolved");
    clearTimeout(timer);
    assert.deepEqual(got.map((c) => c.key), [round]);
  }
});

portTest("an aborted wait() rejects with the signal's exact reason", async (_t, backend) => {
  await using port = open(backend);
  const reason = new Error("stop waiting");
  const controller = new AbortController();
  const waiting = port.wait({ signal: controller.signal });
  setTimeout(() => controller.abort(reason), 10);
  await assert.rejects(waiting, (error) => error === reason);
  // The default reason (a DOMException) is handed over as is too.
  const second = new AbortController();
  const waiting2 = port.wait({ signal: second.signal, timeout: 30_000 });
  second.abort();
  await assert.rejects(waiting2, (error) => error === second.signal.reason);
  // The port is left usable: the next wait() takes the next packet.
  setTimeout(() => port.post(3), 5);
  assert.deepEqual((await port.wait({ timeout: slack(10_000) })).map((c) => c.key), [3]);
});

portTest(
  "wait() with an already-aborted signal rejects with its reason and takes nothing",
  async (_t, backend) => {
    await using port = open(backend);
    const reason = { why: "aborted before" };
    port.post(1);
    await assert.rejects(port.wait({ signal: AbortSignal.abort(reason) }), (e) => e === reason);
    assert.deepEqual(port.get(0).map((c) => c.key), [1]);
  },
);

// ---------------------------------------------------------------------------
// Busy

portTest(
  "a second wait(), and any get(), during a pending wait() are Busy",
  async (_t, backend) => {
    await using port = open(backend);
    const waiting = port.wait({ timeout: 30_000 });
    await assert.rejects(port.wait(), Deno.errors.Busy);
    await assert.rejects(port.wait({ timeout: 0 }), Deno.errors.Busy);
    assert.throws(() => port.get(10), Deno.errors.Busy);
    assert.throws(() => port.get(), Deno.errors.Busy);
    assert.throws(() => port.get(0), Deno.errors.Busy);
    port.post(8);
    assert.deepEqual((await waiting).map((c) => c.key), [8]);
    // Once it has resolved, get() may block again.
    assert.deepEqual(port.get(1), []);
  },
);

portTest(
  "get() with a timeout is Busy while a read is in flight; get(0) is allowed and returns posted packets",
  async (_t, backend) => {
    using stream = openStream();
    await using port = open(backend);
    const buffer = new Uint8Array(8);
    const reading = port.read(stream.reader, buffer);
    assert.throws(() => port.get(10), Deno.errors.Busy);
    assert.throws(() => port.get(), Deno.errors.Busy);
    assert.deepEqual(port.get(0), []);
    port.post(9, 1);
    // The parked thread or get(0) itself takes it; either way get(0) returns it.
    assert.deepEqual((await getSoon(port)).map(tuple), [[9, 1, 0, null]]);
    assert.equal(await port.write(stream.writer, new Uint8Array([4, 2])), 2);
    assert.equal(await reading, 2);
    assertBytes(buffer.subarray(0, 2), new Uint8Array([4, 2]));
    // Nothing in flight any more: get() may block again.
    assert.deepEqual(port.get(1), []);
  },
);

portTest(
  "the completion of a read that get(0) or wait() dequeued itself still lets the port close",
  async (_t, backend) => {
    // A read that completes at once may be dequeued by a synchronous
    // get(0)/wait() before the parked thread sees it. That thread must not
    // stay parked: the port could never be released.
    for (let round = 0; round < 40; round++) {
      using stream = openStream();
      const port = open(backend);
      assert.equal(await port.write(stream.writer, new Uint8Array([round, 1, 2])), 3);
      const buffer = new Uint8Array(8);
      const reading = port.read(stream.reader, buffer);
      if (round % 2 === 0) assert.deepEqual(port.get(0), []);
      else assert.deepEqual(await port.wait({ timeout: 0 }), []);
      assert.equal(await reading, 3);
      assertBytes(buffer.subarray(0, 3), new Uint8Array([round, 1, 2]));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stuck = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve("stuck"), slack(10_000));
      });
      const released = port[Symbol.asyncDispose]().then(() => "released");
      try {
        assert.equal(await Promise.race([released, stuck]), "released", `round ${round}`);
      } finally {
        clearTimeout(timer);
      }
    }
  },
);

// ---------------------------------------------------------------------------
// Streams

for (const kind of STREAM_KINDS) {
  portTest(`bytes written to a ${kind} are read from its other end`, async (_t, backend) => {
    using stream = openStream(kind);
    await using port = open(backend);
    const buffer = new Uint8Array(16);
    const reading = port.read(stream.reader, buffer);
    assert.equal(await port.write(stream.writer, new Uint8Array([1, 2, 3])), 3);
    assert.equal(await reading, 3);
    assert.deepEqual([...buffer.subarray(0, 3)], [1, 2, 3]);
    // Into the middle of a buffer: only the view's bytes change.
    const back = new Uint8Array(16).fill(0xee);
    const readingBack = port.read(stream.reader, back.subarray(5, 9));
    assert.equal(await port.write(stream.writer, new Uint8Array([9, 8, 7, 6, 5])), 5);
    assert.equal(await readingBack, 4);
    assertBytes(back.subarray(4, 10), new Uint8Array([0xee, 9, 8, 7, 6, 0xee]));
    assert.equal(await port.read(stream.reader, back), 1);
    assert.equal(back[0], 5);
    // A zero-length read or write moves nothing and does not wait.
    assert.equal(await port.read(stream.reader, new Uint8Array(0)), 0);
    assert.equal(await port.write(stream.writer, new Uint8Array(0)), 0);
  });

  portTest(
    `a large ${kind} transfer in uneven pieces arrives whole and in order`,
    async (_t, backend) => {
      using stream = openStream(kind);
      await using port = open(backend);
      const data = pattern(3 * 1024 * 1024 + 12_345, 7);
      const received = new Uint8Array(data.length);
      let reads = 0;
      const reader = (async () => {
        for (let filled = 0; filled < received.length; reads++) {
          // Reads of an odd size, straight into the right place of the result.
          const n = await port.read(
            stream.reader,
            received.subarray(filled, Math.min(filled + 65_537, received.length)),
          );
          assert.notEqual(n, null);
          filled += n!;
        }
      })();
      // Every write takes all its bytes, however small the stream's buffer.
      const writes = await Promise.all([writeAll(port, stream.writer, data, 100_003), reader]);
      assert.equal(writes[0], Math.ceil(data.length / 100_003));
      assertBytes(received, data, "received");
      assert.ok(reads >= Math.ceil(data.length / 65_537), `${reads} reads`);
    },
  );

  portTest(
    `writes started together on a ${kind} arrive whole, in the order they were started`,
    async (_t, backend) => {
      using stream = openStream(kind);
      await using port = open(backend);
      // The first is far larger than the stream holds: the others are started
      // while it still waits for room, and must not go out before it.
      const parts = [pattern(4 << 20, 11), pattern(100, 12), pattern(70_000, 13), pattern(1, 14)];
      const writes = parts.map((part) => port.write(stream.writer, part));
      const total = parts.reduce((sum, part) => sum + part.length, 0);
      const received = new Uint8Array(total);
      for (let filled = 0; filled < total;) {
        const n = await port.read(stream.reader, received.subarray(filled));
        assert.notEqual(n, null);
        filled += n!;
      }
      assert.deepEqual(await Promise.all(writes), parts.map((part) => part.length));
      for (let i = 0, at = 0; i < parts.length; at += parts[i].length, i++) {
        assertBytes(received.subarray(at, at + parts[i].length), parts[i], `write ${i}`);
      }
    },
  );

  portTest(
    `a ${kind} write aborted while an earlier one waits for room takes nothing`,
    async (_t, backend) => {
      using stream = openStream(kind);
      await using port = open(backend);
      const big = pattern(4 << 20, 15);
      const writing = port.write(stream.writer, big);
      const controller = new AbortController();
      const reason = new Error("no longer wanted");
      const behind = port.write(stream.writer, pattern(50, 16), { signal: controller.signal });
      await delay(10);
      controller.abort(reason);
      await assert.rejects(behind, (error) => error === reason);
      const received = new Uint8Array(big.length + 50);
      let filled = 0;
      while (filled < big.length) {
        const n = await port.read(stream.reader, received.subarray(filled));
        assert.notEqual(n, null);
        filled += n!;
      }
      assert.equal(await writing, big.length);
      assertBytes(received.subarray(0, filled), big, "received");
      // Nothing of the aborted write follows.
      stream.closeWriter();
      assert.equal(await port.read(stream.reader, received), null);
    },
  );

  portTest(
    `closing a ${kind}'s writing end, or the port, while writes wait their turn rejects them all`,
    async (_t, backend) => {
      for (const closing of ["writer", "port"] as const) {
        using stream = openStream(kind);
        const port = open(backend);
        // Each outcome is taken as it comes (those behind reject at once).
        const outcomes = [4 << 20, 10, 20].map((size, i) =>
          port.write(stream.writer, pattern(size, 30 + i)).then(
            (n) => `resolved with ${n}`,
            (error) => error,
          )
        );
        await delay(10);
        if (closing === "writer") stream.closeWriter();
        else port.close();
        for (const [i, outcome] of (await Promise.all(outcomes)).entries()) {
          assert.ok(
            outcome instanceof Deno.errors.Interrupted,
            `${closing}: write ${i}: ${outcome}`,
          );
        }
        await port[Symbol.asyncDispose]();
      }
    },
  );

  portTest(
    `a ${kind} read returns null once the other end is closed, also when pending`,
    async (_t, backend) => {
      {
        using stream = openStream(kind);
        await using port = open(backend);
        const buffer = new Uint8Array(16);
        const reading = port.read(stream.reader, buffer);
        await delay(20);
        stream.closeWriter();
        assert.equal(await reading, null);
      }
      {
        using stream = openStream(kind);
        await using port = open(backend);
        const buffer = new Uint8Array(16);
        assert.equal(await port.write(stream.writer, new Uint8Array([1, 2])), 2);
        stream.closeWriter();
        // What was written before the close is still read, then the end.
        assert.equal(await port.read(stream.reader, buffer), 2);
        assert.equal(await port.read(stream.reader, buffer), null);
        assert.equal(await port.read(stream.reader, buffer), null);
      }
    },
  );

  portTest(
    `a write to a ${kind} whose reading end is closed is BrokenPipe with code and errno`,
    async (_t, backend) => {
      using stream = openStream(kind);
      await using port = open(backend);
      stream.closeReader();
      const writer = stream.writer;
      await assert.rejects(port.write(writer, new Uint8Array([1])), (error: Error) => {
        assert.ok(error instanceof Deno.errors.BrokenPipe, String(error));
        const { code, errno } = error as Error & { code: string; errno: number };
        if (OS === "windows") {
          assert.ok(
            (code === "ERROR_NO_DATA" && errno === 232) ||
              (code === "ERROR_BROKEN_PIPE" && errno === 109),
            `${code} ${errno}`,
          );
        } else {
          assert.deepEqual([code, errno], ["EPIPE", 32]);
        }
        assert.ok(
          error.message.startsWith(`Cannot write to ${handleName(writer)}: `),
          error.message,
        );
        return true;
      });
    },
  );
}

// ---------------------------------------------------------------------------
// Files

portTest("a file is written and read at offsets, numbers and bigints", async (t, backend) => {
  await using port = open(backend);
  using file = openTestFile();
  const head = new TextEncoder().encode("hello world");
  const middle = pattern(1_000, 1);
  const tail = pattern(70_000, 2);
  const TAIL_AT = 1024 * 1024 - 7;

  await t.step("writes land where they were asked to", async () => {
    assert.equal(await port.write(file.handle, head, { offset: 0 }), head.length);
    assert.equal(await port.write(file.handle, middle, { offset: 4_095 }), middle.length);
    assert.equal(await port.write(file.handle, tail, { offset: BigInt(TAIL_AT) }), tail.length);
    // As the OS reads the file itself (pread on Linux, a read of the whole file on Windows).
    assertBytes(file.peek(4_095, middle.length), middle, "middle, read by the OS");
  });

  await t.step("reads them back exactly, and zeros in between", async () => {
    const five = new Uint8Array(5);
    assert.equal(await port.read(file.handle, five, { offset: 6 }), 5);
    assert.equal(new TextDecoder().decode(five), "world");
    const back = new Uint8Array(middle.length + 2);
    assert.equal(await port.read(file.handle, back, { offset: 4_094n }), back.length);
    assertBytes(back.subarray(1, -1), middle, "middle");
    assert.deepEqual([back[0], back[back.length - 1]], [0, 0]);
    const gap = new Uint8Array(4_096).fill(1);
    assert.equal(await port.read(file.handle, gap, { offset: 500_000 }), gap.length);
    assert.ok(gap.every((b) => b === 0));
    const tailBack = new Uint8Array(tail.length);
    assert.equal(await port.read(file.handle, tailBack, { offset: TAIL_AT }), tail.length);
    assertBytes(tailBack, tail, "tail");
  });

  await t.step("concurrent reads at different offsets each get their own bytes", async () => {
    const offsets = [0, 4_095, 4_500, TAIL_AT, TAIL_AT + 33_333];
    const buffers = offsets.map(() => new Uint8Array(300));
    const counts = await Promise.all(
      offsets.map((offset, i) => port.read(file.handle, buffers[i], { offset })),
    );
    assert.deepEqual(counts, offsets.map(() => 300));
    const whole = new Uint8Array(TAIL_AT + tail.length);
    whole.set(head, 0);
    whole.set(middle, 4_095);
    whole.set(tail, TAIL_AT);
    offsets.forEach((offset, i) =>
      assertBytes(buffers[i], whole.subarray(offset, offset + 300), `at ${offset}`)
    );
  });

  await t.step("a read across the end is short; at or past the end it is null", async () => {
    const end = TAIL_AT + tail.length;
    const buffer = new Uint8Array(100);
    assert.equal(await port.read(file.handle, buffer, { offset: end - 3 }), 3);
    assertBytes(buffer.subarray(0, 3), tail.subarray(-3));
    assert.equal(await port.read(file.handle, buffer, { offset: end }), null);
    assert.equal(await port.read(file.handle, buffer, { offset: end + 1_000_000 }), null);
    assert.equal(await port.read(file.handle, buffer, { offset: 2n ** 40n }), null);
  });

  await t.step("an offset is required, and a zero-length transfer moves nothing", async () => {
    await assert.rejects(port.read(file.handle, new Uint8Array(5)), TypeError);
    await assert.rejects(port.write(file.handle, new Uint8Array(5)), TypeError);
    assert.equal(await port.read(file.handle, new Uint8Array(0), { offset: 0 }), 0);
    assert.equal(await port.write(file.handle, new Uint8Array(0), { offset: 0 }), 0);
  });
});

portTest("a sparse file is written and read above 4 GiB", async (t, backend) => {
  using file = openTestFile({ sparse: true });
  // Without a sparse file a write above 4 GiB would fill 4 GiB of zeros.
  await t.step({
    name: "writes and reads at offsets above 2^32 (ignored where the file cannot be sparse)",
    ignore: !file.sparse,
    async fn() {
      await using port = open(backend);
      const low = pattern(10, 3);
      const high = pattern(5_000, 4);
      const HIGH_AT = 2 ** 32 + 4_093; // crosses the 2^32 + 2^12 page: the high word is 1
      assert.equal(await port.write(file.handle, low, { offset: 2 ** 32 - 5 }), low.length);
      assert.equal(await port.write(file.handle, high, { offset: BigInt(HIGH_AT) }), high.length);
      const lowBack = new Uint8Array(low.length);
      assert.equal(await port.read(file.handle, lowBack, { offset: 2n ** 32n - 5n }), 10);
      assertBytes(lowBack, low, "across 2^32");
      const highBack = new Uint8Array(high.length + 10);
      assert.equal(
        await port.read(file.handle, highBack, { offset: HIGH_AT - 5 }),
        high.length + 5,
      );
      assertBytes(highBack.subarray(5, 5 + high.length), high, "above 2^32");
      // The low 32 bits alone would name offset 4_093 (a hole of zeros).
      const aliased = new Uint8Array(16).fill(1);
      assert.equal(await port.read(file.handle, aliased, { offset: 4_093 }), 16);
      assert.ok(aliased.every((b) => b === 0));
      assert.equal(await port.read(file.handle, aliased, { offset: HIGH_AT + high.length }), null);
    },
  });
});

portTest("writes at many offsets in flight at once all land", async (_t, backend) => {
  await using port = open(backend);
  using file = openTestFile();
  const COUNT = 32;
  const SIZE = 3_000;
  const chunks = Array.from({ length: COUNT }, (_, i) => pattern(SIZE, 100 + i));
  // Written in reverse order, each at its own place.
  const written = await Promise.all(
    chunks.map((_, j) => {
      const i = COUNT - 1 - j;
      return port.write(file.handle, chunks[i], { offset: i * SIZE });
    }),
  );
  assert.deepEqual(written, chunks.map(() => SIZE));
  const whole = new Uint8Array(COUNT * SIZE + 1);
  assert.equal(await port.read(file.handle, whole, { offset: 0 }), COUNT * SIZE);
  chunks.forEach((chunk, i) => assertBytes(whole.subarray(i * SIZE, (i + 1) * SIZE), chunk));
});

// ---------------------------------------------------------------------------
// Cancellation

portTest(
  "a pending stream read aborted by a signal rejects with the exact reason and takes nothing",
  async (_t, backend) => {
    using stream = openStream();
    await using port = open(backend);
    const reason = new Error("no longer wanted");
    const controller = new AbortController();
    const reading = port.read(stream.reader, new Uint8Array(8), { signal: controller.signal });
    await delay(20);
    controller.abort(reason);
    await assert.rejects(reading, (error) => error === reason);
    // Nothing was taken from the stream: the next read gets the next bytes whole.
    const buffer = new Uint8Array(8);
    const next = port.read(stream.reader, buffer);
    assert.equal(await port.write(stream.writer, new Uint8Array([1, 2, 3])), 3);
    assert.equal(await next, 3);
    assertBytes(buffer.subarray(0, 3), new Uint8Array([1, 2, 3]));
  },
);

portTest(
  "a read aborted as its bytes arrive either resolves with them or leaves them for the next read",
  async (_t, backend) => {
    using stream = openStream();
    await using port = open(backend);
    for (let round = 0; round < 8; round++) {
      const controller = new AbortController();
      const reason = new Error("too late");
      const buffer = new Uint8Array(8);
      const reading = port.read(stream.reader, buffer, { signal: controller.signal });
      await delay(5);
      const bytes = new Uint8Array([round, 2, 3, 4]);
      const writing = port.write(stream.writer, bytes);
      controller.abort(reason);
      const outcome = await reading.then((n) => n, (error) => error);
      assert.equal(await writing, 4);
      if (outcome === reason) {
        // Really cancelled: the bytes are still there.
        assert.deepEqual(await readExactly(port, stream.reader, 4), bytes, `round ${round}`);
      } else {
        assert.equal(outcome, 4, `round ${round}`);
        assertBytes(buffer.subarray(0, 4), bytes);
      }
      // On Windows WriteFile satisfies the pending read before the abort.
      if (backend === "iocp") assert.equal(outcome, 4, `round ${round}`);
    }
  },
);

portTest(
  "a read whose bytes are already there resolves with them, though aborted at once",
  async (_t, backend) => {
    using stream = openStream();
    await using port = open(backend);
    assert.equal(await port.write(stream.writer, new Uint8Array([5, 6, 7])), 3);
    const controller = new AbortController();
    const buffer = new Uint8Array(8);
    const reading = port.read(stream.reader, buffer, { signal: controller.signal });
    controller.abort(new Error("too late"));
    assert.equal(await reading, 3);
    assertBytes(buffer.subarray(0, 3), new Uint8Array([5, 6, 7]));
  },
);

portTest(
  "a read or write with an already-aborted signal rejects with its reason and moves nothing",
  async (_t, backend) => {
    using stream = openStream();
    await using port = open(backend);
    assert.equal(await port.write(stream.writer, new Uint8Array([7, 8])), 2);
    const reason = new RangeError("before it started");
    const buffer = new Uint8Array(8);
    await assert.rejects(
      port.read(stream.reader, buffer, { signal: AbortSignal.abort(reason) }),
      (error) => error === reason,
    );
    await assert.rejects(
      port.write(stream.writer, buffer, { signal: AbortSignal.abort(reason) }),
      (error) => error === reason,
    );
    assert.equal(await port.read(stream.reader, buffer), 2);
    assertBytes(buffer.subarray(0, 2), new Uint8Array([7, 8]));
  },
);

for (const kind of STREAM_KINDS) {
  portTest(
    `a ${kind} write aborted after part of its bytes went out resolves with the bytes written`,
    async (_t, backend) => {
      using stream = openStream(kind);
      await using port = open(backend);
      // Far more than the stream holds, and nobody reads: part goes out, the rest waits.
      const data = pattern(8 * 1024 * 1024, 11);
      const controller = new AbortController();
      const writing = port.write(stream.writer, data, { signal: controller.signal });
      await delay(50);
      controller.abort(new Error("enough"));
      // Bytes that went out are never reported as not sent: it resolves with their count.
      const written = await writing;
      assert.ok(written > 0 && written < data.length, `written ${written}`);
      const back = new Uint8Array(written);
      for (let got = 0; got < written;) {
        got += (await port.read(stream.reader, back.subarray(got), {
          signal: AbortSignal.timeout(SLACK_MS),
        }))!;
      }
      assertBytes(back, data.subarray(0, written));
      // And nothing more came.
      const more = new AbortController();
      const reading = port.read(stream.reader, new Uint8Array(16), { signal: more.signal });
      await delay(20);
      more.abort(new Error("nothing more"));
      await assert.rejects(reading, /nothing more/);
    },
  );
}

// ---------------------------------------------------------------------------
// close()

portTest(
  "close() with operations in flight: they reject Interrupted, a pending wait() gets [], and asyncDispose waits for them",
  async (_t, backend) => {
    using readStream = openStream();
    using writeStream = openStream();
    const events: string[] = [];
    let reading: Promise<unknown>;
    let writing: Promise<unknown>;
    let waiting: Promise<Completion[]>;
    let port: CompletionPort;
    {
      await using p = open(backend);
      port = p;
      reading = p.read(readStream.reader, new Uint8Array(64)).then(
        (n) => events.push(`read resolved ${n}`),
        (error) => {
          events.push("read rejected");
          return error;
        },
      );
      // More than the stream holds, and nobody reads: the write stays pending.
      writing = p.write(writeStream.writer, new Uint8Array(8 * 1024 * 1024)).then(
        (n) => events.push(`write resolved ${n}`),
        (error) => {
          events.push("write rejected");
          return error;
        },
      );
      waiting = p.wait().then((got) => {
        events.push("wait resolved");
        return got;
      });
      await delay(20);
      assert.equal(events.length, 0, events.join());
      // The end of this block closes the port and awaits its release.
    }
    events.push("disposed");
    assert.equal(port.closed, true);
    assert.deepEqual(await waiting, []);
    const readError = await reading;
    const writeError = await writing;
    assert.ok(readError instanceof Deno.errors.Interrupted, String(readError));
    assert.ok(writeError instanceof Deno.errors.Interrupted, String(writeError));
    assert.match((readError as Error).message, /the completion port was closed$/);
    assert.equal(events[0], "wait resolved");
    assert.deepEqual(events.slice(1, 3).sort(), ["read rejected", "write rejected"]);
    assert.equal(events[3], "disposed");
  },
);

portTest("close() resolves a pending wait() with [] and is idempotent", async (_t, backend) => {
  const port = open(backend);
  const waiting = port.wait();
  port.close();
  assert.equal(port.closed, true);
  assert.deepEqual(await waiting, []);
  port.close();
  port[Symbol.dispose]();
  await port[Symbol.asyncDispose]();
  await port[Symbol.asyncDispose]();
});

portTest("every method of a closed port throws or rejects BadResource", async (_t, backend) => {
  using stream = openStream();
  const port = open(backend);
  port.post(1); // a packet left behind is dropped with the port
  await port[Symbol.asyncDispose]();
  assert.equal(port.closed, true);
  assert.equal(port.backend, backend);
  const closed = (error: unknown) => {
    assert.ok(error instanceof Deno.errors.BadResource, String(error));
    assert.match((error as Error).message, /the completion port is closed$/);
    return true;
  };
  assert.throws(() => port.associate(stream.reader, 1), closed);
  assert.throws(() => port.post(1), closed);
  assert.throws(() => port.get(0), closed);
  assert.throws(() => port.get(), closed);
  await assert.rejects(port.wait(), closed);
  await assert.rejects(port.wait({ timeout: 0 }), closed);
  await assert.rejects(port.read(stream.reader, new Uint8Array(4)), closed);
  await assert.rejects(port.write(stream.writer, new Uint8Array(4)), closed);
  port.close();
});

// ---------------------------------------------------------------------------
// Argument errors and OS errors

portTest("bad arguments are TypeError or RangeError, before any I/O", async (t, backend) => {
  using stream = openStream();
  using file = openTestFile();
  await using port = open(backend);
  const h = stream.reader;
  const any = port as unknown as Record<string, (...args: unknown[]) => unknown>;

  await t.step("keys", () => {
    for (const key of [-1, 1.5, 2 ** 53, NaN, Infinity, "1", 1n, undefined, null]) {
      assert.throws(() => any.post.call(port, key), RangeError, `post(${String(key)})`);
      assert.throws(() => any.associate.call(port, h, key), RangeError, `key ${String(key)}`);
    }
  });

  await t.step("byte counts and posted pointers", () => {
    for (const bytes of [-1, 2 ** 32, 1.5, NaN, "1"]) {
      assert.throws(() => any.post.call(port, 1, bytes), RangeError, `bytes ${String(bytes)}`);
    }
    for (const overlapped of [5, "x", 5n, true]) {
      assert.throws(() => any.post.call(port, 1, 0, overlapped), TypeError);
    }
  });

  await t.step("timeouts", async () => {
    for (const timeout of [NaN, "10", null, 10n, {}]) {
      assert.throws(() => any.get.call(port, timeout), TypeError, `get(${String(timeout)})`);
      await assert.rejects(port.wait({ timeout } as never), TypeError);
    }
    await assert.rejects(port.wait("soon" as never), TypeError);
    await assert.rejects(port.wait({ signal: {} } as never), TypeError);
  });

  await t.step("buffers", async () => {
    const sab = new Uint8Array(new SharedArrayBuffer(8));
    const resizable = new Uint8Array(new ArrayBuffer(8, { maxByteLength: 16 }));
    const detached = new Uint8Array(8);
    detached.buffer.transfer();
    for (
      const buffer of [
        new ArrayBuffer(8),
        new Uint16Array(4),
        new Int8Array(8),
        new DataView(new ArrayBuffer(8)),
        [1, 2],
        "bytes",
        null,
        undefined,
        sab,
        resizable,
        detached,
      ]
    ) {
      await assert.rejects(any.read.call(port, h, buffer) as Promise<unknown>, TypeError);
      await assert.rejects(any.write.call(port, h, buffer) as Promise<unknown>, TypeError);
    }
  });

  await t.step("offsets", async () => {
    const buffer = new Uint8Array(4);
    // Missing on a file; given on a stream.
    await assert.rejects(port.read(file.handle, buffer), /offset is required/);
    await assert.rejects(port.write(file.handle, buffer), TypeError);
    await assert.rejects(port.read(h, buffer, { offset: 0 }), /offset must be omitted/);
    await assert.rejects(port.write(h, buffer, { offset: 0n }), TypeError);
    // Out of range or of the wrong type.
    for (const offset of [-1, -1n, 1.5, 2 ** 53, 2n ** 63n, NaN]) {
      await assert.rejects(port.read(file.handle, buffer, { offset }), RangeError, String(offset));
    }
    for (const offset of ["0", null, {}]) {
      await assert.rejects(port.read(file.handle, buffer, { offset } as never), TypeError);
    }
    await assert.rejects(port.read(h, buffer, "x" as never), TypeError);
    await assert.rejects(port.read(h, buffer, { signal: "x" } as never), TypeError);
  });

  await t.step("handles", async () => {
    // 0 is a HANDLE nobody has on Windows, but stdin on Linux; a pointer is no fd.
    const bad = OS === "windows"
      ? [0, -1, 1.5, NaN, "handle", undefined, null, true, 2 ** 53]
      : [-1, 1.5, NaN, "handle", undefined, null, true, 2 ** 53, Deno.UnsafePointer.create(5n)];
    for (const handle of bad) {
      await assert.rejects(
        any.read.call(port, handle, new Uint8Array(4)) as Promise<unknown>,
        TypeError,
        `handle ${typeof handle === "object" && handle !== null ? "pointer" : String(handle)}`,
      );
      assert.throws(() => any.associate.call(port, handle, 1), TypeError);
    }
  });

  await t.step("options of openCompletionPort()", () => {
    assert.throws(() => openCompletionPort({ concurrency: -1 }), RangeError);
    assert.throws(() => openCompletionPort({ concurrency: 1.5 }), RangeError);
    assert.throws(() => openCompletionPort({ backend: "kqueue" as never }), TypeError);
  });

  await t.step("the port still works after all of that", async () => {
    port.post(77, 1);
    assert.deepEqual(port.get(1_000).map(tuple), [[77, 1, 0, null]]);
    const buffer = new Uint8Array(4);
    const reading = port.read(h, buffer);
    assert.equal(await port.write(stream.writer, new Uint8Array([3])), 1);
    assert.equal(await reading, 1);
  });
});

/** Checks the error of a handle that is not open: BadResource with the OS's code. */
function notOpen(error: unknown): true {
  assert.ok(error instanceof Deno.errors.BadResource, String(error));
  const { code, errno } = error as Error & { code: string; errno: number };
  assert.deepEqual({ code, errno }, ERRORS.badHandle);
  assert.ok(
    (error as Error).message.endsWith(`: ${code} (os error ${errno})`),
    (error as Error).message,
  );
  return true;
}

portTest("a closed handle is BadResource with the OS's code and errno", async (_t, backend) => {
  await using port = open(backend);
  const stream = openStream();
  const { reader, writer } = stream;
  stream[Symbol.dispose]();
  await assert.rejects(port.read(reader, new Uint8Array(4)), notOpen);
  await assert.rejects(port.write(writer, new Uint8Array(4)), notOpen);
  assert.throws(() => port.associate(writer, 1), notOpen);
});

portTest(
  "a closed handle the port has already used fails its read with the OS's code",
  async (_t, backend) => {
    await using port = open(backend);
    const stream = openStream();
    const reading = port.read(stream.reader, new Uint8Array(4));
    assert.equal(await port.write(stream.writer, new Uint8Array([1])), 1);
    assert.equal(await reading, 1);
    const reader = stream.reader;
    stream[Symbol.dispose]();
    await assert.rejects(port.read(reader, new Uint8Array(4)), (error) => {
      assert.ok((error as Error).message.startsWith(`Cannot read from ${handleName(reader)}: `));
      return notOpen(error);
    });
  },
);

portTest(
  "handle values reused after the helpers closed their handles work on the same port",
  async (_t, backend) => {
    await using port = open(backend);
    // Kinds alternate, so a reused value names a different kind of handle.
    for (let round = 0; round < 6; round++) {
      using stream = openStream(STREAM_KINDS[round % STREAM_KINDS.length]);
      const buffer = new Uint8Array(4);
      const reading = port.read(stream.reader, buffer);
      assert.equal(await port.write(stream.writer, new Uint8Array([round])), 1);
      assert.equal(await reading, 1);
      assert.equal(buffer[0], round);
      if (round % 3 === 2) {
        using file = openTestFile();
        assert.equal(await port.write(file.handle, new Uint8Array([round]), { offset: 3 }), 1);
        assert.equal(await port.read(file.handle, buffer, { offset: 3 }), 1);
        assert.equal(buffer[0], round);
      }
    }
  },
);

// ---------------------------------------------------------------------------
// Garbage collection

/**
 * Rounds of junk and a full gc() in the test below: 6, or as few as 2 (junk
 * kept, then junk dropped) on a slow machine. Under qemu-user a full
 * collection in the test runner takes seconds, about 100 times native,
 * several times the calibration's slowdown (the emulator likely translates
 * again the compiled code that the collector moves).
 */
const GC_ROUNDS = Math.max(2, Math.min(6, Math.round(6 / slowdown())));

portTest(
  "buffers referenced only by the port survive gc() while 64 stream reads are pending",
  async (_t, backend) => {
    const gc = await exposedGc();
    const PAIRS = 64;
    const SIZES = [1, 7, 16, 31, 32, 48, 64, 65, 100, 1_000, 4_096, 65_536];
    const sizeOf = (i: number) => SIZES[i % SIZES.length];
    const payloadOf = (i: number) => pattern(sizeOf(i), 1_000 + i);
    const streams = Array.from({ length: PAIRS }, () => openStream());
    try {
      await using port = open(backend);
      // The buffers are made here and handed to the port only: the test
      // keeps weak references, and the read promises, which do not hold them.
      const start = () => {
        const refs: WeakRef<Uint8Array>[] = [];
        const reads = streams.map((stream, i) => {
          const buffer = new Uint8Array(sizeOf(i));
          refs.push(new WeakRef(buffer));
          return port.read(stream.reader, buffer);
        });
        return { refs, reads };
      };
      const { refs, reads } = start();
      // Should an assertion fail first, closing the port rejects these: not unhandled.
      for (const read of reads) read.catch(() => {});
      let junk: unknown[] = [];
      for (let round = 0; round < GC_ROUNDS; round++) {
        // A new task: WeakRef targets are no longer kept alive for the last one.
        await delay(1);
        for (let k = 0; k < 20_000; k++) junk.push(new Uint8Array(k % 97), { k });
        if (round % 2 === 1) junk = [];
        gc();
      }
      junk = [];
      await delay(1);
      gc();
      const alive = refs.filter((ref) => ref.deref() !== undefined).length;
      assert.equal(alive, PAIRS, "the port let buffers of pending reads be collected");
      // Now the bytes: taken from here on, and collected again meanwhile.
      const buffers = refs.map((ref) => ref.deref()!);
      const writes = streams.map((stream, i) => port.write(stream.writer, payloadOf(i)));
      gc();
      assert.deepEqual(await Promise.all(writes), streams.map((_, i) => sizeOf(i)));
      assert.deepEqual(await Promise.all(reads), streams.map((_, i) => sizeOf(i)));
      gc();
      buffers.forEach((buffer, i) => assertBytes(buffer, payloadOf(i), `stream ${i}`));
    } finally {
      for (const stream of streams) stream[Symbol.dispose]();
    }
  },
);

// ---------------------------------------------------------------------------
// An idle port

portTest(
  "an idle port keeps no process alive, also after operations went through it",
  async (_t, backend) => {
    const mod = new URL("../../mod.ts", import.meta.url).href;
    const [opening, start] = OS === "windows"
      ? [
        "const pipe = openNamedPipePair();",
        "const [reader, writer] = [pipe.server.handle, pipe.client.handle];",
      ]
      : ["const pipe = openPipe();", "const [reader, writer] = [pipe.reader.fd, pipe.writer.fd];"];
    const code = `
    import { listenTcp, openCompletionPort, openNamedPipePair, openPipe } from "${mod}";
    const port = openCompletionPort({ backend: "${backend}" }); // never closed
    ${opening}
    ${start}
    const reading = port.read(reader, new Uint8Array(4));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await port.write(writer, new Uint8Array([1]));
    console.log("read", await reading);
    const listener = listenTcp({ port: 0 });
    const accepting = port.accept(listener);
    const conn = await port.connect({ port: listener.addr.port });
    await accepting;
    const cancelled = port.read(conn.fd, new Uint8Array(1), { signal: AbortSignal.timeout(10) });
    console.log("cancelled", await cancelled.catch((e) => e.name));
    port.post(1);
    console.log("posted", port.get(0).length);
  `;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-ffi", "-"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(code));
    await writer.close();
    // Exiting by itself is the point; a process kept alive is killed after a while and fails.
    const timer = setTimeout(() => child.kill(), slack(20_000));
    const { code: status, stdout, stderr } = await child.output();
    clearTimeout(timer);
    assert.equal(
      new TextDecoder().decode(stdout),
      "read 1\ncancelled TimeoutError\nposted 1\n",
      new TextDecoder().decode(stderr),
    );
    assert.equal(status, 0, new TextDecoder().decode(stderr));
  },
);

// ---------------------------------------------------------------------------
// Linux: eventfds and associate()

linuxPortTest("an eventfd's counter is read and added to through the port", async (_t, backend) => {
  using efd = openEventFd({ initial: 0 });
  await using port = open(backend);
  const value = new BigUint64Array(1);
  const bytes = new Uint8Array(value.buffer);
  // Pending until the counter is not zero.
  const reading = port.read(efd.fd, bytes);
  await delay(20);
  efd.add(5);
  assert.equal(await reading, 8);
  assert.equal(value[0], 5n);
  // An 8-byte write adds its value.
  value[0] = 41n;
  assert.equal(await port.write(efd.fd, bytes), 8);
  efd.add(1);
  assert.equal(efd.take(), 42);
  // Fewer than 8 bytes: EINVAL, as read(2) says.
  efd.add(1);
  await assert.rejects(port.read(efd.fd, new Uint8Array(4)), (error: Error) => {
    assert.ok(error instanceof TypeError, String(error));
    assert.equal((error as Error & { code: string }).code, "EINVAL");
    assert.equal((error as Error & { errno: number }).errno, 22);
    assert.match(error.message, new RegExp(`^Cannot read from fd ${efd.fd}: EINVAL`));
    return true;
  });
});

linuxPortTest(
  "associate() checks that the fd is open and may be called again with another key",
  async (_t, backend) => {
    await using port = open(backend);
    using pipe = openPipe();
    port.associate(pipe.reader.fd, 1);
    port.associate(pipe.reader.fd, 2);
    port.associate(0, 3); // stdin is an fd like any other
    const fd = pipe.writer.fd;
    pipe.writer.close();
    assert.throws(() => port.associate(fd, 1), (error: Error) => {
      assert.match(
        error.message,
        new RegExp(`^Cannot associate fd ${fd} with the completion port`),
      );
      return notOpen(error);
    });
    // Associated or not, operations work the same.
    const pair = openPipe();
    try {
      const reading = port.read(pair.reader.fd, new Uint8Array(4));
      assert.equal(await port.write(pair.writer.fd, new Uint8Array([1, 2])), 2);
      assert.equal(await reading, 2);
    } finally {
      pair.close();
    }
  },
);

linuxPortTest(
  "associate() learns what an fd number names now, after a close behind the port's back",
  async (_t, backend) => {
    await using port = open(backend);
    const libc = Deno.dlopen("libc.so.6", TEST_LIBC);
    try {
      const tmp = new TextEncoder().encode("/tmp\0");
      const first = libc.symbols.open(tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0o600);
      assert.ok(first >= 0);
      assert.equal(await port.write(first, new Uint8Array([1, 2]), { offset: 0 }), 2);
      libc.symbols.close(first); // behind the port's back
      // The number goes to a pipe now: associate() asks the kernel again.
      const pipe = openPipe();
      try {
        const number = pipe.reader.fd === first ? pipe.reader : pipe.writer;
        assert.equal(number.fd, first, "the lowest free fd number is handed out again");
        port.associate(first, 1);
        if (number === pipe.reader) {
          const reading = port.read(first, new Uint8Array(4));
          assert.equal(await port.write(pipe.writer.fd, new Uint8Array([9])), 1);
          assert.equal(await reading, 1);
        } else {
          assert.equal(await port.write(first, new Uint8Array([9])), 1);
          assert.equal(pipe.reader.tryRead(new Uint8Array(4)), 1);
        }
      } finally {
        pipe.close();
      }
    } finally {
      libc.close();
    }
  },
);

// ---------------------------------------------------------------------------
// Sockets

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

for (const hostname of ["127.0.0.1", "::1"]) {
  portTest(
    `TCP echo over ${hostname} round-trips exact bytes, then 1 MiB in full`,
    async (_t, backend) => {
      await using port = open(backend);
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
      // Each write took all its bytes.
      assert.equal(writes, 11);
      assertBytes(back, big, "echoed");
      await echoing;
    },
  );
}

portTest("eight connections at once each get their own bytes back", async (_t, backend) => {
  await using port = open(backend);
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
    assertBytes(back, message, `connection ${i}`);
  }));
  await serving;
});

portTest(
  "a socket read returns null (end of stream) after the peer's shutdown('write')",
  async (_t, backend) => {
    await using port = open(backend);
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
  },
);

portTest("a socket write after shutdown('write') is BrokenPipe", async (_t, backend) => {
  await using port = open(backend);
  using listener = listenTcp({ port: 0 });
  const [client, server] = await connectedPair(port, listener);
  using _client = client;
  using _server = server;
  client.shutdown();
  await assert.rejects(port.write(client.fd, new Uint8Array([1])), (error: Error) => {
    assert.ok(error instanceof Deno.errors.BrokenPipe, String(error));
    assert.ok(
      error.message.startsWith(
        `Cannot write to ${socketName(client)}: ${ERRORS.writeAfterShutdown}`,
      ),
      error.message,
    );
    return true;
  });
});

for (const hostname of ["127.0.0.1", "::1"]) {
  portTest(
    `connecting to a closed port on ${hostname} is ConnectionRefused`,
    async (_t, backend) => {
      await using port = open(backend);
      const closed = closedPort(hostname);
      const where = hostname.includes(":") ? `[${hostname}]:${closed}` : `${hostname}:${closed}`;
      await assert.rejects(port.connect({ hostname, port: closed }), (error: Error) => {
        assert.ok(error instanceof Deno.errors.ConnectionRefused, String(error));
        const { code, errno } = ERRORS.refused;
        assert.equal(error.message, `Cannot connect to ${where}: ${code} (os error ${errno})`);
        assert.equal((error as Error & { code: string }).code, code);
        assert.equal((error as Error & { errno: number }).errno, errno);
        return true;
      });
    },
  );
}

portTest(
  "bad ports and hostnames are RangeError and TypeError before any system call",
  async (_t, backend) => {
    const port = open(backend);
    port.close(); // a closed port would be BadResource: the arguments are checked first
    for (const bad of [-1, 65536, 1.5, NaN, Infinity, "80", undefined]) {
      assert.throws(() => listenTcp({ port: bad as number }), RangeError);
      await assert.rejects(port.connect({ port: bad as number }), RangeError);
    }
    for (const bad of ["example.com", "127.0.0.256", "01.2.3.4", "1::2::3", "", "::1%eth0", 7]) {
      assert.throws(() => listenTcp({ hostname: bad as string, port: 0 }), TypeError);
      await assert.rejects(port.connect({ hostname: bad as string, port: 1 }), TypeError);
    }
    // @ts-expect-error: not a listener
    await assert.rejects(port.accept({}), TypeError);
    await assert.rejects(port.connect(null as never), TypeError);
    await assert.rejects(port.connect({ port: 1 }, { signal: 1 } as never), TypeError);
    await assert.rejects(port.connect({ port: 1 }), Deno.errors.BadResource);
  },
);

portTest(
  "an accept cancelled by a signal rejects with its reason; the listener still accepts",
  async (_t, backend) => {
    await using port = open(backend);
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

portTest(
  "a socket read cancelled by a signal rejects with its reason and takes no bytes",
  async (_t, backend) => {
    await using port = open(backend);
    using listener = listenTcp({ port: 0 });
    const [client, server] = await connectedPair(port, listener);
    using _client = client;
    using _server = server;
    const controller = new AbortController();
    const reading = port.read(server.fd, new Uint8Array(4), { signal: controller.signal });
    await delay(10);
    controller.abort();
    await assert.rejects(reading, (error: Error) => error.name === "AbortError");
    await port.write(client.fd, new Uint8Array([1, 2, 3]));
    assert.deepEqual([...await readExactly(port, server.fd, 3)], [1, 2, 3]);
  },
);

portTest(
  "closing the port with an accept in flight rejects it with Interrupted",
  async (_t, backend) => {
    const port = open(backend);
    using listener = listenTcp({ port: 0 });
    const accepting = port.accept(listener);
    await delay(10);
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
  },
);

portTest(
  "closing the port with a socket read in flight rejects it with Interrupted",
  async (_t, backend) => {
    const port = open(backend);
    using listener = listenTcp({ port: 0 });
    const [client, server] = await connectedPair(port, listener);
    using _client = client;
    using _server = server;
    const reading = port.read(server.fd, new Uint8Array(4));
    await delay(10);
    port.close();
    await assert.rejects(reading, Deno.errors.Interrupted);
    await port[Symbol.asyncDispose]();
    // The port is gone: its sockets are not usable through it.
    await assert.rejects(port.read(server.fd, new Uint8Array(4)), Deno.errors.BadResource);
  },
);

portTest(
  "closing a connection or a listener with an operation in flight rejects it with Interrupted",
  async (_t, backend) => {
    await using port = open(backend);
    const listener = listenTcp({ port: 0 });
    const [client, server] = await connectedPair(port, listener);
    using _client = client;
    const reading = port.read(server.fd, new Uint8Array(4));
    await delay(10);
    server.close();
    await assert.rejects(reading, Deno.errors.Interrupted);
    const accepting = port.accept(listener);
    await delay(10);
    listener.close();
    await assert.rejects(accepting, Deno.errors.Interrupted);
  },
);

portTest("a reset by the peer is ConnectionReset", async (_t, backend) => {
  await using port = open(backend);
  using listener = listenTcp({ port: 0 });
  const [client, server] = await connectedPair(port, listener);
  using _server = server;
  const reading = port.read(server.fd, new Uint8Array(4));
  await delay(10); // the read is pending when the reset comes
  lingerZero(client);
  client.close();
  await assert.rejects(reading, (error: Error) => {
    assert.ok(error instanceof Deno.errors.ConnectionReset, String(error));
    const { code, errno } = error as Error & { code: string; errno: number };
    assert.deepEqual({ code, errno }, ERRORS.reset);
    return true;
  });
});

portTest(
  "sockets and listeners close cleanly, once, and refuse use afterwards",
  async (_t, backend) => {
    await using port = open(backend);
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
  },
);
