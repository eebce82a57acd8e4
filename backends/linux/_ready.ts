// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The translation of the kernel's readiness bits (epoll's and poll's, which
 * share their values) into a Selector's {@linkcode Ready} flags, checked
 * once at load against each other.
 *
 * It must not know a registration or a call: the Selector drivers
 * (`epoll.ts`, `poll.ts`) hand it bits and an interest.
 *
 * @module
 */

import {
  EPOLLERR,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLPRI,
  EPOLLRDHUP,
  POLLERR,
  POLLHUP,
  POLLIN,
  POLLNVAL,
  POLLOUT,
  POLLPRI,
  POLLRDHUP,
} from "../../ffi/libc.ts";
import { Ready } from "../../types/selector.ts";

// epoll and poll share their bit values, and IN, PRI, OUT, ERR and HUP are
// the Ready bits themselves. (epoll has no bit at POLLNVAL's value.)
const SAME_BITS = EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLERR | EPOLLHUP;
const DIRECTIONS = Ready.READABLE | Ready.WRITABLE;
if (
  SAME_BITS !== (POLLIN | POLLPRI | POLLOUT | POLLERR | POLLHUP) || EPOLLRDHUP !== POLLRDHUP ||
  SAME_BITS !== (Ready.READABLE | Ready.PRIORITY | Ready.WRITABLE | Ready.ERROR | Ready.HANGUP)
) {
  throw new Error("epoll, poll and Ready bits disagree");
}

/**
 * The {@linkcode Ready} flags of an epoll or poll event: error and hangup
 * (and POLLNVAL, a closed fd, as an error) also set the directions the fd is
 * registered for, so that a loop that only reads still sees a dead peer.
 *
 * @internal
 */
export function readyFlags(bits: number, interest: number): number {
  let ready = bits & SAME_BITS;
  if (bits & EPOLLRDHUP) ready |= Ready.READ_HANGUP;
  if (bits & POLLNVAL) ready |= Ready.ERROR;
  if (ready & (Ready.ERROR | Ready.HANGUP)) ready |= interest & DIRECTIONS;
  return ready;
}
