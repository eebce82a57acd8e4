// Copyright 2026 the @evented/io authors. MIT license.
import assert from "node:assert/strict";
import {
  Interest,
  openPipe,
  openSelector,
  openSocketPair,
  openWaker,
  Ready,
  SelectorEvents,
  wake,
} from "../../mod.ts";
import { EPOLL_EVENT_DATA_OFFSET, EPOLL_EVENT_SIZE } from "../../ffi/libc.ts";
import {
  BACKENDS,
  delay,
  fieldsOf,
  Helper,
  openFds,
  openTestLibc,
  settledFds,
  slack,
  summary,
  threadCpuMicros,
  withLibc,
} from "../_helpers/mod.ts";

const linux = Deno.build.os === "linux";
const ONE = new Uint8Array([1]);

for (const backend of BACKENDS) {
  Deno.test({
    name:
      `${backend}: a oneshot or edge event found after an idle spell is delivered, not lost to the yield`,
    ignore: !linux,
    async fn() {
      using sel = openSelector<string>({ backend });
      using once = openPipe();
      once.writer.tryWrite(ONE);
      sel.register(once.reader.fd, Interest.READABLE, { oneshot: true, data: "once" });
      // No turn of the selector for a while: the next wait that finds events
      // yields to the event loop before it delivers them.
      await delay(20);
      assert.deepEqual((await sel.wait({ timeout: slack(2_000) })).map((e) => e.data), ["once"]);
      if (backend === "epoll") {
        using edge = openPipe();
        sel.register(edge.reader.fd, Interest.READABLE, { edge: true, data: "edge" });
        edge.writer.tryWrite(ONE);
        await delay(20);
        assert.deepEqual((await sel.wait({ timeout: slack(2_000) })).map((e) => e.data), ["edge"]);
      }
    },
  });

  Deno.test({
    name: `${backend}: a pipe is reported readable, level-triggered, until it is read`,
    ignore: !linux,
    fn() {
      using sel = openSelector<string>({ backend });
      using pipe = openPipe();
      const fd = pipe.reader.fd;
      sel.register(fd, Interest.READABLE, { data: "in" });
      assert.deepEqual(sel.select(0), []);
      pipe.writer.tryWrite(new Uint8Array([1, 2, 3]));
      assert.deepEqual(summary(sel.select(0), { fd: true }), [`${fd}:in:r`]);
      assert.deepEqual(summary(sel.select(0), { fd: true }), [`${fd}:in:r`]);
      assert.equal(pipe.reader.tryRead(new Uint8Array(8)), 3);
      assert.deepEqual(sel.select(0), []);
      sel.unregister(fd);
    },
  });

  Deno.test({
    name: `${backend}: a pipe's write end is writable, and data tells fds apart`,
    ignore: !linux,
    fn() {
      using sel = openSelector<{ name: string }>({ backend });
      using a = openPipe();
      using b = openPipe();
      const da = { name: "a" };
      const db = { name: "b" };
      sel.register(a.writer.fd, Interest.WRITABLE, { data: da });
      sel.register(b.reader.fd, Interest.READABLE | Interest.WRITABLE, { data: db });
      assert.equal(sel.size, 2);
      b.writer.tryWrite(ONE);
      const events = sel.select(0);
      const byFd = new Map(events.map((e) => [e.fd, e]));
      assert.equal(events.length, 2);
      assert.equal(byFd.get(a.writer.fd)!.data, da);
      assert.equal(byFd.get(a.writer.fd)!.writable, true);
      assert.equal(byFd.get(a.writer.fd)!.readable, false);
      assert.equal(byFd.get(b.reader.fd)!.data, db);
      assert.equal(byFd.get(b.reader.fd)!.readable, true);
      assert.equal(byFd.get(b.reader.fd)!.writable, false); // a pipe's read end is never writable
      sel.unregister(a.writer.fd);
      sel.unregister(b.reader.fd);
      assert.equal(sel.size, 0);
    },
  });

  Deno.test({
    name: `${backend}: a oneshot fd fires once, then not until modify() re-arms it`,
    ignore: !linux,
    fn() {
      using sel = openSelector({ backend });
      using pipe = openPipe();
      const fd = pipe.reader.fd;
      sel.register(fd, Interest.READABLE, { oneshot: true, data: 1 });
      pipe.writer.tryWrite(ONE);
      assert.deepEqual(summary(sel.select(0), { fd: true }), [`${fd}:1:r`]);
      assert.deepEqual(sel.select(0), []);
      pipe.writer.tryWrite(ONE);
      assert.deepEqual(sel.select(0), []);
      const key = sel.modify(fd, Interest.READABLE);
      assert.equal(key.oneshot, true);
      assert.equal(key.data, 1);
      assert.deepEqual(summary(sel.select(0), { fd: true }), [`${fd}:1:r`]);
      assert.deepEqual(sel.select(0), []);
      sel.unregister(fd);
    },
  });

  Deno.test({
    name: `${backend}: modify() keeps the options it is not given and clears data only when told`,
    ignore: !linux,
    fn() {
      using sel = openSelector<string>({ backend });
      using pipe = openPipe();
      const fd = pipe.writer.fd;
      const edge = backend === "epoll";
      sel.register(fd, Interest.WRITABLE, { data: "d", oneshot: true, edge });
      let key = sel.modify(fd, Interest.WRITABLE | Interest.READABLE);
      assert.deepEqual(fieldsOf(key), {
        fd,
        interest: 5,
        data: "d",
        edge,
        oneshot: true,
        exclusive: false,
      });
      key = sel.modify(fd, Interest.WRITABLE, { oneshot: false });
      assert.deepEqual([key.data, key.oneshot, key.edge], ["d", false, edge]);
      key = sel.modify(fd, Interest.WRITABLE, {});
      assert.equal(key.data, "d");
      key = sel.modify(fd, Interest.WRITABLE, { data: undefined });
      assert.equal(key.data, undefined);
      assert.equal(sel.getKey(fd), key);
      // Immutable: the fields have no setters.
      assert.throws(() => (key as { fd: number }).fd = 1, TypeError);
      assert.equal(key.fd, fd);
      sel.unregister(fd);
    },
  });

  Deno.test({
    name: `${backend}: a closed write end gives the read end hangup, and readable`,
    ignore: !linux,
    fn() {
      using sel = openSelector({ backend });
      using pipe = openPipe();
      const fd = pipe.reader.fd;
      sel.register(fd, Interest.READABLE);
      pipe.writer.close();
      const [event, ...rest] = sel.select(0);
      assert.equal(rest.length, 0);
      assert.equal(event.fd, fd);
      assert.equal(event.hangup, true);
      assert.equal(event.readable, true);
      assert.equal(pipe.reader.tryRead(new Uint8Array(1)), null);
      sel.unregister(fd);
    },
  });

  Deno.test({
    name: `${backend}: a closed read end gives a write-only registration error, and writable`,
    ignore: !linux,
    fn() {
      using sel = openSelector({ backend });
      using pipe = openPipe();
      const fd = pipe.writer.fd;
      sel.register(fd, Interest.WRITABLE);
      pipe.reader.close();
      const [event] = sel.select(0);
      assert.equal(event.error, true);
      assert.equal(event.writable, true);
      assert.equal(event.readable, false); // not registered for reading
      sel.unregister(fd);
    },
  });

  Deno.test({
    name: `${backend}: a socket peer's shutdown is readHangup, its close is hangup`,
    ignore: !linux,
    fn() {
      using sel = openSelector({ backend });
      using pair = openSocketPair();
      const fd = pair.second.fd;
      sel.register(fd, Interest.READABLE);
      assert.deepEqual(sel.select(0), []);
      pair.first.shutdown("write");
      let [event] = sel.select(0);
      assert.equal(event.readHangup, true);
      assert.equal(event.readable, true);
      assert.equal(event.hangup, false);
      assert.equal(pair.second.tryRead(new Uint8Array(1)), null);
      pair.first.close();
      [event] = sel.select(0);
      assert.equal(event.hangup, true);
      assert.equal(event.readHangup, true);
      assert.equal(event.readable, true);
      sel.unregister(fd);
    },
  });

  Deno.test({
    name: `${backend}: SelectorEvents is filled in place, grows, and reads each flag`,
    ignore: !linux,
    fn() {
      using sel = openSelector<number>({ backend });
      const pipes = Array.from({ length: 5 }, () => openPipe());
      try {
        pipes.forEach((p, i) => sel.register(p.writer.fd, Interest.WRITABLE, { data: i }));
        const events = new SelectorEvents<number>(2);
        assert.equal(events.capacity, 2);
        assert.equal(sel.selectInto(events, 0), 5);
        assert.equal(events.length, 5);
        assert.ok(events.capacity >= 5);
        const seen = new Set<number>();
        for (let i = 0; i < events.length; i++) {
          assert.equal(events.fd(i), pipes[events.data(i)!].writer.fd);
          assert.equal(events.flags(i), Ready.WRITABLE);
          assert.equal(events.writable(i), true);
          assert.equal(events.readable(i), false);
          assert.equal(events.error(i) || events.hangup(i) || events.readHangup(i), false);
          assert.equal(events.priority(i), false);
          seen.add(events.data(i)!);
        }
        assert.equal(seen.size, 5);
        assert.equal(events.fd(5), -1);
        assert.equal(events.flags(-1), 0);
        assert.equal([...events].length, 5);
        assert.deepEqual(events.toArray().map((e) => e.data).sort(), [0, 1, 2, 3, 4]);
        pipes.forEach((p) => sel.unregister(p.writer.fd));
        assert.equal(sel.selectInto(events, 0), 0);
        assert.equal(events.length, 0);
      } finally {
        pipes.forEach((p) => p.close());
      }
    },
  });

  Deno.test({
    name: `${backend}: select(timeout) never returns early, fractions round up`,
    ignore: !linux,
    fn() {
      using sel = openSelector({ backend });
      for (const timeout of [30, 12.5, 0.2]) {
        const start = performance.now();
        assert.deepEqual(sel.select(timeout), []);
        const elapsed = performance.now() - start;
        assert.ok(elapsed >= Math.ceil(timeout), `select(${timeout}) returned after ${elapsed} ms`);
      }
      for (const timeout of [0, -1, -Infinity]) {
        const start = performance.now();
        assert.deepEqual(sel.select(timeout), []);
        assert.ok(performance.now() - start < slack(1_000));
      }
    },
  });

  Deno.test({
    name: `${backend}: a wakeup is kept until select() takes it, then select() waits again`,
    ignore: !linux,
    fn() {
      using sel = openSelector({ backend });
      sel.wakeup();
      sel.wakeup();
      let start = performance.now();
      assert.deepEqual(sel.select(10_000), []);
      assert.ok(performance.now() - start < slack(5_000));
      start = performance.now();
      assert.deepEqual(sel.select(20), []);
      assert.ok(performance.now() - start >= 20);
    },
  });

  Deno.test({
    name: `${backend}: a Worker wakes a select() blocked with no timeout, or a huge one`,
    ignore: !linux,
    async fn() {
      using sel = openSelector({ backend });
      using helper = new Helper();
      // The wake comes DELAY ms after the worker said it took the job; its
      // message takes a few ms to arrive (more on a slow machine).
      const DELAY = slack(30);
      for (const timeout of [undefined, Infinity, 2 ** 40, 1e300]) {
        await helper.start({ kind: "wake", handle: sel.wakerHandle, delay: DELAY });
        const start = performance.now();
        assert.deepEqual(sel.select(timeout), []);
        const elapsed = performance.now() - start;
        assert.ok(elapsed >= DELAY - slack(5), `select(${timeout}) returned after ${elapsed} ms`);
        assert.equal(await helper.next(), "done");
      }
    },
  });

  Deno.test({
    name: `${backend}: a signal that interrupts select() (EINTR) does not make it return early`,
    ignore: !linux,
    async fn() {
      using sel = openSelector({ backend });
      const libc = openTestLibc();
      let signals = 0;
      const listener = () => signals++;
      Deno.addSignalListener("SIGUSR1", listener);
      try {
        using helper = new Helper();
        const pid = libc.symbols.getpid();
        const tid = libc.symbols.gettid();
        await helper.start({ kind: "signal", pid, tid, delay: 40 });
        const start = performance.now();
        assert.deepEqual(sel.select(250), []);
        const elapsed = performance.now() - start;
        assert.equal(await helper.next(), "done");
        assert.ok(elapsed >= 250, `select(250) returned after ${elapsed} ms`);
        // The signal really arrived (its listener runs once this thread is free).
        for (let i = 0; i < 100 && signals === 0; i++) await new Promise((r) => setTimeout(r, 10));
        assert.equal(signals, 1);
      } finally {
        Deno.removeSignalListener("SIGUSR1", listener);
        libc.close();
      }
    },
  });

  Deno.test({
    name: `${backend}: close() closes every fd the selector opened, and is idempotent`,
    ignore: !linux,
    async fn() {
      const before = new Set(await settledFds());
      const sel = openSelector({ backend });
      // Its own fds: those that appeared (an earlier test's Worker may close some meanwhile).
      const own = openFds().filter((fd) => !before.has(fd));
      assert.equal(own.length, backend === "epoll" ? 3 : 2, `the selector opened ${own}`);
      assert.equal(sel.backend, backend);
      const pipe = openPipe();
      sel.register(pipe.reader.fd, Interest.READABLE);
      sel.close();
      sel.close();
      pipe.close();
      assert.equal(sel.closed, true);
      const open = new Set(openFds());
      assert.deepEqual(own.filter((fd) => open.has(fd)), [], "fds of the selector left open");
    },
  });

  Deno.test({
    name: `${backend}: closing one of the module's fds removes its key; a foreign fd's stays`,
    ignore: !linux,
    fn() {
      using sel = openSelector({ backend });
      const pipe = openPipe();
      const fd = pipe.reader.fd;
      sel.register(fd, Interest.READABLE);
      pipe.close();
      assert.equal(sel.getKey(fd), undefined); // gone with the close
      assert.equal(sel.size, 0);
      assert.throws(() => sel.unregister(fd), Deno.errors.NotFound);
      assert.deepEqual(sel.select(0), []);
      // An fd closed behind the module's back keeps its key until unregister().
      const libc = openTestLibc();
      try {
        using other = openPipe();
        const foreign = libc.symbols.dup(other.reader.fd);
        assert.ok(foreign >= 0);
        sel.register(foreign, Interest.READABLE);
        libc.symbols.close(foreign);
        assert.equal(sel.getKey(foreign)?.fd, foreign);
        assert.equal(sel.unregister(foreign).fd, foreign);
        assert.equal(sel.size, 0);
        assert.deepEqual(sel.select(0), []);
      } finally {
        libc.close();
      }
    },
  });
}

