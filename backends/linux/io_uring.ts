// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The io_uring engine of the CompletionPort (Linux): when an operation's
 * SQE is queued and submitted, what its CQE means, how it is cancelled, and
 * how a thread parks. The ring itself (setup, mapping, submit, reap,
 * overflow, the eventfd) is `_io_uring_ring.ts`; the SQE of each step
 * `_io_uring_ops.ts`; the doorbell `_io_uring_doorbell.ts`; what every
 * port shares (arguments, the slot table, outcomes, posted packets,
 * `get()`/`wait()`, the pump, close) is the core's (`_port_core.ts`). It
 * must not know what a user sees of an outcome, nor what a TcpConn is.
 *
 * - An operation's SQE carries its slot (user_data's low word) and
 *   generation (high word): a CQE of a slot reused since is dropped. User
 *   data with a zero high word is the engine's own (cancellations).
 * - SQEs are submitted once per burst, in a microtask (or at once by
 *   `get()`, `wait()`, a park, a close, a full SQ), and the CQ is reaped on
 *   this thread right after: what completed inline settles without a
 *   thread hop.
 * - Sockets use RECV/SEND, files READ/WRITE at an offset, other streams
 *   READ/WRITE at the current position. A socket's write is first tried
 *   with send(2) on this thread (`writeNow()`): what fits goes out with no
 *   SQE. What an fd is, is learnt with fstat
 *   once and remembered: forgotten when one of this module's fds is closed,
 *   and asked again by `associate()`. An fd closed behind the port's back
 *   whose number then names another file must be associated again (as on
 *   Windows).
 * - Cancellation: IORING_OP_ASYNC_CANCEL of the operation's SQE; its own
 *   CQE says whether it was cancelled (-ECANCELED) or completed first.
 *
 * **Parking, and the lost wake-up it once had.** With deferred completion
 * work (Linux 6.1: SINGLE_ISSUER | DEFER_TASKRUN), the completion of an
 * operation that waited (a recv whose data came) is queued until this
 * thread enters the ring, and a parked thread learns of it from an eventfd
 * registered with the ring. On Linux 6.18 that eventfd has been seen
 * signalled late: about 1-2% of the parks of a request-response echo woke
 * 10-16 ms after the work was queued, by `io_eventfd_do_signal` run from
 * an RCU callback (`rcu_do_batch`), one grace period later (traced with the
 * kernel's `sched_waking` and `io_uring_task_add` events; see
 * bench/README.md). So a park also waits on a doorbell
 * (`_io_uring_doorbell.ts`): the fds with operations waiting, in an epoll
 * set of the engine's own, whose wake-ups come at once.
 *
 * Without deferred work (older kernels) the kernel runs completion work by
 * interrupting this thread, the CQE wakes a poll() on the ring's fd, and no
 * doorbell is needed.
 *
 * @module
 */

import { MAX_FD } from "../shared/_checks.ts";
import { PortCore } from "../_port_core.ts";
import { checkCancelOptions } from "../_port_checks.ts";
import { EpollPark } from "./_epoll_park.ts";
import { Doorbell } from "./_io_uring_doorbell.ts";
import { pushStep, type SocketScratch, UringOp } from "./_io_uring_ops.ts";
import { Ring, type RingStats, SubmitError } from "./_io_uring_ring.ts";
import { createEventFd } from "./_eventfd.ts";
import { unwatchCloses, watchCloses } from "../shared/_close_hook.ts";
import { osError } from "../../ffi/errors.ts";
import { IORING_OP_ASYNC_CANCEL, IORING_OP_NOP, RWF_NOWAIT } from "../../ffi/io_uring.ts";
import {
  acquireLibc,
  EAGAIN,
  EALREADY,
  EBADF,
  ECANCELED,
  ECONNABORTED,
  EINPROGRESS,
  EINTR,
  EISCONN,
  errno,
  ioSize,
  type Libc,
  MAX_IO,
  MAX_TIMEOUT_MS,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  POLLFD_EVENTS_OFFSET,
  POLLFD_SIZE,
  POLLIN,
  releaseLibc,
  S_IFBLK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  SOCKADDR_STORAGE_SIZE,
  STAT_MODE_OFFSET,
  STAT_SIZE,
} from "../../ffi/libc.ts";
import type { SocketAddress } from "../shared/_address.ts";
import type { PosixSockets } from "../_port_sockets.ts";
import type { CancelOptions, TcpConn } from "../../types/net.ts";
import type { UnixConn } from "../../types/unix.ts";
import { describe } from "../shared/_describe.ts";
import {
  type Aborter,
  ACCEPT,
  actionFor,
  ASSOCIATE,
  BY_CLOSE,
  BY_HANDLE_CLOSE,
  CONNECT,
  type Engine,
  FILE,
  NOT_CANCELLED,
  POST,
  READ,
  SOCKET,
  STREAM,
  WRITE,
} from "../_port_engine.ts";

