// Copyright 2026 the @evented/io authors. MIT license.
/**
 * An epoll fd, an eventfd that interrupts a wait on it, and a thread parked
 * on both: what the epoll Selector, the epoll CompletionPort and the
 * io_uring CompletionPort's doorbell share.
 *
 * A park is one nonblocking `poll()` on the epoll fd, the interrupter and
 * any other fds given (an io_uring's eventfd or ring fd), on another
 * thread: its errno is never read there, and only readiness is learnt from
 * it. What is ready is harvested afterwards with a synchronous
 * `epoll_wait` on the calling thread. The poll set is written off the V8
 * heap (another thread reads it) and once: a park allocates nothing.
 *
 * It knows nothing of what is registered, nor why.
 *
 * @module
 */

import { createEventFd, drainEventFd, signalEventFd } from "./_eventfd.ts";
import { osError } from "../../ffi/errors.ts";
import {
  EPOLL_CLOEXEC,
  EPOLL_EVENT_DATA_OFFSET,
  errno,
  type Libc,
  POLLFD_EVENTS_OFFSET,
  POLLFD_REVENTS_OFFSET,
  POLLFD_SIZE,
  POLLIN,
} from "../../ffi/libc.ts";

/** epoll_event.data in 32-bit words: the low one, and the high one. */
const DATA_LO_WORD = EPOLL_EVENT_DATA_OFFSET / 4;
const DATA_HI_WORD = DATA_LO_WORD + 1;

/**
 * An epoll set with an interrupter, parked on by one thread at a time.
 *
 * @internal
 */
export class EpollPark {
  readonly #libc: Libc;
  #epfd: number;
  /** The eventfd that ends a park. */
  readonly interrupter: number;
  /** Whether the interrupter was opened here (else the caller owns it). */
  readonly #ownsInterrupter: boolean;
  /** {epfd, POLLIN}, {interrupter, POLLIN}, then the extra fds: read by the parked thread. */
  readonly #pollfds: Uint8Array;
  readonly #pollView: DataView;
  readonly #pointer: Deno.PointerValue;
  readonly #count: bigint;
  /** One epoll_event for epoll_ctl. */
  readonly #ctl = new Uint8Array(16);
  readonly #ctlWords = new Uint32Array(this.#ctl.buffer);

  /**
   * Opens the epoll fd (and the interrupter, unless one is given).
   *
   * @param libc the bound libc
   * @param action the start of the messages of a failure
   * @param options an eventfd to use as the interrupter (the caller closes it), and other fds a park also waits on
   * @throws {Error} with the errno of a failed epoll_create1 or eventfd
   */
  constructor(
    libc: Libc,
    action: string,
    options: { interrupter?: number; extraFds?: readonly number[] } = {},
  ) {
    this.#libc = libc;
    const epfd = libc.epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) throw osError(`${action}: cannot create an epoll fd`, errno());
    this.#epfd = epfd;
    if (options.interrupter !== undefined) {
      this.interrupter = options.interrupter;
      this.#ownsInterrupter = false;
    } else {
      try {
        this.interrupter = createEventFd(libc, action);
      } catch (error) {
        libc.close(epfd);
        throw error;
      }
      this.#ownsInterrupter = true;
    }
    const fds = [epfd, this.interrupter, ...(options.extraFds ?? [])];
    this.#pollfds = new Uint8Array(new ArrayBuffer(fds.length * POLLFD_SIZE));
    this.#pollView = new DataView(this.#pollfds.buffer);
    fds.forEach((fd, i) => {
      this.#pollView.setInt32(i * POLLFD_SIZE, fd, true);
      this.#pollView.setInt16(i * POLLFD_SIZE + POLLFD_EVENTS_OFFSET, POLLIN, true);
    });
    this.#count = BigInt(fds.length);
    this.#pointer = Deno.UnsafePointer.of(this.#pollfds);
  }

  /** The epoll fd. */
  get epfd(): number {
    return this.#epfd;
  }

  /** Whether `fd` is one of the fds this set opened. */
  owns(fd: number): boolean {
    return fd === this.#epfd || (this.#ownsInterrupter && fd === this.interrupter);
  }

  /**
   * epoll_ctl(`op`) of `fd` with `bits` and the two words of data, on this
   * set (or on `epfd`, one being built to replace it); returns 0, or the
   * errno.
   */
  ctl(
    op: number,
    fd: number,
    bits: number,
    dataLo: number,
    dataHi: number,
    epfd = this.#epfd,
  ): number {
    const words = this.#ctlWords;
    words[0] = bits;
    words[DATA_LO_WORD] = dataLo;
    words[DATA_HI_WORD] = dataHi;
    return this.#libc.epoll_ctl(epfd, op, fd, this.#ctl) < 0 ? errno() : 0;
  }

  /** epoll_wait into `events` (at most `max`), waiting at most `timeoutMs`; -1 on an error. */
  wait(events: Uint8Array, max: number, timeoutMs: number): number {
    return this.#libc.epoll_wait(this.#epfd, events, max, timeoutMs);
  }

  /**
   * Replaces the epoll fd with `epfd` (a fresh set the caller filled), and
   * closes the old one; called with nothing parked.
   */
  replace(epfd: number): void {
    this.#libc.close(this.#epfd);
    this.#epfd = epfd;
    this.#pollView.setInt32(0, epfd, true);
  }

  /**
   * Parks a thread in poll() on every fd of the set until one is readable
   * or `timeoutMs` (-1: no limit) has passed. Its result and errno mean
   * nothing here: readiness is harvested afterwards.
   */
  park(timeoutMs = -1): Promise<number> {
    return this.#libc.poll_parked(this.#pointer, this.#count, timeoutMs);
  }

  /** Whether the fd at `index` of the poll set (0: epoll, 1: interrupter, 2…: extras) was readable when the last park returned. */
  rang(index: number): boolean {
    return this.#pollView.getInt16(index * POLLFD_SIZE + POLLFD_REVENTS_OFFSET, true) !== 0;
  }

  /** Ends a park (or makes the next one return at once). */
  interrupt(action: string): void {
    signalEventFd(this.#libc, this.interrupter, action);
  }

  /** Resets the interrupter after a park. */
  drain(): void {
    drainEventFd(this.#libc, this.interrupter);
  }

  /** Closes the fds this set opened; called with nothing parked. */
  close(): void {
    if (this.#ownsInterrupter) this.#libc.close(this.interrupter);
    this.#libc.close(this.#epfd);
  }
}