Deno.test({
  name: "epoll: a closed fd whose file lives on in a dup never delivers stale events",
  ignore: !linux,
  fn() {
    using sel = openSelector<string>();
    const libc = openTestLibc();
    try {
      using pipe = openPipe();
      using oneshot = openPipe();
      // A foreign fd (a dup the module does not own), so that its close is not announced.
      const fd = libc.symbols.dup(pipe.reader.fd);
      assert.ok(fd >= 0);
      sel.register(fd, Interest.READABLE, { data: "old" });
      // A oneshot registration that has fired and is disarmed must stay disarmed.
      sel.register(oneshot.reader.fd, Interest.READABLE, { oneshot: true, data: "once" });
      oneshot.writer.tryWrite(ONE);
      assert.deepEqual(sel.select(0).map((e) => e.data), ["once"]);
      const copy = libc.symbols.dup(fd);
      assert.ok(copy >= 0);
      try {
        libc.symbols.close(fd); // closed before unregistered: the kernel keeps the registration
        sel.unregister(fd);
        pipe.writer.tryWrite(ONE); // the file is readable, through `copy`
        const cpu = threadCpuMicros(libc);
        const start = performance.now();
        assert.deepEqual(sel.select(150), []);
        assert.ok(performance.now() - start >= 150);
        // The orphan is not polled over and over: the wait really slept. The
        // thread's own CPU time, not the process's: under emulation the
        // runtime's other threads keep a core busy meanwhile.
        const used = threadCpuMicros(libc) - cpu;
        assert.ok(used < 75_000, `select(150) used ${used} µs of this thread's CPU time`);
        // The disarmed oneshot stays quiet, even on hangup, until modify() re-arms it.
        oneshot.writer.close();
        assert.deepEqual(sel.select(0), []);
        sel.modify(oneshot.reader.fd, Interest.READABLE);
        assert.deepEqual(sel.select(0).map((e) => [e.data, e.hangup]), [["once", true]]);
        sel.unregister(oneshot.reader.fd);
        // A new fd, likely with the same number, gets its own registration and data.
        using other = openPipe();
        sel.register(other.writer.fd, Interest.WRITABLE, { data: "new" });
        sel.register(other.reader.fd, Interest.READABLE, { data: "new reader" });
        assert.deepEqual(sel.select(0).map((e) => [e.fd, e.data]), [[other.writer.fd, "new"]]);
        sel.unregister(other.writer.fd);
        sel.unregister(other.reader.fd);
      } finally {
        libc.symbols.close(copy);
      }
    } finally {
      libc.close();
    }
  },
});

