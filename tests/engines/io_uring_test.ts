// Copyright 2026 the @evented/io authors. MIT license.
// What only the io_uring CompletionPort does: its rings overflowing (more
// operations in flight than the SQ holds, more completions between two
// reaps than the CQ holds), submitting a burst with one io_uring_enter,
// close() with operations in the kernel, its own fds refused, and its
// completion work deferred (IORING_SETUP_DEFER_TASKRUN) or not. The
// contract every backend meets is tested in contract/completion_port_test.ts.
import assert from "node:assert/strict";
import { openCompletionPort, openPipe, openSocketPair, type Pipe } from "../../mod.ts";
import { IoUringPort, openIoUringPort } from "../../backends/linux/io_uring.ts";
import { EPERM, O_CLOEXEC, O_RDWR, O_TMPFILE } from "../../ffi/libc.ts";
import {
  assertBytes,
  delay,
  Helper,
  ioUringNote,
  ioUringSupport,
  linuxTest,
  openFds,
  pattern,
} from "../_helpers/mod.ts";

/** Whether this kernel lets us set up an io_uring (containers and emulators often do not). */
const ALLOWED = Deno.build.os === "linux" && ioUringSupport().usable;

/**
 * A Linux test that needs io_uring: where io_uring_setup refuses it, ignored,
 * its name saying "io_uring unavailable here" and the errno.
 */
function uringTest(name: string, fn: (t: Deno.TestContext) => Promise<void> | void): void {
  Deno.test({ name: `io_uring: ${name}${ioUringNote()}`, ignore: !ALLOWED, fn });
}

/**
 * The fds `open()` adds to the process: the port's ring, an eventfd (the
 * ring's, with deferred work; else an interrupter), and the epoll fd of
 * the doorbell.
 */
function ownFdsOf(open: () => IoUringPort): [IoUringPort, number[]] {
  const before = new Set(openFds());
  const port = open();
  const added = openFds().filter((fd) => !before.has(fd));
  assert.equal(added.length, 3, `the port opened fds ${added}`);
  return [port, added];
}

/** `promise`'s value, or a rejection if it has not settled within `ms` (a hang fails the test). */
async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether the kernel is Linux 6.1 or later (IORING_SETUP_DEFER_TASKRUN), asked with uname(). */
function deferSupported(): boolean {
  const libc = Deno.dlopen("libc.so.6", { uname: { parameters: ["buffer"], result: "i32" } });
  try {
    // struct utsname: six fields of 65 bytes; release is the third.
    const names = new Uint8Array(6 * 65);
    assert.equal(libc.symbols.uname(names), 0);
    const release = new TextDecoder().decode(names.subarray(2 * 65, 3 * 65));
    const [major, minor] = release.split(".").map((part) => parseInt(part));
    return major > 6 || (major === 6 && minor >= 1);
  } finally {
    libc.close();
  }
}

/** Opens `count` pipes; closes them all if one fails. */
function openPipes(count: number): Pipe[] {
  const pipes: Pipe[] = [];
  try {
    for (let i = 0; i < count; i++) pipes.push(openPipe());
  } catch (error) {
    for (const pipe of pipes) pipe.close();
    throw error;
  }
  return pipes;
}

linuxTest(
  "openCompletionPort() picks io_uring where the kernel allows it, else epoll",
  async () => {
    await using port = openCompletionPort();
    const support = ioUringSupport();
    if (support.usable) assert.equal(port.backend, "io_uring");
    else assert.equal(port.backend, "epoll", `io_uring_setup said ${support.code}`);
  },
);

linuxTest(
  "a refused io_uring_setup throws its errno and leaves nothing open (setupErrno hook)",
  () => {
    assert.throws(() => openIoUringPort({ setupErrno: EPERM }), (error: Error) => {
      assert.ok(error instanceof Deno.errors.PermissionDenied, String(error));
      assert.equal((error as Error & { code: string }).code, "EPERM");
      assert.equal((error as Error & { errno: number }).errno, EPERM);
      assert.equal(error.message, "Cannot open completion port with io_uring: EPERM (os error 1)");
      return true;
    });
    for (const entries of [0, -1, 1.5, 40_000]) {
      assert.throws(() => openIoUringPort({ entries }), RangeError);
    }
    assert.throws(() => openIoUringPort({ entries: 8, cqEntries: 4 }), RangeError);
  },
);

uringTest("the rings are the sizes asked for, rounded up to powers of two", () => {
  using port = openIoUringPort({ entries: 5, cqEntries: 12 });
  const { sqEntries, cqEntries } = port.stats;
  assert.deepEqual([sqEntries, cqEntries], [8, 16]);
  using byDefault = openIoUringPort();
  assert.deepEqual([byDefault.stats.sqEntries, byDefault.stats.cqEntries], [256, 1024]);
});

