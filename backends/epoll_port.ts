// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The CompletionPort emulated over epoll (Linux), where io_uring is missing
 * or refused: an operation is performed when its fd turns ready.
 *
 * - An operation is first tried synchronously (as mio and tokio do: on a
 *   busy socket most reads and writes succeed at once); only on EAGAIN is
 *   it queued on its fd, and the fd armed in epoll (level-triggered,
 *   EPOLLONESHOT, re-armed with EPOLL_CTL_MOD while operations wait; an
 *   ENOENT there means the number names another file now, which is added
 *   afresh). Sockets the port made or accepted, whose closes it always
 *   sees, are instead registered once, edge-triggered for both directions,
 *   and never re-armed (the peer's end, once reported, is kept: an edge
 *   comes once). A read that took less than it asked for leaves the fd
 *   known empty: the next read waits for readiness without trying (as
 *   tokio does). Each fd has one FIFO per direction, so several operations
 *   on one fd are served in order; a write takes all its bytes, or fails
 *   (a prefix may have gone out then, as with any failed stream write).
 * - Cancellation: an operation first in its queue is tried once more,
 *   and resolves if it completes (its fd was ready: a kernel's port would
 *   have completed it by then); else, and always behind another, it is
 *   taken out and rejects with the signal's reason (a write may have moved
 *   a prefix of its bytes by then). A file operation on a worker thread
 *   runs to its end.
 * - Regular files and block devices, which epoll cannot watch, are read and
 *   written by pread/pwrite at the offset given: synchronously, or, from
 *   {@linkcode OFFLOAD_BYTES} up, on a worker thread (a nonblocking FFI
 *   call) so that the event loop stays free. A failed worker call is redone
 *   synchronously to learn its errno.
 * - What an fd is (file, socket, other stream; blocking or not) is learnt
 *   with fstat/fcntl on first use and kept until the fd is closed through
 *   its owner (`watchCloses`), `associate()` is called again, or an
 *   operation shows it stale (ESPIPE, ENOTSOCK, or an offset rule broken).
 *   An fd closed behind the port's back and its number reused by a file of
 *   another kind may keep the old kind until then.
 * - One thread at most is parked, in poll() on the epoll fd and an eventfd
 *   that interrupts it, and only while operations wait for readiness or a
 *   `wait()` is pending; events are harvested by a synchronous epoll_wait
 *   on this thread. After a harvest that found events, the next turns of
 *   the event loop look again for up to 50 µs before a thread is parked.
 *   An idle port keeps no process alive.
 * - Streams without O_NONBLOCK (a terminal, a pipe from elsewhere) are
 *   never tried before they are ready, and a write to one moves at most
 *   PIPE_BUF bytes per readiness; sockets are called with MSG_DONTWAIT.
 *   An fd epoll cannot watch (EPERM: /dev/null, /dev/zero) is called at
 *   once.
 * - Synchronous completions are budgeted: after ~5 ms of them without the
 *   event loop turning, the next operations wait for one turn
 *   (setImmediate), so that timers and other I/O still run.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import {
  checkCancelOptions,
  checkConnectAddress,
  checkIoBuffer,
  checkKey,
  checkOffset,
  checkPost,
  checkWaitOptions,
  type Completion,
  type CompletionPort,
  type Handle,
  type IoOptions,
  settleWait,
  startWait,
  type Waiter,
} from "./_completion.ts";
import { describe } from "./_events.ts";
import { drainEventFd, openEventFd, signalEventFd } from "./_linux.ts";
import { normalizeTimeout, type WaitOptions } from "./_selector.ts";
import { unwatchCloses, watchCloses } from "../_owned_fd.ts";
import { osError } from "../ffi/errors.ts";
import {
  acquireLibc,
  EAGAIN,
  EBADF,
  EEXIST,
  EINPROGRESS,
  EINTR,
  ENOENT,
  ENOTCONN,
  ENOTSOCK,
  EPERM,
  EPOLL_CLOEXEC,
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
  ESPIPE,
  F_GETFD,
  F_GETFL,
  INT_SIZE,
  ioSize,
  type Libc,
  MAX_TIMEOUT_MS,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  O_NONBLOCK,
  PIPE_BUF,
  POLLFD_EVENTS_OFFSET,
  POLLFD_SIZE,
  POLLIN,
  releaseLibc,
  S_IFBLK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  SO_ERROR,
  SOCKADDR_STORAGE_SIZE,
  SOL_SOCKET,
  STAT_MODE_OFFSET,
  STAT_SIZE,
} from "../ffi/libc.ts";
import { formatAddress } from "../net/_address.ts";
import {
  addressOf,
  adoptConn,
  isPosixListener,
  openStreamSocket,
  sockaddrOf,
} from "../net/_posix.ts";
import type { CancelOptions, TcpAddress, TcpConn, TcpListener } from "../net/_types.ts";

/** Packets one `get()`/`wait()` returns at most (as IOCP's dequeue does). */
const BATCH = 256;
/** Events one epoll_wait takes at most; a full batch is followed by another. */
const EVENTS = 256;
/** Full batches harvested in a row at most, before the event loop gets a turn. */
const MAX_HARVESTS = 4;
const STRIDE_WORDS = EPOLL_EVENT_SIZE / 4;
/** epoll_event.data: the fd in the low word, the generation of its state in the high one. */
const FD_WORD = EPOLL_EVENT_DATA_OFFSET / 4;
const GEN_WORD = FD_WORD + 1;
/**
 * File transfers of at least this many bytes go to a worker thread.
 * Measured here (page cache, 2 cores): a worker call costs ~20-45 µs more
 * than the same synchronous one; a 64 KiB pread takes ~6 µs, 256 KiB ~23 µs
 * while the bytes sit in the CPU's caches and several times that when they
 * do not, 512 KiB ~290 µs, 1 MiB ~450-570 µs. From here on the event loop
 * gains more than the hop costs; below, the hop would cost more.
 *
 * @internal
 */
