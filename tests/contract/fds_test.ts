// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The fd helpers (openPipe, openSocketPair, openEventFd) on real fds and
 * the real kernel: what tryRead/tryWrite return, the errors they raise,
 * closing, and the flags the fds are opened with.
 */

import assert from "node:assert/strict";
import { type NonblockingFd, openEventFd, openPipe, openSocketPair } from "../../mod.ts";
import { assertNoNewFds, bad, linuxTest, openFds, settledFds, withLibc } from "../_helpers/mod.ts";
import {
  F_GETFD,
  F_GETFL,
  F_GETPIPE_SZ,
  FD_CLOEXEC,
  O_NONBLOCK,
  PIPE_BUF,
} from "../../ffi/libc.ts";

/** libc calls the tests make themselves, to look at the fds from outside. */
const TEST_LIBC = {
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;
type TestLibc = Deno.DynamicLibrary<typeof TEST_LIBC>["symbols"];

/** Runs `fn` with the test's own libc, closed afterwards. */
function withTestLibc<R>(fn: (libc: TestLibc) => R): R {
  return withLibc(TEST_LIBC, fn);
}

// deno-lint-ignore no-explicit-any
type ErrorClass = new (...args: any[]) => Error;

/** Asserts that `fn` throws exactly `Class` with a message matching `message`, and `code`/`errno` if given. */
function assertThrowsExactly(
  fn: () => unknown,
  Class: ErrorClass,
  message: RegExp,
  os?: { code: string; errno: number },
): void {
  assert.throws(fn, (error) => {
    assert.ok(error instanceof Error, `expected an Error, got ${String(error)}`);
    assert.equal(
      Object.getPrototypeOf(error),
      Class.prototype,
      `expected ${Class.name}, got ${error.constructor.name}: ${error.message}`,
    );
    assert.match(error.message, message);
    const { code, errno } = error as Error & { code?: unknown; errno?: unknown };
    if (os === undefined) {
      assert.equal(Object.hasOwn(error, "code"), false, `unexpected code ${String(code)}`);
      assert.equal(Object.hasOwn(error, "errno"), false, `unexpected errno ${String(errno)}`);
    } else {
      assert.equal(code, os.code);
      assert.equal(errno, os.errno);
    }
    return true;
  });
}

linuxTest(
  "a pipe reads 0 while empty, the bytes written, then null once the writer is closed",
  () => {
    using pipe = openPipe();
    const buffer = new Uint8Array(8);
    assert.equal(pipe.reader.tryRead(buffer), 0);
    assert.equal(pipe.reader.tryRead(buffer), 0); // still nothing, still no error
    assert.equal(pipe.writer.tryWrite(new Uint8Array([1, 2, 3, 4, 5])), 5);
    assert.equal(pipe.reader.tryRead(buffer.subarray(0, 3)), 3);
    assert.deepEqual([...buffer.subarray(0, 3)], [1, 2, 3]);
    assert.equal(pipe.reader.tryRead(buffer), 2);
    assert.deepEqual([...buffer.subarray(0, 2)], [4, 5]);
    assert.equal(pipe.reader.tryRead(buffer), 0);
    // Bytes written before the close are still read; then end of stream, for good.
    assert.equal(pipe.writer.tryWrite(new Uint8Array([9])), 1);
    pipe.writer.close();
    assert.equal(pipe.reader.tryRead(buffer), 1);
    assert.equal(buffer[0], 9);
    assert.equal(pipe.reader.tryRead(buffer), null);
    assert.equal(pipe.reader.tryRead(buffer), null);
  },
);

linuxTest(
  "a socket reads 0 while empty, the bytes sent, then null after the peer shuts down writing",
  () => {
    using pair = openSocketPair();
    const buffer = new Uint8Array(8);
    assert.equal(pair.second.tryRead(buffer), 0);
    assert.equal(pair.first.tryWrite(new Uint8Array([1, 2, 3])), 3);
    assert.equal(pair.second.tryRead(buffer), 3);
    assert.deepEqual([...buffer.subarray(0, 3)], [1, 2, 3]);
    assert.equal(pair.second.tryRead(buffer), 0);
    assert.equal(pair.first.tryWrite(new Uint8Array([4])), 1);
    pair.first.shutdown("write");
    assert.equal(pair.second.tryRead(buffer), 1);
    assert.equal(buffer[0], 4);
    assert.equal(pair.second.tryRead(buffer), null);
    assert.equal(pair.second.tryRead(buffer), null);
    // A half-close: the other direction still carries data.
    assert.equal(pair.first.tryRead(buffer), 0);
    assert.equal(pair.second.tryWrite(new Uint8Array([5, 6])), 2);
    assert.equal(pair.first.tryRead(buffer), 2);
    assert.deepEqual([...buffer.subarray(0, 2)], [5, 6]);
    // Writing after shutdown("write") is a broken pipe.
    assertThrowsExactly(
      () => pair.first.tryWrite(new Uint8Array([7])),
      Deno.errors.BrokenPipe,
      new RegExp(`^Cannot write to fd ${pair.first.fd}: EPIPE \\(os error 32\\)$`),
      { code: "EPIPE", errno: 32 },
    );
  },
);

linuxTest("a socket reads null once the peer is closed, and its writes are a broken pipe", () => {
  using pair = openSocketPair();
  pair.second.close();
  assert.equal(pair.first.tryRead(new Uint8Array(4)), null);
  assertThrowsExactly(
    () => pair.first.tryWrite(new Uint8Array([1])),
    Deno.errors.BrokenPipe,
    new RegExp(`^Cannot write to fd ${pair.first.fd}: EPIPE \\(os error 32\\)$`),
    { code: "EPIPE", errno: 32 },
  );
});

linuxTest(
  "a socket whose peer closed with data unread gets ConnectionReset once, then end of stream",
  () => {
    // Linux AF_UNIX: closing a stream socket with unread data sets ECONNRESET on the peer.
    using pair = openSocketPair();
    assert.equal(pair.first.tryWrite(new Uint8Array([1, 2, 3])), 3);
    pair.second.close();
    assertThrowsExactly(
      () => pair.first.tryRead(new Uint8Array(4)),
      Deno.errors.ConnectionReset,
      new RegExp(`^Cannot read from fd ${pair.first.fd}: ECONNRESET \\(os error 104\\)$`),
      { code: "ECONNRESET", errno: 104 },
    );
    assert.equal(pair.first.tryRead(new Uint8Array(4)), null);
  },
);

linuxTest(
  "a socket shut down for reading reads null, and its peer's writes are a broken pipe",
  () => {
    using pair = openSocketPair();
    pair.first.shutdown("read");
    assert.equal(pair.first.tryRead(new Uint8Array(4)), null);
    assertThrowsExactly(
      () => pair.second.tryWrite(new Uint8Array([1])),
      Deno.errors.BrokenPipe,
      new RegExp(`^Cannot write to fd ${pair.second.fd}: EPIPE \\(os error 32\\)$`),
      { code: "EPIPE", errno: 32 },
    );
    pair.second.shutdown("both");
    assert.equal(pair.second.tryRead(new Uint8Array(4)), null);
  },
);

linuxTest(
  "shutdown() with an unknown direction is a TypeError, on a closed socket BadResource",
  () => {
    using pair = openSocketPair();
    for (const how of ["WRITE", "", "rw", 1, null]) {
      assertThrowsExactly(
        () => pair.first.shutdown(bad(how)),
        TypeError,
        /^Cannot shut down socket: how must be "read", "write" or "both", got /,
      );
    }
    // Nothing was shut down.
    assert.equal(pair.first.tryWrite(new Uint8Array([1])), 1);
    assert.equal(pair.second.tryRead(new Uint8Array(4)), 1);
    pair.first.close();
    assertThrowsExactly(
      () => pair.first.shutdown(),
      Deno.errors.BadResource,
      /^Cannot shut down socket: the fd is closed$/,
    );
  },
);

linuxTest("tryWrite() takes what fits, and returns 0 once a pipe is full", () => {
  withTestLibc((libc) => {
    using pipe = openPipe();
    const capacity = libc.fcntl(pipe.writer.fd, F_GETPIPE_SZ, 0);
    assert.ok(capacity >= PIPE_BUF, `F_GETPIPE_SZ failed: ${capacity}`);
    // Atomic writes of one page each fill the pipe exactly.
    const page = new Uint8Array(PIPE_BUF).fill(1);
    let total = 0;
    for (let n; (n = pipe.writer.tryWrite(page)) > 0;) {
      assert.equal(n, PIPE_BUF);
      total += n;
    }
    assert.equal(total, capacity);
    assert.equal(pipe.writer.tryWrite(new Uint8Array([2])), 0);
    assert.equal(pipe.writer.tryWrite(page), 0);
    // Reading one page makes room for one page: a larger write is partly taken.
    assert.equal(pipe.reader.tryRead(new Uint8Array(PIPE_BUF)), PIPE_BUF);
    assert.equal(pipe.writer.tryWrite(new Uint8Array(3 * PIPE_BUF)), PIPE_BUF);
    assert.equal(pipe.writer.tryWrite(page), 0);
    // Everything taken can be read back.
    const sink = new Uint8Array(capacity);
    let read = 0;
    for (let n; (n = pipe.reader.tryRead(sink));) read += n;
    assert.equal(read, capacity);
  });
});

linuxTest("writing to a pipe whose reader is closed is BrokenPipe (EPIPE)", () => {
  using pipe = openPipe();
  pipe.reader.close();
  for (let i = 0; i < 2; i++) {
    assertThrowsExactly(
      () => pipe.writer.tryWrite(new Uint8Array([1, 2])),
      Deno.errors.BrokenPipe,
      new RegExp(`^Cannot write to fd ${pipe.writer.fd}: EPIPE \\(os error 32\\)$`),
      { code: "EPIPE", errno: 32 },
    );
  }
});

linuxTest("a zero-length read or write returns 0", () => {
  using pipe = openPipe();
  using pair = openSocketPair();
  using counter = openEventFd({ initial: 1 });
  const empty = new Uint8Array(0);
  for (const fd of [pipe.reader, pipe.writer, pair.first, pair.second, counter]) {
    assert.equal(fd.tryRead(empty), 0);
    assert.equal(fd.tryWrite(empty), 0);
  }
  // Also at end of stream, and with data waiting (which stays there).
  assert.equal(pipe.writer.tryWrite(new Uint8Array([1])), 1);
  assert.equal(pipe.reader.tryRead(empty), 0);
  assert.equal(pipe.reader.tryRead(new Uint8Array(1)), 1);
  pipe.writer.close();
  assert.equal(pipe.reader.tryRead(empty), 0);
  assert.equal(pipe.reader.tryRead(new Uint8Array(1)), null);
  assert.equal(counter.take(), 1);
});

linuxTest("a buffer that is not a Uint8Array is a TypeError", () => {
  using pipe = openPipe();
  assert.equal(pipe.writer.tryWrite(new Uint8Array([1])), 1);
  const buffers = [
    new ArrayBuffer(4),
    new Uint16Array(2),
    new Int8Array(2),
    [1, 2],
    "ab",
    null,
    undefined,
    4,
  ];
  for (const buffer of buffers) {
    assertThrowsExactly(
      () => pipe.reader.tryRead(bad(buffer)),
      TypeError,
      /^Cannot read: buffer must be a Uint8Array, got /,
    );
    assertThrowsExactly(
      () => pipe.writer.tryWrite(bad(buffer)),
      TypeError,
      /^Cannot write: buffer must be a Uint8Array, got /,
    );
  }
  // Nothing was read or written.
  assert.equal(pipe.reader.tryRead(new Uint8Array(4)), 1);
  assert.equal(pipe.reader.tryRead(new Uint8Array(4)), 0);
  // The argument is checked before the fd: also a TypeError once closed.
  pipe.close();
  assertThrowsExactly(() => pipe.reader.tryRead(bad([1])), TypeError, /^Cannot read: buffer must/);
});

linuxTest(
  "a closed fd has fd -1, reads and writes are BadResource, and close() again is fine",
  () => {
    using pipe = openPipe();
    using pair = openSocketPair();
    using counter = openEventFd();
    const fds: NonblockingFd[] = [pipe.reader, pipe.writer, pair.first, pair.second, counter];
    for (const fd of fds) {
      assert.ok(fd.fd >= 0);
      assert.equal(fd.closed, false);
      fd.close();
      assert.equal(fd.fd, -1);
      assert.equal(fd.closed, true);
      fd.close();
      fd[Symbol.dispose]();
      assert.equal(fd.fd, -1);
      for (const buffer of [new Uint8Array(8), new Uint8Array(0)]) {
        assertThrowsExactly(
          () => fd.tryRead(buffer),
          Deno.errors.BadResource,
          /^Cannot read: the fd is closed$/,
        );
        assertThrowsExactly(
          () => fd.tryWrite(buffer),
          Deno.errors.BadResource,
          /^Cannot write: the fd is closed$/,
        );
      }
    }
    assertThrowsExactly(
      () => counter.add(),
      Deno.errors.BadResource,
      /^Cannot write: the fd is closed$/,
    );
    assertThrowsExactly(
      () => counter.take(),
      Deno.errors.BadResource,
      /^Cannot read: the fd is closed$/,
    );
    // Closing the pair or pipe again is fine too.
    pipe.close();
    pair.close();
  },
);

linuxTest("closing a pipe or a socketpair closes both ends", () => {
  const pipe = openPipe();
  pipe.close();
  assert.deepEqual([pipe.reader.fd, pipe.writer.fd], [-1, -1]);
  pipe.close();
  const pair = openSocketPair();
  pair.close();
  assert.deepEqual([pair.first.fd, pair.second.fd], [-1, -1]);
  pair.close();
});

linuxTest("`using` closes pipes, socketpairs, eventfds and single ends", async () => {
  const before = await settledFds();
  let ends: NonblockingFd[];
  {
    using pipe = openPipe();
    using pair = openSocketPair();
    using counter = openEventFd();
    ends = [pipe.reader, pipe.writer, pair.first, pair.second, counter];
    assert.equal(openFds().length, before.length + 5);
  }
  for (const end of ends) {
    assert.equal(end.closed, true);
    assert.equal(end.fd, -1);
  }
  assertNoNewFds(before);
  const pipe = openPipe();
  {
    using reader = pipe.reader;
    assert.equal(reader.closed, false);
  }
  assert.equal(pipe.reader.closed, true);
  assert.equal(pipe.writer.closed, false);
  pipe.close();
  assertNoNewFds(before);
});

linuxTest("an eventfd adds up what is added, and take() takes it all", () => {
  using counter = openEventFd();
  assert.equal(counter.take(), 0);
  assert.equal(counter.add(), true);
  assert.equal(counter.add(2), true);
  assert.equal(counter.add(2 ** 40), true);
  assert.equal(counter.take(), 3 + 2 ** 40);
  assert.equal(counter.take(), 0);
  assert.equal(counter.add(Number.MAX_SAFE_INTEGER), true);
  assert.equal(counter.take(), Number.MAX_SAFE_INTEGER);
  using initial = openEventFd({ initial: 7 });
  assert.equal(initial.take(), 7);
  assert.equal(initial.take(), 0);
  using max = openEventFd({ initial: 2 ** 32 - 1 });
  assert.equal(max.take(), 2 ** 32 - 1);
});

linuxTest("a semaphore eventfd gives 1 per take()", () => {
  using semaphore = openEventFd({ initial: 2, semaphore: true });
  assert.equal(semaphore.add(3), true);
  for (let i = 0; i < 5; i++) assert.equal(semaphore.take(), 1);
  assert.equal(semaphore.take(), 0);
  assert.equal(semaphore.take(), 0);
});

linuxTest("add() returns false when the eventfd counter would overflow, and keeps it", () => {
  // The counter holds at most 2^64 - 2: 2048 adds of 2^53 - 1 reach 2^64 - 2048.
  using counter = openEventFd();
  for (let i = 0; i < 2048; i++) assert.equal(counter.add(Number.MAX_SAFE_INTEGER), true);
  assert.equal(counter.add(Number.MAX_SAFE_INTEGER), false);
  assert.equal(counter.add(2047), false);
  assert.equal(counter.add(2046), true); // exactly 2^64 - 2
  assert.equal(counter.add(), false);
  // 2^64 - 2 is beyond a safe integer: take() gives the nearest double.
  assert.equal(counter.take(), Number(2n ** 64n - 2n));
  assert.equal(counter.take(), 0);
});

linuxTest("an eventfd value that is not a positive safe integer is a RangeError", () => {
  using counter = openEventFd();
  for (const value of [0, 1.5, -1, NaN, Infinity, 2 ** 53, "1", null]) {
    assertThrowsExactly(
      () => counter.add(bad(value)),
      RangeError,
      /^Cannot add to eventfd: value must be a positive safe integer, got /,
    );
  }
  assert.equal(counter.take(), 0);
  for (const initial of [-1, 1.5, 2 ** 32, NaN, "1"]) {
    assertThrowsExactly(
      () => openEventFd({ initial: bad(initial) }),
      RangeError,
      /^Cannot open eventfd: initial must be an integer from 0 to 4294967295, got /,
    );
  }
});

linuxTest("a raw eventfd write of a wrong size or of 2^64 - 1 is a TypeError (EINVAL)", () => {
  using counter = openEventFd();
  const message = new RegExp(`^Cannot write to fd ${counter.fd}: EINVAL \\(os error 22\\)$`);
  const einval = { code: "EINVAL", errno: 22 };
  assertThrowsExactly(() => counter.tryWrite(new Uint8Array(4)), TypeError, message, einval);
  assertThrowsExactly(
    () => counter.tryWrite(new Uint8Array(8).fill(0xff)),
    TypeError,
    message,
    einval,
  );
  assert.equal(counter.take(), 0);
});

linuxTest("every fd is opened close-on-exec and nonblocking", () => {
  withTestLibc((libc) => {
    using pipe = openPipe();
    using pair = openSocketPair();
    using counter = openEventFd();
    using semaphore = openEventFd({ semaphore: true });
    for (const { fd } of [pipe.reader, pipe.writer, pair.first, pair.second, counter, semaphore]) {
      assert.equal(libc.fcntl(fd, F_GETFD, 0), FD_CLOEXEC, `fd ${fd} is not close-on-exec`);
      const flags = libc.fcntl(fd, F_GETFL, 0);
      assert.ok(flags >= 0, `F_GETFL failed on fd ${fd}`);
      assert.equal(flags & O_NONBLOCK, O_NONBLOCK, `fd ${fd} is blocking`);
    }
  });
});

linuxTest("opening and closing 100 pipes, socketpairs and eventfds leaves no fd open", async () => {
  const before = await settledFds();
  const pipes = Array.from({ length: 100 }, () => openPipe());
  const pairs = Array.from({ length: 100 }, () => openSocketPair());
  const counters = Array.from({ length: 100 }, () => openEventFd());
  assert.equal(openFds().length, before.length + 500);
  for (const pipe of pipes) pipe.close();
  for (const pair of pairs) pair.close();
  for (const counter of counters) counter.close();
  assertNoNewFds(before);
});
