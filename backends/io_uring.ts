// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The io_uring backend: a CompletionPort over a Linux io_uring, set up with
 * `syscall(SYS_io_uring_setup)`, its rings mapped with `mmap` and driven with
 * `syscall(SYS_io_uring_enter)`; no liburing.
 *
 * Every operation (a read, a write, an accept, a connect, a posted NOP) gets
 * a slot; its SQE's user_data is the slot (low word) and a generation (high
 * word), so a completion, or a cancellation, never reaches the next
 * operation that reuses the slot. User data with a zero high word is the
 * port's own (cancellations, wake-ups) and is dropped.
 *
 * SQEs are queued and submitted once per burst, in a microtask (or at once
 * by `get()`, `wait()`, `close()`, or a full SQ), and the CQ is reaped on
 * this thread right after: what completed inline settles without a thread
 * hop. Only while operations are still in flight, or a `wait()` is pending,
 * is a thread parked (the "pump"): a nonblocking `poll()` on the ring's fd,
 * which turns readable when a CQE arrives; the CQ is then reaped here, with
 * synchronous calls. A CQE that this thread reaps may be the one the parked
 * poll() was about to see: when nothing else needs the pump, a NOP of the
 * port's own is submitted to end it (again, should that NOP be reaped here
 * first).
 *
 * Where the kernel allows it (Linux 6.1), the ring is set up with
 * IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN: the completion
 * work of an operation that waited (a recv whose data came) is not run by
 * interrupting this thread but queued until this thread enters with
 * IORING_ENTER_GETEVENTS, which every submit does, and a reap whenever the
 * SQ ring says IORING_SQ_TASKRUN. Queued work does not wake a poll() on the
 * ring's fd, but it signals an eventfd registered with the ring
 * (IORING_REGISTER_EVENTFD): the pump parks on that eventfd instead. The
 * eventfd is signalled only while a thread is parked on it: the rest of the
 * time IORING_CQ_EVENTFD_DISABLED is set in the CQ ring's flags, and before
 * it parks the pump clears it, then enters and reaps once more (work queued
 * while it was set signalled nothing, nor will the work queued after it).
 * Older kernels refuse the flags (EINVAL): the ring is then set up without
 * them, its completion work interrupts this thread, and the pump parks on
 * the ring's fd.
 *
 * CQ overflow (more completions than the CQ holds between two reaps) is left
 * to the kernel (IORING_FEAT_NODROP keeps them) and flushed back with
 * `io_uring_enter(IORING_ENTER_GETEVENTS)` whenever the SQ ring says
 * IORING_SQ_CQ_OVERFLOW; a full SQ is submitted, and the SQE written after.
 *
 * What an fd is (a file, which takes an offset; a socket, read with
 * RECV/SEND; another stream) is learnt with fstat once and remembered (an
 * fstat per operation costs about as much as the read): forgotten when one
 * of this module's fds (pipes, eventfds, sockets) is closed, and asked again
 * by `associate()`. An fd closed behind the port's back, whose number then
 * names another file, is associated again first (as on Windows).
 *
 * @module
 */

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
import { normalizeTimeout, type WaitOptions } from "./_selector.ts";
import { setImmediate } from "node:timers";
import { unwatchCloses, watchCloses } from "../_owned_fd.ts";
import { osError } from "../ffi/errors.ts";
import {
  CQ_OFF_CQES,
  CQ_OFF_FLAGS,
  CQ_OFF_HEAD,
  CQ_OFF_RING_ENTRIES,
  CQ_OFF_RING_MASK,
  CQ_OFF_TAIL,
  CQE_RES_WORD,
  CQE_SIZE,
  CQE_USER_DATA_WORD,
  CQE_WORDS,
  IO_URING_CURRENT_POSITION,
  IO_URING_PARAMS_SIZE,
  IORING_CQ_EVENTFD_DISABLED,
  IORING_ENTER_GETEVENTS,
  IORING_FEAT_FAST_POLL,
  IORING_FEAT_NODROP,
  IORING_FEAT_SINGLE_MMAP,
  IORING_FEAT_SUBMIT_STABLE,
  IORING_OFF_CQ_RING,
  IORING_OFF_SQ_RING,
  IORING_OFF_SQES,
  IORING_OP_ACCEPT,
  IORING_OP_ASYNC_CANCEL,
  IORING_OP_CONNECT,
  IORING_OP_NOP,
  IORING_OP_POLL_ADD,
  IORING_OP_READ,
  IORING_OP_RECV,
  IORING_OP_SEND,
  IORING_OP_WRITE,
  IORING_REGISTER_EVENTFD,
  IORING_SETUP_CLAMP,
  IORING_SETUP_CQSIZE,
  IORING_SETUP_DEFER_TASKRUN,
  IORING_SETUP_SINGLE_ISSUER,
  IORING_SETUP_SUBMIT_ALL,
  IORING_SETUP_TASKRUN_FLAG,
  IORING_SQ_CQ_OVERFLOW,
  IORING_SQ_TASKRUN,
  PARAMS_CQ_ENTRIES_OFFSET,
  PARAMS_CQ_OFF_OFFSET,
  PARAMS_FEATURES_OFFSET,
  PARAMS_FLAGS_OFFSET,
  PARAMS_SQ_ENTRIES_OFFSET,
  PARAMS_SQ_OFF_OFFSET,
  RWF_NOWAIT,
  SQ_ARRAY_ENTRY_SIZE,
  SQ_OFF_ARRAY,
  SQ_OFF_FLAGS,
  SQ_OFF_HEAD,
  SQ_OFF_RING_ENTRIES,
  SQ_OFF_RING_MASK,
  SQ_OFF_TAIL,
  SQE_ADDR_WORD,
  SQE_FD_WORD,
  SQE_LEN_WORD,
  SQE_OFF_WORD,
  SQE_OP_FLAGS_WORD,
  SQE_OPCODE_WORD,
  SQE_SIZE,
  SQE_TAIL_WORD,
  SQE_USER_DATA_WORD,
  SQE_WORDS,
} from "../ffi/io_uring.ts";
import {
  acquireLibc,
  EAGAIN,
  EALREADY,
  EBADF,
  EBUSY,
  ECANCELED,
  ECONNABORTED,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EINPROGRESS,
  EINTR,
  EINVAL,
  EISCONN,
  ENOSYS,
  errno,
  type Libc,
  MAP_FAILED,
  MAP_POPULATE,
  MAP_SHARED,
  MAX_IO,
  MAX_TIMEOUT_MS,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  POLLFD_EVENTS_OFFSET,
  POLLFD_SIZE,
  POLLIN,
  POLLOUT,
  PROT_READ,
  PROT_WRITE,
  releaseLibc,
  S_IFBLK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCKADDR_STORAGE_SIZE,
  STAT_MODE_OFFSET,
  STAT_SIZE,
  SYS_IO_URING_ENTER,
  SYS_IO_URING_REGISTER,
  SYS_IO_URING_SETUP,
} from "../ffi/libc.ts";
import { formatAddress } from "../net/_address.ts";
import {
  addressOf as peerAddress,
  adoptConn,
  isPosixListener,
  openStreamSocket,
  sockaddrOf,
} from "../net/_posix.ts";
import type { CancelOptions, TcpAddress, TcpConn, TcpListener } from "../net/_types.ts";

