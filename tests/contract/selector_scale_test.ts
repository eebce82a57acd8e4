// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The Selector at scale, on both Linux backends: 10,000 registered eventfds
 * (one fd each). One call returns every ready fd, none lost, none twice,
 * none starved; and nothing is left open afterwards.
 */

import assert from "node:assert/strict";
import {
  type EventFd,
  Interest,
  openEventFd,
  openSelector,
  Ready,
  SelectorEvents,
} from "../../mod.ts";
import { BACKENDS, fieldsOf, openFds, settledFds } from "../_helpers/mod.ts";

const linux = Deno.build.os === "linux";
const COUNT = 10_000;
/** The ready fds of the fairness steps: the first FAIR of the COUNT. */
const FAIR = 2_000;
/** Where the event buffer starts: one call must grow it to COUNT. */
const SMALL = 8;

for (const backend of BACKENDS) {
  Deno.test({
    name: `${backend}: 10,000 registered fds: one call returns every ready one, none starved`,
    ignore: !linux,
    async fn(t) {
      const before = (await settledFds()).length;
      const sel = openSelector<number>({ backend });
      const counters: EventFd[] = [];
      /** fd → its index in `counters` (the data it is registered with). */
      const indexOf = new Map<number, number>();
      const events = new SelectorEvents<number>(SMALL);

      /** One selectInto(events, 0); returns the indexes reported, each checked once. */
      const selectAll = (what: string): Set<number> => {
        const n = sel.selectInto(events, 0);
        assert.equal(events.length, n, what);
        const seen = new Set<number>();
        for (let i = 0; i < n; i++) {
          const fd = events.fd(i);
          const index = indexOf.get(fd);
          assert.ok(index !== undefined, `${what}: event ${i} has fd ${fd}, never registered`);
          assert.ok(!seen.has(index), `${what}: fd ${fd} reported twice`);
          seen.add(index);
          assert.equal(events.data(i), index, `${what}: data of fd ${fd}`);
          assert.equal(events.flags(i), Ready.READABLE, `${what}: flags of fd ${fd}`);
        }
        return seen;
      };
      /** Whether `seen` holds exactly the indexes from..to-1. */
      const assertRange = (seen: Set<number>, from: number, to: number, what: string) => {
        assert.equal(seen.size, to - from, `${what}: count`);
        for (let i = from; i < to; i++) assert.ok(seen.has(i), `${what}: fd of #${i} missing`);
      };

      try {
        for (let i = 0; i < COUNT; i++) {
          const counter = openEventFd();
          counters.push(counter);
          indexOf.set(counter.fd, i);
          sel.register(counter.fd, Interest.READABLE, { data: i });
        }
        assert.equal(sel.size, COUNT);
        assert.equal(events.capacity, SMALL);
        const during = openFds().length;
        assert.ok(during >= before + COUNT, `${during} fds open, ${before} before`);

        await t.step("one ready fd among 10,000 is the only one reported", () => {
          assert.deepEqual(sel.select(0), []);
          const k = 4_321;
          counters[k].add(1);
          const reported = sel.select(0).map((e) => [e.fd, e.data, e.readable, e.writable]);
          assert.deepEqual(reported, [[counters[k].fd, k, true, false]]);
          assert.equal(counters[k].take(), 1);
          assert.deepEqual(sel.select(0), []);
        });

        await t.step("10,000 ready fds come back from one selectInto(), none lost or twice", () => {
          for (const counter of counters) assert.equal(counter.add(1), true);
          const seen = selectAll("all ready");
          assertRange(seen, 0, COUNT, "all ready");
          assert.ok(events.capacity >= COUNT, `capacity ${events.capacity} did not grow`);
        });

        await t.step("2,000 level-triggered ready fds all appear in every call", () => {
          for (let i = FAIR; i < COUNT; i++) assert.equal(counters[i].take(), 1);
          for (let round = 0; round < 5; round++) {
            assertRange(selectAll(`round ${round}`), 0, FAIR, `round ${round}`);
          }
        });

        await t.step("a oneshot fd among 2,000 ready fires once, until modify() re-arms it", () => {
          const k = 777;
          const fd = counters[k].fd;
          const key = sel.modify(fd, Interest.READABLE, { oneshot: true });
          assert.deepEqual(fieldsOf(key), {
            fd,
            interest: Interest.READABLE,
            data: k,
            edge: false,
            oneshot: true,
            exclusive: false,
          });
          assertRange(selectAll("armed"), 0, FAIR, "armed");
          for (let round = 0; round < 3; round++) {
            const seen = selectAll(`disarmed ${round}`);
            assert.ok(!seen.has(k), `disarmed ${round}: the oneshot fd fired again`);
            assertRange(new Set([...seen, k]), 0, FAIR, `disarmed ${round}`);
          }
          // Absent options keep oneshot: re-armed for one more event.
          assert.equal(sel.modify(fd, Interest.READABLE).oneshot, true);
          assertRange(selectAll("re-armed"), 0, FAIR, "re-armed");
          assert.equal(selectAll("disarmed again").has(k), false);
          assert.equal(sel.modify(fd, Interest.READABLE, { oneshot: false }).oneshot, false);
          for (let round = 0; round < 2; round++) {
            assertRange(selectAll(`level ${round}`), 0, FAIR, `level ${round}`);
          }
        });

        await t.step("unregistering all 10,000 leaves the selector empty and silent", () => {
          for (let i = 0; i < COUNT; i++) {
            assert.equal(sel.unregister(counters[i].fd).data, i);
          }
          assert.equal(sel.size, 0);
          assert.equal(sel.getKey(counters[0].fd), undefined);
          // 2,000 are still readable, but no longer registered.
          assert.equal(sel.selectInto(events, 0), 0);
        });
      } finally {
        sel.close();
        for (const counter of counters) counter.close();
      }
      assert.equal(openFds().length, before, "open fds after closing everything");
    },
  });
}