/** SQ entries by default; the CQ holds {@linkcode CQ_FACTOR} times as many. */
const DEFAULT_ENTRIES = 256;
const CQ_FACTOR = 4;
/** The largest ring the kernel takes (IORING_MAX_ENTRIES). */
const MAX_ENTRIES = 32768;
const ONE_FD = 1n;
const STAT_MODE_WORD = STAT_MODE_OFFSET / 4;
/** user_data low word of the engine's own cancellations (their high word is 0). */
const CANCEL = 2;
/** A socklen_t. */
const LENGTH_SIZE = 4;
/** Where a park's poll set has the doorbell's epoll fd. */
const BELL = 0;
/** Where a park's poll set has the interrupter. */
const INTERRUPTER = 1;

/** Options of {@linkcode openIoUringPort}. */
export interface IoUringPortOptions {
  /** Makes io_uring_setup fail with this errno (tests of the fallback). */
  setupErrno?: number;
  /** SQ entries (a power of two is used; default 256). */
  entries?: number;
  /** CQ entries (default four times the SQ's). */
  cqEntries?: number;
  /**
   * `false` sets the ring up without IORING_SETUP_DEFER_TASKRUN, as on
   * kernels older than 6.1 (tests of that path; default `true`: deferred
   * where the kernel allows it).
   */
  deferTaskrun?: boolean;
  /**
   * Asks every read and write not to wait (RWF_NOWAIT, MSG_DONTWAIT), as
   * kernels that honour O_NONBLOCK answer on nonblocking fds: -EAGAIN, then
   * the engine's own poll-and-retry (tests of that path).
   */
  nowait?: boolean;
  /**
   * `false`: no doorbell beside the eventfd (tests that show the late
   * eventfd; default `true`).
   */
  doorbell?: boolean;
  /** The socket layer, for accept and connect (none: they throw NotSupported). */
  sockets?: PosixSockets;
}

/**
 * What an io_uring port has done so far: counters for tests and
 * benchmarks.
 *
 * @internal
 */
export interface IoUringStats extends RingStats {
  /** Times a thread was parked on the ring. */
  parks: number;
  /** Times an operation told -EAGAIN waited for its fd with IORING_OP_POLL_ADD. */
  polls: number;
  /** Times the doorbell (not the eventfd) brought a parked thread back. */
  doorbells: number;
  /** Socket writes (or their steps) made at once with send(2) on this thread, with no SQE. */
  sentAtOnce: number;
}

/** The name of a handle argument in messages, before it is known to be an fd. */
function describeFd(handle: unknown): string {
  return typeof handle === "number" && Number.isInteger(handle) && handle >= 0
    ? `fd ${handle}`
    : `handle ${describe(handle)}`;
}