uringTest(
  "a burst of 64 file reads started in one turn is submitted with one io_uring_enter",
  async () => {
    await using port = openIoUringPort();
    const libc = Deno.dlopen("libc.so.6", {
      open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
      close: { parameters: ["i32"], result: "i32" },
    });
    const fd = libc.symbols.open(
      new TextEncoder().encode("/tmp\0"),
      O_TMPFILE | O_RDWR | O_CLOEXEC,
      0o600,
    );
    try {
      assert.ok(fd >= 0);
      const data = pattern(64 * 4096, 9);
      assert.equal(await port.write(fd, data, { offset: 0 }), data.length);
      const before = port.stats.submits;
      const buffers = Array.from({ length: 64 }, () => new Uint8Array(4096));
      const reads = buffers.map((buffer, i) => port.read(fd, buffer, { offset: i * 4096 }));
      assert.deepEqual(await Promise.all(reads), buffers.map(() => 4096));
      assert.equal(port.stats.submits - before, 1);
      buffers.forEach((buffer, i) =>
        assert.deepEqual(buffer, data.subarray(i * 4096, (i + 1) * 4096), `read ${i}`)
      );
    } finally {
      libc.symbols.close(fd);
      libc.close();
    }
  },
);

uringTest(
  "a socket write with room goes out at once with send(2), no SQE; one that must wait goes to the ring",
  async () => {
    await using port = openIoUringPort();
    using pair = openSocketPair();
    const [reader, writer] = [pair.first.fd, pair.second.fd];
    const { submits, sentAtOnce } = port.stats;
    const small = pattern(64, 3);
    assert.equal(await port.write(writer, small), 64);
    assert.equal(port.stats.sentAtOnce - sentAtOnce, 1);
    assert.equal(port.stats.submits, submits, "an io_uring_enter for a write that fit");
    const back = new Uint8Array(64);
    assert.equal(await port.read(reader, back), 64);
    assert.deepEqual(back, small);
    // 4 MiB: what fits goes out at once, the rest through the ring; a write
    // started behind it while it is with the kernel does not go out before it.
    const big = pattern(4 << 20, 5);
    const tail = pattern(100, 6);
    const submitsBefore = port.stats.submits;
    const writing = port.write(writer, big);
    const writingTail = port.write(writer, tail);
    const received = new Uint8Array(big.length + tail.length);
    for (let filled = 0; filled < received.length;) {
      filled += (await port.read(reader, received.subarray(filled)))!;
    }
    assert.equal(await writing, big.length);
    assert.equal(await writingTail, tail.length);
    assertBytes(received.subarray(0, big.length), big, "the big write");
    assertBytes(received.subarray(big.length), tail, "the write behind it");
    assert.ok(
      port.stats.submits > submitsBefore,
      "the rest of the big write never reached the ring",
    );
  },
);

uringTest(
  "more operations in flight than the SQ holds are submitted in turn, none dropped",
  async () => {
    await using port = openIoUringPort({ entries: 4 });
    const pipes = openPipes(64);
    try {
      const buffers = pipes.map(() => new Uint8Array(8));
      // 64 reads in one turn into a 4-entry SQ: each full SQ is submitted, then written on.
      const reads = pipes.map((pipe, i) => port.read(pipe.reader.fd, buffers[i]));
      assert.ok(port.stats.submits >= 64 / 4 - 1, `${port.stats.submits} submits`);
      await delay(10);
      pipes.forEach((pipe, i) =>
        assert.equal(pipe.writer.tryWrite(pattern(i % 8 + 1, i)), i % 8 + 1)
      );
      assert.deepEqual(await Promise.all(reads), pipes.map((_, i) => i % 8 + 1));
      buffers.forEach((buffer, i) =>
        assert.deepEqual(buffer.subarray(0, i % 8 + 1), pattern(i % 8 + 1, i), `pipe ${i}`)
      );
    } finally {
      for (const pipe of pipes) pipe.close();
    }
  },
);

uringTest(
  "more posts between two get()s than the CQ holds come back in order through the overflow flush",
  () => {
    using port = openIoUringPort({ entries: 4, cqEntries: 8 });
    const COUNT = 1_000;
    for (let i = 0; i < COUNT; i++) port.post(i, i * 7);
    const got = port.get(0);
    assert.deepEqual(
      got.map(({ key, bytes }) => [key, bytes]),
      Array.from({ length: COUNT }, (_, i) => [i, i * 7]),
    );
    assert.ok(port.stats.overflowFlushes > 0, "the CQ never overflowed");
    assert.deepEqual(port.get(0), []);
  },
);