Deno.test({
  name: "epoll: an edge-triggered fd is reported once per new readiness",
  ignore: !linux,
  fn() {
    using sel = openSelector();
    using pipe = openPipe();
    const fd = pipe.reader.fd;
    sel.register(fd, Interest.READABLE, { edge: true });
    assert.equal(sel.getKey(fd)?.edge, true);
    pipe.writer.tryWrite(ONE);
    assert.equal(sel.select(0).length, 1);
    assert.deepEqual(sel.select(0), []); // still readable, but no new edge
    pipe.writer.tryWrite(ONE);
    assert.equal(sel.select(0).length, 1);
    sel.unregister(fd);
  },
});

Deno.test({
  name: "epoll: exclusive registrations report events, and modify() replaces them",
  ignore: !linux,
  fn() {
    using a = openSelector<string>();
    using b = openSelector<string>();
    using pipe = openPipe();
    const fd = pipe.reader.fd;
    a.register(fd, Interest.READABLE, { exclusive: true, data: "a" });
    b.register(fd, Interest.READABLE, { exclusive: true, edge: true, data: "b" });
    assert.equal(a.getKey(fd)?.exclusive, true);
    pipe.writer.tryWrite(ONE);
    assert.deepEqual(a.select(0).map((e) => [e.fd, e.data, e.readable]), [[fd, "a", true]]);
    const key = a.modify(fd, Interest.READABLE | Interest.WRITABLE, { data: "a2" });
    assert.equal(key.exclusive, true);
    assert.deepEqual(a.select(0).map((e) => e.data), ["a2"]);
    a.unregister(fd);
    b.unregister(fd);
  },
});

