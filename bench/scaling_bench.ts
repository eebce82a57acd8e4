// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The O(1)-vs-O(n) claim: `selectInto(events, 0)` with 10 to 10,000
 * registered fds and one of them ready, on epoll (the baseline) and poll.
 *
 *     deno bench --allow-ffi bench/scaling_bench.ts
 *
 * The fds are eventfds (one fd each), registered in both selectors; the
 * ready one has a counter of 1 and is never read.
 *
 * @module
 */

import { type EventFd, Interest, openEventFd, openSelector, SelectorEvents } from "../mod.ts";
import { SIZES } from "./_sizes.ts";

const events = new SelectorEvents();
for (const size of SIZES) {
  // Everything here lives as long as the bench process.
  const fds: EventFd[] = Array.from({ length: size }, () => openEventFd());
  fds[size >> 1].add(1); // one ready, in the middle
  const epoll = openSelector({ backend: "epoll" });
  const poll = openSelector({ backend: "poll" });
  for (const { fd } of fds) {
    epoll.register(fd, Interest.READABLE);
    poll.register(fd, Interest.READABLE);
  }
  for (const [backend, selector] of [["epoll", epoll], ["poll", poll]] as const) {
    Deno.bench({
      group: `registered-${size}`,
      name: `${backend} selectInto(events, 0), ${size} registered, 1 ready`,
      baseline: backend === "epoll",
      fn() {
        if (selector.selectInto(events, 0) !== 1) throw new Error("not one event");
      },
    });
  }
}