/** The kernel side of the io_uring CompletionPort. */
class UringEngine implements Engine<UringOp> {
  readonly backend = "io_uring";
  readonly parksForWait = false;
  readonly maxIo = MAX_IO;
  readonly ownsMemory = true;
  readonly ordersWrites = false;
  #libc: Libc;
  #ring: Ring;
  #core!: PortCore<UringOp>;
  /** What a park waits on: the doorbell's epoll set (deferred work; else empty) and the interrupter. */
  #bell: EpollPark;
  /** The doorbell, where used (deferred work, and not turned off). */
  #doorbell: Doorbell | undefined;
  /** Whether a park is out. */
  #parkOut = false;
  /** One pollfd on the ring's fd, for a synchronous get() with a timeout. */
  #pollfd = new Uint8Array(POLLFD_SIZE);
  #flushScheduled = false;
  #flushTask = (): void => this.#flush();
  #stat = new Uint8Array(STAT_SIZE);
  #statWords = new Uint32Array(this.#stat.buffer);
  /** What each fd is (FILE, SOCKET, STREAM), forgotten when one of this module's fds closes. */
  #fdTypes: (number | undefined)[] = [];
  /** The keys associate() recorded. */
  #keys = new Map<number, number>();
  #onFdClose = (fd: number): void => this.#core.handleClosing(fd);
  /** The socket layer, for accept and connect (undefined: this port has none). */
  #sockets: PosixSockets | undefined;
  #polls = 0;
  #doorbells = 0;
  #sentAtOnce = 0;
  /** rw_flags of reads and writes, msg_flags of recvs and sends (RWF_NOWAIT, MSG_DONTWAIT with `nowait`). */
  #rwFlags: number;
  #msgFlags: number;
  #closing = false;