Deno.test({
  name: "epoll: openSelector() picks epoll on Linux, and the event layout follows the arch",
  ignore: !linux,
  fn() {
    using sel = openSelector();
    assert.equal(sel.backend, "epoll");
    const expected = Deno.build.arch === "x86_64" ? [12, 4] : [16, 8];
    assert.deepEqual([EPOLL_EVENT_SIZE, EPOLL_EVENT_DATA_OFFSET], expected);
  },
});

Deno.test({
  name: "openSelector() on Windows picks afd, and refuses epoll and poll naming the OS",
  ignore: Deno.build.os !== "windows",
  fn() {
    using sel = openSelector();
    assert.equal(sel.backend, "afd");
    for (const backend of BACKENDS) {
      assert.throws(() => openSelector({ backend }), (e: Error) => {
        assert.ok(e instanceof Deno.errors.NotSupported);
        assert.match(e.message, /for Linux, not windows/);
        return true;
      });
    }
  },
});

Deno.test({
  name: "a Waker wakes a selector as often as asked, and a closed one is BadResource",
  ignore: !linux,
  fn() {
    using sel = openSelector();
    const waker = openWaker(sel.wakerHandle);
    assert.equal(waker.handle, sel.wakerHandle);
    for (let i = 0; i < 3; i++) {
      waker.wake();
      const start = performance.now();
      assert.deepEqual(sel.select(10_000), []);
      assert.ok(performance.now() - start < slack(5_000));
    }
    waker.close();
    waker.close();
    assert.equal(waker.closed, true);
    assert.throws(() => waker.wake(), Deno.errors.BadResource);
    assert.throws(() => openWaker(-1), RangeError);
    assert.throws(() => openWaker(0.5), TypeError);
  },
});

