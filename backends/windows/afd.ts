// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The AFD backend (Windows): a {@linkcode Driver} that polls sockets
 * through the Ancillary Function Driver, Winsock's kernel side, as mio and
 * wepoll do.
 *
 * One helper handle to `\Device\Afd` (NtCreateFile) is associated with an
 * internal completion port. Each registered socket has one IOCTL_AFD_POLL
 * outstanding on that handle (NtDeviceIoControlFile), for the events of its
 * interest on its base socket (SIO_BASE_HANDLE); when one of them happens,
 * the poll completes with a packet on the port, and GetQueuedCompletionStatusEx
 * dequeues the packets of many sockets at once.
 *
 * - Level-triggered by re-arming: a socket that was reported gets a new
 *   poll before the next dequeue (lazily, as mio does), which completes at
 *   once while the socket stays ready. `oneshot` is not re-armed until
 *   `modify()`. `edge` cannot be honoured (AFD reports states, and the
 *   library does not read the sockets itself) and `exclusive` is epoll's:
 *   both are refused before anything changes.
 * - `register()` and `modify()` issue their poll at once, so a wait parked
 *   in the port sees them; `modify()` cancels the previous poll
 *   (NtCancelIoFileEx) and `unregister()` cancels the current one. A poll's
 *   buffers (its AFD_POLL_INFO and IO_STATUS_BLOCK, written by the kernel)
 *   stay referenced until its packet has been dequeued, cancelled or not,
 *   also across `close()`.
 * - A socket closed while registered completes its poll with
 *   AFD_POLL_LOCAL_CLOSE: no event, no re-arm; its key stays until
 *   `unregister()`.
 * - The waker is a packet posted to the port with a key of its own, which
 *   another thread can post too (`wake(handle)`, or a `Waker`, which posts
 *   through a duplicate of the port's handle that it owns); a parked wait
 *   is ended with another key, which is not a wakeup.
 *
 * One poll request (its buffers, the AFD events asked, what those reported
 * mean) is `_afd_poll.ts`'s; the registration table and the rules a user
 * sees are the Selector core's (`_selector_core.ts`). This file must not
 * know what a socket is used for.
 *
 * @module
 */

import { type Driver, type Registration, SelectorImpl } from "../_selector_core.ts";
import { CompletionQueue, type Entries } from "./_iocp_queue.ts";
import { DIRECTIONS, openAfd, Poll, readyFlags, Watch } from "./_afd_poll.ts";
import { pointerAt, pointerValue } from "../../ffi/_pointer.ts";
import { win32Error } from "../../ffi/errors.ts";
import {
  acquireKernel32,
  CURRENT_PROCESS_ADDRESS,
  DUPLICATE_SAME_ACCESS,
  ERROR_INVALID_HANDLE,
  FILE_SKIP_SET_EVENT_ON_HANDLE,
  INVALID_HANDLE_ADDRESS,
  type Kernel32,
  releaseKernel32,
} from "../../ffi/kernel32.ts";
import {
  acquireNtdll,
  AFD_DEVICE_NAME,
  AFD_POLL_CONNECT_FAIL,
  AFD_POLL_INFO_SIZE,
  AFD_POLL_LOCAL_CLOSE,
  IO_STATUS_BLOCK_SIZE,
  IOCTL_AFD_POLL,
  type Ntdll,
  releaseNtdll,
  STATUS_CANCELLED,
  STATUS_INVALID_HANDLE,
  STATUS_OBJECT_TYPE_MISMATCH,
} from "../../ffi/ntdll.ts";
import {
  acquireWs2_32,
  POINTER_SIZE,
  releaseWs2_32,
  SIO_BASE_HANDLE,
  SOCKET_ERROR,
  type Ws2_32,
  WSAENOTSOCK,
  WSAEOPNOTSUPP,
} from "../../ffi/ws2_32.ts";
import {
  type EventStore,
  eventStore,
  Ready,
  type Selector,
  type SelectorEvents,
  setEventCount,
} from "../../types/selector.ts";
import type { Action } from "../shared/_describe.ts";

/** Completion keys: the helper handle's polls, the waker, and the end of a park. */
const POLL_KEY = 0;
const WAKER_KEY = 1;
const INTERRUPT_KEY = 2;
const WAKER_KEY_BIG = BigInt(WAKER_KEY);
const INTERRUPT_KEY_BIG = BigInt(INTERRUPT_KEY);

/** Entries one dequeue takes at first; it grows with the registrations. */
const INITIAL_CAPACITY = 64;
/** Entries a parked dequeue takes; the rest are taken by the synchronous one after it. */
const PARK_CAPACITY = 128;

/** What a cancelled poll may still be given while close() waits for its packet, in ms. */
const CLOSE_DRAIN_MS = 2_000;

/**
 * Polls whose packets had not come back when their selector was closed:
 * the kernel may still write to them, so they are never let go.
 */
const orphans = new Set<unknown>();
/** Open drivers, kept reachable while the kernel holds their polls. */
const openDrivers = new Set<unknown>();

/** The Selector driver over AFD polls. */
class AfdDriver<T> implements Driver<T> {
  readonly backend = "afd";
  readonly seesChangesWhileParked = true;
  woken = false;
  #k32: Kernel32;
  #ntdll: Ntdll;
  #ws: Ws2_32;
  #port: Deno.PointerObject;
  #portValue: number;
  #afd: Deno.PointerObject;
  #afdValue: number;
  /** Watches by slot; free slots are listed in #free. */
  #watches: (Watch<T> | undefined)[] = [];
  #free: number[] = [];
  #count = 0;
  /** Polls whose packets have not been dequeued, by the address their packets carry. */
  #inflight = new Map<number, Poll<T>>();
  /** Watches reported since the last dequeue, to poll again before the next. */
  #rearmQueue: Watch<T>[] = [];
  /** Whether a wakeup packet of this thread's is in the port (wakeups are not queued twice). */
  #wakePosted = false;
  /** The synchronous dequeue's entries. */
  /** The port's dequeue, synchronous and parked. */
  #queue: CompletionQueue;
  /** Scratch space of WSAIoctl(SIO_BASE_HANDLE), NtCancelIoFileEx and GetHandleInformation. */
  #base = new BigUint64Array(1);
  #baseBytes = new Uint8Array(this.#base.buffer);
  #returned = new Uint8Array(4);
  #noInput = new Uint8Array(0);
  #cancelIosb = new Uint8Array(new ArrayBuffer(IO_STATUS_BLOCK_SIZE));
  #flags = new Uint8Array(4);

  constructor() {
    const action = "Cannot create afd selector";
    const k32 = acquireKernel32();
    let ntdll: Ntdll;
    let ws: Ws2_32;
    try {
      ntdll = acquireNtdll();
    } catch (error) {
      releaseKernel32();
      throw error;
    }
    try {
      ws = acquireWs2_32();
    } catch (error) {
      releaseNtdll();
      releaseKernel32();
      throw error;
    }
    let port: Deno.PointerValue = null;
    let afd: Deno.PointerValue = null;
    try {
      // INVALID_HANDLE_VALUE: a new port.
      const none = Deno.UnsafePointer.create(INVALID_HANDLE_ADDRESS);
      port = k32.CreateIoCompletionPort(none, null, 0n, 0);
      if (port === null) {
        throw win32Error(`${action}: cannot create its completion port`, k32.GetLastError());
      }
      afd = openAfd(ntdll, action);
      if (k32.CreateIoCompletionPort(afd, port, BigInt(POLL_KEY), 0) === null) {
        throw win32Error(
          `${action}: cannot associate ${AFD_DEVICE_NAME} with its port`,
          k32.GetLastError(),
        );
      }
      if (!k32.SetFileCompletionNotificationModes(afd, FILE_SKIP_SET_EVENT_ON_HANDLE)) {
        throw win32Error(
          `${action}: cannot set the completion modes of ${AFD_DEVICE_NAME}`,
          k32.GetLastError(),
        );
      }
    } catch (error) {
      if (afd !== null) k32.CloseHandle(afd);
      if (port !== null) k32.CloseHandle(port);
      releaseWs2_32();
      releaseNtdll();
      releaseKernel32();
      throw error;
    }
    this.#k32 = k32;
    this.#ntdll = ntdll;
    this.#ws = ws;
    this.#port = port;
    this.#portValue = pointerValue(port);
    this.#afd = afd;
    this.#afdValue = pointerValue(afd);
    this.#queue = new CompletionQueue(
      k32,
      port,
      `Cannot wait on afd completion port 0x${this.#portValue.toString(16)}`,
      INITIAL_CAPACITY,
      PARK_CAPACITY,
    );
    openDrivers.add(this);
  }

  get wakerFd(): number {
    return this.#portValue;
  }

  owns(fd: number): boolean {
    return fd === this.#portValue || fd === this.#afdValue;
  }

  checkOptions(action: Action, fd: number, edge: boolean, exclusive: boolean): void {
    if (edge) {
      throw new Deno.errors.NotSupported(
        `${action(fd)}: afd is level-triggered only (edge; oneshot is supported)`,
      );
    }
    if (exclusive) {
      throw new Deno.errors.NotSupported(`${action(fd)}: exclusive is an epoll option`);
    }
  }

  /**
   * Sets the watch's base socket from `fd` (WSAIoctl SIO_BASE_HANDLE): a
   * handle that is no socket is NotSupported, one that is not open
   * BadResource.
   */
  #setBase(action: Action, fd: number, watch: Watch<T>): void {
    const ws = this.#ws;
    const socket = pointerAt(fd);
    const result = ws.WSAIoctl(
      socket,
      SIO_BASE_HANDLE,
      this.#noInput,
      0,
      this.#baseBytes,
      POINTER_SIZE,
      this.#returned,
      null,
      null,
    );
    if (result === SOCKET_ERROR) {
      const error = ws.WSAGetLastError();
      // WSAENOTSOCK, or (Wine) WSAEOPNOTSUPP for a handle of another kind.
      if (error !== WSAENOTSOCK && error !== WSAEOPNOTSUPP) throw win32Error(action(fd), error);
      // Not a socket: an open handle of another kind, or no handle at all.
      if (!this.#k32.GetHandleInformation(socket, this.#flags)) {
        throw win32Error(action(fd), this.#k32.GetLastError(), Deno.errors.BadResource);
      }
      throw win32Error(
        `${action(fd)}: afd watches sockets only`,
        error,
        Deno.errors.NotSupported,
      );
    }
    const base = this.#base[0];
    watch.baseLow = Number(base & 0xffffffffn);
    watch.baseHigh = Number(base >> 32n);
  }

  /** Issues a poll for the watch's registration; returns the NTSTATUS (negative: it failed). */
  #submit(watch: Watch<T>): number {
    const poll = watch.spare ?? new Poll<T>();
    watch.spare = undefined;
    poll.request(watch.baseLow, watch.baseHigh, watch.reg.key.interest);
    const info = poll.info;
    const status = this.#ntdll.NtDeviceIoControlFile(
      this.#afd,
      null,
      null,
      info,
      poll.iosb,
      IOCTL_AFD_POLL,
      info,
      AFD_POLL_INFO_SIZE,
      info,
      AFD_POLL_INFO_SIZE,
    );
    if (status < 0) {
      // Refused at once: no packet will come.
      watch.spare = poll;
      return status;
    }
    // Pending, or done already: either way its packet comes through the port.
    poll.watch = watch;
    watch.poll = poll;
    this.#inflight.set(poll.address, poll);
    return status;
  }

  /** The error of a poll the kernel refused at once. */
  #pollError(action: Action, fd: number, status: number): Error {
    if (status === STATUS_INVALID_HANDLE) {
      return win32Error(action(fd), ERROR_INVALID_HANDLE, Deno.errors.BadResource);
    }
    return win32Error(action(fd), this.#ntdll.RtlNtStatusToDosError(status));
  }

  /** Cancels a poll; its packet still comes, and is dropped. */
  #cancel(poll: Poll<T>): void {
    poll.watch = undefined;
    // STATUS_NOT_FOUND: it has completed already, and its packet is on the way.
    this.#ntdll.NtCancelIoFileEx(this.#afd, poll.iosb, this.#cancelIosb);
  }

  add(action: Action, reg: Registration<T>): void {
    const fd = reg.key.fd;
    const watch = new Watch(reg);
    this.#setBase(action, fd, watch);
    const status = this.#submit(watch);
    if (status < 0) throw this.#pollError(action, fd, status);
    const slot = this.#free.length > 0 ? this.#free.pop()! : this.#watches.length;
    this.#watches[slot] = watch;
    reg.slot = slot;
    this.#count++;
  }

  modify(action: Action, prev: Registration<T>, next: Registration<T>): void {
    const fd = next.key.fd;
    const slot = prev.slot;
    const watch = this.#watches[slot]!;
    if (watch.closed) {
      throw win32Error(action(fd), ERROR_INVALID_HANDLE, Deno.errors.BadResource);
    }
    const { baseLow, baseHigh, poll } = watch;
    this.#setBase(action, fd, watch);
    watch.reg = next;
    watch.poll = undefined;
    const status = this.#submit(watch);
    if (status < 0) {
      watch.reg = prev;
      watch.poll = poll;
      watch.baseLow = baseLow;
      watch.baseHigh = baseHigh;
      throw this.#pollError(action, fd, status);
    }
    if (poll !== undefined) this.#cancel(poll);
    next.slot = slot;
  }

  remove(_action: Action, reg: Registration<T>): void {
    const watch = this.#watches[reg.slot]!;
    watch.removed = true;
    if (watch.poll !== undefined) this.#cancel(watch.poll);
    watch.poll = undefined;
    watch.spare = undefined;
    this.#watches[reg.slot] = undefined;
    this.#free.push(reg.slot);
    this.#count--;
  }

  #enqueue(watch: Watch<T>): void {
    if (!watch.queued) {
      watch.queued = true;
      this.#rearmQueue.push(watch);
    }
  }

  /**
   * Polls again the watches reported since the last dequeue. A socket
   * closed since is dropped quietly; a poll refused for another reason is
   * reported once as an error, and not tried again until `modify()`.
   */
  #rearm(store: EventStore<T>, count: number): number {
    const queue = this.#rearmQueue;
    for (let i = 0; i < queue.length; i++) {
      const watch = queue[i];
      watch.queued = false;
      const reg = watch.reg;
      if (watch.removed || watch.closed || watch.poll !== undefined || !reg.armed) continue;
      const status = this.#submit(watch);
      if (status >= 0) continue;
      if (status === STATUS_INVALID_HANDLE || status === STATUS_OBJECT_TYPE_MISMATCH) {
        // Closed since (and its value maybe taken by a handle of another kind).
        watch.closed = true;
        continue;
      }
      reg.armed = false;
      const key = reg.key;
      store.fds[count] = key.fd;
      store.flags[count] = Ready.ERROR | (key.interest & DIRECTIONS);
      store.data[count] = key.data;
      count++;
    }
    queue.length = 0;
    return count;
  }

  /** Hands out `n` dequeued entries: events into `store` from `count` on; returns the new count. */
  #dispatch(entries: Entries, n: number, store: EventStore<T>, count: number): number {
    const inflight = this.#inflight;
    for (let i = 0; i < n; i++) {
      const completionKey = entries.key(i);
      if (completionKey !== POLL_KEY) {
        if (completionKey === WAKER_KEY) {
          this.woken = true;
          this.#wakePosted = false;
        }
        continue; // INTERRUPT_KEY: it only ended a park
      }
      const address = entries.overlapped(i);
      const poll = inflight.get(address);
      if (poll === undefined) continue;
      inflight.delete(address);
      const watch = poll.watch;
      if (watch === undefined) continue; // cancelled: its buffers may go now
      poll.watch = undefined;
      watch.poll = undefined;
      watch.spare = poll;
      const status = entries.status(i);
      const reg = watch.reg;
      const interest = reg.key.interest;
      let afd: number;
      if (status >= 0) {
        afd = poll.reported(interest);
      } else if (status === STATUS_INVALID_HANDLE || status === STATUS_OBJECT_TYPE_MISMATCH) {
        afd = AFD_POLL_LOCAL_CLOSE;
      } else if (status === STATUS_CANCELLED) {
        afd = 0; // cancelled by something else than this driver: poll again
      } else {
        afd = AFD_POLL_CONNECT_FAIL; // a poll that failed is an error on the socket (as mio has it)
      }
      if (afd & AFD_POLL_LOCAL_CLOSE) {
        watch.closed = true;
        continue;
      }
      const ready = readyFlags(afd, interest);
      if (ready === 0) {
        this.#enqueue(watch);
        continue;
      }
      const key = reg.key;
      if (key.oneshot) reg.armed = false;
      else this.#enqueue(watch);
      store.fds[count] = key.fd;
      store.flags[count] = ready;
      store.data[count] = key.data;
      count++;
    }
    return count;
  }

  fill(events: SelectorEvents<T>, timeoutMs: number): number {
    this.woken = false;
    // Room for every registered socket, the waker, and the end of a park:
    // one dequeue takes them all.
    const queue = this.#queue;
    queue.grow(this.#count + 2);
    const store = eventStore(events, this.#count + 1);
    let count = this.#rearmQueue.length > 0 ? this.#rearm(store, 0) : 0;
    const parked = queue.takeParked();
    if (parked > 0) count = this.#dispatch(queue.parked, parked, store, count);
    let wait = count > 0 || this.woken ? 0 : timeoutMs;
    for (;;) {
      const n = queue.dequeue(wait);
      count = this.#dispatch(queue.taken, n, store, count);
      // A full batch: more may be waiting (packets of cancelled polls take room too).
      if (n < queue.capacity) break;
      wait = 0;
    }
    setEventCount(store, count);
    return count;
  }

  park(timeoutMs: number): Promise<void> {
    // The parked call dequeues packets itself; fill() hands them out afterwards.
    return this.#queue.park(timeoutMs);
  }

  interrupt(): void {
    if (!this.#k32.PostQueuedCompletionStatus(this.#port, 0, INTERRUPT_KEY_BIG, null)) {
      throw win32Error("Cannot interrupt afd wait", this.#k32.GetLastError());
    }
  }

  wake(): void {
    if (this.#wakePosted) return;
    postWakeup(this.#k32, this.#port, "Cannot wake afd selector");
    this.#wakePosted = true;
  }

  /** Forgets the polls of `n` dequeued entries. */
  #forget(entries: Entries, n: number): void {
    for (let i = 0; i < n; i++) {
      if (entries.key(i) !== POLL_KEY) continue;
      this.#inflight.delete(entries.overlapped(i));
    }
  }

  close(): void {
    const k32 = this.#k32;
    this.#forget(this.#queue.parked, this.#queue.takeParked());
    if (this.#inflight.size > 0) {
      // Cancel every poll, and take their packets back before the buffers go.
      k32.CancelIoEx(this.#afd, null);
      const deadline = performance.now() + CLOSE_DRAIN_MS;
      while (this.#inflight.size > 0) {
        const left = Math.ceil(deadline - performance.now());
        if (left <= 0) break;
        let n: number;
        try {
          n = this.#queue.dequeue(left);
        } catch {
          break;
        }
        this.#forget(this.#queue.taken, n);
      }
      for (const poll of this.#inflight.values()) orphans.add(poll);
      this.#inflight.clear();
    }
    k32.CloseHandle(this.#afd);
    k32.CloseHandle(this.#port);
    this.#watches = [];
    this.#rearmQueue = [];
    openDrivers.delete(this);
    releaseWs2_32();
    releaseNtdll();
    releaseKernel32();
  }
}

/**
 * Posts a wakeup packet to the completion port of an afd selector.
 *
 * @internal
 */
export function postWakeup(k32: Kernel32, port: Deno.PointerValue, action: string): void {
  if (!k32.PostQueuedCompletionStatus(port, 0, WAKER_KEY_BIG, null)) {
    throw win32Error(action, k32.GetLastError());
  }
}

/**
 * Duplicates the handle of an afd selector's completion port, for a waker
 * to own: the port lives while the copy does, so what the waker posts
 * reaches that port (read by nobody once the selector has closed), never
 * another port that has the handle's value later.
 *
 * @throws {Deno.errors.BadResource} if `handle` is not open (ERROR_INVALID_HANDLE)
 * @internal
 */
export function duplicatePort(k32: Kernel32, handle: number, action: string): Deno.PointerObject {
  const self = Deno.UnsafePointer.create(CURRENT_PROCESS_ADDRESS);
  const copy = new BigUint64Array(1);
  const ok = k32.DuplicateHandle(
    self,
    pointerAt(handle),
    self,
    new Uint8Array(copy.buffer),
    0,
    0,
    DUPLICATE_SAME_ACCESS,
  );
  const pointer = ok ? Deno.UnsafePointer.create(copy[0]) : null;
  if (pointer === null) throw win32Error(action, ok ? ERROR_INVALID_HANDLE : k32.GetLastError());
  return pointer;
}

/**
 * Opens a Selector on AFD.
 *
 * @internal
 */
export function openAfdSelector<T>(): Selector<T> {
  return new SelectorImpl(new AfdDriver<T>());
}