  constructor(libc: Libc, options: IoUringPortOptions) {
    this.#sockets = options.sockets;
    const action = "Cannot open completion port with io_uring";
    const { setupErrno, entries = DEFAULT_ENTRIES } = options;
    if (!Number.isInteger(entries) || entries < 1 || entries > MAX_ENTRIES) {
      throw new RangeError(`${action}: entries must be an integer from 1 to ${MAX_ENTRIES}`);
    }
    const cqEntries = options.cqEntries ?? entries * CQ_FACTOR;
    if (!Number.isInteger(cqEntries) || cqEntries < entries || cqEntries > 2 * MAX_ENTRIES) {
      throw new RangeError(`${action}: cqEntries must be an integer from entries to 65536`);
    }
    this.#libc = libc;
    this.#rwFlags = options.nowait === true ? RWF_NOWAIT : 0;
    this.#msgFlags = options.nowait === true ? MSG_DONTWAIT : 0;
    this.#ring = new Ring(
      libc,
      action,
      { entries, cqEntries, deferTaskrun: options.deferTaskrun, setupErrno },
      (lo, hi, res) => this.#onCqe(lo, hi, res),
    );
    let interrupter = -1;
    try {
      // Deferred: the park waits on the doorbell and the ring's eventfd
      // (which also interrupts it). Else: on the ring's fd, and an
      // interrupter of its own.
      if (this.#ring.deferred) {
        this.#bell = new EpollPark(libc, action, { interrupter: this.#ring.eventfd });
      } else {
        interrupter = createEventFd(libc, action);
        this.#bell = new EpollPark(libc, action, { interrupter, extraFds: [this.#ring.fd] });
      }
    } catch (error) {
      if (interrupter >= 0) libc.close(interrupter);
      this.#ring.close();
      throw error;
    }
    this.#doorbell = this.#ring.deferred && options.doorbell !== false
      ? new Doorbell(this.#bell)
      : undefined;
    const view = new DataView(this.#pollfd.buffer);
    view.setInt32(0, this.#ring.fd, true);
    view.setInt16(POLLFD_EVENTS_OFFSET, POLLIN, true);
  }

  /** Connects the engine to its core, and to the closes of this module's fds. */
  attach(core: PortCore<UringOp>): void {
    this.#core = core;
    watchCloses(this.#onFdClose);
  }

  get stats(): IoUringStats {
    return {
      ...this.#ring.stats,
      parks: this.#core.coreStats.parks,
      polls: this.#polls,
      doorbells: this.#doorbells,
      sentAtOnce: this.#sentAtOnce,
    };
  }

  operation(slot: number, aborter: Aborter): UringOp {
    return new UringOp(slot, aborter);
  }

  handleOf(handle: unknown, kind: number): number {
    if (
      typeof handle !== "number" || !(handle >= 0 && handle <= MAX_FD && handle % 1 === 0)
    ) {
      throw new TypeError(
        `${
          actionFor(kind, describeFd(handle))
        }: handle must be an fd (an integer from 0 to 2^31-1), got ${describe(handle)}`,
      );
    }
    return handle;
  }

  nameOf(key: number): string {
    return `fd ${key}`;
  }

  /** The engine's own fds, which only it may use. */
  #owns(fd: number): boolean {
    return fd === this.#ring.fd || fd === this.#ring.eventfd || fd === this.#bell.epfd ||
      fd === this.#bell.interrupter;
  }

  #checkNotOwn(action: string, fd: number): void {
    if (this.#owns(fd)) throw osError(`${action} (the completion port's own fd)`, EBADF);
  }

  kindOf(fd: number, kind: number, again = false): number {
    const known = this.#fdTypes[fd];
    if (known !== undefined && !again) return known;
    const action = actionFor(kind, `fd ${fd}`);
    this.#checkNotOwn(action, fd);
    return this.#learnType(action, fd);
  }

  /** Asks the kernel what `fd` is (FILE, SOCKET or STREAM), and remembers it. */
  #learnType(action: string, fd: number): number {
    if (this.#libc.fstat(fd, this.#stat) < 0) throw osError(action, errno());
    const mode = this.#statWords[STAT_MODE_WORD] & S_IFMT;
    const type = mode === S_IFREG || mode === S_IFBLK ? FILE : mode === S_IFSOCK ? SOCKET : STREAM;
    this.#fdTypes[fd] = type;
    return type;
  }

  associate(fd: number, key: number): void {
    const action = actionFor(ASSOCIATE, `fd ${fd}`);
    this.#checkNotOwn(action, fd);
    // Always asked of the kernel: the number may name another file now.
    this.#learnType(action, fd);
    this.#forgetBell(fd);
    this.#keys.set(fd, key);
  }

  post(key: number, bytes: number, overlapped: Deno.PointerValue): boolean {
    const op = this.#core.allocateOp(POST);
    op.key = key;
    op.bytes = bytes;
    op.pointer = overlapped;
    try {
      op.sqPos = this.#ring.push(IORING_OP_NOP, -1, 0, 0, 0, 0, 0, 0, op.slot, op.gen);
    } catch (error) {
      this.#core.free(op);
      throw error;
    }
    this.#flushSoon();
    return true;
  }

  // ---------------------------------------------------------------------------
  // SQEs

  start(op: UringOp): void {
    if (
      this.#doorbell !== undefined && (op.kind === READ || op.kind === WRITE) &&
      op.handleKind !== FILE
    ) {
      this.#doorbell.want(op);
    }
    this.#pushOp(op);
  }

  /**
   * A socket's write goes out at once with send(2) (MSG_DONTWAIT): the
   * kernel has copied the bytes when it returns, and the SQE, its
   * io_uring_enter and its CQE are saved (a request-response echo paid one
   * more io_uring_enter per message for them, and ran at 0.8x the
   * Selector's rate at one connection). What does not fit goes to the ring
   * (SEND, polled until there is room); so does an error, which the SEND
   * meets again.
   */
  writeNow(key: number, handleKind: number, bytes: Uint8Array): number {
    if (handleKind !== SOCKET || this.#msgFlags !== 0) return -1;
    const n = this.#libc.send(key, bytes, ioSize(bytes.length), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) return -1;
    this.#sentAtOnce++;
    return n;
  }

  /** Queues the SQE of an operation's next step (again after a partial write or a poll). */
  #pushOp(op: UringOp): void {
    if (op.polling) this.#polls++;
    op.sqPos = pushStep(this.#ring, op, this.#rwFlags, this.#msgFlags);
    // Cancelled already: whatever this step waits for is cancelled too.
    if (op.cancelled !== NOT_CANCELLED) this.#pushCancel(op);
    this.#flushSoon();
  }

  /** Queues an IORING_OP_ASYNC_CANCEL of the operation's SQE in flight. */
  #pushCancel(op: UringOp): void {
    this.#ring.push(IORING_OP_ASYNC_CANCEL, -1, 0, 0, op.slot, op.gen, 0, 0, CANCEL, 0);
    this.#flushSoon();
  }

  /** Submits (and reaps) what is queued in a microtask: once per burst of calls. */
  #flushSoon(): void {
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flushTask);
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#closing) return;
    this.#submitAndReap();
    this.#core.poke();
  }