/** SQ entries by default; the CQ holds {@linkcode CQ_FACTOR} times as many. */
const DEFAULT_ENTRIES = 256;
const CQ_FACTOR = 4;
/** The largest ring the kernel takes (IORING_MAX_ENTRIES). */
const MAX_ENTRIES = 32768;
/** Completion work deferred to this thread's io_uring_enter(GETEVENTS) (Linux 6.1). */
const DEFERRED = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
  IORING_SETUP_TASKRUN_FLAG;
/** Setup flags to try, best first: older kernels refuse the newer ones with EINVAL. */
const SETUP_FLAGS = [
  IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL | DEFERRED,
  IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL,
  IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP,
];
/** What this backend relies on (Linux 5.7): no CQE dropped, SQEs copied at submit, internal poll. */
const REQUIRED_FEATURES = IORING_FEAT_NODROP | IORING_FEAT_SUBMIT_STABLE | IORING_FEAT_FAST_POLL;
/** Tries of a submit that the kernel refuses for want of room (EBUSY) or memory (EAGAIN). */
const SUBMIT_TRIES = 1000;
/**
 * A pump that reaped completions within SPIN_WINDOW_MS looks again on the
 * next turns of the event loop for up to SPIN_MS before it parks a thread
 * (as the Selector's wait() does): under request-response traffic the next
 * completion usually comes sooner than the thread hop of a park (~25 µs).
 */
const SPIN_WINDOW_MS = 1;
const SPIN_MS = 0.05;
/** The largest fd number. */
const MAX_FD = 0x7fffffff;
const TWO_32 = 2 ** 32;
const ONE_FD = 1n;
const NO_ARG_SIZE = 0n;
/** An eventfd's count: a u64. */
const EVENTFD_COUNT_SIZE = 8n;
const STAT_MODE_WORD = STAT_MODE_OFFSET / 4;

/** Operation kinds (a slot's `kind`). */
const FREE = 0;
const POST = 1;
const READ = 2;
const WRITE = 3;
const ACCEPT = 4;
const CONNECT = 5;

/** What an fd is, learnt with fstat. */
const FILE = 1; // a regular file or a block device: takes an offset
const SOCKET = 2; // recv/send
const STREAM = 3; // a pipe, a FIFO, a character device, an eventfd…

/** Why an operation is being cancelled. */
const BY_SIGNAL = 1;
const BY_CLOSE = 2;
const BY_FD_CLOSE = 3;

/** user_data low words of the port's own SQEs (their high word is 0). */
const UNPARK = 1;
const CANCEL = 2;

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
   * the port's own poll-and-retry (tests of that path).
   */
  nowait?: boolean;
}

/**
 * What an io_uring port has done so far: counters for tests and
 * benchmarks.
 *
 * @internal
 */
export interface IoUringStats {
  /** The SQ entries. */
  sqEntries: number;
  /** The CQ entries. */
  cqEntries: number;
  /** Whether completion work is deferred (DEFER_TASKRUN): the pump parks on an eventfd. */
  deferred: boolean;
  /** io_uring_enter calls that submitted SQEs. */
  submits: number;
  /** io_uring_enter calls that flushed an overflowed CQ back. */
  overflowFlushes: number;
  /** Times a thread was parked on the ring. */
  parks: number;
  /** Times an operation told -EAGAIN waited for its fd with IORING_OP_POLL_ADD. */
  polls: number;
}

/** What an accept needs until its CQE: where the kernel writes the peer's address. */
interface AcceptScratch {
  where: string;
  storage: Uint8Array;
  length: Uint32Array;
}

/** What a connect needs until its CQE. */
interface ConnectScratch {
  where: string;
  sockaddr: Uint8Array;
  remote: Deno.NetAddr;
}

function noop(): void {}

/**
 * One slot: an operation started through the port, or a posted packet,
 * from its SQE to its CQE. Slots are reused; the object is the abort
 * listener of its signal (no closure per operation).
 */
class Operation {
  readonly slot: number;
  readonly #onAbort: (op: Operation) => void;
  gen = 0;
  kind = FREE;
  fd = -1;
  socket = false;
  file = false;
  /** The caller's buffer: referenced until the CQE, whatever happens. */
  buffer: Uint8Array | undefined = undefined;
  /** What else the kernel reads or writes (sockaddrs): referenced until the CQE. */
  scratch: AcceptScratch | ConnectScratch | undefined = undefined;
  address = 0;
  length = 0;
  /** Bytes written so far (a stream's write takes all its bytes); 1 once a connect is under way. */
  done = 0;
  offLo = 0;
  offHi = 0;
  /** Waiting (POLL_ADD) until the fd is ready, to try again (a nonblocking fd on older kernels). */
  polling = false;
  /** Where its last SQE went in the SQ (to tell whether it was submitted). */
  sqPos = 0;
  cancelled = 0;
  signal: AbortSignal | undefined = undefined;
  // deno-lint-ignore no-explicit-any
  resolve: (value: any) => void = noop;
  reject: (reason: unknown) => void = noop;
  key = 0;
  bytes = 0;
  pointer: Deno.PointerValue = null;

  constructor(slot: number, onAbort: (op: Operation) => void) {
    this.slot = slot;
    this.#onAbort = onAbort;
  }

  handleEvent(): void {
    this.#onAbort(this);
  }
}

/** The base address of each ArrayBuffer handed to the kernel (backing stores do not move). */
const bases = new WeakMap<ArrayBuffer, number>();

/** The address of a buffer's first byte, as a number (user-space addresses fit in 53 bits). */
function addressOf(bytes: Uint8Array): number {
  const backing = bytes.buffer as ArrayBuffer;
  let base = bases.get(backing);
  if (base === undefined) {
    base = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(backing)));
    bases.set(backing, base);
  }
  return base + bytes.byteOffset;
}

/** Whether `buffer` passes checkIoBuffer(), asked without building a message. */
function isPlainBuffer(buffer: unknown): boolean {
  if (!(buffer instanceof Uint8Array)) return false;
  const backing = buffer.buffer;
  return backing instanceof ArrayBuffer && !backing.resizable && !backing.detached;
}

/** Whether a mmap result is MAP_FAILED. */
function mapFailed(pointer: Deno.PointerValue): boolean {
  return pointer === null || Deno.UnsafePointer.value(pointer) === MAP_FAILED;
}

/** The name of a handle argument in messages, before it is known to be an fd. */
function describeFd(handle: unknown): string {
  return typeof handle === "number" && Number.isInteger(handle) && handle >= 0
    ? `fd ${handle}`
    : `handle ${describe(handle)}`;
}

/** Checks a handle: an fd number. */
function checkFd(action: string, handle: unknown): number {
  if (typeof handle !== "number" || !Number.isInteger(handle) || handle < 0 || handle > MAX_FD) {
    throw new TypeError(
      `${action}: handle must be an fd (an integer from 0 to 2^31-1), got ${describe(handle)}`,
    );
  }
  return handle;
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
  return new IoUringPort(options);
}

/**
 * The CompletionPort over io_uring.
 *
 * @internal
 */
