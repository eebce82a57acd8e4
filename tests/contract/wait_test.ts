// Copyright 2026 the @evented/io authors. MIT license.
import assert from "node:assert/strict";
import { Interest, openPipe, openSelector, SelectorEvents } from "../../mod.ts";
import {
  assertNoNewFds,
  BACKENDS,
  delay,
  Helper,
  openTestLibc,
  settledFds,
  slack,
} from "../_helpers/mod.ts";
import { SIGUSR2 } from "../../ffi/libc.ts";

const linux = Deno.build.os === "linux";
const ONE = new Uint8Array([1]);

for (const backend of BACKENDS) {
  Deno.test({
    name: `${backend}: wait() resolves from ready events without parking a thread`,
    ignore: !linux,
    async fn() {
      using sel = openSelector<string>({ backend });
      using pipe = openPipe();
      sel.register(pipe.reader.fd, Interest.READABLE, { data: "p" });
      // Ready events owe the event loop a turn only after some ms of ready
      // waits (STARVATION_MS): right after a wait() that parked, which
      // turned it, they owe none. On a slow or loaded machine (an
      // emulator, other processes on the same cores) this thread may be
      // descheduled for that long between the two waits: then it tries
      // again, up to ATTEMPTS times.
      const ATTEMPTS = 5;
      const late: number[] = [];
      for (let attempt = 0;; attempt++) {
        assert.deepEqual(await sel.wait({ timeout: 1 }), []);
        const turned = performance.now();
        pipe.writer.tryWrite(ONE);
        let timerFired = false;
        const timer = setTimeout(() => timerFired = true, 0);
        const events = await sel.wait();
        clearTimeout(timer);
        assert.deepEqual(events.map((e) => [e.fd, e.data, e.readable]), [[
          pipe.reader.fd,
          "p",
          true,
        ]]);
        assert.equal(pipe.reader.tryRead(new Uint8Array(8)), 1);
        // A parked call completes only when the event loop turns, after the 0 ms timer.
        if (!timerFired) break;
        late.push(performance.now() - turned);
        assert.ok(
          attempt + 1 < ATTEMPTS,
          `a 0 ms timer fired before wait() resolved, ${ATTEMPTS} times: ${late} ms after a turn`,
        );
      }
      sel.unregister(pipe.reader.fd);
    },
  });

  Deno.test({
    name:
      `${backend}: a oneshot event found by a wait() after an idle spell is handed out, not lost`,
    ignore: !linux,
    async fn() {
      using sel = openSelector({ backend });
      using pipe = openPipe();
      pipe.writer.tryWrite(ONE);
      sel.register(pipe.reader.fd, Interest.READABLE, { oneshot: true });
      // Idle for longer than the fairness interval: the wait yields a turn
      // before it resolves, and must hand out what it harvested before it.
      await delay(20);
      const events = new SelectorEvents();
      assert.equal(await sel.waitInto(events, { timeout: 1_000 }), 1);
      assert.equal(events.fd(0), pipe.reader.fd);
      sel.unregister(pipe.reader.fd);
    },
  });

  Deno.test({
    name: `${backend}: wait() parks without blocking timers, and resolves when an fd turns ready`,
    ignore: !linux,
    async fn() {
      using sel = openSelector({ backend });
      using pipe = openPipe();
      sel.register(pipe.reader.fd, Interest.READABLE);
      let ticks = 0;
      const interval = setInterval(() => {
        if (++ticks === 10) pipe.writer.tryWrite(ONE);
      }, 5);
      try {
        const events = await sel.wait({ timeout: 30_000 });
        assert.equal(ticks >= 10, true);
        assert.deepEqual(events.map((e) => e.fd), [pipe.reader.fd]);
      } finally {
        clearInterval(interval);
      }
      sel.unregister(pipe.reader.fd);
    },
  });

  Deno.test({
    name: `${backend}: wait() under constant readiness still lets timers and signals run`,
    ignore: !linux,
    async fn() {
      using sel = openSelector({ backend });
      using pipe = openPipe();
      sel.register(pipe.reader.fd, Interest.READABLE); // level-triggered, never read: always ready
      pipe.writer.tryWrite(ONE);
      const libc = openTestLibc();
      let signalled = 0;
      const onSignal = () => signalled++;
      Deno.addSignalListener("SIGUSR2", onSignal);
      let ticks = 0;
      let last = performance.now();
      let longestGap = 0;
      const interval = setInterval(() => {
        const now = performance.now();
        longestGap = Math.max(longestGap, now - last);
        last = now;
        ticks++;
      }, 1);
      try {
        const events = new SelectorEvents();
        const start = performance.now();
        let calls = 0;
        last = start;
        libc.symbols.kill(libc.symbols.getpid(), SIGUSR2);
        while (performance.now() - start < 400) {
          assert.equal(await sel.waitInto(events), 1);
          calls++;
        }
        assert.ok(calls > ticks, `${calls} waits, ${ticks} ticks`); // mostly the fast path
        assert.ok(ticks >= 10, `only ${ticks} timer ticks in 400 ms of ready waits`);
        assert.ok(longestGap < slack(150), `timers were starved for ${longestGap} ms`);
        assert.equal(signalled, 1);
      } finally {
        clearInterval(interval);
        Deno.removeSignalListener("SIGUSR2", onSignal);
        libc.close();
      }
      sel.unregister(pipe.reader.fd);
    },
  });

  Deno.test({
    name: `${backend}: wait({ timeout }) never resolves early`,
    ignore: !linux,
    async fn() {
      using sel = openSelector({ backend });
      for (const timeout of [40, 5.5, 0.3]) {
        const start = performance.now();
        assert.deepEqual(await sel.wait({ timeout }), []);
        const elapsed = performance.now() - start;
        assert.ok(elapsed >= Math.ceil(timeout), `wait(${timeout}) resolved after ${elapsed} ms`);
      }
      const start = performance.now();
      assert.deepEqual(await sel.wait({ timeout: 0 }), []);
      assert.deepEqual(await sel.wait({ timeout: -5 }), []);
      assert.ok(performance.now() - start < slack(1_000));
    },
  });

  Deno.test({
    name:
      `${backend}: an aborted wait() rejects with the signal's reason and leaves no thread parked`,
    ignore: !linux,
    async fn() {
      using sel = openSelector({ backend });
      using pipe = openPipe();
      sel.register(pipe.reader.fd, Interest.READABLE);
      const reason = new Error("stop");
      await assert.rejects(sel.wait({ signal: AbortSignal.abort(reason) }), (e) => e === reason);
      const controller = new AbortController();
      setTimeout(() => controller.abort(reason), 20);
      const start = performance.now();
      await assert.rejects(sel.wait({ signal: controller.signal }), (e) => e === reason);
      assert.ok(performance.now() - start >= 15);
      // The selector is usable at once, and a timeout signal works as well.
      await assert.rejects(
        sel.wait({ signal: AbortSignal.timeout(10) }),
        (e: Error) => e.name === "TimeoutError",
      );
      pipe.writer.tryWrite(ONE);
      const fresh = new AbortController();
      assert.equal((await sel.wait({ signal: fresh.signal, timeout: 1000 })).length, 1);
      sel.unregister(pipe.reader.fd);
    },
  });

  Deno.test({
    name: `${backend}: a second wait(), or a select(), during a pending wait() is Busy`,
    ignore: !linux,
    async fn() {
      using sel = openSelector({ backend });
      const pending = sel.wait();
      await assert.rejects(sel.wait(), Deno.errors.Busy);
      await assert.rejects(sel.waitInto(new SelectorEvents()), Deno.errors.Busy);
      assert.throws(() => sel.select(0), Deno.errors.Busy);
      assert.throws(() => sel.selectInto(new SelectorEvents(), 0), Deno.errors.Busy);
      sel.wakeup();
      assert.deepEqual(await pending, []);
      assert.deepEqual(sel.select(0), []); // no longer busy
    },
  });

  Deno.test({
    name: `${backend}: wakeup() resolves a pending wait() with no events`,
    ignore: !linux,
    async fn() {
      using sel = openSelector({ backend });
      setTimeout(() => sel.wakeup(), 20);
      const start = performance.now();
      assert.deepEqual(await sel.wait({ timeout: 30_000 }), []);
      assert.ok(performance.now() - start >= 15);
      // The wakeup was consumed: the next wait times out.
      const again = performance.now();
      assert.deepEqual(await sel.wait({ timeout: 20 }), []);
      assert.ok(performance.now() - again >= 20);
    },
  });

  Deno.test({
    name: `${backend}: a Worker's wake(wakerHandle) resolves a pending wait()`,
    ignore: !linux,
    async fn() {
      using sel = openSelector({ backend });
      using helper = new Helper();
      await helper.start({ kind: "wake", handle: sel.wakerHandle, delay: 20 });
      assert.deepEqual(await sel.wait({ timeout: 30_000 }), []);
      assert.equal(await helper.next(), "done");
    },
  });

  Deno.test({
    name: `${backend}: registrations made while wait() is parked take effect for it`,
    ignore: !linux,
    async fn(t) {
      using sel = openSelector<string>({ backend });
      using pipe = openPipe();
      using other = openPipe();
      await t.step("register", async () => {
        const pending = sel.wait({ timeout: 30_000 });
        await delay(20);
        sel.register(pipe.reader.fd, Interest.READABLE, { data: "late" });
        await delay(20);
        pipe.writer.tryWrite(ONE);
        assert.deepEqual((await pending).map((e) => e.data), ["late"]);
        pipe.reader.tryRead(new Uint8Array(8));
      });
      await t.step("modify", async () => {
        sel.register(other.writer.fd, Interest.READABLE, { data: "w" }); // a write end: never readable
        const pending = sel.wait({ timeout: 30_000 });
        await delay(20);
        sel.modify(other.writer.fd, Interest.WRITABLE);
        const events = await pending;
        assert.deepEqual(events.map((e) => [e.data, e.writable]), [["w", true]]);
        sel.unregister(other.writer.fd);
      });
      await t.step("unregister", async () => {
        const pending = sel.wait({ timeout: 60 });
        await delay(10);
        sel.unregister(pipe.reader.fd);
        pipe.writer.tryWrite(ONE); // no longer watched: the wait times out
        assert.deepEqual(await pending, []);
        pipe.reader.tryRead(new Uint8Array(8));
      });
    },
  });

  Deno.test({
    name: `${backend}: close() during a pending wait() resolves it with [] and then frees every fd`,
    ignore: !linux,
    async fn() {
      const before = await settledFds();
      const sel = openSelector({ backend });
      const events = new SelectorEvents();
      const pending = sel.waitInto(events, { timeout: 30_000 });
      await delay(20);
      sel.close();
      assert.equal(sel.closed, true);
      assert.equal(await pending, 0);
      assert.equal(events.length, 0);
      assertNoNewFds(before);
      await assert.rejects(sel.wait(), Deno.errors.BadResource);
    },
  });

  Deno.test({
    name: `${backend}: waitInto() fills the buffer and returns the count`,
    ignore: !linux,
    async fn() {
      using sel = openSelector<number>({ backend });
      using a = openPipe();
      using b = openPipe();
      sel.register(a.writer.fd, Interest.WRITABLE, { data: 1 });
      sel.register(b.writer.fd, Interest.WRITABLE, { data: 2 });
      const events = new SelectorEvents<number>(1);
      assert.equal(await sel.waitInto(events), 2);
      assert.deepEqual([events.data(0), events.data(1)].sort(), [1, 2]);
      sel.unregister(a.writer.fd);
      sel.unregister(b.writer.fd);
    },
  });
}