uringTest(
  "more completions than the CQ holds, arriving while nobody reaps, are all delivered",
  async () => {
    await using port = openIoUringPort({ entries: 4, cqEntries: 8 });
    const pipes = openPipes(100);
    try {
      const buffers = pipes.map(() => new Uint8Array(4));
      const reads = pipes.map((pipe, i) => port.read(pipe.reader.fd, buffers[i]));
      await delay(10);
      // Written without the port, in one turn: the kernel completes 100
      // reads into an 8-entry CQ before this thread reaps any.
      pipes.forEach((pipe, i) => pipe.writer.tryWrite(new Uint8Array([i, 1, 2])));
      assert.deepEqual(await Promise.all(reads), pipes.map(() => 3));
      buffers.forEach((buffer, i) => assert.deepEqual([...buffer.subarray(0, 3)], [i, 1, 2]));
      assert.ok(port.stats.overflowFlushes > 0, "the CQ never overflowed");
    } finally {
      for (const pipe of pipes) pipe.close();
    }
  },
);

uringTest(
  "close() with reads in the kernel: they reject Interrupted once cancelled, then the ring goes",
  async () => {
    const pipes = openPipes(10);
    try {
      const [port, own] = ownFdsOf(() => openIoUringPort());
      const outcomes: string[] = [];
      const reads = pipes.map((pipe) =>
        port.read(pipe.reader.fd, new Uint8Array(4)).then(
          (n) => outcomes.push(`read ${n}`),
          (error) => outcomes.push(error.constructor.name),
        )
      );
      await delay(20); // submitted, and parked on
      assert.ok(port.stats.parks > 0);
      port.close();
      // The parked thread has not returned yet: the ring (and eventfd) are still there.
      for (const fd of own) {
        assert.ok(openFds().includes(fd), `fd ${fd} was closed under a parked thread`);
      }
      await port[Symbol.asyncDispose]();
      for (const fd of own) assert.ok(!openFds().includes(fd), `fd ${fd} is still open`);
      await Promise.all(reads);
      assert.deepEqual(outcomes, pipes.map(() => "Interrupted"));
      // Nothing was taken from the pipes.
      pipes.forEach((pipe, i) => pipe.writer.tryWrite(new Uint8Array([i])));
      pipes.forEach((pipe, i) => {
        const buffer = new Uint8Array(4);
        assert.equal(pipe.reader.tryRead(buffer), 1);
        assert.equal(buffer[0], i);
      });
    } finally {
      for (const pipe of pipes) pipe.close();
    }
  },
);

uringTest(
  "where reads and writes may not wait (kernels that honour O_NONBLOCK), the port polls and tries again",
  async (t) => {
    await using port = openIoUringPort({ nowait: true });
    for (const kind of ["pipe", "socketpair"] as const) {
      await t.step(
        `${kind}: a pending read, and a write larger than the ${kind} holds`,
        async () => {
          using pair = kind === "pipe" ? openPipe() : openSocketPair();
          const [reader, writer] = "reader" in pair
            ? [pair.reader.fd, pair.writer.fd]
            : [pair.first.fd, pair.second.fd];
          const polls = port.stats.polls;
          const buffer = new Uint8Array(8);
          const reading = port.read(reader, buffer);
          await delay(10);
          assert.equal(await port.write(writer, new Uint8Array([1, 2, 3])), 3);
          assert.equal(await reading, 3);
          assert.deepEqual([...buffer.subarray(0, 3)], [1, 2, 3]);
          // 4 MiB: far more than the buffer holds; the write takes it all.
          const big = pattern(4 << 20, 5);
          const back = new Uint8Array(big.length);
          const writing = port.write(writer, big);
          for (let filled = 0; filled < back.length;) {
            filled += (await port.read(reader, back.subarray(filled)))!;
          }
          assert.equal(await writing, big.length);
          assert.deepEqual(back, big);
          assert.ok(port.stats.polls > polls, "no operation waited with POLL_ADD");
        },
      );
    }
    await t.step("a read aborted while it polls takes nothing", async () => {
      using pipe = openPipe();
      const controller = new AbortController();
      const reason = new Error("no longer wanted");
      const reading = port.read(pipe.reader.fd, new Uint8Array(8), { signal: controller.signal });
      await delay(10);
      controller.abort(reason);
      await assert.rejects(reading, (error) => error === reason);
      pipe.writer.tryWrite(new Uint8Array([7]));
      assert.equal(await port.read(pipe.reader.fd, new Uint8Array(8)), 1);
    });
    await t.step("closing the fd of a read that polls rejects it with Interrupted", async () => {
      const pipe = openPipe();
      try {
        const reading = port.read(pipe.reader.fd, new Uint8Array(8));
        await delay(10);
        pipe.reader.close();
        await assert.rejects(reading, Deno.errors.Interrupted);
      } finally {
        pipe.close();
      }
    });
  },
);

