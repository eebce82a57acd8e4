// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The epoll engine of the CompletionPort (Linux), where io_uring is missing
 * or refused: an operation is performed when its fd turns ready. What every
 * port shares (arguments, the slot table, outcomes, posted packets,
 * `get()`/`wait()`, the pump, close) is the core's
 * (`_port_core.ts`); this file only starts, retries, cancels and
 * harvests. What it knows of each fd and the fd's registration in epoll
 * are `_epoll_fds.ts`'s; the nonblocking calls on one fd are
 * `_epoll_calls.ts`'s. It must not know what a user sees of an outcome
 * (the core's rules) nor what a TcpConn is (the socket layer's).
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
 *   on one fd are served in order.
 * - Cancellation by a signal: an operation first in its queue is tried once
 *   more, and completes if it can (its fd was ready: a kernel's port would
 *   have completed it by then); else, and always behind another, it is
 *   taken out and reported cancelled. A file transfer on a worker thread
 *   runs to its end, whatever cancels it.
 * - Regular files and block devices, which epoll cannot watch, are read and
 *   written by pread/pwrite at the offset given: synchronously, or, from
 *   `OFFLOAD_BYTES` (`_epoll_files.ts`) up, on a worker thread (a nonblocking FFI
 *   call) so that the event loop stays free, a slot of port memory at a
 *   time (the worker never touches a buffer JavaScript could free
 *   meanwhile). A failed worker call is redone synchronously to learn its
 *   errno.
 * - Every other call is made on this thread with the caller's buffer,
 *   checked still attached before each: an operation whose buffer was
 *   detached while it waited fails with a TypeError saying so.
 * - What an fd is (file, socket, other stream; blocking or not) is learnt
 *   with fstat/fcntl on first use and kept until the fd is closed through
 *   its owner, `associate()` is called again, or an operation shows it
 *   stale (ESPIPE, ENOTSOCK, or an offset rule broken). An fd closed behind
 *   the port's back and its number reused by a file of another kind may
 *   keep the old kind until then.
 * - A parked thread waits in poll() on the epoll fd and an eventfd that
 *   interrupts it (`_epoll_park.ts`); events are harvested by a synchronous
 *   epoll_wait on this thread. Posted packets never touch the kernel.
 * - Streams without O_NONBLOCK (a terminal, a pipe from elsewhere) are
 *   never tried before they are ready, and a write to one moves at most
 *   PIPE_BUF bytes per readiness; sockets are called with MSG_DONTWAIT. An
 *   fd epoll cannot watch (EPERM: /dev/null, /dev/zero) is called at once.
 *
 * @module
 */

import { MAX_FD } from "../shared/_checks.ts";
import { PortCore } from "../_port_core.ts";
import { checkCancelOptions } from "../_port_checks.ts";
import { EpollPark } from "./_epoll_park.ts";
import { FileSteps } from "./_epoll_files.ts";
import {
  EVENTS,
  type FdState,
  FdTable,
  READ_CLOSED,
  READ_READY,
  WRITE_READY,
} from "./_epoll_fds.ts";
import { connectOutcome, peerOf, readOnce, writeOnce } from "./_epoll_calls.ts";
import { unwatchCloses, watchCloses } from "../shared/_close_hook.ts";
import { osError } from "../../ffi/errors.ts";
import {
  acquireLibc,
  EAGAIN,
  EBADF,
  EINPROGRESS,
  EINTR,
  ENOTCONN,
  ENOTSOCK,
  EPERM,
  errno,
  ESPIPE,
  F_GETFD,
  type Libc,
  MAX_IO,
  releaseLibc,
} from "../../ffi/libc.ts";
import type { SocketAddress } from "../shared/_address.ts";
import type { PortListener, PosixSockets } from "../_port_sockets.ts";
import type { CancelOptions, TcpConn } from "../../types/net.ts";
import type { UnixConn } from "../../types/unix.ts";
import type { CompletionPort } from "../../types/completion_port.ts";
import { describe } from "../shared/_describe.ts";
import { takeFirst } from "../shared/_queues.ts";
import {
  type Aborter,
  ACCEPT,
  actionFor,
  ASSOCIATE,
  BY_SIGNAL,
  CONNECT,
  detachedInFlight,
  type Engine,
  FILE,
  NOT_CANCELLED,
  Operation,
  READ,
  SOCKET,
  WRITE,
} from "../_port_engine.ts";

