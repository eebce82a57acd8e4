// Copyright 2026 the @evented/io authors. MIT license.
/**
 * What the epoll CompletionPort knows of each fd, by number: its kind
 * (file, socket, other stream) and whether it blocks, learnt with
 * fstat/fcntl; the operations waiting on it, one FIFO per direction; and
 * its registration in epoll — level-triggered with EPOLLONESHOT and re-armed
 * while operations wait, or, for a socket the port made or accepted (whose
 * close it always sees), edge-triggered once for good. Each state carries a
 * generation in its epoll data, so that an event of an older state of the
 * same number is dropped.
 *
 * It knows no operation's outcome and no core: it says what epoll answered
 * (an errno) and the engine (`epoll_port.ts`) decides what that means for
 * the operations waiting.
 *
 * @module
 */

import { osError } from "../../ffi/errors.ts";
import {
  EEXIST,
  ENOENT,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  EPOLL_EVENT_DATA_OFFSET,
  EPOLL_EVENT_SIZE,
  EPOLLERR,
  EPOLLET,
  EPOLLHUP,
  EPOLLIN,
  EPOLLONESHOT,
  EPOLLOUT,
  EPOLLRDHUP,
  errno,
  F_GETFL,
  type Libc,
  O_NONBLOCK,
  S_IFBLK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  STAT_MODE_OFFSET,
  STAT_SIZE,
} from "../../ffi/libc.ts";
import { FILE, SOCKET, STREAM } from "../_port_engine.ts";
import type { EpollPark } from "./_epoll_park.ts";

/** Events one epoll_wait takes at most; a full batch is followed by another. */
export const EVENTS = 256;
const STRIDE_WORDS = EPOLL_EVENT_SIZE / 4;
/** epoll_event.data: the fd in the low word, the generation of its state in the high one. */
const FD_WORD = EPOLL_EVENT_DATA_OFFSET / 4;
const GEN_WORD = FD_WORD + 1;
/** Read readiness: data, the end of the stream, an error. */
export const READ_READY = EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP;
/** The final states of the reading side: the peer's shutdown, a hangup, an error. */
export const READ_CLOSED = EPOLLRDHUP | EPOLLERR | EPOLLHUP;
/** Write readiness: room, an error, a hangup. */
export const WRITE_READY = EPOLLOUT | EPOLLERR | EPOLLHUP;

// Scratch space for fstat (one thread runs this module instance).
const statBuffer = new Uint8Array(STAT_SIZE);
const statView = new DataView(statBuffer.buffer);

/** What the engine knows of one fd, and the operations (`O`) waiting on it. */
export class FdState<O> {
  readonly fd: number;
  /** Tags its epoll registration: events of an older state of the same number are dropped. */
  readonly gen: number;
  readonly kind: number;
  /** A stream without O_NONBLOCK: waited for before each call, which then moves what fits. */
  blocking: boolean;
  /** Reads and accepts not yet done, in order. */
  reads: O[] = [];
  /** Writes and connects not yet done, in order. */
  writes: O[] = [];
  /** The epoll bits armed in the kernel (0: disarmed, or not registered). */
  armed = 0;
  /** Whether the fd is in the epoll set, as far as the engine knows. */
  registered = false;
  /** epoll cannot watch it (EPERM): its calls never block. */
  unwatchable = false;
  /**
   * The last read took less than it asked for: the fd was empty then, so
   * the next read waits for readiness instead of trying (as tokio does).
   */
  drained = false;
  /**
   * The peer's end of the stream, a hangup or an error was reported: final
   * states, which an edge-triggered registration reports once, so reads are
   * always tried from then on (as tokio keeps READ_CLOSED).
   */
  readClosed = false;
  /**
   * A socket the port made (connect) or took (accept): its close is always
   * seen, so it is registered once, edge-triggered, for both directions,
   * and never re-armed.
   */
  readonly edge: boolean;

  constructor(fd: number, gen: number, kind: number, blocking: boolean, edge = false) {
    this.fd = fd;
    this.gen = gen;
    this.kind = kind;
    this.blocking = blocking;
    this.edge = edge;
  }

  get idle(): boolean {
    return this.reads.length === 0 && this.writes.length === 0;
  }
}

/** The states of the fds one epoll port knows, and their registrations in its epoll set. */
export class FdTable<O> {
  readonly #libc: Libc;
  readonly #park: EpollPark;
  #fds: (FdState<O> | undefined)[] = [];
  #nextGen = 1;
  readonly #events = new Uint8Array(EVENTS * EPOLL_EVENT_SIZE);
  readonly #eventWords = new Uint32Array(this.#events.buffer);

  constructor(libc: Libc, park: EpollPark) {
    this.#libc = libc;
    this.#park = park;
  }

  /** The state of `fd`, if the engine knows it. */
  get(fd: number): FdState<O> | undefined {
    return this.#fds[fd];
  }

