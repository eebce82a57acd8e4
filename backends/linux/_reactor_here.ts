// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The reactor's platform on Linux: an epoll Selector (edge-triggered
 * registrations: no re-arming per wait), and a look at one fd
 * by `poll()` with no timeout (POLLNVAL, an fd not open, is EBADF).
 *
 * It must not know a waiter or an fd's owner: the reactor
 * (`backends/_reactor.ts`) holds those.
 *
 * @module
 */

import { osError } from "../../ffi/errors.ts";
import {
  acquireLibc,
  EBADF,
  EINTR,
  errno,
  POLLFD_EVENTS_OFFSET,
  POLLFD_REVENTS_OFFSET,
  POLLFD_SIZE,
  POLLIN,
  POLLNVAL,
  POLLOUT,
  POLLRDHUP,
  releaseLibc,
} from "../../ffi/libc.ts";
import { Interest } from "../../types/selector.ts";
import type { ReactorPlatform, Watch } from "../_reactor.ts";
import { openEpollSelector } from "./epoll.ts";

const pollfd = new Uint8Array(POLLFD_SIZE);
const view = new DataView(pollfd.buffer);

/**
 * The reactor's platform on Linux.
 *
 * @internal
 */
export const linuxReactor: ReactorPlatform = {
  open() {
    const selector = openEpollSelector<Watch>();
    return { selector, edge: true, close: () => selector.close() };
  },
  readyNow(action, fd, interest) {
    const libc = acquireLibc();
    try {
      view.setInt32(0, fd, true);
      const events = interest & Interest.WRITABLE ? POLLOUT : POLLIN | POLLRDHUP;
      view.setInt16(POLLFD_EVENTS_OFFSET, events, true);
      view.setInt16(POLLFD_REVENTS_OFFSET, 0, true);
      while (libc.poll(pollfd, 1n, 0) < 0) {
        const e = errno();
        if (e !== EINTR) throw osError(action, e);
      }
      const revents = view.getInt16(POLLFD_REVENTS_OFFSET, true);
      if (revents & POLLNVAL) throw osError(action, EBADF);
      return revents !== 0;
    } finally {
      releaseLibc();
    }
  },
};