/** Full batches harvested in a row at most, before the event loop gets a turn. */
const MAX_HARVESTS = 4;
/** The index of the interrupter in the park's poll set. */
const INTERRUPTER = 1;

/** What an accept or a connect carries. */
interface SocketTarget {
  where: string;
  listener?: PortListener;
}

/** An operation of this engine: the core's slot, and the fd state it waits on. */
class EpollOp extends Operation {
  state: FdState<EpollOp> | undefined = undefined;
  /** Running on a worker thread: no longer cancellable. */
  offloaded = false;
  /** Whether it waits in its fd's queue. */
  queued = false;
  /** Whether the fd's kind was learnt again after a call showed it stale. */
  relearnt = false;

  override reset(): void {
    this.state = undefined;
    this.offloaded = false;
    this.queued = false;
    this.relearnt = false;
  }
}

/** The kernel side of the epoll CompletionPort. */
class EpollEngine implements Engine<EpollOp> {
  readonly backend = "epoll";
  readonly parksForWait = false;
  readonly maxIo = MAX_IO;
  // Calls are made on this thread with the caller's buffer, checked still attached before each.
  readonly ownsMemory = false;
  readonly ordersWrites = true;
  #libc: Libc;
  #park: EpollPark;
  #core!: PortCore<EpollOp>;
  /** What is known of each fd, by number. */
  #fds: FdTable<EpollOp>;
  /** The keys of associate(): recorded, for nothing on Linux needs them. */
  #keys = new Map<number, number>();
  /** Operations in the fds' queues, waiting for readiness. */
  #queued = 0;
  /** Whether a park is out (its interrupter is drained after it). */
  #parkOut = false;
  #onFdClose = (fd: number): void => this.#core.handleClosing(fd);
  /** Reads and writes of regular files and block devices. */
  #files: FileSteps<EpollOp>;
  /** The socket layer, for accept and connect (undefined: this port has none). */
  #sockets: PosixSockets | undefined;

  constructor(libc: Libc, sockets: PosixSockets | undefined) {
    this.#libc = libc;
    this.#sockets = sockets;
    this.#park = new EpollPark(libc, "Cannot open completion port");
    this.#fds = new FdTable(libc, this.#park);
    this.#files = new FileSteps(libc);
  }

