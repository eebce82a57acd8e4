// Copyright 2026 the @evented/io authors. MIT license.
// watchFd() and the awaitable members every object of the module shares:
// real fds (pipes, socketpairs, a foreign inotify fd), the reactor's one
// parked thread, timeouts, aborts and closes that leave nothing behind.
import assert from "node:assert/strict";
import { openEventFd, openPipe, openSocketPair, type SocketPair, watchFd } from "../../mod.ts";
import {
  assertBytes,
  assertNoNewFds,
  delay,
  openFds,
  pattern,
  readProcFile,
} from "../_helpers/mod.ts";

const linux = Deno.build.os === "linux";
const ONE = new Uint8Array([1]);

/** The threads of this process, from /proc/self/status. */
function threads(): number {
  const status = readProcFile("/proc/self/status", 16_384);
  assert.ok(status !== null);
  return Number(/^Threads:\s+(\d+)$/m.exec(status)![1]);
}

Deno.test({
  name: "watchFd: a wait ends when the fd turns readable, never before",
  ignore: !linux,
  async fn() {
    using pipe = openPipe();
    using watched = watchFd(pipe.reader.fd);
    assert.equal(watched.fd, pipe.reader.fd);
    const start = performance.now();
    setTimeout(() => pipe.writer.tryWrite(new Uint8Array([1, 2, 3])), 50);
    await watched.waitReadable({ timeout: 10_000 });
    assert.ok(performance.now() - start >= 45, "resolved before the write");
    const buffer = new Uint8Array(8);
    assert.equal(await watched.read(buffer), 3);
    assert.deepEqual([...buffer.subarray(0, 3)], [1, 2, 3]);
  },
});

Deno.test({
  name: "watchFd: a ready fd resolves at once; a read of data already there takes no wait",
  ignore: !linux,
  async fn() {
    using pair = openSocketPair();
    using watched = watchFd(pair.first.fd);
    await watched.waitWritable({ timeout: 0 }); // writable now: timeout 0 is enough
    pair.second.tryWrite(ONE);
    await watched.waitReadable({ timeout: 0 });
    assert.equal(await watched.read(new Uint8Array(4)), 1);
    await assert.rejects(watched.waitReadable({ timeout: 0 }), Deno.errors.TimedOut);
  },
});

Deno.test({
  name: "watchFd: a timeout rejects with TimedOut, never early, and leaves nothing registered",
  ignore: !linux,
  async fn() {
    using pipe = openPipe();
    using watched = watchFd(pipe.reader.fd);
    const start = performance.now();
    await assert.rejects(
      watched.waitReadable({ timeout: 60 }),
      (error) =>
        error instanceof Deno.errors.TimedOut && /timed out after 60 ms/.test(error.message),
    );
    assert.ok(performance.now() - start >= 59, "timed out early");
    // The fd stays usable: a later wait still sees data.
    const later = watched.read(new Uint8Array(2));
    pipe.writer.tryWrite(ONE);
    assert.equal(await later, 1);
  },
});

Deno.test({
  name: "watchFd: an abort rejects with the signal's reason",
  ignore: !linux,
  async fn() {
    using pipe = openPipe();
    using watched = watchFd(pipe.reader.fd);
    const controller = new AbortController();
    const waiting = watched.waitReadable({ signal: controller.signal });
    setTimeout(() => controller.abort(new Error("enough")), 20);
    await assert.rejects(waiting, /enough/);
    await assert.rejects(
      watched.waitReadable({ signal: AbortSignal.abort(new Error("already")) }),
      /already/,
    );
  },
});

Deno.test({
  name: "watchFd: close() with waits, reads and writes pending rejects them with Interrupted",
  ignore: !linux,
  async fn() {
    using pair = openSocketPair();
    const watched = watchFd(pair.first.fd);
    // Fill the socket so that a write waits.
    const chunk = new Uint8Array(64 * 1024);
    while (pair.first.tryWrite(chunk) > 0);
    const read = watched.read(new Uint8Array(4));
    const write = watched.write(chunk);
    const wait = watched.waitReadable();
    await delay(10);
    watched.close();
    assert.equal(watched.fd, -1);
    assert.equal(watched.closed, true);
    for (const result of await Promise.allSettled([read, write, wait])) {
      assert.equal(result.status, "rejected");
      assert.ok((result as PromiseRejectedResult).reason instanceof Deno.errors.Interrupted);
    }
    // Not owned: the fd itself is still open.
    assert.equal(pair.first.tryWrite(ONE), 0);
    await assert.rejects(watched.read(new Uint8Array(1)), Deno.errors.BadResource);
  },
});