  /** Submits what is queued, then reaps; returns how many CQEs came. */
  #submitAndReap(): number {
    try {
      this.#ring.submit();
    } catch (error) {
      if (!(error instanceof SubmitError)) throw error;
      this.#discard(error);
    }
    return this.#ring.reap();
  }

  /** After a refused submit: the operations whose SQEs were taken back fail with its error. */
  #discard(error: SubmitError): void {
    for (const op of this.#core.inUse()) {
      if (((op.sqPos - error.from) >>> 0) >= error.count) continue;
      if (op.kind === POST) this.#core.free(op);
      else this.#core.failed(op, error.error);
    }
  }

  // ---------------------------------------------------------------------------
  // CQEs

  #onCqe(lo: number, hi: number, res: number): void {
    if (hi === 0) return; // the engine's own (a cancellation's result)
    const op = this.#core.current(lo, hi);
    if (op !== undefined) this.#complete(op, res);
  }

  /** An operation's CQE: its next step, or its outcome. */
  #complete(op: UringOp, res: number): void {
    const core = this.#core;
    const kind = op.kind;
    if (kind === POST) {
      const { key, bytes, pointer } = op;
      core.free(op);
      core.packet(key, bytes, 0, pointer);
      return;
    }
    if (op.polling) {
      op.polling = false;
      if (res >= 0 || (res === -EINTR && op.cancelled === NOT_CANCELLED)) {
        // Ready: try again, unless the port or the fd is being closed. Cancelled
        // by a signal, it still takes what is there (cancelled again if it waits).
        if (op.cancelled === BY_CLOSE || op.cancelled === BY_HANDLE_CLOSE) {
          if (kind === CONNECT) this.#libc.close(op.handle);
          return core.cancelled(op);
        }
        return this.#pushOp(op);
      }
      return this.#failWith(op, -res);
    }
    if (res >= 0) {
      if (kind === READ || kind === WRITE) return core.transferred(op, res);
      if (kind === ACCEPT) return this.#accepted(op, res);
      return this.#connected(op);
    }
    const error = -res;
    if (op.cancelled === NOT_CANCELLED) {
      if (error === EINTR || (kind === ACCEPT && error === ECONNABORTED)) {
        return this.#pushOp(op); // interrupted, or a connection gone before it was taken: again
      }
      if (kind === CONNECT && (error === EINPROGRESS || error === EALREADY)) {
        op.connecting = true;
        op.polling = true;
        return this.#pushOp(op);
      }
      if (error === EAGAIN) {
        // A nonblocking fd on a kernel that honours O_NONBLOCK: wait until it is ready.
        op.polling = true;
        return this.#pushOp(op);
      }
    }
    if (kind === CONNECT && error === EISCONN && op.connecting) {
      return this.#connected(op); // connected while it was being polled
    }
    this.#failWith(op, error);
  }

  /** Fails an operation with an errno; a cancellation is the core's to word. */
  #failWith(op: UringOp, error: number): void {
    if (op.kind === CONNECT) this.#libc.close(op.handle);
    const cancelled = op.cancelled;
    if (
      cancelled !== NOT_CANCELLED && (error === ECANCELED || error === EINTR || error === EAGAIN)
    ) {
      return this.#core.cancelled(op);
    }
    if (cancelled === BY_HANDLE_CLOSE && error === EBADF) return this.#core.cancelled(op);
    this.#core.failed(op, osError(this.#core.action(op), error));
  }

  #accepted(op: UringOp, fd: number): void {
    const { storage, length } = op.target as SocketScratch;
    let conn;
    try {
      conn = (op.target as SocketScratch).listener!.adoptAccepted(fd, storage!, length![0]);
    } catch (error) {
      this.#libc.close(fd);
      return this.#core.failed(op, error);
    }
    this.#fdTypes[fd] = SOCKET;
    this.#forgetBell(fd);
    this.#core.succeeded(op, conn);
  }

  #connected(op: UringOp): void {
    const fd = op.handle;
    const conn = this.#socketKit().adoptConnected(fd, (op.target as SocketScratch).remote!);
    this.#fdTypes[fd] = SOCKET;
    this.#core.succeeded(op, conn);
  }

  cancel(op: UringOp): void {
    if (this.#closing) return;
    this.#pushCancel(op);
  }

  #socketKit(): PosixSockets {
    if (this.#sockets === undefined) {
      throw new Deno.errors.NotSupported(
        "Cannot accept or connect: this port was opened without sockets",
      );
    }
    return this.#sockets;
  }

  // ---------------------------------------------------------------------------
  // Harvesting and parking

  harvest(timeoutMs: number): number {
    let rang = 0;
    if (this.#parkOut) {
      this.#parkOut = false;
      if (this.#ring.deferred) {
        this.#ring.disarmEventfd();
        if (this.#doorbell !== undefined && this.#bell.rang(BELL)) rang = 1;
      } else if (this.#bell.rang(INTERRUPTER)) {
        this.#bell.drain();
      }
    } else if (!this.#ring.deferred && this.#core.inflight > 0) {
      // Without deferred work, a system call lets this thread run the
      // kernel's completion work.
      this.#ring.getEvents();
    }
    let found = this.#submitAndReap();
    if (found === 0 && timeoutMs !== 0) {
      // Only a synchronous get() waits here, with nothing in flight.
      const slice = timeoutMs < 0 ? -1 : Math.min(timeoutMs, MAX_TIMEOUT_MS);
      this.#libc.poll(this.#pollfd, ONE_FD, slice);
      found = this.#ring.reap();
    }
    if (found === 0 && rang > 0) this.#doorbells++;
    return found + rang;
  }

  needsPark(): boolean {
    return this.#core.inflight > 0;
  }

  park(): Promise<number> | undefined {
    // What is queued goes first: it may complete inline.
    if (this.#submitAndReap() > 0) return undefined;
    const ring = this.#ring;
    if (ring.deferred) {
      let edges = 0;
      const doorbell = this.#doorbell;
      if (doorbell !== undefined) {
        doorbell.register();
        edges = doorbell.drain();
      }
      // Work queued while the eventfd could not be signalled is run now;
      // work queued after this signals it.
      ring.armEventfd();
      ring.getEvents();
      if (ring.reap() > 0 || edges > 0) {
        ring.disarmEventfd();
        return undefined;
      }
    }
    this.#parkOut = true;
    return this.#bell.park();
  }

  unpark(): void {
    this.#bell.interrupt("Cannot interrupt the completion port's wait");
  }

  /** What the doorbell knew of `fd` is stale (a new file of that number). */
  #forgetBell(fd: number): void {
    this.#doorbell?.forget(fd);
  }

  // ---------------------------------------------------------------------------
  // Sockets

  accept(value: unknown, options: CancelOptions | undefined): Promise<TcpConn | UnixConn> {
    let action = "Cannot accept";
    const listener = this.#socketKit().listenerOf(value);
    if (listener === undefined) {
      throw new TypeError(
        `${action}: listener must be a TcpListener from listenTcp() or a UnixListener from listenUnix(), got ${
          describe(value)
        }`,
      );
    }
    checkCancelOptions(action, options);
    const where = listener.where;
    action = `Cannot accept on ${where}`;
    const fd = listener.fd;
    if (fd < 0) throw new Deno.errors.BadResource(`${action}: the listener is closed`);
    const signal = this.#core.checkStart(action, options);
    const op = this.#core.allocateOp(ACCEPT, fd, SOCKET);
    // Where the kernel writes the peer's address and its length: port memory.
    const memory = op.memory = this.#core.memory.take(SOCKADDR_STORAGE_SIZE + LENGTH_SIZE);
    const scratch: SocketScratch = {
      where,
      listener,
      storage: memory.bytes.subarray(0, SOCKADDR_STORAGE_SIZE),
      length: new Uint32Array(
        memory.bytes.buffer,
        memory.bytes.byteOffset + SOCKADDR_STORAGE_SIZE,
        1,
      ),
    };
    op.target = scratch;
    this.#doorbell?.wantIn(fd);
    return this.#core.launch(op, signal);
  }

  connect(where: string, target: SocketAddress, signal: AbortSignal | undefined): Promise<TcpConn> {
    const sockets = this.#socketKit();
    const fd = sockets.openStream(target);
    let op;
    try {
      this.#forgetBell(fd);
      op = this.#core.allocateOp(CONNECT, fd, SOCKET);
      // The address the kernel reads: port memory.
      const sockaddr = sockets.sockaddrOf(target);
      const memory = op.memory = this.#core.memory.take(sockaddr.length);
      memory.bytes.set(sockaddr);
      const scratch: SocketScratch = {
        where,
        sockaddr: memory.bytes.subarray(0, sockaddr.length),
        remote: { transport: "tcp", hostname: target.hostname, port: target.port },
      };
      op.target = scratch;
      this.#doorbell?.wantOut(op);
    } catch (error) {
      if (op !== undefined) this.#core.free(op);
      this.#libc.close(fd);
      throw error;
    }
    return this.#core.launch(op, signal);
  }

  // ---------------------------------------------------------------------------
  // Closes

  forget(fd: number): void {
    this.#fdTypes[fd] = undefined;
    this.#keys.delete(fd);
    this.#forgetBell(fd);
    if (this.#closing) return;
    // Now, while the fd is still open: a cancel still queued names it by number.
    try {
      this.#submitAndReap();
    } catch {
      // The ring failed: so did the operations it did not take.
    }
  }

  busy(): boolean {
    return false;
  }

  close(): void {
    this.#closing = true;
    unwatchCloses(this.#onFdClose);
    this.#fdTypes = [];
    this.#keys.clear();
    this.#bell.close();
    if (!this.#ring.deferred) this.#libc.close(this.#bell.interrupter);
    this.#ring.close();
    releaseLibc();
  }
}

/**
 * The CompletionPort over io_uring.
 *
 * @internal
 */
export class IoUringPort extends PortCore<UringOp> {
  #engine: UringEngine;

  constructor(libc: Libc, options: IoUringPortOptions) {
    const engine = new UringEngine(libc, options);
    super(engine);
    this.#engine = engine;
    engine.attach(this);
  }

  /**
   * Counters of what the port has done (a copy).
   *
   * @internal
   */
  get stats(): IoUringStats {
    return this.#engine.stats;
  }
}

/**
 * Opens an io_uring CompletionPort.
 *
 * @param options test hooks and ring sizes
 * @returns the port
 * @throws {Error} with the errno of a failed io_uring_setup (EPERM, ENOSYS… which
 *   `openCompletionPort()` answers by falling back to epoll), or ENOSYS for a
 *   kernel older than 5.7
 *
 * @internal
 */
export function openIoUringPort(options: IoUringPortOptions = {}): IoUringPort {
  const libc = acquireLibc();
  try {
    return new IoUringPort(libc, options);
  } catch (error) {
    releaseLibc();
    throw error;
  }
}