  /** Connects the engine to its core, and to the closes of this module's fds. */
  attach(core: PortCore<EpollOp>): void {
    this.#core = core;
    this.#files.attach(core);
    watchCloses(this.#onFdClose);
  }

  operation(slot: number, aborter: Aborter): EpollOp {
    return new EpollOp(slot, aborter);
  }

  handleOf(handle: unknown, kind: number): number {
    if (
      typeof handle !== "number" || !(handle >= 0 && handle <= MAX_FD && handle % 1 === 0)
    ) {
      throw new TypeError(
        `${
          actionFor(kind, `fd ${describe(handle)}`)
        }: handle must be an fd (an integer from 0 to ${MAX_FD}), got ${describe(handle)}`,
      );
    }
    return handle;
  }

  nameOf(key: number): string {
    return `fd ${key}`;
  }

  kindOf(fd: number, kind: number, again = false): number {
    let state = this.#fds.get(fd);
    if (state === undefined || (again && state.idle)) {
      const action = actionFor(kind, `fd ${fd}`);
      this.#checkNotOwn(action, fd);
      state = this.#fds.learn(action, fd);
    }
    return state.kind;
  }

  /** The port's own fds are refused as a closed fd would be. */
  #checkNotOwn(action: string, fd: number): void {
    if (this.#park.owns(fd)) throw osError(`${action} (the completion port's own fd)`, EBADF);
  }

  associate(fd: number, key: number): void {
    const action = actionFor(ASSOCIATE, `fd ${fd}`);
    this.#checkNotOwn(action, fd);
    if (this.#libc.fcntl(fd, F_GETFD) < 0) throw osError(action, errno());
    // The number may name another file than the one the engine knew: learn it again.
    const state = this.#fds.get(fd);
    if (state !== undefined && state.idle) this.#fds.learn(action, fd);
    this.#keys.set(fd, key);
  }

  post(): boolean {
    return false; // posted packets stay in memory
  }

  // ---------------------------------------------------------------------------
  // Starting and retrying

  start(op: EpollOp): void {
    let state = op.state ?? this.#fds.get(op.handle);
    if (state === undefined) state = this.#fds.learn(this.#core.action(op), op.handle);
    op.state = state;
    switch (op.kind) {
      case READ:
        return this.#startRead(op, state);
      case WRITE:
        return this.#startWrite(op, state);
      case ACCEPT:
        if (state.reads.length > 0 || !this.#attempt(op)) this.#enqueue(op, state.reads);
        return;
      default:
        this.#enqueue(op, state.writes); // a connect waits for writability
    }
  }

  /** Whether the caller detached the operation's buffer (then it has failed). */
  #lost(op: EpollOp): boolean {
    if (!detachedInFlight(op.buffer!)) return false;
    this.#core.detachedBuffer(op, 0);
    return true;
  }

  #startRead(op: EpollOp, state: FdState<EpollOp>): void {
    if (state.reads.length > 0 || state.blocking) return this.#enqueue(op, state.reads);
    if (this.#lost(op)) return;
    if (state.kind === FILE) return this.#files.step(op);
    if (state.drained) return this.#enqueue(op, state.reads);
    const n = this.#readOnce(state, op.buffer!, op.length);
    if (n >= 0) {
      state.drained = n > 0 && n < op.length && !state.readClosed;
      return this.#core.transferred(op, n);
    }
    if (n === -EAGAIN) return this.#enqueue(op, state.reads);
    this.#failedAtOnce(op, state, -n);
  }

  #startWrite(op: EpollOp, state: FdState<EpollOp>): void {
    if (state.writes.length > 0 || state.blocking) return this.#enqueue(op, state.writes);
    if (this.#lost(op)) return;
    if (state.kind === FILE) return this.#files.step(op);
    for (;;) {
      const n = this.#writeOnce(state, op);
      // The fd is full (EAGAIN, after which readiness, an edge included, is
      // sure to come): the rest waits for room.
      if (n === -EAGAIN || n === 0) return this.#enqueue(op, state.writes);
      if (n < 0) {
        if (op.done === 0) return this.#failedAtOnce(op, state, -n);
        return this.#core.failed(op, osError(this.#core.action(op), -n));
      }
      if (op.done + n >= op.length) return this.#core.transferred(op, n);
      op.done += n;
    }
  }

  /**
   * A stream write made at once, with no operation, when the fd is known
   * and no write of it waits: the bytes taken, or -1 (it would block, or
   * failed: the operation then meets the error itself, learning the fd
   * again if its idea of it is stale).
   */
  writeNow(key: number, _handleKind: number, bytes: Uint8Array): number {
    const state = this.#fds.get(key);
    if (
      state === undefined || state.writes.length > 0 || state.blocking || state.kind === FILE
    ) {
      return -1;
    }
    const n = this.#write(state, bytes, bytes.length);
    return n > 0 ? n : -1;
  }

  /**
   * A call that failed at once with `e`: a stale idea of the fd (ENOTSOCK,
   * ESPIPE) is learnt again and the call made once more.
   */
  #failedAtOnce(op: EpollOp, state: FdState<EpollOp>, e: number): void {
    const action = this.#core.action(op);
    if ((e === ENOTSOCK || e === ESPIPE || e === EBADF) && !op.relearnt && state.idle) {
      this.#fds.drop(state);
      if (e !== EBADF) {
        op.relearnt = true;
        let fresh: FdState<EpollOp>;
        try {
          fresh = this.#fds.learn(action, state.fd);
        } catch (error) {
          return this.#core.failed(op, error);
        }
        if ((fresh.kind === FILE) !== (op.handleKind === FILE)) {
          return this.#core.failed(
            op,
            new TypeError(
              op.handleKind === FILE
                ? `${action}: offset must be omitted on a stream`
                : `${action}: offset is required on a file (it has no position here)`,
            ),
          );
        }
        op.handleKind = fresh.kind;
        op.state = fresh;
        return this.start(op);
      }
    }
    this.#core.failed(op, osError(action, e));
  }