Deno.test({
  name: "closing one of the module's fds rejects its pending reads with Interrupted",
  ignore: !linux,
  async fn() {
    const pipe = openPipe();
    const read = pipe.reader.read(new Uint8Array(4));
    const wait = pipe.reader.waitReadable();
    await delay(10);
    pipe.reader.close();
    for (const result of await Promise.allSettled([read, wait])) {
      assert.equal(result.status, "rejected");
      assert.ok((result as PromiseRejectedResult).reason instanceof Deno.errors.Interrupted);
    }
    pipe.close();
  },
});

Deno.test({
  name: "watchFd: blocking fds refuse reads and writes before any I/O, but can be waited on",
  ignore: !linux,
  async fn() {
    const before = openFds();
    const libc = Deno.dlopen("libc.so.6", {
      pipe: { parameters: ["buffer"], result: "i32" },
      close: { parameters: ["i32"], result: "i32" },
      write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
      fcntl: { parameters: ["i32", "i32"], result: "i32" },
    });
    const fds = new Int32Array(2);
    assert.equal(libc.symbols.pipe(new Uint8Array(fds.buffer)), 0); // blocking pipe
    try {
      {
        using watched = watchFd(fds[0]);
        assert.throws(() => watched.tryRead(new Uint8Array(1)), TypeError);
        assert.throws(() => watched.readable, /blocking mode/);
        await assert.rejects(watched.read(new Uint8Array(1)), /blocking mode/);
        libc.symbols.write(fds[1], ONE, 1n);
        await watched.waitReadable({ timeout: 10_000 });
      }
      // nonblocking: true sets O_NONBLOCK, and puts it back on close (not owned).
      const F_GETFL = 3, O_NONBLOCK = 0o4000;
      {
        using watched = watchFd(fds[0], { nonblocking: true });
        assert.ok(libc.symbols.fcntl(fds[0], F_GETFL) & O_NONBLOCK);
        assert.equal(await watched.read(new Uint8Array(4)), 1);
      }
      assert.equal(libc.symbols.fcntl(fds[0], F_GETFL) & O_NONBLOCK, 0);
      // owned: close() closes it.
      const owned = watchFd(fds[1], { owned: true, nonblocking: true });
      owned.close();
      assert.equal(libc.symbols.fcntl(fds[1], F_GETFL), -1);
    } finally {
      libc.symbols.close(fds[0]);
      libc.close();
    }
    assertNoNewFds(before);
  },
});

Deno.test({
  name: "watchFd: bad arguments and files are refused before anything is watched",
  ignore: !linux,
  async fn() {
    assert.throws(() => watchFd(-1), RangeError);
    assert.throws(() => watchFd(1.5), TypeError);
    assert.throws(() => watchFd("3" as unknown as number), TypeError);
    assert.throws(() => watchFd(0, { owned: 1 as unknown as boolean }), TypeError);
    assert.throws(() => watchFd(0, null as unknown as object), TypeError);
    assert.throws(() => watchFd(0x7ffffff0), Deno.errors.BadResource);
    using file = await Deno.open(new URL(import.meta.url).pathname);
    const libc = Deno.dlopen("libc.so.6", {
      open: { parameters: ["buffer", "i32"], result: "i32" },
      close: { parameters: ["i32"], result: "i32" },
    });
    try {
      const path = new TextEncoder().encode(new URL(import.meta.url).pathname + "\0");
      const fd = libc.symbols.open(path, 0);
      assert.ok(fd >= 0);
      try {
        assert.throws(() => watchFd(fd), Deno.errors.NotSupported);
      } finally {
        libc.symbols.close(fd);
      }
    } finally {
      libc.close();
    }
    void file;
  },
});