export class IoUringPort implements CompletionPort {
  readonly backend = "io_uring";
  #libc: Libc;
  #ring: number;
  #closed = false;
  #released = false;
  #whenReleased: Promise<void>;
  #onReleased!: () => void;
  /** The mappings: SQ ring, CQ ring (the same one with IORING_FEAT_SINGLE_MMAP), SQEs. */
  #maps: [Deno.PointerValue, bigint][] = [];
  #sq: Uint32Array;
  #cq: Uint32Array;
  #sqes: Uint32Array;
  #sqHead: number;
  #sqTailIndex: number;
  #sqFlags: number;
  #sqMask: number;
  #sqEntries: number;
  #cqHeadIndex: number;
  #cqTailIndex: number;
  #cqMask: number;
  #cqes: number;
  /** The CQ ring's flags word (IORING_CQ_EVENTFD_DISABLED), with deferred completion work. */
  #cqFlags = -1;
  /** With deferred completion work: the eventfd registered with the ring, else -1. */
  #eventfd = -1;
  /** IORING_ENTER_GETEVENTS with deferred completion work (every enter runs it), else 0. */
  #enterFlags = 0;
  /** 8 bytes to drain the eventfd into. */
  #count = new Uint8Array(8);
  /** The SQ tail as written here (published to the ring at submit). */
  #sqTail: number;
  /** The SQ head as last read from the ring. */
  #sqHeadSeen = 0;
  /** The CQ head as reaped here. */
  #cqHead: number;
  #flushScheduled = false;
  #flushTask = () => this.#flush();
  #ops: Operation[] = [];
  #freeSlots: number[] = [];
  #gen = 0;
  /** Operations (not posts) between their start and their CQE. */
  #inflight = 0;
  /** Posted packets reaped but not yet returned. */
  #queue: Completion[] = [];
  #waiter: Waiter | undefined;
  #pumping = false;
  /** Whether the pump's poll() is out on another thread. */
  #parked = false;
  /** Whether a NOP to end the parked poll() has been submitted and not yet seen here. */
  #unparking = false;
  /** When this thread last reaped a completion. */
  #lastReady = -Infinity;
  #pollfd = new Uint8Array(POLLFD_SIZE);
  /** Read by another thread: off the V8 heap (a small typed array's bytes could move). */
  #parkPollfd = new Uint8Array(new ArrayBuffer(POLLFD_SIZE));
  #parkPollfdPointer: Deno.PointerValue;
  #stat = new Uint8Array(STAT_SIZE);
  #statWords = new Uint32Array(this.#stat.buffer);
  /** What each fd is (FILE, SOCKET, STREAM), forgotten when one of this module's fds closes. */
  #fdTypes: (number | undefined)[] = [];
  /** The keys associate() recorded. */
  #keys = new Map<number, number>();
  #onFdClose = (fd: number) => this.#fdClosing(fd);
  #onAbort = (op: Operation) => this.#abort(op);
  // deno-lint-ignore no-explicit-any
  #nextResolve: (value: any) => void = noop;
  #nextReject: (reason: unknown) => void = noop;
  // deno-lint-ignore no-explicit-any
  #executor = (resolve: (value: any) => void, reject: (reason: unknown) => void) => {
    this.#nextResolve = resolve;
    this.#nextReject = reject;
  };
  #stats: IoUringStats;
  /** rw_flags of reads and writes, msg_flags of recvs and sends (RWF_NOWAIT, MSG_DONTWAIT with `nowait`). */
  #rwFlags: number;
  #msgFlags: number;

  constructor(options: IoUringPortOptions) {
    const action = "Cannot open completion port with io_uring";
    const { setupErrno, entries = DEFAULT_ENTRIES } = options;
    if (!Number.isInteger(entries) || entries < 1 || entries > MAX_ENTRIES) {
      throw new RangeError(`${action}: entries must be an integer from 1 to ${MAX_ENTRIES}`);
    }
    const cqEntries = options.cqEntries ?? entries * CQ_FACTOR;
    if (!Number.isInteger(cqEntries) || cqEntries < entries || cqEntries > 2 * MAX_ENTRIES) {
      throw new RangeError(`${action}: cqEntries must be an integer from entries to 65536`);
    }
    this.#rwFlags = options.nowait === true ? RWF_NOWAIT : 0;
    this.#msgFlags = options.nowait === true ? MSG_DONTWAIT : 0;
    const libc = acquireLibc();
    this.#libc = libc;
    let ring = -1;
    try {
      if (setupErrno !== undefined) throw osError(action, setupErrno);
      const params = new Uint8Array(IO_URING_PARAMS_SIZE);
      const view = new DataView(params.buffer);
      const tries = options.deferTaskrun === false ? SETUP_FLAGS.slice(1) : SETUP_FLAGS;
      let deferred = false;
      for (const flags of [...tries, 0]) {
        params.fill(0);
        view.setUint32(PARAMS_FLAGS_OFFSET, flags, true);
        view.setUint32(PARAMS_CQ_ENTRIES_OFFSET, cqEntries, true);
        ring = libc.io_uring_setup(SYS_IO_URING_SETUP, entries, params);
        deferred = (flags & IORING_SETUP_DEFER_TASKRUN) !== 0;
        if (ring >= 0) break;
        const e = errno();
        if (e !== EINVAL || flags === 0) throw osError(action, e);
      }
      const features = view.getUint32(PARAMS_FEATURES_OFFSET, true);
      if ((features & REQUIRED_FEATURES) !== REQUIRED_FEATURES) {
        throw osError(`${action}: the kernel's io_uring is older than Linux 5.7`, ENOSYS);
      }
      const sqOff = (field: number) => view.getUint32(PARAMS_SQ_OFF_OFFSET + field, true);
      const cqOff = (field: number) => view.getUint32(PARAMS_CQ_OFF_OFFSET + field, true);
      const sqEntries = view.getUint32(PARAMS_SQ_ENTRIES_OFFSET, true);
      const cqCount = view.getUint32(PARAMS_CQ_ENTRIES_OFFSET, true);
      const sqSize = sqOff(SQ_OFF_ARRAY) + sqEntries * SQ_ARRAY_ENTRY_SIZE;
      const cqSize = cqOff(CQ_OFF_CQES) + cqCount * CQE_SIZE;
      const single = (features & IORING_FEAT_SINGLE_MMAP) !== 0;
      const map = (size: number, offset: bigint) => {
        const length = BigInt(size);
        const pointer = libc.mmap(
          null,
          length,
          PROT_READ | PROT_WRITE,
          MAP_SHARED | MAP_POPULATE,
          ring,
          offset,
        );
        if (mapFailed(pointer)) throw osError(`${action}: cannot map its rings`, errno());
        this.#maps.push([pointer, length]);
        return new Uint32Array(Deno.UnsafePointerView.getArrayBuffer(pointer!, size));
      };
      const sqRingSize = single ? Math.max(sqSize, cqSize) : sqSize;
      this.#sq = map(sqRingSize, IORING_OFF_SQ_RING);
      this.#cq = single ? this.#sq : map(cqSize, IORING_OFF_CQ_RING);
      this.#sqes = map(sqEntries * SQE_SIZE, IORING_OFF_SQES);
      this.#sqHead = sqOff(SQ_OFF_HEAD) / 4;
      this.#sqTailIndex = sqOff(SQ_OFF_TAIL) / 4;
      this.#sqFlags = sqOff(SQ_OFF_FLAGS) / 4;
      this.#sqMask = this.#sq[sqOff(SQ_OFF_RING_MASK) / 4];
      this.#sqEntries = this.#sq[sqOff(SQ_OFF_RING_ENTRIES) / 4];
      this.#cqHeadIndex = cqOff(CQ_OFF_HEAD) / 4;
      this.#cqTailIndex = cqOff(CQ_OFF_TAIL) / 4;
      this.#cqMask = this.#cq[cqOff(CQ_OFF_RING_MASK) / 4];
      this.#cqes = cqOff(CQ_OFF_CQES) / 4;
      if (deferred) {
        const efd = libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (efd < 0) throw osError(`${action}: cannot open its eventfd`, errno());
        this.#eventfd = efd;
        const fds = new Int32Array([efd]);
        if (
          libc.io_uring_register(
            SYS_IO_URING_REGISTER,
            ring,
            IORING_REGISTER_EVENTFD,
            new Uint8Array(fds.buffer),
            1,
          ) < 0
        ) {
          throw osError(`${action}: cannot register its eventfd`, errno());
        }
        this.#cqFlags = cqOff(CQ_OFF_FLAGS) / 4;
        // Signalled only while the pump is parked on it.
        Atomics.or(this.#cq, this.#cqFlags, IORING_CQ_EVENTFD_DISABLED);
        this.#enterFlags = IORING_ENTER_GETEVENTS;
      }
      // SQE i always sits at SQ position i.
      const array = sqOff(SQ_OFF_ARRAY) / 4;
      for (let i = 0; i < this.#sqEntries; i++) this.#sq[array + i] = i;
      this.#sqTail = Atomics.load(this.#sq, this.#sqTailIndex);
      this.#sqHeadSeen = Atomics.load(this.#sq, this.#sqHead);
      this.#cqHead = Atomics.load(this.#cq, this.#cqHeadIndex);
      this.#stats = {
        sqEntries: this.#sqEntries,
        cqEntries: this.#cq[cqOff(CQ_OFF_RING_ENTRIES) / 4],
        deferred,
        submits: 0,
        overflowFlushes: 0,
        parks: 0,
        polls: 0,
      };
    } catch (error) {
      for (const [pointer, length] of this.#maps) libc.munmap(pointer, length);
      if (ring >= 0) libc.close(ring);
      if (this.#eventfd >= 0) libc.close(this.#eventfd);
      releaseLibc();
      throw error;
    }
    this.#ring = ring;
    for (const pollfd of [this.#pollfd, this.#parkPollfd]) {
      const view = new DataView(pollfd.buffer);
      view.setInt32(
        0,
        pollfd === this.#parkPollfd && this.#eventfd >= 0 ? this.#eventfd : ring,
        true,
      );
      view.setInt16(POLLFD_EVENTS_OFFSET, POLLIN, true);
    }
    this.#parkPollfdPointer = Deno.UnsafePointer.of(this.#parkPollfd);
    this.#whenReleased = new Promise((resolve) => this.#onReleased = resolve);
    watchCloses(this.#onFdClose);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Counters of what the port has done (a copy).
   *
   * @internal
   */
  get stats(): IoUringStats {
    return { ...this.#stats };
  }

  #checkOpen(action: string): void {
    if (this.#closed) {
      throw new Deno.errors.BadResource(`${action}: the completion port is closed`);
    }
  }

  /** Refuses the port's own fds (the ring's, the eventfd's), which only the port may use. */
  #checkNotOwn(action: string, fd: number): void {
    if (fd === this.#ring || fd === this.#eventfd) {
      throw osError(`${action} (the completion port's own fd)`, EBADF);
    }
  }

  /** Asks the kernel what `fd` is (FILE, SOCKET or STREAM), and remembers it. */
  #learnType(action: string, fd: number): number {
    if (this.#libc.fstat(fd, this.#stat) < 0) throw osError(action, errno());
    const mode = this.#statWords[STAT_MODE_WORD] & S_IFMT;
    const type = mode === S_IFREG || mode === S_IFBLK ? FILE : mode === S_IFSOCK ? SOCKET : STREAM;
    this.#fdTypes[fd] = type;
    return type;
  }

  /** One of this module's fds is about to be closed: cancel what is in flight on it. */
  #fdClosing(fd: number): void {
    this.#fdTypes[fd] = undefined;
    this.#keys.delete(fd);
    if (this.#inflight === 0 || this.#released) return;
    let found = false;
    for (const op of this.#ops) {
      if (op.kind > POST && op.fd === fd) {
        if (op.cancelled === 0) op.cancelled = BY_FD_CLOSE;
        this.#pushCancel(op);
        found = true;
      }
    }
    if (!found) return;
    try {
      // Now, while the fd is still open: an SQE still queued names it by number.
      this.#submit();
      this.#reapAll();
    } catch {
      // Whatever failed fails the operations that were not submitted (#submit).
    }
    this.#afterReap();
  }

  associate(handle: Handle, key: number): void {
    const action = `Cannot associate ${describeFd(handle)} with the completion port`;
    const fd = checkFd(action, handle);
    checkKey(action, key);
    this.#checkOpen(action);
    this.#checkNotOwn(action, fd);
    // Always asked of the kernel: the number may name another file now.
    this.#learnType(action, fd);
    this.#keys.set(fd, key);
  }

  post(key: number, bytes = 0, overlapped: Deno.PointerValue = null): void {
    const action = "Cannot post to the completion port";
    checkPost(action, key, bytes, overlapped);
    this.#checkOpen(action);
    const op = this.#allocate(POST);
    op.key = key;
    op.bytes = bytes;
    op.pointer = overlapped;
    try {
      op.sqPos = this.#push(IORING_OP_NOP, -1, 0, 0, 0, 0, 0, 0, op.slot, op.gen);
      this.#flushSoon();
    } catch (error) {
      if (op.kind !== FREE) this.#free(op);
      throw error;
    }
  }

  // ---------------------------------------------------------------------------
  // The rings

  #allocate(kind: number): Operation {
    const slot = this.#freeSlots.pop();
    let op;
    if (slot === undefined) {
      op = new Operation(this.#ops.length, this.#onAbort);
      this.#ops.push(op);
    } else {
      op = this.#ops[slot];
    }
    this.#gen = this.#gen === 0x7fffffff ? 1 : this.#gen + 1;
    op.gen = this.#gen;
    op.kind = kind;
    if (kind !== POST) this.#inflight++;
    return op;
  }

  #free(op: Operation): void {
    if (op.kind !== POST) this.#inflight--;
    if (op.signal !== undefined) op.signal.removeEventListener("abort", op);
    op.kind = FREE;
    op.gen = 0;
    op.fd = -1;
    op.buffer = undefined;
    op.scratch = undefined;
    op.signal = undefined;
    op.resolve = noop;
    op.reject = noop;
    op.pointer = null;
    op.cancelled = 0;
    op.polling = false;
    op.done = 0;
    this.#freeSlots.push(op.slot);
  }

  /**
   * Writes one SQE at the SQ's tail (submitting first if the SQ is full);
   * returns its position. The caller has it submitted.
   */
  #push(
    opcode: number,
    fd: number,
    offLo: number,
    offHi: number,
    addrLo: number,
    addrHi: number,
    len: number,
    opFlags: number,
    userLo: number,
    userHi: number,
  ): number {
    // The kernel takes SQEs only in io_uring_enter: the head read then is good until the next.
    if (((this.#sqTail - this.#sqHeadSeen) >>> 0) >= this.#sqEntries) {
      this.#sqHeadSeen = Atomics.load(this.#sq, this.#sqHead);
      while (((this.#sqTail - this.#sqHeadSeen) >>> 0) >= this.#sqEntries) {
        this.#submit();
        this.#sqHeadSeen = Atomics.load(this.#sq, this.#sqHead);
      }
    }
    const tail = this.#sqTail;
    const w = (tail & this.#sqMask) * SQE_WORDS;
    const s = this.#sqes;
    s[w + SQE_OPCODE_WORD] = opcode;
    s[w + SQE_FD_WORD] = fd;
    s[w + SQE_OFF_WORD] = offLo;
    s[w + SQE_OFF_WORD + 1] = offHi;
    s[w + SQE_ADDR_WORD] = addrLo;
    s[w + SQE_ADDR_WORD + 1] = addrHi;
    s[w + SQE_LEN_WORD] = len;
    s[w + SQE_OP_FLAGS_WORD] = opFlags;
    s[w + SQE_USER_DATA_WORD] = userLo;
    s[w + SQE_USER_DATA_WORD + 1] = userHi;
    // buf_index, personality, splice_fd_in, addr3 and the padding: zero.
    s[w + SQE_TAIL_WORD] = 0;
    s[w + SQE_TAIL_WORD + 1] = 0;
    s[w + SQE_TAIL_WORD + 2] = 0;
    s[w + SQE_TAIL_WORD + 3] = 0;
    s[w + SQE_TAIL_WORD + 4] = 0;
    s[w + SQE_TAIL_WORD + 5] = 0;
    this.#sqTail = (tail + 1) >>> 0;
    return tail;
  }

  /** Submits (and reaps) what is queued in a microtask: once per burst of calls. */
  #flushSoon(): void {
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flushTask);
    }
  }

  /** Queues the SQE of an operation's next step (again after a partial write or a poll). */
  #pushOp(op: Operation): void {
    const fd = op.fd;
    const address = op.address + op.done;
    const lo = address >>> 0;
    const hi = (address / TWO_32) >>> 0;
    if (op.polling) {
      this.#stats.polls++;
      const events = op.kind === READ || op.kind === ACCEPT ? POLLIN : POLLOUT;
      op.sqPos = this.#push(IORING_OP_POLL_ADD, fd, 0, 0, 0, 0, 0, events, op.slot, op.gen);
    } else if (op.kind === READ) {
      const { slot, gen } = op;
      op.sqPos = op.socket
        ? this.#push(IORING_OP_RECV, fd, 0, 0, lo, hi, op.length, this.#msgFlags, slot, gen)
        : this.#push(
          IORING_OP_READ,
          fd,
          op.offLo,
          op.offHi,
          lo,
          hi,
          op.length,
          this.#rwFlags,
          slot,
          gen,
        );
    } else if (op.kind === WRITE) {
      const { slot, gen } = op;
      const length = op.length - op.done;
      const msgFlags = this.#msgFlags | MSG_NOSIGNAL;
      op.sqPos = op.socket
        ? this.#push(IORING_OP_SEND, fd, 0, 0, lo, hi, length, msgFlags, slot, gen)
        : this.#push(
          IORING_OP_WRITE,
          fd,
          op.offLo,
          op.offHi,
          lo,
          hi,
          length,
          this.#rwFlags,
          slot,
          gen,
        );
    } else if (op.kind === ACCEPT) {
      const { storage, length } = op.scratch as AcceptScratch;
      const into = addressOf(storage);
      const lengthAt = addressOf(new Uint8Array(length.buffer));
      length[0] = SOCKADDR_STORAGE_SIZE;
      op.sqPos = this.#push(
        IORING_OP_ACCEPT,
        fd,
        lengthAt >>> 0,
        (lengthAt / TWO_32) >>> 0,
        into >>> 0,
        (into / TWO_32) >>> 0,
        0,
        SOCK_NONBLOCK | SOCK_CLOEXEC,
        op.slot,
        op.gen,
      );
    } else {
      const { sockaddr } = op.scratch as ConnectScratch;
      const to = addressOf(sockaddr);
      op.sqPos = this.#push(
        IORING_OP_CONNECT,
        fd,
        sockaddr.length,
        0,
        to >>> 0,
        (to / TWO_32) >>> 0,
        0,
        0,
        op.slot,
        op.gen,
      );
    }
    // Cancelled already: whatever this step waits for is cancelled too.
    if (op.cancelled !== 0) this.#pushCancel(op);
    this.#flushSoon();
  }

  /** Queues an IORING_OP_ASYNC_CANCEL of the operation's SQE in flight. */
  #pushCancel(op: Operation): void {
    this.#push(IORING_OP_ASYNC_CANCEL, -1, 0, 0, op.slot, op.gen, 0, 0, CANCEL, 0);
    this.#flushSoon();
  }

  /** Publishes the SQ tail and submits what is queued, until the kernel has taken it all. */
  #submit(): void {
    for (let tries = 0;;) {
      const pending = (this.#sqTail - Atomics.load(this.#sq, this.#sqHead)) >>> 0;
      if (pending === 0) return;
      Atomics.store(this.#sq, this.#sqTailIndex, this.#sqTail);
      const n = this.#libc.io_uring_enter(
        SYS_IO_URING_ENTER,
        this.#ring,
        pending,
        0,
        this.#enterFlags, // deferred completion work is run too
        null,
        NO_ARG_SIZE,
      );
      this.#stats.submits++;
      if (n > 0) continue;
      const e = n < 0 ? errno() : EAGAIN;
      if (e === EINTR) continue;
      if ((e === EBUSY || e === EAGAIN) && ++tries < SUBMIT_TRIES) {
        // The CQ is full (or the kernel short of memory): make room, then again.
        this.#reapAll();
        continue;
      }
      const error = osError("Cannot submit to the completion port's io_uring", e);
      this.#discardUnsubmitted(error);
      throw error;
    }
  }

  /** After a failed submit: the SQEs the kernel did not take are taken back, their operations failed. */
  #discardUnsubmitted(error: Error): void {
    const head = Atomics.load(this.#sq, this.#sqHead);
    const pending = (this.#sqTail - head) >>> 0;
    this.#sqTail = head;
    Atomics.store(this.#sq, this.#sqTailIndex, head);
    for (const op of this.#ops) {
      if (op.kind !== FREE && ((op.sqPos - head) >>> 0) < pending) {
        if (op.kind === POST) this.#free(op);
        else this.#fail(op, error);
      }
    }
  }

  /** Reaps every CQE there is, and what an overflowed CQ held back; returns how many. */
  #reapAll(): number {
    // Deferred completion work waits for an enter of this thread.
    if (this.#enterFlags !== 0 && Atomics.load(this.#sq, this.#sqFlags) & IORING_SQ_TASKRUN) {
      this.#getEvents();
    }
    let count = this.#reap();
    for (let tries = 0; Atomics.load(this.#sq, this.#sqFlags) & IORING_SQ_CQ_OVERFLOW;) {
      const n = this.#libc.io_uring_enter(
        SYS_IO_URING_ENTER,
        this.#ring,
        0,
        0,
        IORING_ENTER_GETEVENTS,
        null,
        NO_ARG_SIZE,
      );
      this.#stats.overflowFlushes++;
      if (n < 0) {
        const e = errno();
        if (e !== EINTR && e !== EAGAIN && e !== EBUSY) {
          throw osError("Cannot flush the completion port's io_uring", e);
        }
      }
      const reaped = this.#reap();
      count += reaped;
      if (reaped === 0 && ++tries >= SUBMIT_TRIES) break;
    }
    if (count > 0) this.#lastReady = performance.now();
    return count;
  }

  /** Reaps the CQEs in the CQ; returns how many. Safe to re-enter (an operation's next step may submit). */
  #reap(): number {
    const cq = this.#cq;
    let count = 0;
    for (;;) {
      const head = this.#cqHead;
      if (head === Atomics.load(cq, this.#cqTailIndex)) return count;
      const w = this.#cqes + (head & this.#cqMask) * CQE_WORDS;
      const lo = cq[w + CQE_USER_DATA_WORD];
      const hi = cq[w + CQE_USER_DATA_WORD + 1];
      const res = cq[w + CQE_RES_WORD] | 0;
      this.#cqHead = (head + 1) >>> 0;
      Atomics.store(cq, this.#cqHeadIndex, this.#cqHead);
      count++;
      if (hi === 0) {
        // The pump's wake-up, taken here: it may not have seen it.
        if (lo === UNPARK) this.#unparking = false;
        continue;
      }
      const op = this.#ops[lo];
      if (op !== undefined && op.gen === hi) this.#complete(op, res);
    }
  }

  /** Submits and reaps what is queued: once per burst of calls, in a microtask. */
  #flush(): void {
    this.#flushScheduled = false;
    if (this.#released) return;
    try {
      this.#submit();
      this.#reapAll();
    } catch (error) {
      const waiter = this.#waiter;
      if (waiter !== undefined) this.#endWait(waiter, undefined, error);
    }
    this.#afterReap();
  }

  /** After reaping here: hand packets to a wait(), park a thread if needed, or end a parked one. */
  #afterReap(): void {
    this.#deliver();
    if (this.#inflight > 0) {
      if (!this.#pumping) this.#pump();
    } else {
      this.#unparkIfIdle();
    }
  }

  /**
   * A parked poll() that nothing needs is ended with a NOP of the port's
   * own, submitted at once and left in the CQ for it: reaped here first, it
   * is submitted again by the next reap's #afterReap() (never by a flush of
   * its own, which would reap it again at once, and again).
   */
  #unparkIfIdle(): void {
    if (
      this.#parked && !this.#unparking && this.#waiter === undefined && this.#inflight === 0 &&
      !this.#released
    ) {
      this.#unparking = true;
      try {
        this.#push(IORING_OP_NOP, -1, 0, 0, 0, 0, 0, 0, UNPARK, 0);
        this.#submit();
      } catch {
        this.#unparking = false;
      }
    }
  }

  /** Parks a thread on the ring's fd while an operation or a wait needs one. */
  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#needsPump()) {
        // Busy a moment ago: look again on the next turns of the event loop
        // before paying a park.
        if (performance.now() - this.#lastReady < SPIN_WINDOW_MS && await this.#spin()) continue;
        if (!this.#needsPump()) break;
        if (this.#eventfd >= 0 && this.#armEventfd()) continue;
        this.#parked = true;
        this.#stats.parks++;
        // Its result is not needed (nor its errno readable): the CQ says what happened.
        await this.#libc.poll_parked(this.#parkPollfdPointer, ONE_FD, -1);
        this.#parked = false;
        this.#unparking = false;
        if (this.#eventfd >= 0) this.#disarmEventfd();
        this.#reapAll();
        this.#deliver();
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

  /**
   * Before a park on the eventfd: lets the kernel signal it, then runs the
   * work queued while it could not (it would signal nothing) and reaps;
   * returns whether that settled something (then no park).
   */
  #armEventfd(): boolean {
    Atomics.and(this.#cq, this.#cqFlags, ~IORING_CQ_EVENTFD_DISABLED);
    this.#getEvents();
    if (this.#reapAll() === 0) return false;
    this.#disarmEventfd();
    this.#deliver();
    return true;
  }

  /** After a park on the eventfd: no more signals until the next, and the count drained. */
  #disarmEventfd(): void {
    Atomics.or(this.#cq, this.#cqFlags, IORING_CQ_EVENTFD_DISABLED);
    this.#libc.read(this.#eventfd, this.#count, EVENTFD_COUNT_SIZE);
  }

  #needsPump(): boolean {
    return !this.#released && (this.#inflight > 0 || this.#waiter !== undefined);
  }

  /**
   * Looks for completions on the next turns of the event loop, for up to
   * SPIN_MS; returns whether some came (false: park).
   */
  async #spin(): Promise<boolean> {
    const end = performance.now() + SPIN_MS;
    do {
      await new Promise((resolve) => setImmediate(resolve));
      if (!this.#needsPump()) return true; // the loop ends without a park
      // Without deferred work, a system call so that this thread runs the
      // kernel's completion work (#reapAll() enters when deferred work waits).
      if (this.#enterFlags === 0) this.#getEvents();
      if (this.#reapAll() > 0) {
        this.#deliver();
        return true;
      }
    } while (performance.now() < end);
    return false;
  }

  /** io_uring_enter(GETEVENTS) without waiting: completions due on this thread are posted. */
  #getEvents(): void {
    this.#libc.io_uring_enter(
      SYS_IO_URING_ENTER,
      this.#ring,
      0,
      0,
      IORING_ENTER_GETEVENTS,
      null,
      NO_ARG_SIZE,
    );
  }

  // ---------------------------------------------------------------------------
  // Completions

  /** An operation's CQE: its next step, or its outcome. */
  #complete(op: Operation, res: number): void {
    const kind = op.kind;
    if (kind === POST) {
      const { key, bytes, pointer } = op;
      this.#free(op);
      if (!this.#closed) this.#queue.push({ key, bytes, error: 0, overlapped: pointer });
      return;
    }
    if (op.polling) {
      op.polling = false;
      if (res >= 0 || (res === -EINTR && op.cancelled === 0)) {
        // Ready: try again, unless the port or the fd is being closed. Cancelled
        // by a signal, it still takes what is there (cancelled again if it waits).
        if (op.cancelled === BY_CLOSE || op.cancelled === BY_FD_CLOSE) {
          this.#fail(op, this.#interrupted(op));
        } else {
          this.#pushOp(op);
        }
        return;
      }
      this.#failWith(op, -res);
      return;
    }
    if (res >= 0) {
      if (kind === READ) {
        // A read of 0 bytes into a non-empty buffer: the end of the stream or file.
        this.#settle(op, res > 0 ? res : null);
      } else if (kind === WRITE) {
        const done = op.done += res;
        if (op.file || done >= op.length || res === 0 || op.cancelled === BY_SIGNAL) {
          this.#settle(op, done);
        } else if (op.cancelled !== 0) {
          this.#fail(op, this.#interrupted(op));
        } else {
          this.#pushOp(op); // a stream's write takes all its bytes
        }
      } else if (kind === ACCEPT) {
        this.#accepted(op, res);
      } else {
        this.#connected(op);
      }
      return;
    }
    const error = -res;
    if (op.cancelled === 0) {
      if (error === EINTR || (kind === ACCEPT && error === ECONNABORTED)) {
        this.#pushOp(op); // interrupted, or a connection gone before it was taken: again
        return;
      }
      if (kind === CONNECT && (error === EINPROGRESS || error === EALREADY)) {
        op.done = 1;
        op.polling = true;
        this.#pushOp(op);
        return;
      }
      if (error === EAGAIN) {
        // A nonblocking fd on a kernel that honours O_NONBLOCK: wait until it is ready.
        op.polling = true;
        this.#pushOp(op);
        return;
      }
    }
    if (kind === CONNECT && error === EISCONN && op.done === 1) {
      this.#connected(op); // connected while it was being polled
      return;
    }
    this.#failWith(op, error);
  }

  /** Fails an operation with an errno: the signal's reason or Interrupted if it was cancelled. */
  #failWith(op: Operation, error: number): void {
    if (op.kind === CONNECT) this.#libc.close(op.fd);
    if (op.cancelled !== 0 && (error === ECANCELED || error === EINTR || error === EAGAIN)) {
      if (op.cancelled !== BY_SIGNAL) {
        this.#fail(op, this.#interrupted(op));
      } else if (op.kind === WRITE && op.done > 0) {
        this.#settle(op, op.done); // what was written before the abort
      } else {
        this.#fail(op, op.signal!.reason);
      }
      return;
    }
    if (op.cancelled === BY_FD_CLOSE && error === EBADF) {
      this.#fail(op, this.#interrupted(op));
      return;
    }
    this.#fail(op, osError(this.#action(op), error));
  }

  #action(op: Operation): string {
    switch (op.kind) {
      case READ:
        return `Cannot read from fd ${op.fd}`;
      case WRITE:
        return `Cannot write to fd ${op.fd}`;
      case ACCEPT:
        return `Cannot accept on ${(op.scratch as AcceptScratch).where}`;
      default:
        return `Cannot connect to ${(op.scratch as ConnectScratch).where}`;
    }
  }

  #interrupted(op: Operation): Error {
    const why = op.cancelled === BY_CLOSE
      ? "the completion port was closed"
      : op.socket
      ? "the socket was closed"
      : "the fd was closed";
    return new Deno.errors.Interrupted(`${this.#action(op)}: ${why}`);
  }

  #settle(op: Operation, value: unknown): void {
    const resolve = op.resolve;
    this.#free(op);
    resolve(value);
  }

  #fail(op: Operation, reason: unknown): void {
    const reject = op.reject;
    this.#free(op);
    reject(reason);
  }

  #accepted(op: Operation, fd: number): void {
    const { storage, length } = op.scratch as AcceptScratch;
    let conn;
    try {
      conn = adoptConn(this.#libc, fd, peerAddress(storage, length[0]));
    } catch (error) {
      this.#libc.close(fd);
      this.#fail(op, error);
      return;
    }
    this.#fdTypes[fd] = SOCKET;
    this.#settle(op, conn);
  }

  #connected(op: Operation): void {
    const fd = op.fd;
    const conn = adoptConn(this.#libc, fd, (op.scratch as ConnectScratch).remote);
    this.#fdTypes[fd] = SOCKET;
    this.#settle(op, conn);
  }

  /** A signal aborted an operation: cancel it (its CQE says whether that worked). */
  #abort(op: Operation): void {
    if (op.kind <= POST || op.cancelled !== 0 || this.#released) return;
    op.cancelled = BY_SIGNAL;
    try {
      this.#pushCancel(op);
    } catch {
      // The ring failed: so did the operation (#submit).
    }
  }

  // ---------------------------------------------------------------------------
  // get() and wait()

  #take(): Completion[] {
    const taken = this.#queue;
    this.#queue = [];
    return taken;
  }

  get(timeout?: number): Completion[] {
    const action = "Cannot get from the completion port";
    const ms = normalizeTimeout(() => action, timeout);
    this.#checkOpen(action);
    if (this.#waiter !== undefined) {
      throw new Deno.errors.Busy(`${action}: a wait() is pending on this port`);
    }
    // A pump parked for nothing (on its way back) does not matter: only this
    // thread reaps, and a thread blocked here could not settle operations.
    if (ms !== 0 && this.#inflight > 0) {
      throw new Deno.errors.Busy(
        `${action}: operations started through the port are in flight; use wait()`,
      );
    }
    try {
      if (this.#queue.length === 0) {
        this.#submit();
        this.#reapAll();
      }
      if (this.#queue.length > 0 || ms === 0) return this.#take();
      const deadline = ms === Infinity ? Infinity : performance.now() + ms;
      let slice = ms === Infinity ? -1 : Math.min(ms, MAX_TIMEOUT_MS);
      for (;;) {
        if (this.#libc.poll(this.#pollfd, ONE_FD, slice) < 0) {
          const e = errno();
          if (e !== EINTR) throw osError(action, e);
        }
        this.#reapAll();
        if (this.#queue.length > 0) return this.#take();
        if (deadline !== Infinity) {
          const left = deadline - performance.now();
          if (left <= 0) return [];
          slice = Math.min(Math.ceil(left), MAX_TIMEOUT_MS);
        }
      }
    } finally {
      // It may have reaped what a parked pump waits for, or started operations.
      this.#afterReap();
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
      // Packets already there are taken on this thread: no thread hop.
      if (this.#queue.length === 0) {
        this.#submit();
        this.#reapAll();
      }
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#queue.length > 0 || ms === 0) {
      this.#afterReap();
      return Promise.resolve(this.#take());
    }
    return new Promise((resolve, reject) => {
      this.#waiter = startWait(resolve, reject, ms, signal, this.#endWait);
      this.#pump();
    });
  }

  /** Settles a pending wait, and lets the pump stop if nothing else needs it. */
  #endWait = (waiter: Waiter, completions?: Completion[], reason?: unknown): void => {
    if (this.#waiter !== waiter) return;
    this.#waiter = undefined;
    settleWait(waiter, completions, reason);
    this.#unparkIfIdle();
  };

  /** Gives queued packets to a pending wait. */
  #deliver(): void {
    const waiter = this.#waiter;
    if (waiter !== undefined && this.#queue.length > 0) this.#endWait(waiter, this.#take());
  }

  // ---------------------------------------------------------------------------
  // Operations

  read(handle: Handle, buffer: Uint8Array, options?: IoOptions): Promise<number | null> {
    return this.#transfer(READ, handle, buffer, options);
  }

  write(handle: Handle, buffer: Uint8Array, options?: IoOptions): Promise<number> {
    return this.#transfer(WRITE, handle, buffer, options) as Promise<number>;
  }

  /** "Cannot read from fd 7": built only when something fails. */
  #actionOf(kind: number, fd: number): string {
    return kind === READ ? `Cannot read from fd ${fd}` : `Cannot write to fd ${fd}`;
  }

  /**
   * A read or a write: READ/WRITE, or RECV/SEND on a socket. The usual
   * arguments pass without a message being built; the checks that fail
   * build theirs.
   */
  #transfer(
    kind: number,
    handle: Handle,
    buffer: Uint8Array,
    options: IoOptions | undefined,
  ): Promise<number | null> {
    let op;
    let signal;
    try {
      if (typeof handle !== "number" || !(handle >= 0 && handle <= MAX_FD && handle % 1 === 0)) {
        checkFd(`Cannot ${kind === READ ? "read from" : "write to"} ${describeFd(handle)}`, handle);
      }
      const fd = handle as number;
      if (!isPlainBuffer(buffer)) checkIoBuffer(this.#actionOf(kind, fd), buffer);
      let offLo = IO_URING_CURRENT_POSITION;
      let offHi = IO_URING_CURRENT_POSITION;
      let hasOffset = false;
      if (options !== undefined) {
        if (typeof options !== "object" || options === null) {
          throw new TypeError(
            `${this.#actionOf(kind, fd)}: options must be an object, got ${describe(options)}`,
          );
        }
        const at = options.offset;
        if (at !== undefined) {
          hasOffset = true;
          if (typeof at === "number" && at >= 0 && Number.isSafeInteger(at)) {
            offLo = at >>> 0;
            offHi = (at / TWO_32) >>> 0;
          } else {
            const offset = checkOffset(this.#actionOf(kind, fd), at)!;
            offLo = Number(offset & 0xffffffffn);
            offHi = Number(offset >> 32n);
          }
        }
        signal = options.signal;
        if (signal !== undefined && !(signal instanceof AbortSignal)) {
          throw new TypeError(
            `${this.#actionOf(kind, fd)}: signal must be an AbortSignal, got ${describe(signal)}`,
          );
        }
      }
      if (this.#closed || fd === this.#ring || fd === this.#eventfd) {
        const action = this.#actionOf(kind, fd);
        this.#checkOpen(action);
        this.#checkNotOwn(action, fd);
      }
      const known = this.#fdTypes[fd];
      const type = known !== undefined ? known : this.#learnType(this.#actionOf(kind, fd), fd);
      if ((type === FILE) !== hasOffset) {
        throw new TypeError(
          type === FILE
            ? `${this.#actionOf(kind, fd)}: offset is required on a file (it has no position here)`
            : `${this.#actionOf(kind, fd)}: offset must be omitted on a stream`,
        );
      }
      signal?.throwIfAborted();
      const length = buffer.length < MAX_IO ? buffer.length : MAX_IO;
      if (length === 0) return Promise.resolve(0);
      op = this.#allocate(kind);
      op.fd = fd;
      op.socket = type === SOCKET;
      op.file = type === FILE;
      op.buffer = buffer;
      op.address = addressOf(buffer);
      op.length = length;
      op.offLo = offLo;
      op.offHi = offHi;
      this.#pushOp(op);
    } catch (error) {
      if (op !== undefined && op.kind !== FREE) this.#free(op);
      return Promise.reject(error);
    }
    return this.#started(op, signal);
  }

  /** The promise of an operation whose first SQE is queued. */
  #started<R>(op: Operation, signal: AbortSignal | undefined): Promise<R> {
    const promise = new Promise<R>(this.#executor);
    op.resolve = this.#nextResolve;
    op.reject = this.#nextReject;
    if (signal !== undefined) {
      op.signal = signal;
      signal.addEventListener("abort", op);
    }
    return promise;
  }

  accept(listener: TcpListener, options?: CancelOptions): Promise<TcpConn> {
    let op;
    let signal;
    try {
      let action = "Cannot accept";
      if (!isPosixListener(listener)) {
        throw new TypeError(
          `${action}: listener must be a TcpListener from listenTcp(), got ${describe(listener)}`,
        );
      }
      signal = checkCancelOptions(action, options);
      const where = formatAddress(listener.addr);
      action = `Cannot accept on ${where}`;
      const fd = listener.fd;
      if (fd < 0) throw new Deno.errors.BadResource(`${action}: the listener is closed`);
      this.#checkOpen(action);
      signal?.throwIfAborted();
      op = this.#allocate(ACCEPT);
      op.fd = fd;
      op.socket = true;
      op.scratch = {
        where,
        storage: new Uint8Array(SOCKADDR_STORAGE_SIZE),
        length: new Uint32Array(1),
      };
      this.#pushOp(op);
    } catch (error) {
      if (op !== undefined && op.kind !== FREE) this.#free(op);
      return Promise.reject(error);
    }
    return this.#started(op, signal);
  }

  connect(address: TcpAddress, options?: CancelOptions): Promise<TcpConn> {
    let op;
    let signal;
    let fd = -1;
    try {
      const target = checkConnectAddress(address);
      const where = formatAddress(target);
      const action = `Cannot connect to ${where}`;
      signal = checkCancelOptions(action, options);
      this.#checkOpen(action);
      signal?.throwIfAborted();
      fd = openStreamSocket(this.#libc, target);
      op = this.#allocate(CONNECT);
      op.fd = fd;
      op.socket = true;
      op.scratch = {
        where,
        sockaddr: sockaddrOf(target),
        remote: { transport: "tcp", hostname: target.hostname, port: target.port },
      };
      this.#pushOp(op);
    } catch (error) {
      if (op !== undefined && op.kind !== FREE) this.#free(op);
      if (fd >= 0) this.#libc.close(fd);
      return Promise.reject(error);
    }
    return this.#started(op, signal);
  }

  // ---------------------------------------------------------------------------
  // close()

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const waiter = this.#waiter;
    if (waiter !== undefined) this.#endWait(waiter, []);
    this.#queue = [];
    if (this.#inflight > 0) {
      for (const op of this.#ops) {
        if (op.kind > POST) {
          if (op.cancelled === 0) op.cancelled = BY_CLOSE;
          this.#pushCancel(op);
        }
      }
    }
    try {
      this.#submit();
      this.#reapAll();
    } catch {
      // What could not be submitted has failed (#submit).
    }
    this.#afterReap();
    if (!this.#pumping) this.#release();
  }

  /** Frees the ring once nothing is parked on it and nothing is in flight. */
  #release(): void {
    if (this.#released || this.#pumping || this.#inflight > 0) return;
    this.#released = true;
    unwatchCloses(this.#onFdClose);
    // The views over the mappings go first: nothing may touch them once unmapped.
    this.#sq = this.#cq = this.#sqes = new Uint32Array(0);
    for (const [pointer, length] of this.#maps) this.#libc.munmap(pointer, length);
    this.#maps = [];
    this.#libc.close(this.#ring);
    if (this.#eventfd >= 0) this.#libc.close(this.#eventfd);
    this.#ops = [];
    this.#freeSlots = [];
    this.#fdTypes = [];
    this.#keys.clear();
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