  /** One read: the bytes (0 at the end), or -errno. */
  #readOnce(state: FdState<EpollOp>, buffer: Uint8Array, length: number): number {
    return readOnce(this.#libc, state.fd, state.kind === SOCKET, buffer, length);
  }

  /** One write of what is left after `op.done` bytes: the bytes taken, or -errno. */
  #writeOnce(state: FdState<EpollOp>, op: EpollOp): number {
    const done = op.done;
    const rest = done === 0 ? op.buffer! : op.buffer!.subarray(done, op.length);
    return this.#write(state, rest, op.length - done);
  }

  /** One write of `count` bytes of `bytes` to `state`'s fd: the bytes taken, or -errno. */
  #write(state: FdState<EpollOp>, bytes: Uint8Array, count: number): number {
    return writeOnce(this.#libc, state.fd, state.kind === SOCKET, state.blocking, bytes, count);
  }

  // ---------------------------------------------------------------------------
  // Waiting for readiness

  /** Queues `op` on its fd, and arms the fd for it. */
  #enqueue(op: EpollOp, queue: EpollOp[]): void {
    queue.push(op);
    op.queued = true;
    this.#queued++;
    this.#arm(op.state!);
  }

  #dequeue(op: EpollOp, queue: EpollOp[]): void {
    const at = queue.indexOf(op);
    if (at >= 0) queue.splice(at, 1);
    op.queued = false;
    this.#queued--;
  }

  /**
   * Arms `state`'s fd in epoll for the directions its operations wait for.
   * An fd epoll cannot watch has its operations done at once instead.
   */
  #arm(state: FdState<EpollOp>): void {
    if (state.unwatchable) {
      if (!state.idle) this.#runUnwatchable(state);
      return;
    }
    const e = this.#fds.arm(state);
    if (e !== 0) this.#armFailed(state, e);
  }

  /** An fd epoll refused: called at once if it cannot be watched, else its operations fail. */
  #armFailed(state: FdState<EpollOp>, e: number): void {
    if (e === EPERM) {
      // epoll cannot watch it (a character device without poll): its calls never block.
      state.unwatchable = true;
      state.blocking = false;
      return this.#runUnwatchable(state);
    }
    for (const queue of [state.reads, state.writes]) {
      for (const op of queue.splice(0)) {
        op.queued = false;
        this.#queued--;
        if (op.kind === CONNECT) this.#abandonConnect(op);
        this.#core.failed(op, osError(`${this.#core.action(op)}: cannot watch it with epoll`, e));
      }
    }
  }

  /** Does every operation of an fd epoll cannot watch; one that would block fails. */
  #runUnwatchable(state: FdState<EpollOp>): void {
    for (const queue of [state.reads, state.writes]) {
      while (queue.length > 0) {
        const op = takeFirst(queue)!;
        op.queued = false;
        this.#queued--;
        if (!this.#attempt(op)) {
          this.#core.failed(
            op,
            osError(
              `${this.#core.action(op)}: epoll cannot watch it`,
              EPERM,
              Deno.errors.NotSupported,
            ),
          );
        }
      }
    }
  }

  harvest(timeoutMs: number): number {
    if (this.#parkOut) {
      this.#parkOut = false;
      if (this.#park.rang(INTERRUPTER)) this.#park.drain();
    }
    let events = 0;
    for (let round = 0; round < MAX_HARVESTS; round++) {
      const n = this.#fds.harvest(round === 0 ? timeoutMs : 0, this.#onReady);
      events += n;
      if (n < EVENTS) break; // nothing, EINTR (the caller looks again), or not a full batch
    }
    return events;
  }

  /** The readiness `bits` of one fd: its operations are done in order, until one would block. */
  #onReady = (state: FdState<EpollOp>, bits: number): void => {
    // (Also when no read waits: an edge comes once.)
    if (bits & READ_READY) state.drained = false;
    if (bits & READ_CLOSED) state.readClosed = true;
    if (bits & READ_READY && state.reads.length > 0) this.#run(state.reads);
    if (bits & WRITE_READY && state.writes.length > 0) this.#run(state.writes);
    if (!state.edge && !state.idle && this.#fds.current(state)) this.#arm(state);
  };

  /** Does the operations of one queue in order, until one would block. */
  #run(queue: EpollOp[]): void {
    while (queue.length > 0) {
      const op = takeFirst(queue)!;
      op.queued = false;
      this.#queued--;
      if (!this.#attempt(op)) {
        queue.unshift(op);
        op.queued = true;
        this.#queued++;
        return;
      }
    }
  }

  /**
   * Does an operation that waited for its fd, once: returns whether it is
   * out of the queue (settled, or gone on; false: it would block).
   */
  #attempt(op: EpollOp): boolean {
    const state = op.state!;
    switch (op.kind) {
      case READ: {
        if (this.#lost(op)) return true;
        if (state.kind === FILE) {
          this.#files.step(op);
          return true;
        }
        const n = this.#readOnce(state, op.buffer!, op.length);
        state.drained = n > 0 && n < op.length && !state.readClosed;
        if (n >= 0) this.#core.transferred(op, n);
        else if (n === -EAGAIN) return false;
        else this.#core.failed(op, osError(this.#core.action(op), -n));
        return true;
      }
      case WRITE: {
        if (this.#lost(op)) return true;
        if (state.kind === FILE) {
          this.#files.step(op);
          return true;
        }
        const n = this.#writeOnce(state, op);
        if (n === -EAGAIN || n === 0) return false;
        if (n < 0) {
          this.#core.failed(op, osError(this.#core.action(op), -n));
          return true;
        }
        if (op.done + n < op.length) {
          // Not all of it: it stays first in its queue; the rest is tried
          // again at once until the fd is full (a blocking pipe: at its next
          // readiness).
          op.done += n;
          return state.blocking ? false : this.#attempt(op);
        }
        this.#core.transferred(op, n);
        return true;
      }
      case ACCEPT: {
        let conn;
        try {
          conn = (op.target as SocketTarget).listener!.tryAccept();
        } catch (error) {
          this.#core.failed(op, error);
          return true;
        }
        if (conn === null) return false;
        this.#fds.took(conn.fd);
        this.#core.succeeded(op, conn);
        return true;
      }
      default:
        return this.#finishConnect(op);
    }
  }

  needsPark(): boolean {
    return this.#queued > 0;
  }

  #socketKit(): PosixSockets {
    if (this.#sockets === undefined) {
      throw new Deno.errors.NotSupported(
        "Cannot accept or connect: this port was opened without sockets",
      );
    }
    return this.#sockets;
  }

  park(): Promise<number> {
    this.#parkOut = true;
    return this.#park.park();
  }

  unpark(): void {
    this.#park.interrupt("Cannot interrupt the completion port's wait");
  }

  // ---------------------------------------------------------------------------
  // Sockets

  accept(value: unknown, options: CancelOptions | undefined): Promise<TcpConn | UnixConn> {
    const listener = this.#socketKit().listenerOf(value);
    if (listener === undefined) {
      throw new TypeError(
        `Cannot accept: listener must be a TcpListener from listenTcp() or a UnixListener from listenUnix(), got ${
          describe(value)
        }`,
      );
    }
    const where = listener.where;
    const action = `Cannot accept on ${where}`;
    checkCancelOptions(action, options);
    if (listener.closed) throw new Deno.errors.BadResource(`${action}: the listener is closed`);
    const signal = this.#core.checkStart(action, options);
    const fd = listener.fd;
    this.kindOf(fd, READ);
    const op = this.#core.allocateOp(ACCEPT, fd, SOCKET);
    const target: SocketTarget = { where, listener };
    op.target = target;
    op.state = this.#fds.get(fd);
    return this.#core.launch(op, signal);
  }

  connect(where: string, target: SocketAddress, signal: AbortSignal | undefined): Promise<TcpConn> {
    const action = `Cannot connect to ${where}`;
    const libc = this.#libc;
    const sockets = this.#socketKit();
    const fd = sockets.openStream(target);
    const sockaddr = sockets.sockaddrOf(target);
    if (libc.connect(fd, sockaddr, sockaddr.length) === 0) {
      return Promise.resolve(this.#adopt(fd, action));
    }
    const e = errno();
    // After EINTR the connect goes on in the background, as after EINPROGRESS.
    if (e !== EINPROGRESS && e !== EINTR) {
      libc.close(fd);
      throw osError(action, e);
    }
    const state = this.#fds.took(fd);
    const op = this.#core.allocateOp(CONNECT, fd, SOCKET);
    const connecting: SocketTarget = { where };
    op.target = connecting;
    op.state = state;
    return this.#core.launch(op, signal);
  }

  /** A connect whose socket turned writable: done, failed, or (spuriously) still under way. */
  #finishConnect(op: EpollOp): boolean {
    const outcome = connectOutcome(this.#libc, op.handle);
    if (typeof outcome !== "number") {
      this.#core.succeeded(op, this.#socketKit().adoptConnected(op.handle, outcome));
      return true;
    }
    if (outcome === ENOTCONN) return false; // not connected yet: wait on
    this.#abandonConnect(op);
    this.#core.failed(op, osError(this.#core.action(op), outcome));
    return true;
  }

  /** Makes a TcpConn of a socket connected at once. */
  #adopt(fd: number, action: string): TcpConn {
    const remote = peerOf(this.#libc, fd);
    if (typeof remote === "number") {
      this.#libc.close(fd);
      throw osError(action, remote);
    }
    const conn = this.#socketKit().adoptConnected(fd, remote);
    this.#fds.took(fd);
    return conn;
  }

  /** Closes the socket of a connect that will not complete. */
  #abandonConnect(op: EpollOp): void {
    const state = op.state!;
    this.#fds.drop(state);
    this.#libc.close(state.fd);
  }

  // ---------------------------------------------------------------------------
  // Cancellation, closes

  cancel(op: EpollOp): void {
    if (op.offloaded) {
      // A file transfer on a worker runs to its end (its steps left are done after it).
      op.cancelled = NOT_CANCELLED;
      return;
    }
    if (!op.queued) return; // not started yet, or settled: the core sees to it
    const state = op.state!;
    const queue = op.kind === WRITE || op.kind === CONNECT ? state.writes : state.reads;
    // First in its queue, on an fd whose calls do not block: what a kernel
    // would have completed by now (its fd is ready) is done, as a cancel
    // that comes too late; only an operation that would still wait is
    // cancelled.
    if (
      op.cancelled === BY_SIGNAL && queue[0] === op && state.kind !== FILE && !state.blocking
    ) {
      this.#dequeue(op, queue);
      if (this.#attempt(op)) return;
    } else {
      this.#dequeue(op, queue);
    }
    if (op.kind === CONNECT) this.#abandonConnect(op);
    this.#core.cancelled(op);
  }

  forget(fd: number): void {
    this.#fds.forget(fd);
    this.#keys.delete(fd);
  }

  busy(): boolean {
    return this.#files.busy;
  }

  close(): void {
    unwatchCloses(this.#onFdClose);
    this.#fds.clear();
    this.#keys.clear();
    this.#park.close();
    releaseLibc();
  }
}

/**
 * The CompletionPort over epoll.
 *
 * @internal
 */
export class EpollPort extends PortCore<EpollOp> {
  constructor(libc: Libc, sockets?: PosixSockets) {
    const engine = new EpollEngine(libc, sockets);
    super(engine);
    engine.attach(this);
  }
}

/**
 * Opens a CompletionPort that performs operations when their fds turn
 * ready (epoll), and files by pread/pwrite.
 *
 * @param sockets the socket layer, for accept and connect (none: they throw NotSupported)
 * @returns the port; close it when done
 * @throws {Deno.errors.NotCapable} without `--allow-ffi`
 * @throws {Error} with `code` `"EMFILE"` when the process has no fd left
 * @internal
 */
export function openEpollPort(sockets?: PosixSockets): CompletionPort {
  const libc = acquireLibc();
  try {
    return new EpollPort(libc, sockets);
  } catch (error) {
    releaseLibc();
    throw error;
  }
}