Deno.test({
  name: "a foreign inotify fd is awaited: creating a file in the directory wakes it",
  ignore: !linux,
  async fn() {
    const dir = await Deno.makeTempDir();
    const libc = Deno.dlopen("libc.so.6", {
      inotify_init1: { parameters: ["i32"], result: "i32" },
      inotify_add_watch: { parameters: ["i32", "buffer", "u32"], result: "i32" },
    });
    try {
      const IN_NONBLOCK = 0o4000, IN_CLOEXEC = 0o2000000, IN_CREATE = 0x100;
      const fd = libc.symbols.inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
      assert.ok(fd >= 0);
      using inotify = watchFd(fd, { owned: true });
      const path = new TextEncoder().encode(dir + "\0");
      assert.ok(libc.symbols.inotify_add_watch(fd, path, IN_CREATE) >= 0);
      const event = new Uint8Array(4096);
      const reading = inotify.read(event);
      await delay(20);
      await Deno.writeTextFile(`${dir}/hello.txt`, "hi");
      const n = await reading;
      assert.ok(n !== null && n >= 16);
      const view = new DataView(event.buffer);
      assert.equal(view.getUint32(4, true) & IN_CREATE, IN_CREATE);
      const length = view.getUint32(12, true);
      const name = new TextDecoder().decode(event.subarray(16, 16 + length)).replace(/\0+$/, "");
      assert.equal(name, "hello.txt");
    } finally {
      libc.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "1,000 pending waits: one written, exactly that one resolves, on at most 2 more threads",
  ignore: !linux,
  async fn() {
    const before = openFds();
    const threadsBefore = threads();
    const pairs: SocketPair[] = [];
    try {
      for (let i = 0; i < 1_000; i++) pairs.push(openSocketPair());
      const controller = new AbortController();
      const resolved: number[] = [];
      const waits = pairs.map((pair, i) =>
        pair.first.waitReadable({ signal: controller.signal }).then(
          () => resolved.push(i),
          (error) => assert.equal(error, controller.signal.reason),
        )
      );
      await delay(50);
      assert.ok(threads() <= threadsBefore + 2, "more than 2 threads for 1,000 waits");
      pairs[617].second.tryWrite(ONE);
      const deadline = performance.now() + 10_000;
      while (resolved.length === 0 && performance.now() < deadline) await delay(5);
      await delay(50);
      assert.deepEqual(resolved, [617]);
      controller.abort();
      await Promise.all(waits);
      assert.deepEqual(resolved, [617]);
    } finally {
      for (const pair of pairs) pair.close();
    }
    assertNoNewFds(before);
  },
});

Deno.test({
  name:
    "every wait pending on an fd ends when it turns readable; a read that finds nothing waits on",
  ignore: !linux,
  async fn() {
    using pipe = openPipe();
    using watched = watchFd(pipe.reader.fd);
    // One wait, then several, then one again: the fd's list of waiters empties and fills.
    for (const count of [1, 3, 1, 2]) {
      let ended = 0;
      const waits = Array.from(
        { length: count },
        () => watched.waitReadable({ timeout: 10_000 }).then(() => ended++),
      );
      await delay(20);
      assert.equal(ended, 0, "a wait ended before the write");
      pipe.writer.tryWrite(ONE);
      await Promise.all(waits);
      assert.equal(ended, count);
      assert.equal(watched.tryRead(new Uint8Array(4)), 1); // drained again
    }
    // Two reads pending, one byte: both wake, one takes it, the other waits for the next byte.
    const got: number[] = [];
    const reads = [1, 2].map((id) =>
      watched.read(new Uint8Array(4)).then((n) => {
        assert.equal(n, 1);
        got.push(id);
      })
    );
    await delay(20);
    pipe.writer.tryWrite(ONE);
    await Promise.race(reads);
    await delay(20);
    assert.equal(got.length, 1, "both reads ended on one byte");
    pipe.writer.tryWrite(ONE);
    await Promise.all(reads);
    assert.deepEqual(got.toSorted(), [1, 2]);
  },
});

Deno.test({
  name: "streams of a socketpair: 8 MiB through BYOB reads, writable.close() is the peer's end",
  ignore: !linux,
  async fn() {
    using pair = openSocketPair();
    const size = 8 * 1024 * 1024;
    const sent = new Uint8Array(size);
    for (let i = 0; i < size; i++) sent[i] = (i * 7) & 255;
    const writing = (async () => {
      const writer = pair.first.writable.getWriter();
      for (let at = 0; at < size; at += 1_000_000) {
        await writer.write(sent.subarray(at, Math.min(size, at + 1_000_000)));
      }
      await writer.close(); // shutdown("write"): the other end sees end of stream
    })();
    const reader = pair.second.readable.getReader({ mode: "byob" });
    let got = 0;
    let buffer = new Uint8Array(100_000);
    for (;;) {
      const { value, done } = await reader.read(buffer);
      if (done) break;
      for (let i = 0; i < value.length; i++) {
        if (value[i] !== sent[got + i]) assert.fail(`byte ${got + i} differs`);
      }
      got += value.length;
      buffer = new Uint8Array(value.buffer);
    }
    await writing;
    assert.equal(got, size);
    // The read side reached its end; the object is not closed by it.
    assert.equal(pair.second.closed, false);
  },
});

Deno.test({
  name:
    "a default reader's chunks grow while reads fill them (to 1 MiB), and shrink back for small messages",
  ignore: !linux,
  async fn() {
    using pair = openSocketPair();
    const size = 16 * 1024 * 1024;
    const sent = pattern(size, 21);
    const reader = pair.second.readable.getReader();
    const writer = pair.first.writable.getWriter();
    const writing = writer.write(sent);
    let got = 0;
    let largest = 0;
    const buffers = new Set<number>();
    while (got < size) {
      const { value } = await reader.read();
      assertBytes(value!, sent.subarray(got, got + value!.length), `chunk at ${got}`);
      got += value!.length;
      largest = Math.max(largest, value!.length);
      buffers.add(value!.buffer.byteLength);
    }
    await writing;
    assert.equal(got, size);
    // Each chunk is a buffer of its own, of a power-of-two size from 64 KiB to 1 MiB.
    for (const length of buffers) {
      assert.ok(
        length >= 65_536 && length <= 1_048_576 && (length & (length - 1)) === 0,
        `${length}`,
      );
    }
    assert.ok(largest > 65_536, `every chunk was at most 64 KiB (largest ${largest})`);
    // Small messages: the chunk's buffer is back to 64 KiB within five reads.
    let length = 0;
    for (let i = 0; i < 5; i++) {
      pair.first.tryWrite(new Uint8Array(100));
      const { value } = await reader.read();
      assert.equal(value!.length, 100);
      length = value!.buffer.byteLength;
    }
    assert.equal(length, 65_536);
    reader.releaseLock();
    writer.releaseLock();
  },
});

Deno.test({
  name: "a readable stream piped through TextDecoderStream yields what was written, to its end",
  ignore: !linux,
  async fn() {
    using pipe = openPipe();
    const text = pipe.reader.readable.pipeThrough(new TextDecoderStream());
    pipe.writer.tryWrite(new TextEncoder().encode("h\u00e9llo, "));
    setTimeout(() => {
      pipe.writer.tryWrite(new TextEncoder().encode("world"));
      pipe.writer.close(); // end of stream
    }, 20);
    let all = "";
    for await (const chunk of text) all += chunk;
    assert.equal(all, "h\u00e9llo, world");
    assert.equal(pipe.reader.closed, false); // the end of the stream does not close the fd
  },
});

Deno.test({
  name: "cancel() of a readable with a read pending settles once the read has come back",
  ignore: !linux,
  async fn() {
    using pipe = openPipe();
    const reader = pipe.reader.readable.getReader();
    const pending = reader.read();
    await delay(10);
    await reader.cancel();
    assert.equal((await pending).done, true);
    // The fd itself is still open and readable later.
    pipe.writer.tryWrite(ONE);
    assert.equal(await pipe.reader.read(new Uint8Array(2)), 1);
  },
});

Deno.test({
  name: "an eventfd is awaited: add() from a timer wakes a read",
  ignore: !linux,
  async fn() {
    using counter = openEventFd();
    setTimeout(() => counter.add(5), 20);
    const value = new BigUint64Array(1);
    assert.equal(await counter.read(new Uint8Array(value.buffer)), 8);
    assert.equal(value[0], 5n);
  },
});