export const OFFLOAD_BYTES: number = 256 * 1024;
/** After this long of synchronous completions without a turn of the event loop, yield. */
const STARVATION_MS = 5;
/**
 * A pump that found events within SPIN_WINDOW_MS looks again on the next
 * turns of the event loop for up to SPIN_MS before it parks a thread (as
 * the Selector's wait() does).
 */
const SPIN_WINDOW_MS = 1;
const SPIN_MS = 0.05;
/** Synchronous operations between two looks at the clock. */
const CLOCK_EVERY = 64;
/** The largest offset (off_t is signed 64-bit). */
const MAX_OFFSET = (1n << 63n) - 1n;
/** fds are C ints. */
const MAX_FD = 0x7fffffff;
const MAX_SLICE_MS = MAX_TIMEOUT_MS;
/** Read readiness: data, the end of the stream, an error. */
const READ_READY = EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP;
/** The final states of the reading side: the peer's shutdown, a hangup, an error. */
const READ_CLOSED = EPOLLRDHUP | EPOLLERR | EPOLLHUP;
/** Write readiness: room, an error, a hangup. */
const WRITE_READY = EPOLLOUT | EPOLLERR | EPOLLHUP;
const SEND_FLAGS = MSG_NOSIGNAL | MSG_DONTWAIT;

/** What an fd is. */
const FILE = 0; // a regular file or a block device: pread/pwrite at offsets
const SOCKET = 1; // recv/send with MSG_DONTWAIT (and MSG_NOSIGNAL)
const STREAM = 2; // anything else (pipes, eventfds, ttys...): read/write

/** What an operation does. */
const READ = 0;
const WRITE = 1;
const ACCEPT = 2;
const CONNECT = 3;

// Scratch space for the calls that fill a struct (one thread runs this module instance).
const statBuffer = new Uint8Array(STAT_SIZE);
const statView = new DataView(statBuffer.buffer);
const option = new Int32Array(1);
const optionLength = new Uint32Array(1);
const storage = new Uint8Array(SOCKADDR_STORAGE_SIZE);
const storageLength = new Uint32Array(1);

/** What the port knows of one fd, and the operations waiting on it. */
class FdState {
  readonly fd: number;
  /** Tags its epoll registration: events of an older state of the same number are dropped. */
  readonly gen: number;
  readonly kind: number;
  /** A stream without O_NONBLOCK: waited for before each call, which then moves what fits. */
  blocking: boolean;
  /** Reads and accepts not yet done, in order. */
  reads: Op[] = [];
  /** Writes and connects not yet done, in order. */
  writes: Op[] = [];
  /** The epoll bits armed in the kernel (0: disarmed, or not registered). */
  armed = 0;
  /** Whether the fd is in the epoll set, as far as the port knows. */
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
  /** Whether it is in the port's list of fds to run after a yield. */
  kicked = false;
  /**
   * A socket the port made (connect) or took (accept): its close is always
   * seen (`watchCloses`), so it is registered once, edge-triggered, for
   * both directions, and never re-armed.
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

/** An operation that could not be done at once. */
class Op {
  readonly type: number;
  readonly state: FdState;
  readonly buffer: Uint8Array;
  /** Bytes written so far (writes). */
  done = 0;
  readonly offset: bigint | undefined;
  readonly signal: AbortSignal | undefined;
  /** The listener (accept), or the formatted peer (connect). */
  readonly target: TcpListener | string | undefined;
  /** Running on a worker thread: no longer cancellable. */
  offloaded = false;
  resolve!: (value: unknown) => void;
  reject!: (reason: unknown) => void;
  readonly cancel: (op: Op) => void;

  constructor(
    type: number,
    state: FdState,
    buffer: Uint8Array,
    offset: bigint | undefined,
    signal: AbortSignal | undefined,
    target: TcpListener | string | undefined,
    cancel: (op: Op) => void,
  ) {
    this.type = type;
    this.state = state;
    this.buffer = buffer;
    this.offset = offset;
    this.signal = signal;
    this.target = target;
    this.cancel = cancel;
  }

  /** The abort listener: the op itself, so that no closure is made per operation. */
  handleEvent(): void {
    this.cancel(this);
  }

  /** What it was doing, as the start of its error messages. */
  get action(): string {
    const fd = this.state.fd;
    switch (this.type) {
      case READ:
        return `Cannot read from fd ${fd}`;
      case WRITE:
        return `Cannot write to fd ${fd}`;
      case ACCEPT:
        return `Cannot accept on ${formatAddress((this.target as TcpListener).addr)}`;
      default:
        return `Cannot connect to ${this.target}`;
    }
  }
}

/** The op whose promise is being made (a shared executor makes no closure per operation). */
let making: Op;
function executor(resolve: (value: unknown) => void, reject: (reason: unknown) => void): void {
  making.resolve = resolve;
  making.reject = reject;
}
function promiseOf<T>(op: Op): Promise<T> {
  making = op;
  return new Promise(executor) as Promise<T>;
}

/** The start of the message of a read or write on `handle`. */
function actionOf(type: number, handle: unknown): string {
  return type === READ
    ? `Cannot read from fd ${describe(handle)}`
    : `Cannot write to fd ${describe(handle)}`;
}

/** Checks a handle: an fd, a non-negative integer. */
function checkHandle(action: string, handle: unknown): number {
  if (typeof handle !== "number" || !Number.isInteger(handle) || handle < 0 || handle > MAX_FD) {
    throw new TypeError(
      `${action}: handle must be an fd (an integer from 0 to ${MAX_FD}), got ${describe(handle)}`,
    );
  }
  return handle;
}

/** The CompletionPort over epoll. */
class EpollPort implements CompletionPort {
  readonly backend = "epoll";
  #libc: Libc;
  #epfd: number;
  /** Ends a parked poll(). */
  #interrupter: number;
  #closed = false;
  #released = false;
  #whenReleased: Promise<void>;
  #onReleased!: () => void;
  /** What is known of each fd, by number. */
  #fds: (FdState | undefined)[] = [];
  #nextGen = 1;
  /** The keys of associate(): recorded, for nothing on Linux needs them. */
  #keys = new Map<number, number>();
  /** Posted packets not yet returned. */
  #queue: Completion[] = [];
  #waiter: Waiter | undefined;
  #delivering = false;
  /** Operations in the fds' queues (waiting for readiness, or for a turn of the event loop). */
  #queued = 0;
  /** File operations on worker threads. */
  #offloaded = 0;
  /** fds with operations deferred to the next turn of the event loop. */
  #kicked: FdState[] = [];
  #resumeScheduled = false;
  #pumping = false;
  #parked = false;
  /** Synchronous operations since the event loop last turned, and when the first of them ran. */
  #streak = 0;
  #streakStart = 0;
  /** When a harvest last found events. */
  #lastReady = -Infinity;
  #events = new Uint8Array(EVENTS * EPOLL_EVENT_SIZE);
  #eventWords = new Uint32Array(this.#events.buffer);
  /** One epoll_event for epoll_ctl. */
  #ctl = new Uint8Array(16);
  #ctlWords = new Uint32Array(this.#ctl.buffer);
  /** {epfd, POLLIN} and {interrupter, POLLIN}: what a parked thread waits on. */
  #park = new Uint8Array(2 * POLLFD_SIZE);
  #parkPointer: Deno.PointerValue;
  #cancelOp = (op: Op): void => this.#cancel(op);
  #onFdClose = (fd: number): void => this.#forget(fd);
  #resume = (): void => this.#runKicked();