/** libc calls that put a file at a chosen fd number, as a reuse of that number would. */
const DUP2 = {
  dup2: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

for (const backend of BACKENDS) {
  Deno.test({
    name:
      `${backend}: a Waker used after its selector closed writes nothing into the pipe that took its number`,
    ignore: !linux,
    fn() {
      const sel = openSelector({ backend });
      const handle = sel.wakerHandle;
      using waker = openWaker(handle);
      using pipe = openPipe(); // opened first, so that neither end takes the number
      sel.close();
      withLibc(DUP2, (libc) => {
        // The waker's number now names a fresh pipe's write end.
        assert.equal(libc.dup2(pipe.writer.fd, handle), handle);
        try {
          waker.wake(); // wakes nothing, and throws nothing
          waker.wake();
          assert.equal(pipe.reader.tryRead(new Uint8Array(64)), 0, "the pipe received bytes");
        } finally {
          libc.close(handle);
        }
      });
    },
  });

  Deno.test({
    name: `${backend}: wake(handle) refuses a number that now names a pipe, and writes nothing`,
    ignore: !linux,
    fn() {
      const sel = openSelector({ backend });
      const handle = sel.wakerHandle;
      using pipe = openPipe(); // opened first, so that neither end takes the number
      sel.close();
      withLibc(DUP2, (libc) => {
        assert.equal(libc.dup2(pipe.writer.fd, handle), handle);
        try {
          assert.throws(() => wake(handle), (error: Error) => {
            assert.ok(error instanceof Deno.errors.BadResource);
            assert.match(
              error.message,
              new RegExp(
                `^Cannot wake selector handle ${handle}: fd ${handle} is not a selector's waker ` +
                  `\\(an eventfd\\), it is pipe:\\[\\d+\\]$`,
              ),
            );
            return true;
          });
          assert.throws(() => openWaker(handle), Deno.errors.BadResource);
          assert.equal(pipe.reader.tryRead(new Uint8Array(64)), 0, "the pipe received bytes");
        } finally {
          libc.close(handle);
        }
      });
    },
  });
}

Deno.test({
  name: "a Waker holds one close-on-exec fd of its own until it is closed",
  ignore: !linux,
  async fn() {
    using sel = openSelector();
    const before = await settledFds();
    const waker = openWaker(sel.wakerHandle);
    const added = openFds().filter((fd) => !before.includes(fd));
    assert.equal(added.length, 1);
    withLibc({ fcntl: { parameters: ["i32", "i32"], result: "i32" } }, (libc) => {
      const F_GETFD = 1;
      const FD_CLOEXEC = 1;
      assert.equal(libc.fcntl(added[0], F_GETFD), FD_CLOEXEC);
    });
    waker.wake();
    assert.deepEqual(sel.select(10_000), []);
    waker.close();
    assert.deepEqual(openFds(), before);
  },
});
