// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The reactor's platform on Windows: an afd Selector (sockets), and a look
 * at one socket by `WSAPoll()` with no timeout (POLLNVAL, a socket not
 * open, is WSAENOTSOCK).
 *
 * It must not know a waiter or a socket's owner: the reactor
 * (`backends/_reactor.ts`) holds those.
 *
 * @module
 */

import { win32Error } from "../../ffi/errors.ts";
import {
  acquireWs2_32,
  releaseWs2_32,
  SOCKET_ERROR,
  WSAENOTSOCK,
  WSAPOLL_NVAL,
  WSAPOLL_RDNORM,
  WSAPOLL_WRNORM,
  WSAPOLLFD_EVENTS_OFFSET,
  WSAPOLLFD_REVENTS_OFFSET,
  WSAPOLLFD_SIZE,
} from "../../ffi/ws2_32.ts";
import { Interest } from "../../types/selector.ts";
import type { ReactorPlatform, Watch } from "../_reactor.ts";
import { openAfdSelector } from "./afd.ts";

const pollfd = new Uint8Array(WSAPOLLFD_SIZE);
const view = new DataView(pollfd.buffer);

/**
 * The reactor's platform on Windows.
 *
 * @internal
 */
export const windowsReactor: ReactorPlatform = {
  open() {
    const selector = openAfdSelector<Watch>();
    return { selector, edge: false, close: () => selector.close() };
  },
  readyNow(action, fd, interest) {
    const ws = acquireWs2_32();
    try {
      view.setBigUint64(0, BigInt(fd), true);
      const events = interest & Interest.WRITABLE ? WSAPOLL_WRNORM : WSAPOLL_RDNORM;
      view.setInt16(WSAPOLLFD_EVENTS_OFFSET, events, true);
      view.setInt16(WSAPOLLFD_REVENTS_OFFSET, 0, true);
      if (ws.WSAPoll(pollfd, 1, 0) === SOCKET_ERROR) throw win32Error(action, ws.WSAGetLastError());
      const revents = view.getInt16(WSAPOLLFD_REVENTS_OFFSET, true);
      if (revents & WSAPOLL_NVAL) throw win32Error(action, WSAENOTSOCK);
      return revents !== 0;
    } finally {
      releaseWs2_32();
    }
  },
};