  constructor(libc: Libc) {
    this.#libc = libc;
    const action = "Cannot open completion port";
    const epfd = libc.epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) throw osError(`${action}: cannot create an epoll fd`, errno());
    try {
      this.#interrupter = openEventFd(libc, action);
    } catch (error) {
      libc.close(epfd);
      throw error;
    }
    this.#epfd = epfd;
    const view = new DataView(this.#park.buffer);
    view.setInt32(0, epfd, true);
    view.setInt16(POLLFD_EVENTS_OFFSET, POLLIN, true);
    view.setInt32(POLLFD_SIZE, this.#interrupter, true);
    view.setInt16(POLLFD_SIZE + POLLFD_EVENTS_OFFSET, POLLIN, true);
    this.#parkPointer = Deno.UnsafePointer.of(this.#park);
    this.#whenReleased = new Promise((resolve) => this.#onReleased = resolve);
    watchCloses(this.#onFdClose);
  }

  get closed(): boolean {
    return this.#closed;
  }

  #checkOpen(action: string): void {
    if (this.#closed) {
      throw new Deno.errors.BadResource(`${action}: the completion port is closed`);
    }
  }

  /** The port's own fds are refused as a closed fd would be. */
  #checkNotOwn(action: string, fd: number): void {
    if (fd === this.#epfd || fd === this.#interrupter) throw osError(action, EBADF);
  }

  /** What is known of `fd`, learnt now if nothing is. */
  #stateOf(action: string, fd: number): FdState {
    return this.#fds[fd] ?? this.#learn(action, fd);
  }

  /** Asks the kernel what `fd` is (fstat, and fcntl for O_NONBLOCK) and records it. */
  #learn(action: string, fd: number): FdState {
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
    const state = new FdState(fd, this.#gen(), kind, blocking);
    // The kernel may still hold the old registration (the same file): an
    // ADD then meets EEXIST and modifies it instead.
    if (old !== undefined) state.registered = old.registered;
    this.#fds[fd] = state;
    return state;
  }

  #gen(): number {
    const gen = this.#nextGen;
    this.#nextGen = gen === 0xffffffff ? 1 : gen + 1;
    return gen;
  }