uringTest("operations on the port's own fds are refused with EBADF", async () => {
  const [port, own] = ownFdsOf(() => openIoUringPort());
  try {
    const refused = (error: unknown) => {
      assert.ok(error instanceof Deno.errors.BadResource, String(error));
      assert.equal((error as Error & { code: string }).code, "EBADF");
      assert.match(
        (error as Error).message,
        /the completion port's own fd\): EBADF \(os error 9\)$/,
      );
      return true;
    };
    for (const fd of own) {
      await assert.rejects(port.read(fd, new Uint8Array(8)), refused);
      await assert.rejects(port.write(fd, new Uint8Array(8)), refused);
      assert.throws(() => port.associate(fd, 1), refused);
    }
    // The port is none the worse.
    port.post(5);
    assert.deepEqual(port.get(0).map((c) => c.key), [5]);
  } finally {
    await port[Symbol.asyncDispose]();
  }
});

uringTest(
  "an idle port parks no thread; one parks only while operations are in flight",
  async () => {
    await using port = openIoUringPort();
    using pipe = openPipe();
    // Completed inline: no thread parked.
    pipe.writer.tryWrite(new Uint8Array([1]));
    assert.equal(await port.read(pipe.reader.fd, new Uint8Array(4)), 1);
    port.post(1);
    assert.equal(port.get(0).length, 1);
    assert.equal(port.stats.parks, 0);
    // Pending: one parked thread, which ends with it.
    const reading = port.read(pipe.reader.fd, new Uint8Array(4));
    await delay(10);
    assert.equal(port.stats.parks, 1);
    pipe.writer.tryWrite(new Uint8Array([2]));
    assert.equal(await reading, 1);
    await delay(10);
    const parks = port.stats.parks;
    await delay(50);
    assert.equal(port.stats.parks, parks);
  },
);

uringTest("a port is an IoUringPort with backend io_uring", () => {
  using port = openCompletionPort({ backend: "io_uring" });
  assert.ok(port instanceof IoUringPort);
  assert.equal(port.backend, "io_uring");
});

uringTest(
  "completion work is deferred (DEFER_TASKRUN, an eventfd) where the kernel allows it, else not",
  () => {
    using deferred = openIoUringPort();
    assert.equal(deferred.stats.deferred, deferSupported());
    using fallback = openIoUringPort({ deferTaskrun: false });
    assert.equal(fallback.stats.deferred, false);
  },
);

for (const deferTaskrun of [true, false]) {
  uringTest(
    `${deferTaskrun ? "deferred" : "undeferred"} completion work: reads that complete 200 ms ` +
      "later, while this thread is idle, settle; so does a wait() on a post",
    async (t) => {
      await using port = openIoUringPort({ deferTaskrun });
      if (deferTaskrun) assert.equal(port.stats.deferred, deferSupported());
      for (const kind of ["socketpair", "pipe"] as const) {
        await t.step(kind, async () => {
          using pair = kind === "pipe" ? openPipe() : openSocketPair();
          const [reader, writer] = "reader" in pair
            ? [pair.reader.fd, pair.writer.fd]
            : [pair.first.fd, pair.second.fd];
          using helper = new Helper();
          const parks = port.stats.parks;
          const buffer = new Uint8Array(16);
          const reading = port.read(reader, buffer);
          // Another thread writes 8 bytes in 200 ms; this one does nothing meanwhile.
          const start = performance.now();
          await helper.start({ kind: "write", delay: 200, handle: writer });
          assert.equal(await settledWithin(reading, 5_000), 8);
          assert.ok(performance.now() - start >= 150, "the read settled before the write");
          assert.deepEqual([...buffer.subarray(0, 8)], [1, 0, 0, 0, 0, 0, 0, 0]);
          assert.equal(await helper.next(), "done");
          assert.ok(port.stats.parks > parks, "no thread was parked");
          // Again at once, so that the pump spins rather than parks first.
          const again = port.read(reader, buffer);
          const one = new Uint8Array([9]);
          assert.equal("reader" in pair ? pair.writer.tryWrite(one) : pair.second.tryWrite(one), 1);
          assert.equal(await again, 1);
          assert.equal(buffer[0], 9);
        });
      }
      await t.step("a wait() with nothing in flight, then a post", async () => {
        const waiting = port.wait({ timeout: 5_000 });
        await delay(50);
        port.post(7, 3);
        assert.deepEqual((await waiting).map(({ key, bytes }) => [key, bytes]), [[7, 3]]);
      });
    },
  );
}
