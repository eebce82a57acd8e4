// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The poll(2) backend: a {@linkcode Driver} over one `struct pollfd` array,
 * O(n) per wait. Level-triggered and oneshot; regular files are accepted
 * (poll reports them always ready); `edge` and `exclusive` are refused.
 *
 * It owns the pollfd array; it must not know the key table or the rules a
 * user sees (the Selector core's, `_selector_core.ts`).
 *
 * @module
 */

import { type Driver, openSelectorWith, type Registration } from "../_selector_core.ts";
import { createEventFd, drainEventFd, signalEventFd } from "./_eventfd.ts";
import { readyFlags } from "./_ready.ts";
import { osError } from "../../ffi/errors.ts";
import {
  EINTR,
  errno,
  F_GETFD,
  type Libc,
  POLLFD_SIZE,
  POLLIN,
  POLLRDHUP,
  releaseLibc,
} from "../../ffi/libc.ts";
import {
  clearEvents,
  eventStore,
  type Selector,
  type SelectorEvents,
  setEventCount,
} from "../../types/selector.ts";
import type { Action } from "../shared/_describe.ts";

/** pollfd in 16-bit halves: fd is halves 0-1 (read as a 32-bit word), events 2, revents 3. */
const EVENTS_HALF = 2;
const REVENTS_HALF = 3;
/** Slot 0 holds the waker; registrations follow. */
const FIRST_SLOT = 1;
const INITIAL_SLOTS = 64;

function pollBits(interest: number): number {
  // Interest bits are POLLIN, POLLPRI and POLLOUT themselves.
  return interest & POLLIN ? interest | POLLRDHUP : interest;
}

class PollDriver<T> implements Driver<T> {
  readonly backend = "poll";
  readonly seesChangesWhileParked = false;
  woken = false;
  #libc: Libc;
  #waker: number;
  #interrupter: number;
  /** The live pollfd array: slot 0 the waker, then one slot per registration. */
  #fds: Uint8Array;
  #words: Int32Array;
  #halves: Uint16Array;
  #regs: (Registration<T> | undefined)[];
  #used = FIRST_SLOT;
  /** A copy a parked thread polls, with the interrupter in front. */
  #park: Uint8Array;

  constructor(libc: Libc) {
    this.#libc = libc;
    const action = "Cannot create poll selector";
    this.#waker = createEventFd(libc, action);
    try {
      this.#interrupter = createEventFd(libc, action);
    } catch (error) {
      libc.close(this.#waker);
      throw error;
    }
    this.#fds = new Uint8Array(INITIAL_SLOTS * POLLFD_SIZE);
    this.#words = new Int32Array(this.#fds.buffer);
    this.#halves = new Uint16Array(this.#fds.buffer);
    this.#regs = new Array(INITIAL_SLOTS).fill(undefined);
    this.#park = new Uint8Array((INITIAL_SLOTS + 1) * POLLFD_SIZE);
    this.#words[0] = this.#waker;
    this.#halves[EVENTS_HALF] = POLLIN;
  }

  get wakerFd(): number {
    return this.#waker;
  }

  owns(fd: number): boolean {
    return fd === this.#waker || fd === this.#interrupter;
  }

  checkOptions(action: Action, fd: number, edge: boolean, exclusive: boolean): void {
    if (edge) {
      throw new Deno.errors.NotSupported(`${action(fd)}: poll is level-triggered only (edge)`);
    }
    if (exclusive) {
      throw new Deno.errors.NotSupported(`${action(fd)}: exclusive is an epoll option`);
    }
  }

  /** poll() ignores closed fds (POLLNVAL at wait time): check up front, as epoll_ctl would. */
  #checkOpen(action: Action, fd: number): void {
    if (this.#libc.fcntl(fd, F_GETFD) < 0) throw osError(action(fd), errno());
  }

  #setSlot(slot: number, reg: Registration<T>): void {
    const { fd, interest } = reg.key;
    this.#words[slot * 2] = reg.armed ? fd : -1;
    this.#halves[slot * 4 + EVENTS_HALF] = pollBits(interest);
    this.#halves[slot * 4 + REVENTS_HALF] = 0;
    this.#regs[slot] = reg;
    reg.slot = slot;
  }

  add(action: Action, reg: Registration<T>): void {
    this.#checkOpen(action, reg.key.fd);
    if (this.#used === this.#regs.length) this.#grow();
    this.#setSlot(this.#used++, reg);
  }

  modify(action: Action, prev: Registration<T>, next: Registration<T>): void {
    this.#checkOpen(action, next.key.fd);
    this.#setSlot(prev.slot, next);
  }

  remove(_action: Action, reg: Registration<T>): void {
    // Nothing in the kernel to undo: a closed fd is removed like any other.
    const slot = reg.slot;
    const last = --this.#used;
    if (slot !== last) {
      this.#words[slot * 2] = this.#words[last * 2];
      this.#words[slot * 2 + 1] = this.#words[last * 2 + 1];
      const moved = this.#regs[last]!;
      this.#regs[slot] = moved;
      moved.slot = slot;
    }
    this.#regs[last] = undefined;
    reg.slot = -1;
  }

  #grow(): void {
    const slots = this.#regs.length * 2;
    const fds = new Uint8Array(slots * POLLFD_SIZE);
    fds.set(this.#fds);
    this.#fds = fds;
    this.#words = new Int32Array(fds.buffer);
    this.#halves = new Uint16Array(fds.buffer);
    this.#regs.length = slots;
    this.#regs.fill(undefined, this.#used);
  }

  fill(events: SelectorEvents<T>, timeoutMs: number): number {
    const used = this.#used;
    const n = this.#libc.poll(this.#fds, BigInt(used), timeoutMs);
    this.woken = false;
    if (n < 0) {
      const e = errno();
      if (e !== EINTR) throw osError(`Cannot poll ${used - FIRST_SLOT} fds`, e);
      return clearEvents(events);
    }
    const store = eventStore(events, n);
    const { fds, flags, data } = store;
    const halves = this.#halves;
    const regs = this.#regs;
    let count = 0;
    let seen = 0;
    if (halves[REVENTS_HALF] !== 0) {
      drainEventFd(this.#libc, this.#waker);
      this.woken = true;
      seen++;
    }
    for (let slot = FIRST_SLOT; seen < n && slot < used; slot++) {
      const revents = halves[slot * 4 + REVENTS_HALF];
      if (revents === 0) continue;
      seen++;
      const reg = regs[slot]!;
      if (reg.key.oneshot) {
        reg.armed = false;
        this.#words[slot * 2] = -1; // poll() skips negative fds: disarmed until modify()
      }
      fds[count] = reg.key.fd;
      // A registered fd that was closed: poll says POLLNVAL, reported as an error.
      flags[count] = readyFlags(revents, reg.key.interest);
      data[count] = reg.key.data;
      count++;
    }
    setEventCount(store, count);
    return count;
  }

  park(timeoutMs: number): Promise<void> {
    // The parked thread polls a copy, so that registrations can change meanwhile
    // (each change interrupts it, and it parks again on a fresh copy).
    const bytes = this.#used * POLLFD_SIZE;
    if (this.#park.length < bytes + POLLFD_SIZE) {
      this.#park = new Uint8Array(this.#fds.length + POLLFD_SIZE);
    }
    const park = this.#park;
    const view = new DataView(park.buffer);
    view.setInt32(0, this.#interrupter, true);
    view.setInt16(4, POLLIN, true);
    view.setInt16(6, 0, true);
    park.set(this.#fds.subarray(0, bytes), POLLFD_SIZE);
    return this.#libc.poll_parked(Deno.UnsafePointer.of(park), BigInt(this.#used + 1), timeoutMs)
      .then(() => {
        drainEventFd(this.#libc, this.#interrupter);
      });
  }

  interrupt(): void {
    signalEventFd(this.#libc, this.#interrupter, "Cannot interrupt poll wait");
  }

  wake(): void {
    signalEventFd(this.#libc, this.#waker, "Cannot wake poll selector");
  }

  close(): void {
    this.#libc.close(this.#interrupter);
    this.#libc.close(this.#waker);
    releaseLibc();
  }
}

/**
 * Opens a Selector on poll(2).
 *
 * @internal
 */
export function openPollSelector<T>(): Selector<T> {
  return openSelectorWith((libc) => new PollDriver<T>(libc));
}