  associate(handle: Handle, key: number): void {
    const action = `Cannot associate fd ${describe(handle)} with the completion port`;
    const fd = checkHandle(action, handle);
    checkKey(action, key);
    this.#checkOpen(action);
    this.#checkNotOwn(action, fd);
    if (this.#libc.fcntl(fd, F_GETFD) < 0) throw osError(action, errno());
    // The number may name another file than the one the port knew: learn it again.
    const state = this.#fds[fd];
    if (state !== undefined && state.idle) this.#learn(action, fd);
    this.#keys.set(fd, key);
  }

  post(key: number, bytes = 0, overlapped: Deno.PointerValue = null): void {
    const action = "Cannot post to the completion port";
    checkPost(action, key, bytes, overlapped);
    this.#checkOpen(action);
    this.#queue.push({ key, bytes, error: 0, overlapped });
    // A pending wait gets the packets posted in this run of JavaScript together.
    if (this.#waiter !== undefined && !this.#delivering) {
      this.#delivering = true;
      queueMicrotask(() => {
        this.#delivering = false;
        const waiter = this.#waiter;
        if (waiter !== undefined && this.#queue.length > 0) this.#endWait(waiter, this.#take());
      });
    }
  }

  /** Up to BATCH posted packets, oldest first. */
  #take(): Completion[] {
    const queue = this.#queue;
    if (queue.length <= BATCH) {
      this.#queue = [];
      return queue;
    }
    return queue.splice(0, BATCH);
  }

  get(timeout?: number): Completion[] {
    const action = "Cannot get from the completion port";
    const ms = normalizeTimeout(() => action, timeout);
    this.#checkOpen(action);
    if (this.#waiter !== undefined) {
      throw new Deno.errors.Busy(`${action}: a wait() is pending on this port`);
    }
    if (ms !== 0 && (this.#queued > 0 || this.#offloaded > 0)) {
      throw new Deno.errors.Busy(
        `${action}: operations started through the port are in flight; use wait()`,
      );
    }
    // Ready work is done on this thread.
    if (this.#queued > 0) this.#harvest(0);
    if (this.#queue.length > 0) return this.#take();
    if (ms === 0) return [];
    // Nothing is in flight, and nothing can post while this thread blocks:
    // sleep out the timeout in epoll_wait (never returning early).
    const deadline = ms === Infinity ? Infinity : performance.now() + ms;
    for (;;) {
      let slice = -1;
      if (deadline !== Infinity) {
        const left = deadline - performance.now();
        if (left <= 0) return [];
        slice = Math.min(Math.ceil(left), MAX_SLICE_MS);
      }
      this.#harvest(slice);
    }
  }

  wait(options?: WaitOptions): Promise<Completion[]> {
    const action = "Cannot wait on the completion port";
    let ms: number;
    let signal: AbortSignal | undefined;
    try {
      ({ ms, signal } = checkWaitOptions(action, options));
      this.#checkOpen(action);
      if (this.#waiter !== undefined) {
        throw new Deno.errors.Busy(`${action}: another wait() is pending on this port`);
      }
      signal?.throwIfAborted();
      // Ready work is done on this thread: no thread hop.
      if (this.#queued > 0) this.#harvest(0);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#queue.length > 0 || ms === 0) return Promise.resolve(this.#take());
    return new Promise((resolve, reject) => {
      this.#waiter = startWait(resolve, reject, ms, signal, this.#endWait);
      this.#pump();
    });
  }

  /** Settles a pending wait, and lets the parked thread go if nothing else needs it. */
  #endWait = (waiter: Waiter, completions?: Completion[], reason?: unknown): void => {
    if (this.#waiter !== waiter) return;
    this.#waiter = undefined;
    settleWait(waiter, completions, reason);
    this.#unparkIfIdle();
  };

  /** A thread parked for nothing is sent home. */
  #unparkIfIdle(): void {
    if (this.#parked && this.#queued === 0 && this.#waiter === undefined) this.#interrupt();
  }

  #interrupt(): void {
    signalEventFd(this.#libc, this.#interrupter, "Cannot interrupt the completion port's wait");
  }

  /** Parks a thread on the epoll fd while operations wait for readiness or a wait() is pending. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    const libc = this.#libc;
    try {
      while (this.#needsPump()) {
        // Busy a moment ago: look again on the next turns of the event loop
        // before paying a park (under request-response traffic the next
        // event usually comes sooner than the thread hop, ~25 µs).
        if (performance.now() - this.#lastReady < SPIN_WINDOW_MS && await this.#spin()) continue;
        if (!this.#needsPump()) break;
        this.#parked = true;
        // Only readiness is learnt there; errno of that thread is not read.
        await libc.poll_parked(this.#parkPointer, 2n, -1);
        this.#parked = false;
        drainEventFd(libc, this.#interrupter);
        this.#streak = 0; // the event loop has turned
        if (this.#closed) break;
        if (this.#harvest(0) > 0) this.#lastReady = performance.now();
      }
    } catch (error) {
      const waiter = this.#waiter;
      if (waiter !== undefined) this.#endWait(waiter, undefined, error);
    } finally {
      this.#pumping = false;
      this.#parked = false;
      if (this.#closed) this.#release();
    }
  }

  #needsPump(): boolean {
    return !this.#closed && (this.#queued > 0 || this.#waiter !== undefined);
  }

  /**
   * Looks for events on the next turns of the event loop, for up to
   * SPIN_MS; returns whether some came (false: park).
   */
  async #spin(): Promise<boolean> {
    const end = performance.now() + SPIN_MS;
    do {
      await new Promise((resolve) => setImmediate(resolve));
      this.#streak = 0; // the event loop has turned
      if (!this.#needsPump()) return true; // the loop ends (or closes) without a park
      if (this.#harvest(0) > 0) {
        this.#lastReady = performance.now();
        return true;
      }
    } while (performance.now() < end);
    return false;
  }

  /**
   * Takes the ready events (waiting at most `timeoutMs`) and does the work
   * they allow; returns how many there were.
   */
  #harvest(timeoutMs: number): number {
    const libc = this.#libc;
    const words = this.#eventWords;
    const fds = this.#fds;
    let events = 0;
    for (let round = 0; round < MAX_HARVESTS; round++) {
      const n = libc.epoll_wait(this.#epfd, this.#events, EVENTS, round === 0 ? timeoutMs : 0);
      if (n <= 0) break; // nothing, or EINTR: the caller looks again
      events += n;
      for (let i = 0, w = 0; i < n; i++, w += STRIDE_WORDS) {
        const state = fds[words[w + FD_WORD]];
        // A registration of an fd the port has forgotten since: dropped.
        if (state === undefined || state.gen !== words[w + GEN_WORD]) continue;
        const bits = words[w];
        // (Also when no read waits: an edge comes once.)
        if (bits & READ_READY) state.drained = false;
        if (bits & READ_CLOSED) state.readClosed = true;
        if (bits & READ_READY && state.reads.length > 0) this.#run(state.reads);
        if (bits & WRITE_READY && state.writes.length > 0) this.#run(state.writes);
        if (state.edge) continue;
        state.armed = 0; // EPOLLONESHOT: disarmed until armed again
        if (!state.idle) this.#arm(state);
      }
      if (n < EVENTS) break;
    }
    this.#unparkIfIdle();
    return events;
  }

  /** Does the operations of one queue in order, until one would block. */
  #run(queue: Op[]): void {
    while (queue.length > 0) {
      if (!this.#attempt(queue[0])) return;
      queue.shift();
      this.#queued--;
    }
  }

  /**
   * Arms `state`'s fd in epoll for the directions its operations wait for.
   * An fd epoll cannot watch has its operations done at once instead.
   */
  #arm(state: FdState): void {
    let want = 0;
    if (state.reads.length > 0) want |= EPOLLIN | EPOLLRDHUP;
    if (state.writes.length > 0) want |= EPOLLOUT;
    if (want === 0) return;
    if (state.edge) {
      // Registered once for good: the next edge brings it back.
      if (!state.registered) {
        const bits = (EPOLLIN | EPOLLRDHUP | EPOLLOUT | EPOLLET) >>> 0;
        const e = this.#ctlErrno(EPOLL_CTL_ADD, state, bits);
        if (e !== 0) return this.#armFailed(state, e);
        state.registered = true;
      }
      this.#pump();
      return;
    }
    if ((want & ~state.armed) === 0) return;
    if (state.unwatchable) return this.#runUnwatchable(state);
    const bits = (want | EPOLLONESHOT) >>> 0;
    let e: number;
    if (state.registered) {
      e = this.#ctlErrno(EPOLL_CTL_MOD, state, bits);
      // ENOENT: the file was closed, its number reused; EEXIST cannot follow.
      if (e === ENOENT) e = this.#ctlErrno(EPOLL_CTL_ADD, state, bits);
    } else {
      e = this.#ctlErrno(EPOLL_CTL_ADD, state, bits);
      // EEXIST: still registered under an earlier state of this number.
      if (e === EEXIST) e = this.#ctlErrno(EPOLL_CTL_MOD, state, bits);
    }
    if (e === 0) {
      state.registered = true;
      state.armed = want;
      this.#pump();
      return;
    }
    this.#armFailed(state, e);
  }

  /** An fd epoll refused: called at once if it cannot be watched, else its operations fail. */
  #armFailed(state: FdState, e: number): void {
    if (e === EPERM) {
      // epoll cannot watch it (a character device without poll): its calls never block.
      state.unwatchable = true;
      state.blocking = false;
      return this.#runUnwatchable(state);
    }
    this.#failAll(state, (op) => osError(`${op.action}: cannot watch it with epoll`, e));
  }

  /** epoll_ctl for `state`'s fd; returns errno or 0. */
  #ctlErrno(op: number, state: FdState, bits: number): number {
    const words = this.#ctlWords;
    words[0] = bits;
    words[FD_WORD] = state.fd;
    words[GEN_WORD] = state.gen;
    return this.#libc.epoll_ctl(this.#epfd, op, state.fd, this.#ctl) < 0 ? errno() : 0;
  }

  /** Does every operation of an fd epoll cannot watch; one that would block fails. */
  #runUnwatchable(state: FdState): void {
    for (const queue of [state.reads, state.writes]) {
      while (queue.length > 0) {
        const op = queue[0];
        const settled = this.#attempt(op);
        queue.shift();
        this.#queued--;
        if (!settled) {
          this.#fail(
            op,
            osError(`${op.action}: epoll cannot watch it`, EPERM, Deno.errors.NotSupported),
          );
        }
      }
    }
    this.#unparkIfIdle();
  }

  /** Rejects every operation of `state` with `error(op)`. */
  #failAll(state: FdState, error: (op: Op) => unknown): void {
    for (const queue of [state.reads, state.writes]) {
      const ops = queue.splice(0);
      this.#queued -= ops.length;
      for (const op of ops) {
        if (op.type === CONNECT) this.#abandonConnect(op);
        this.#fail(op, error(op));
      }
    }
    this.#unparkIfIdle();
  }