  /**
   * Asks the kernel what `fd` is (fstat, and fcntl for O_NONBLOCK) and
   * records it.
   *
   * @throws {Error} the errno of fstat or fcntl, under `action`
   */
  learn(action: string, fd: number): FdState<O> {
    const libc = this.#libc;
    if (libc.fstat(fd, statBuffer) < 0) throw osError(action, errno());
    const type = statView.getUint32(STAT_MODE_OFFSET, true) & S_IFMT;
    const kind = type === S_IFREG || type === S_IFBLK ? FILE : type === S_IFSOCK ? SOCKET : STREAM;
    let blocking = false;
    if (kind === STREAM) {
      const flags = libc.fcntl(fd, F_GETFL);
      if (flags < 0) throw osError(action, errno());
      blocking = (flags & O_NONBLOCK) === 0;
    }
    const old = this.#fds[fd];
    const state = new FdState<O>(fd, this.#gen(), kind, blocking);
    // The kernel may still hold the old registration (the same file): an
    // ADD then meets EEXIST and modifies it instead.
    if (old !== undefined) state.registered = old.registered;
    this.#fds[fd] = state;
    return state;
  }

  /**
   * Records a socket the port made or accepted, whose close it always sees
   * (a TcpConn's): registered edge-triggered once it first waits.
   */
  took(fd: number): FdState<O> {
    this.forget(fd); // what the engine knew of an earlier file of that number
    const state = new FdState<O>(fd, this.#gen(), SOCKET, false, true);
    this.#fds[fd] = state;
    return state;
  }

  /** Forgets `state` if it is still its fd's, without touching epoll (the fd is gone or stale). */
  drop(state: FdState<O>): void {
    if (this.#fds[state.fd] === state) this.#fds[state.fd] = undefined;
  }

  /** Whether `state` is still what the engine knows of its fd. */
  current(state: FdState<O>): boolean {
    return this.#fds[state.fd] === state;
  }

  /** Forgets `fd`, and takes it out of the epoll set if it was in. */
  forget(fd: number): void {
    const state = this.#fds[fd];
    if (state === undefined) return;
    this.#fds[fd] = undefined;
    if (state.registered) this.#ctl(EPOLL_CTL_DEL, state, 0);
  }

  /** Forgets every fd (the epoll set is being closed with them in it). */
  clear(): void {
    this.#fds = [];
  }

  /**
   * Arms `state`'s fd in epoll for the directions its operations wait for.
   *
   * @returns 0, or the errno epoll answered (EPERM: it cannot watch this fd)
   */
  arm(state: FdState<O>): number {
    let want = 0;
    if (state.reads.length > 0) want |= EPOLLIN | EPOLLRDHUP;
    if (state.writes.length > 0) want |= EPOLLOUT;
    if (want === 0) return 0;
    if (state.edge) {
      // Registered once for good: the next edge brings it back.
      if (!state.registered) {
        const bits = (EPOLLIN | EPOLLRDHUP | EPOLLOUT | EPOLLET) >>> 0;
        const e = this.#ctl(EPOLL_CTL_ADD, state, bits);
        if (e !== 0) return e;
        state.registered = true;
      }
      return 0;
    }
    if ((want & ~state.armed) === 0) return 0;
    const bits = (want | EPOLLONESHOT) >>> 0;
    let e: number;
    if (state.registered) {
      e = this.#ctl(EPOLL_CTL_MOD, state, bits);
      // ENOENT: the file was closed, its number reused; EEXIST cannot follow.
      if (e === ENOENT) e = this.#ctl(EPOLL_CTL_ADD, state, bits);
    } else {
      e = this.#ctl(EPOLL_CTL_ADD, state, bits);
      // EEXIST: still registered under an earlier state of this number.
      if (e === EEXIST) e = this.#ctl(EPOLL_CTL_MOD, state, bits);
    }
    if (e === 0) {
      state.registered = true;
      state.armed = want;
    }
    return e;
  }

  /**
   * One epoll_wait of up to {@linkcode EVENTS} events: each event of a
   * state the engine still knows goes to `ready` with its bits (a
   * one-shot registration is disarmed first).
   *
   * @returns the events harvested (0: none, or EINTR)
   */
  harvest(timeoutMs: number, ready: (state: FdState<O>, bits: number) => void): number {
    const n = this.#park.wait(this.#events, EVENTS, timeoutMs);
    const words = this.#eventWords;
    const fds = this.#fds;
    for (let i = 0, w = 0; i < n; i++, w += STRIDE_WORDS) {
      const state = fds[words[w + FD_WORD]];
      // A registration of an fd the engine has forgotten since: dropped.
      if (state === undefined || state.gen !== words[w + GEN_WORD]) continue;
      if (!state.edge) state.armed = 0; // EPOLLONESHOT: disarmed until armed again
      ready(state, words[w]);
    }
    return n < 0 ? 0 : n;
  }

  #ctl(op: number, state: FdState<O>, bits: number): number {
    return this.#park.ctl(op, state.fd, bits, state.fd, state.gen);
  }

  #gen(): number {
    const gen = this.#nextGen;
    this.#nextGen = gen === 0xffffffff ? 1 : gen + 1;
    return gen;
  }
}
