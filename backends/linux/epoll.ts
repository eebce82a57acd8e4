// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The epoll backend: a {@linkcode Driver} over `epoll_create1`,
 * `epoll_ctl` and `epoll_wait`, parked in `poll()` on the epoll fd.
 *
 * It owns the epoll calls of a Selector; it must not know the key table or
 * the rules a user sees (the Selector core's, `_selector_core.ts`).
 *
 * @module
 */

import { type Driver, openSelectorWith, type Registration } from "../_selector_core.ts";
import { EpollPark } from "./_epoll_park.ts";
import { createEventFd, drainEventFd, signalEventFd } from "./_eventfd.ts";
import { readyFlags } from "./_ready.ts";
import { osError } from "../../ffi/errors.ts";
import {
  EBADF,
  EINTR,
  ENOENT,
  EPERM,
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_CTL_MOD,
  EPOLL_EVENT_DATA_OFFSET,
  EPOLL_EVENT_SIZE,
  EPOLLET,
  EPOLLEXCLUSIVE,
  EPOLLIN,
  EPOLLONESHOT,
  EPOLLRDHUP,
  errno,
  type Libc,
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

/**
 * epoll_event in 32-bit words: the stride, and the words of `data`: the low
 * one the registration's slot in the driver's table, the high one its
 * generation (a slot is reused; a generation is not, for 2^32 registrations).
 */
const STRIDE_WORDS = EPOLL_EVENT_SIZE / 4;
const SLOT_WORD = EPOLL_EVENT_DATA_OFFSET / 4;
const GEN_WORD = SLOT_WORD + 1;
/** The slot word of the waker's events. */
const WAKER_SLOT = 0xffffffff;
const INITIAL_CAPACITY = 64;
/** Where the park's poll set has the interrupter. */
const INTERRUPTER = 1;

/** The epoll_event bits for a registration. */
function eventBits(reg: Registration<unknown>): number {
  const { interest, edge, oneshot, exclusive } = reg.key;
  // Interest bits are EPOLLIN, EPOLLPRI and EPOLLOUT themselves.
  let bits = interest;
  if (interest & EPOLLIN && !exclusive) bits |= EPOLLRDHUP;
  if (edge) bits |= EPOLLET;
  if (oneshot) bits |= EPOLLONESHOT;
  if (exclusive) bits |= EPOLLEXCLUSIVE;
  return bits >>> 0;
}

class EpollDriver<T> implements Driver<T> {
  readonly backend = "epoll";
  readonly seesChangesWhileParked = true;
  woken = false;
  #libc: Libc;
  /** Registrations by slot; free slots are listed in #free. */
  #regs: (Registration<T> | undefined)[] = [];
  #free: number[] = [];
  #count = 0;
  /** The epoll fd, and the interrupter a parked thread also waits on. */
  #park: EpollPark;
  #waker: number;
  /** The kernel's event buffer: bytes for the call, words to read it. */
  #buffer: Uint8Array;
  #words: Uint32Array;
  #capacity: number;

  constructor(libc: Libc) {
    this.#libc = libc;
    this.#capacity = INITIAL_CAPACITY;
    this.#buffer = new Uint8Array(INITIAL_CAPACITY * EPOLL_EVENT_SIZE);
    this.#words = new Uint32Array(this.#buffer.buffer);
    const action = "Cannot create epoll selector";
    const creating = () => action;
    this.#park = new EpollPark(libc, action);
    try {
      this.#waker = createEventFd(libc, action);
    } catch (error) {
      this.#park.close();
      throw error;
    }
    try {
      this.#ctlRaw(creating, this.#park.epfd, EPOLL_CTL_ADD, this.#waker, EPOLLIN, WAKER_SLOT, 0);
    } catch (error) {
      this.#closeFds();
      throw error;
    }
  }

  get wakerFd(): number {
    return this.#waker;
  }

  owns(fd: number): boolean {
    return this.#park.owns(fd) || fd === this.#waker;
  }

  checkOptions(): void {
    // epoll honours every option; the kernel's limits on exclusive are checked by the caller.
  }

  /** epoll_ctl with an event of `bits` and data `slot | gen << 32`; returns errno or 0. */
  #ctlErrno(epfd: number, op: number, fd: number, bits: number, slot: number, gen: number): number {
    return this.#park.ctl(op, fd, bits, slot, gen, epfd);
  }

  #ctlRaw(
    action: Action,
    epfd: number,
    op: number,
    fd: number,
    bits: number,
    slot: number,
    gen: number,
  ): void {
    const e = this.#ctlErrno(epfd, op, fd, bits, slot, gen);
    // epoll refuses regular files and directories with EPERM: it cannot watch them.
    if (e !== 0) throw osError(action(fd), e, e === EPERM ? Deno.errors.NotSupported : undefined);
  }

  add(action: Action, reg: Registration<T>): void {
    const slot = this.#free.length > 0 ? this.#free[this.#free.length - 1] : this.#regs.length;
    this.#ctlRaw(action, this.#park.epfd, EPOLL_CTL_ADD, reg.key.fd, eventBits(reg), slot, reg.gen);
    if (slot === this.#regs.length) this.#regs.push(reg);
    else this.#regs[this.#free.pop()!] = reg;
    reg.slot = slot;
    this.#count++;
  }

  modify(action: Action, prev: Registration<T>, next: Registration<T>): void {
    const fd = next.key.fd;
    const slot = prev.slot;
    // The kernel refuses EPOLL_CTL_MOD on an exclusive registration: delete and add.
    const op = prev.key.exclusive ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    let e = this.#ctlErrno(this.#park.epfd, op, fd, eventBits(next), slot, next.gen);
    // ENOENT here: the fd was closed, and its number reused, since it was registered.
    if (e !== 0) {
      throw osError(action(fd), e, e === ENOENT ? Deno.errors.BadResource : undefined);
    }
    if (op === EPOLL_CTL_DEL) {
      e = this.#ctlErrno(this.#park.epfd, EPOLL_CTL_ADD, fd, eventBits(next), slot, next.gen);
      if (e !== 0) {
        // Put the old registration back, so that a failed call changes nothing.
        this.#ctlErrno(this.#park.epfd, EPOLL_CTL_ADD, fd, eventBits(prev), slot, prev.gen);
        throw osError(action(fd), e);
      }
    }
    next.slot = slot;
    this.#regs[slot] = next;
  }

  remove(action: Action, reg: Registration<T>): void {
    const fd = reg.key.fd;
    const e = this.#ctlErrno(this.#park.epfd, EPOLL_CTL_DEL, fd, 0, 0, 0);
    // EBADF/ENOENT: the fd was closed first; the kernel dropped (or will drop) it.
    if (e !== 0 && e !== EBADF && e !== ENOENT) throw osError(action(fd), e);
    this.#regs[reg.slot] = undefined;
    this.#free.push(reg.slot);
    this.#count--;
  }

  fill(events: SelectorEvents<T>, timeoutMs: number): number {
    // Room for every registered fd and the waker: one call returns them all.
    if (this.#capacity <= this.#count) this.#grow(this.#count + 1);
    const n = this.#park.wait(this.#buffer, this.#capacity, timeoutMs);
    this.woken = false;
    if (n < 0) {
      const e = errno();
      if (e !== EINTR) throw osError(`Cannot wait on epoll fd ${this.#park.epfd}`, e);
      return clearEvents(events);
    }
    const store = eventStore(events, n);
    const { fds, flags, data } = store;
    const words = this.#words;
    const regs = this.#regs;
    let count = 0;
    let stale = 0;
    for (let i = 0, w = 0; i < n; i++, w += STRIDE_WORDS) {
      const slot = words[w + SLOT_WORD];
      const reg = regs[slot];
      if (reg === undefined || reg.gen !== words[w + GEN_WORD]) {
        if (slot === WAKER_SLOT) {
          drainEventFd(this.#libc, this.#waker);
          this.woken = true;
        } else {
          stale++; // a registration that no longer exists
        }
        continue;
      }
      // A disarmed oneshot registration re-added by #rebuild() may report an
      // error or hangup once (the kernel disarms it again): not an event.
      if (!reg.armed) continue;
      const key = reg.key;
      if (key.oneshot) reg.armed = false;
      fds[count] = key.fd;
      flags[count] = readyFlags(words[w], key.interest);
      data[count] = key.data;
      count++;
    }
    setEventCount(store, count);
    if (stale > 0) this.#rebuild();
    return count;
  }

  #grow(needed: number): void {
    let capacity = this.#capacity * 2;
    while (capacity < needed) capacity *= 2;
    this.#capacity = capacity;
    this.#buffer = new Uint8Array(capacity * EPOLL_EVENT_SIZE);
    this.#words = new Uint32Array(this.#buffer.buffer);
  }

  /**
   * A registration the user removed after closing its fd lives on in the
   * kernel while a duplicate of the fd is open, and cannot be deleted by
   * number any more. Its events are dropped above; so that a
   * level-triggered one does not keep waking every wait, move the live
   * registrations to a fresh epoll instance. A failure keeps the old one.
   */
  #rebuild(): void {
    const epfd = this.#libc.epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) return;
    if (this.#ctlErrno(epfd, EPOLL_CTL_ADD, this.#waker, EPOLLIN, WAKER_SLOT, 0) !== 0) {
      this.#libc.close(epfd);
      return;
    }
    for (const reg of this.#regs) {
      if (reg === undefined) continue;
      // A disarmed oneshot registration is added without directions and stays
      // ignored (its events are dropped while it is not armed).
      const bits = reg.armed ? eventBits(reg) : EPOLLONESHOT;
      // An fd closed without unregistering is gone from the kernel already: skip it.
      this.#ctlErrno(epfd, EPOLL_CTL_ADD, reg.key.fd, bits, reg.slot, reg.gen);
    }
    this.#park.replace(epfd);
  }

  park(timeoutMs: number): Promise<void> {
    // Only readiness is learnt here (errno of another thread is unreadable);
    // the events are harvested by a synchronous epoll_wait afterwards.
    return this.#park.park(timeoutMs).then(() => {
      if (this.#park.rang(INTERRUPTER)) this.#park.drain();
    });
  }

  interrupt(): void {
    this.#park.interrupt("Cannot interrupt epoll wait");
  }

  wake(): void {
    signalEventFd(this.#libc, this.#waker, `Cannot wake epoll selector`);
  }

  #closeFds(): void {
    this.#libc.close(this.#waker);
    this.#park.close();
  }

  close(): void {
    this.#closeFds();
    releaseLibc();
  }
}

/**
 * Opens a Selector on epoll.
 *
 * @internal
 */
export function openEpollSelector<T>(): Selector<T> {
  return openSelectorWith((libc) => new EpollDriver<T>(libc));
}