  #settle(op: Op, value: unknown): void {
    op.signal?.removeEventListener("abort", op);
    op.resolve(value);
  }

  #fail(op: Op, reason: unknown): void {
    op.signal?.removeEventListener("abort", op);
    op.reject(reason);
  }

  /**
   * Whether an operation may be done synchronously now: not while a yield
   * to the event loop is due (after STARVATION_MS of synchronous work).
   */
  #mayRunNow(): boolean {
    if (this.#resumeScheduled) return false;
    const streak = ++this.#streak;
    if (streak === 1) {
      this.#streakStart = performance.now();
    } else if (
      streak % CLOCK_EVERY === 0 && performance.now() - this.#streakStart >= STARVATION_MS
    ) {
      return false;
    }
    return true;
  }

  /** Queues `op` on its fd: armed in epoll, or, while a yield is due, run after it. */
  #enqueue(op: Op, queue: Op[], deferred: boolean): void {
    queue.push(op);
    this.#queued++;
    op.signal?.addEventListener("abort", op);
    const state = op.state;
    if (!deferred) return this.#arm(state);
    if (!state.kicked) {
      state.kicked = true;
      this.#kicked.push(state);
    }
    if (!this.#resumeScheduled) {
      this.#resumeScheduled = true;
      setImmediate(this.#resume);
    }
  }

  /** After a turn of the event loop: does the deferred operations. */
  #runKicked(): void {
    this.#resumeScheduled = false;
    this.#streak = 0;
    const kicked = this.#kicked;
    this.#kicked = [];
    for (const state of kicked) {
      state.kicked = false;
      if (this.#closed || this.#fds[state.fd] !== state) continue;
      if (state.kind === FILE || !state.blocking) {
        this.#run(state.reads);
        this.#run(state.writes);
      }
      if (!state.idle) this.#arm(state);
    }
    this.#unparkIfIdle();
    if (this.#closed) this.#release();
  }

  read(handle: Handle, buffer: Uint8Array, options?: IoOptions): Promise<number | null> {
    return this.#transfer(READ, handle, buffer, options, false) as Promise<number | null>;
  }

  write(handle: Handle, buffer: Uint8Array, options?: IoOptions): Promise<number> {
    return this.#transfer(WRITE, handle, buffer, options, false) as Promise<number>;
  }

  /** A read or a write: done at once if it can be, else queued on its fd. */
  #transfer(
    type: number,
    handle: unknown,
    buffer: Uint8Array,
    options: IoOptions | undefined,
    relearnt: boolean,
  ): Promise<number | null> {
    let state: FdState;
    let offset: bigint | undefined;
    let signal: AbortSignal | undefined;
    try {
      const fd = typeof handle === "number" && handle >= 0 && handle <= MAX_FD &&
          Number.isInteger(handle)
        ? handle
        : checkHandle(actionOf(type, handle), handle);
      if (!(buffer instanceof Uint8Array)) checkIoBuffer(actionOf(type, fd), buffer);
      const backing = buffer.buffer;
      if (!(backing instanceof ArrayBuffer) || backing.resizable || backing.detached) {
        checkIoBuffer(actionOf(type, fd), buffer);
      }
      if (options !== undefined) {
        if (typeof options !== "object" || options === null) {
          throw new TypeError(
            `${actionOf(type, fd)}: options must be an object, got ${describe(options)}`,
          );
        }
        const at = options.offset;
        if (at !== undefined) {
          offset = typeof at === "number" && Number.isSafeInteger(at) && at >= 0
            ? BigInt(at)
            : typeof at === "bigint" && at >= 0n && at <= MAX_OFFSET
            ? at
            : checkOffset(actionOf(type, fd), at);
        }
        signal = options.signal;
        if (signal !== undefined && !(signal instanceof AbortSignal)) {
          throw new TypeError(
            `${actionOf(type, fd)}: signal must be an AbortSignal, got ${describe(signal)}`,
          );
        }
      }
      if (this.#closed) this.#checkOpen(actionOf(type, fd));
      state = this.#fds[fd] ?? this.#classify(type, fd);
      if ((state.kind === FILE) !== (offset !== undefined)) {
        state = this.#checkOffsetRule(type, state, offset);
      }
      signal?.throwIfAborted();
    } catch (error) {
      return Promise.reject(error);
    }
    const length = buffer.length;
    if (length === 0) return Promise.resolve(0);
    const queue = type === READ ? state.reads : state.writes;
    let done = 0;
    let deferred = false;
    if (queue.length === 0 && !state.blocking) {
      if (!this.#mayRunNow()) {
        deferred = true;
      } else if (state.kind === FILE) {
        if (length < OFFLOAD_BYTES) {
          const n = this.#fileOnce(type, state.fd, buffer, offset!);
          if (n < 0) return this.#failedAtOnce(type, state, buffer, options, -n, relearnt);
          if (type === READ) return Promise.resolve(n > 0 ? n : null);
          if (n === length || n === 0) return Promise.resolve(n);
          done = n; // a short write (a full disk, a limit): the rest goes the long way
        }
      } else if (type === READ) {
        if (!state.drained) {
          const n = this.#readOnce(state, buffer);
          if (n > 0) {
            state.drained = n < length && !state.readClosed;
            return Promise.resolve(n);
          }
          if (n === 0) return Promise.resolve(null);
          if (n !== -EAGAIN) {
            return this.#failedAtOnce(type, state, buffer, options, -n, relearnt);
          }
        }
      } else {
        // Until all is written or the fd is full (EAGAIN, after which
        // readiness, an edge included, is sure to come): the rest waits for room.
        do {
          const n = this.#writeOnce(state, buffer, done);
          if (n === -EAGAIN || n === 0) break;
          if (n < 0) {
            if (done === 0) return this.#failedAtOnce(type, state, buffer, options, -n, relearnt);
            return Promise.reject(osError(actionOf(type, state.fd), -n));
          }
          done += n;
        } while (done < length);
        if (done === length) return Promise.resolve(length);
      }
    } else if (state.kind === FILE) {
      deferred = true; // behind operations deferred to the next turn
    }
    const op = new Op(type, state, buffer, offset, signal, undefined, this.#cancelOp);
    op.done = done;
    const promise = promiseOf<number | null>(op);
    if (state.kind === FILE && !deferred && queue.length === 0) {
      this.#fileOp(op);
    } else {
      this.#enqueue(op, queue, deferred);
    }
    return promise;
  }

  /** Learns what a new fd is; the port's own fds are refused. */
  #classify(type: number, fd: number): FdState {
    const action = actionOf(type, fd);
    this.#checkNotOwn(action, fd);
    return this.#learn(action, fd);
  }

  /**
   * An offset given on a stream, or missing on a file: asks the kernel
   * again whether the fd is what the port thinks (its number may name
   * another file now) before it throws the TypeError.
   */
  #checkOffsetRule(type: number, state: FdState, offset: bigint | undefined): FdState {
    const action = actionOf(type, state.fd);
    if (state.idle) state = this.#learn(action, state.fd);
    if (state.kind === FILE && offset === undefined) {
      throw new TypeError(`${action}: offset is required on a file (it has no position here)`);
    }
    if (state.kind !== FILE && offset !== undefined) {
      throw new TypeError(`${action}: offset must be omitted on a stream`);
    }
    return state;
  }

  /**
   * A read or write that failed at once with `e`: a stale idea of the fd
   * (ENOTSOCK, ESPIPE) is learnt again and the call made once more.
   */
  #failedAtOnce(
    type: number,
    state: FdState,
    buffer: Uint8Array,
    options: IoOptions | undefined,
    e: number,
    relearnt: boolean,
  ): Promise<number | null> {
    if ((e === ENOTSOCK || e === ESPIPE || e === EBADF) && !relearnt && state.idle) {
      if (this.#fds[state.fd] === state) this.#fds[state.fd] = undefined;
      if (e !== EBADF) return this.#transfer(type, state.fd, buffer, options, true);
    }
    return Promise.reject(osError(actionOf(type, state.fd), e));
  }

  /** One read: the bytes (0 at the end), or -errno (never EINTR). */
  #readOnce(state: FdState, buffer: Uint8Array): number {
    const libc = this.#libc;
    const size = ioSize(buffer.length);
    for (;;) {
      const n = state.kind === SOCKET
        ? libc.recv(state.fd, buffer, size, MSG_DONTWAIT)
        : libc.read(state.fd, buffer, size);
      if (n >= 0) return n;
      const e = errno();
      if (e !== EINTR) return -e;
    }
  }

  /** One write of what is left after `done` bytes: the bytes taken, or -errno (never EINTR). */
  #writeOnce(state: FdState, buffer: Uint8Array, done: number): number {
    const libc = this.#libc;
    const rest = done === 0 ? buffer : buffer.subarray(done);
    let count = rest.length;
    // A blocking pipe is written no more than it takes without blocking once writable.
    if (state.blocking && count > PIPE_BUF) count = PIPE_BUF;
    const size = ioSize(count);
    for (;;) {
      const n = state.kind === SOCKET
        ? libc.send(state.fd, rest, size, SEND_FLAGS)
        : libc.write(state.fd, rest, size);
      if (n >= 0) return n;
      const e = errno();
      if (e !== EINTR) return -e;
    }
  }

  /** One pread or pwrite at `offset`: the bytes, or -errno (never EINTR). */
  #fileOnce(type: number, fd: number, buffer: Uint8Array, offset: bigint): number {
    const libc = this.#libc;
    const size = ioSize(buffer.length);
    for (;;) {
      const n = type === READ
        ? libc.pread(fd, buffer, size, offset)
        : libc.pwrite(fd, buffer, size, offset);
      if (n >= 0) return n;
      const e = errno();
      if (e !== EINTR) return -e;
    }
  }

  /**
   * Does a file operation that has left (or never entered) its queue:
   * synchronously if it is small, else on a worker thread. Returns true
   * (it never waits for readiness).
   */
  #fileOp(op: Op): boolean {
    const fd = op.state.fd;
    for (;;) {
      const rest = op.done === 0 ? op.buffer : op.buffer.subarray(op.done);
      const offset = op.done === 0 ? op.offset! : op.offset! + BigInt(op.done);
      if (rest.length >= OFFLOAD_BYTES && !this.#closed) {
        this.#offload(op, rest, offset);
        return true;
      }
      const n = this.#fileOnce(op.type, fd, rest, offset);
      if (this.#fileDone(op, n)) return true;
    }
  }

  /** Records a file call's result; returns whether the operation is settled. */
  #fileDone(op: Op, n: number): boolean {
    if (n < 0) {
      this.#fail(op, osError(op.action, -n));
      return true;
    }
    if (op.type === READ) {
      this.#settle(op, n > 0 ? n : null);
      return true;
    }
    op.done += n;
    if (op.done >= op.buffer.length || n === 0) {
      this.#settle(op, op.done);
      return true;
    }
    return false;
  }

  /** A large pread/pwrite on a worker thread; a failure is redone here to learn errno. */
  #offload(op: Op, rest: Uint8Array, offset: bigint): void {
    op.offloaded = true;
    op.signal?.removeEventListener("abort", op); // it runs to its end now
    this.#offloaded++;
    const libc = this.#libc;
    const fd = op.state.fd;
    const size = ioSize(rest.length);
    const call = op.type === READ
      ? libc.pread_offloaded(fd, rest, size, offset)
      : libc.pwrite_offloaded(fd, rest, size, offset);
    call.then(
      (n) => {
        this.#offloaded--;
        // The worker's errno cannot be read here: the call is made again to learn it.
        if (n < 0) n = this.#fileOnce(op.type, fd, rest, offset);
        if (!this.#fileDone(op, n)) this.#fileOp(op);
        if (this.#closed) this.#release();
      },
      (error) => {
        this.#offloaded--;
        this.#fail(op, error);
        if (this.#closed) this.#release();
      },
    );
  }

  /**
   * Does an operation that waited for its fd, once: returns whether it is
   * settled (false: it would block; it stays first in its queue).
   */
  #attempt(op: Op): boolean {
    const state = op.state;
    switch (op.type) {
      case READ: {
        if (state.kind === FILE) return this.#fileOp(op);
        const n = this.#readOnce(state, op.buffer);
        state.drained = n > 0 && n < op.buffer.length && !state.readClosed;
        if (n >= 0) this.#settle(op, n > 0 ? n : null);
        else if (n === -EAGAIN) return false;
        else this.#fail(op, osError(op.action, -n));
        return true;
      }
      case WRITE: {
        if (state.kind === FILE) return this.#fileOp(op);
        // Until all is written or the fd is full (EAGAIN: readiness, an edge
        // included, is sure to come); a blocking pipe gets one write per readiness.
        do {
          const n = this.#writeOnce(state, op.buffer, op.done);
          if (n === -EAGAIN || n === 0) return false;
          if (n < 0) {
            this.#fail(op, osError(op.action, -n));
            return true;
          }
          op.done += n;
        } while (op.done < op.buffer.length && !state.blocking);
        if (op.done < op.buffer.length) return false;
        this.#settle(op, op.done);
        return true;
      }
      case ACCEPT: {
        let conn;
        try {
          conn = (op.target as TcpListener).accept();
        } catch (error) {
          this.#fail(op, error);
          return true;
        }
        if (conn === null) return false;
        this.#took(conn.fd);
        this.#settle(op, conn);
        return true;
      }
      default:
        return this.#finishConnect(op);
    }
  }

  accept(listener: TcpListener, options?: CancelOptions): Promise<TcpConn> {
    try {
      if (!isPosixListener(listener)) {
        throw new TypeError(
          `Cannot accept: listener must be a TcpListener from listenTcp(), got ${
            describe(listener)
          }`,
        );
      }
      const action = `Cannot accept on ${formatAddress(listener.addr)}`;
      const signal = checkCancelOptions(action, options);
      if (listener.closed) throw new Deno.errors.BadResource(`${action}: the listener is closed`);
      this.#checkOpen(action);
      signal?.throwIfAborted();
      const state = this.#stateOf(action, listener.fd);
      const deferred = !this.#mayRunNow();
      if (state.reads.length === 0 && !deferred) {
        const conn = listener.accept();
        if (conn !== null) {
          this.#took(conn.fd);
          return Promise.resolve(conn);
        }
      }
      const op = new Op(ACCEPT, state, EMPTY, undefined, signal, listener, this.#cancelOp);
      const promise = promiseOf<TcpConn>(op);
      this.#enqueue(op, state.reads, deferred);
      return promise;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  connect(address: TcpAddress, options?: CancelOptions): Promise<TcpConn> {
    try {
      const target = checkConnectAddress(address);
      const where = formatAddress(target);
      const action = `Cannot connect to ${where}`;
      const signal = checkCancelOptions(action, options);
      this.#checkOpen(action);
      signal?.throwIfAborted();
      const libc = this.#libc;
      const fd = openStreamSocket(libc, target);
      const sockaddr = sockaddrOf(target);
      if (libc.connect(fd, sockaddr, sockaddr.length) === 0) {
        return Promise.resolve(this.#adopt(fd, action));
      }
      const e = errno();
      // After EINTR the connect goes on in the background, as after EINPROGRESS.
      if (e !== EINPROGRESS && e !== EINTR) {
        libc.close(fd);
        throw osError(action, e);
      }
      const state = this.#took(fd);
      const op = new Op(CONNECT, state, EMPTY, undefined, signal, where, this.#cancelOp);
      const promise = promiseOf<TcpConn>(op);
      this.#enqueue(op, state.writes, false);
      return promise;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** A connect whose socket turned writable: done, failed, or (spuriously) still under way. */
  #finishConnect(op: Op): boolean {
    const fd = op.state.fd;
    const libc = this.#libc;
    option[0] = 0;
    optionLength[0] = INT_SIZE;
    let e = libc.getsockopt(fd, SOL_SOCKET, SO_ERROR, option, optionLength) < 0
      ? errno()
      : option[0];
    if (e === 0) {
      storageLength[0] = SOCKADDR_STORAGE_SIZE;
      if (libc.getpeername(fd, storage, storageLength) === 0) {
        const remote = addressOf(storage, storageLength[0]);
        this.#settle(op, adoptConn(libc, fd, remote));
        return true;
      }
      e = errno();
      if (e === ENOTCONN) return false; // not connected yet: wait on
    }
    this.#abandonConnect(op);
    this.#fail(op, osError(op.action, e));
    return true;
  }

  /**
   * Records a socket the port made or accepted, whose close it always sees
   * (a TcpConn's): registered edge-triggered once it first waits.
   */
  #took(fd: number): FdState {
    this.#forget(fd); // what the port knew of an earlier file of that number
    const state = new FdState(fd, this.#gen(), SOCKET, false, true);
    this.#fds[fd] = state;
    return state;
  }

  /** Makes a TcpConn of a socket connected at once. */
  #adopt(fd: number, action: string): TcpConn {
    const libc = this.#libc;
    storageLength[0] = SOCKADDR_STORAGE_SIZE;
    if (libc.getpeername(fd, storage, storageLength) < 0) {
      const e = errno();
      libc.close(fd);
      throw osError(action, e);
    }
    const conn = adoptConn(libc, fd, addressOf(storage, storageLength[0]));
    this.#took(fd);
    return conn;
  }

  /** Closes the socket of a connect that will not complete. */
  #abandonConnect(op: Op): void {
    const state = op.state;
    if (this.#fds[state.fd] === state) this.#fds[state.fd] = undefined;
    this.#libc.close(state.fd);
  }

  /** An abort: an operation not yet done is taken out and rejects with the reason. */
  #cancel(op: Op): void {
    if (op.offloaded) return; // running on a worker: it resolves with its result
    const state = op.state;
    const queue = op.type === WRITE || op.type === CONNECT ? state.writes : state.reads;
    const at = queue.indexOf(op);
    if (at < 0) return;
    // First in its queue, on an fd whose calls do not block: what a kernel
    // would have completed by now (its fd is ready) is done, as a cancel
    // that comes too late; only an operation that would still wait is
    // cancelled.
    const settled = at === 0 && state.kind !== FILE && !state.blocking && this.#attempt(op);
    queue.splice(at, 1);
    this.#queued--;
    if (!settled) {
      if (op.type === CONNECT) this.#abandonConnect(op);
      this.#fail(op, op.signal!.reason);
    }
    this.#unparkIfIdle();
  }

  /** An fd about to be closed by its owner: its operations reject, its registration goes. */
  #forget(fd: number): void {
    const state = this.#fds[fd];
    if (state === undefined) return;
    this.#fds[fd] = undefined;
    this.#keys.delete(fd);
    if (state.registered) this.#ctlErrno(EPOLL_CTL_DEL, state, 0);
    if (!state.idle) {
      const what = state.kind === SOCKET ? "socket" : "fd";
      this.#failAll(
        state,
        (op) => new Deno.errors.Interrupted(`${op.action}: the ${what} was closed`),
      );
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    unwatchCloses(this.#onFdClose);
    this.#queue = [];
    // A pending wait() ends at once; the operations once cancelled, as on a kernel port.
    const waiter = this.#waiter;
    if (waiter !== undefined) this.#endWait(waiter, []);
    for (const state of this.#fds) {
      if (state === undefined || state.idle) continue;
      this.#failAll(
        state,
        (op) => new Deno.errors.Interrupted(`${op.action}: the completion port was closed`),
      );
    }
    this.#fds = [];
    this.#keys.clear();
    if (this.#parked) this.#interrupt();
    this.#release();
  }

  /** Frees the kernel objects once no thread is parked and nothing runs on a worker. */
  #release(): void {
    if (this.#released || this.#pumping || this.#offloaded > 0 || this.#resumeScheduled) return;
    this.#released = true;
    const libc = this.#libc;
    libc.close(this.#interrupter);
    libc.close(this.#epfd);
    releaseLibc();
    this.#onReleased();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#whenReleased;
  }
}

/** The buffer of operations that move no bytes (accept, connect). */
const EMPTY = new Uint8Array(0);

/**
 * Opens a CompletionPort that performs operations when their fds turn
 * ready (epoll), and files by pread/pwrite.
 *
 * @returns the port; close it when done
 * @throws {Deno.errors.NotCapable} without `--allow-ffi`
 * @throws {Error} with `code` `"EMFILE"` when the process has no fd left
 * @internal
 */
export function openEpollPort(): CompletionPort {
  const libc = acquireLibc();
  try {
    return new EpollPort(libc);
  } catch (error) {
    releaseLibc();
    throw error;
  }
}
