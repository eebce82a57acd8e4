// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The io_uring port's doorbell: with deferred completion work
 * (SINGLE_ISSUER | DEFER_TASKRUN) the ring's eventfd has been seen
 * signalled one RCU grace period late (10-16 ms; see `io_uring.ts` and
 * bench/README.md), so every pollable fd with an operation waiting is also
 * registered, once and edge-triggered, in the epoll set a park waits on. A
 * socket's wake-up reaches an epoll waiter at once, the parked thread comes
 * back, and the engine enters the ring.
 *
 * - A read (or an accept) asks for EPOLLIN at once; a write (or a connect)
 *   asks for EPOLLOUT only if it still waits when a thread is about to be
 *   parked (most writes complete inline).
 * - Registrations are made before a park, never re-armed, and forgotten
 *   when the fd's number may name another file (a close, `associate()`, an
 *   accepted or connecting socket).
 * - Before a park its old edges are drained; an edge that says work for a
 *   read is on its way makes the pump look again rather than park.
 * - An fd epoll cannot watch (EPERM) gets no doorbell: the eventfd must do.
 *
 * It knows no ring and no operation's outcome: only which fds wait, and in
 * which direction.
 *
 * @module
 */

import {
  EEXIST,
  ENOENT,
  EPERM,
  EPOLL_CTL_ADD,
  EPOLL_CTL_MOD,
  EPOLL_EVENT_SIZE,
  EPOLLERR,
  EPOLLET,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLRDHUP,
} from "../../ffi/libc.ts";
import { CONNECT, READ, WRITE } from "../_port_engine.ts";
import type { EpollPark } from "./_epoll_park.ts";

/** Doorbell bits: waiting to read (or accept), waiting to write (or connect). */
const BELL_IN = EPOLLIN | EPOLLRDHUP;
const BELL_OUT = EPOLLOUT;
/** An fd epoll cannot watch (EPERM): no doorbell for it. */
const NO_BELL = -1;
/** A doorbell event that means work for a read is on its way. */
const BELL_WORK = EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP;
/** Doorbell events drained at most per park (more: drained again next time). */
const BELL_EVENTS = 256;
const STRIDE_WORDS = EPOLL_EVENT_SIZE / 4;

/** What the doorbell needs of an operation: its fd, kind and the generation of its slot. */
export interface BellWaiter {
  readonly handle: number;
  readonly kind: number;
  readonly gen: number;
}

/** The doorbell of one io_uring port, over the epoll set its parks wait on. */
export class Doorbell {
  readonly #park: EpollPark;
  /** Bits registered per fd (NO_BELL: epoll cannot watch it). */
  #have: number[] = [];
  /** Bits to register at the next park, per fd, and those fds. */
  #want: number[] = [];
  #fds: number[] = [];
  /** Writes and connects that may wait for room: their fds get BELL_OUT if they still wait at a park. */
  #outOps: BellWaiter[] = [];
  #outGens: number[] = [];
  readonly #events = new Uint8Array(BELL_EVENTS * EPOLL_EVENT_SIZE);
  readonly #words = new Uint32Array(this.#events.buffer);

  /** @param park the epoll set (with the ring's eventfd) that parks wait on */
  constructor(park: EpollPark) {
    this.#park = park;
  }

  /** Notes that the fd of `op` (a read or a write, not on a file) should ring while it waits. */
  want(op: BellWaiter): void {
    if (op.kind === READ) return this.wantIn(op.handle);
    if ((this.#have[op.handle] ?? 0) & BELL_OUT) return;
    this.wantOut(op);
  }

  /** Asks for EPOLLIN on `fd` (a read or an accept waits on it). */
  wantIn(fd: number): void {
    const have = this.#have[fd] ?? 0;
    if (have === NO_BELL || (have & BELL_IN) !== 0) return;
    const want = this.#want[fd] ?? 0;
    if (want === 0) this.#fds.push(fd);
    this.#want[fd] = want | BELL_IN;
  }

  /** Asks for EPOLLOUT on the fd of `op` (a write or a connect) if it still waits at the next park. */
  wantOut(op: BellWaiter): void {
    this.#outOps.push(op);
    this.#outGens.push(op.gen);
  }

  /** Registers what was asked for since the last park. */
  register(): void {
    const outOps = this.#outOps;
    if (outOps.length > 0) {
      const gens = this.#outGens;
      for (let i = 0; i < outOps.length; i++) {
        const op = outOps[i];
        // Settled since (its slot freed or reused): nothing waits.
        if (op.gen !== gens[i] || (op.kind !== WRITE && op.kind !== CONNECT)) continue;
        const fd = op.handle;
        const want = this.#want[fd] ?? 0;
        if (want === 0) this.#fds.push(fd);
        this.#want[fd] = want | BELL_OUT;
      }
      this.#outOps = [];
      this.#outGens = [];
    }
    const fds = this.#fds;
    if (fds.length === 0) return;
    this.#fds = [];
    const park = this.#park;
    for (const fd of fds) {
      const want = this.#want[fd] ?? 0;
      this.#want[fd] = 0;
      const have = this.#have[fd] ?? 0;
      if (have === NO_BELL || (want & ~have) === 0) continue;
      const bits = have | want;
      const epollBits = (bits | EPOLLET) >>> 0;
      let e = park.ctl(have === 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, epollBits, fd, 0);
      // Registered under a file of that number the engine forgot, or gone with its file.
      if (e === EEXIST) e = park.ctl(EPOLL_CTL_MOD, fd, epollBits, fd, 0);
      else if (e === ENOENT) e = park.ctl(EPOLL_CTL_ADD, fd, epollBits, fd, 0);
      if (e === 0) this.#have[fd] = bits;
      else if (e === EPERM) this.#have[fd] = NO_BELL; // epoll cannot watch it: the eventfd must do
    }
  }

  /** Takes the old edges; returns how many say that work for a read is on its way. */
  drain(): number {
    const words = this.#words;
    let work = 0;
    for (;;) {
      const n = this.#park.wait(this.#events, BELL_EVENTS, 0);
      if (n <= 0) return work;
      for (let i = 0, w = 0; i < n; i++, w += STRIDE_WORDS) {
        if (words[w] & BELL_WORK) work++;
      }
      if (n < BELL_EVENTS) return work;
    }
  }

  /** What the doorbell knew of `fd` is stale (a new file of that number). */
  forget(fd: number): void {
    if (this.#have[fd] !== undefined) this.#have[fd] = 0;
  }
}
