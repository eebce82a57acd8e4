// Copyright 2026 the @evented/io authors. MIT license.
/**
 * One io_uring, by raw system calls and `mmap` (no liburing): set up with
 * `syscall(SYS_io_uring_setup)`, its rings mapped, SQEs written in place,
 * submitted with `syscall(SYS_io_uring_enter)`, CQEs reaped in place. What
 * an SQE asks for, or a CQE means, is not known here: the io_uring engine
 * (`io_uring.ts`) says that; this file can be driven alone (NOPs) by tests.
 *
 * - Setup tries the best flags first and steps down where the kernel
 *   refuses them (EINVAL): IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN |
 *   TASKRUN_FLAG (Linux 6.1: the completion work of an operation that
 *   waited runs only when this thread enters with IORING_ENTER_GETEVENTS),
 *   then SUBMIT_ALL, then the CQ size alone. Kernels without what the port
 *   relies on (Linux 5.7: IORING_FEAT_NODROP, SUBMIT_STABLE, FAST_POLL) are
 *   refused with ENOSYS.
 * - SQE i always sits at SQ position i; the SQ tail is published at
 *   submit. A full SQ is submitted before the next SQE is written; a submit
 *   the kernel refuses for want of room in the CQ (EBUSY) or memory
 *   (EAGAIN) reaps and tries again; any other failure takes back the SQEs
 *   the kernel did not take and throws a {@linkcode SubmitError} saying
 *   which.
 * - A CQ overflow (more completions than the CQ holds between two reaps) is
 *   left to the kernel (IORING_FEAT_NODROP keeps them) and flushed back with
 *   `io_uring_enter(IORING_ENTER_GETEVENTS)` whenever the SQ ring says
 *   IORING_SQ_CQ_OVERFLOW.
 * - With deferred completion work, an eventfd is registered with the ring
 *   (IORING_REGISTER_EVENTFD): the kernel signals it when work is queued,
 *   but only while IORING_CQ_EVENTFD_DISABLED is clear ({@linkcode armEventfd}
 *   / {@linkcode disarmEventfd}). Queued work does not wake a poll() on the
 *   ring's own fd. The kernel may signal that eventfd late: on Linux 6.18 it
 *   has been seen delivered by an RCU callback one grace period (10–16 ms)
 *   after the work was queued; the engine does not rely on it alone.
 *
 * It owns the ring's memory and the SQ/CQ protocol; it must not know what
 * an operation is (a CQE is handed on as user data and a result) nor when a
 * thread parks.
 *
 * @module
 */

import { osError } from "../../ffi/errors.ts";
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
} from "../../ffi/io_uring.ts";
import {
  EAGAIN,
  EBUSY,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EINTR,
  EINVAL,
  ENOSYS,
  errno,
  type Libc,
  MAP_FAILED,
  MAP_POPULATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  SYS_IO_URING_ENTER,
  SYS_IO_URING_REGISTER,
  SYS_IO_URING_SETUP,
} from "../../ffi/libc.ts";

/** Completion work deferred to this thread's io_uring_enter(GETEVENTS) (Linux 6.1). */
const DEFERRED = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
  IORING_SETUP_TASKRUN_FLAG;
/** Setup flags to try, best first: older kernels refuse the newer ones with EINVAL. */
const SETUP_FLAGS = [
  IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL | DEFERRED,
  IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL,
  IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP,
];
/** What the port relies on (Linux 5.7): no CQE dropped, SQEs copied at submit, internal poll. */
const REQUIRED_FEATURES = IORING_FEAT_NODROP | IORING_FEAT_SUBMIT_STABLE | IORING_FEAT_FAST_POLL;
/** Tries of a submit or a flush the kernel refuses for want of room (EBUSY) or memory (EAGAIN). */
const SUBMIT_TRIES = 1000;
const NO_ARG_SIZE = 0n;
/** An eventfd's count: a u64. */
const EVENTFD_COUNT_SIZE = 8n;

/** How a ring is set up. */
export interface RingOptions {
  /** SQ entries (the kernel rounds up to a power of two). */
  entries: number;
  /** CQ entries. */
  cqEntries: number;
  /** `false`: never with deferred completion work (as on kernels older than 6.1). */
  deferTaskrun?: boolean;
  /** Makes io_uring_setup fail with this errno (tests of the fallback). */
  setupErrno?: number;
}

/** What a ring has done so far. */
export interface RingStats {
  /** The SQ entries. */
  sqEntries: number;
  /** The CQ entries. */
  cqEntries: number;
  /** Whether completion work is deferred (DEFER_TASKRUN, an eventfd registered). */
  deferred: boolean;
  /** io_uring_enter calls that submitted SQEs. */
  submits: number;
  /** io_uring_enter calls that flushed an overflowed CQ back. */
  overflowFlushes: number;
}

/** A submit the kernel refused: the SQEs from SQ position `from`, `count` of them, were taken back. */
export class SubmitError extends Error {
  /** The first SQ position taken back. */
  readonly from: number;
  /** How many were taken back. */
  readonly count: number;
  /** The kernel's error, with its code: what the operations of those SQEs fail with. */
  readonly error: Error;

  constructor(error: Error, from: number, count: number) {
    super(error.message);
    this.error = error;
    this.from = from;
    this.count = count;
  }
}

/**
 * What a reap hands out: the user_data's low and high words, and the
 * result (a byte count, or -errno).
 */
export type CqeHandler = (userLo: number, userHi: number, res: number) => void;

/** Whether a mmap result is MAP_FAILED. */
function mapFailed(pointer: Deno.PointerValue): boolean {
  return pointer === null || Deno.UnsafePointer.value(pointer) === MAP_FAILED;
}

/**
 * One io_uring: its fd, its mapped rings, and (with deferred completion
 * work) its eventfd.
 *
 * @internal
 */
export class Ring {
  readonly #libc: Libc;
  /** The ring's fd. */
  readonly fd: number;
  /** With deferred completion work: the eventfd registered with the ring, else -1. */
  readonly eventfd: number;
  /** Whether completion work is deferred to this thread's enters. */
  readonly deferred: boolean;
  readonly #stats: RingStats;
  /** The mappings: SQ ring, CQ ring (the same one with IORING_FEAT_SINGLE_MMAP), SQEs. */
  #maps: [Deno.PointerValue, bigint][] = [];
  #sq: Uint32Array = new Uint32Array(0);
  #cq: Uint32Array = new Uint32Array(0);
  #sqes: Uint32Array = new Uint32Array(0);
  #sqHead = 0;
  #sqTailIndex = 0;
  #sqFlags = 0;
  #sqMask = 0;
  #sqEntries = 0;
  #cqHeadIndex = 0;
  #cqTailIndex = 0;
  #cqMask = 0;
  #cqes = 0;
  /** The CQ ring's flags word (IORING_CQ_EVENTFD_DISABLED), with deferred work; else -1. */
  #cqFlags = -1;
  /** IORING_ENTER_GETEVENTS with deferred completion work (every submit runs it), else 0. */
  #enterFlags = 0;
  /** The SQ tail as written here (published to the ring at submit). */
  #sqTail = 0;
  /** The SQ head as last read from the ring. */
  #sqHeadSeen = 0;
  /** The CQ head as reaped here. */
  #cqHead = 0;
  /** 8 bytes to drain the eventfd into. */
  #count = new Uint8Array(8);
  readonly #onCqe: CqeHandler;

  /**
   * Sets a ring up and maps it.
   *
   * @param libc the bound libc (the caller holds a use of it)
   * @param action the start of the messages of a failure
   * @param options sizes and test hooks
   * @param onCqe called with each CQE reaped
   * @throws {Error} with the errno of a failed io_uring_setup, mmap or eventfd; ENOSYS for a kernel older than 5.7
   */
  constructor(libc: Libc, action: string, options: RingOptions, onCqe: CqeHandler) {
    this.#libc = libc;
    this.#onCqe = onCqe;
    let ring = -1;
    let eventfd = -1;
    try {
      if (options.setupErrno !== undefined) throw osError(action, options.setupErrno);
      const params = new Uint8Array(IO_URING_PARAMS_SIZE);
      const view = new DataView(params.buffer);
      const tries = options.deferTaskrun === false ? SETUP_FLAGS.slice(1) : SETUP_FLAGS;
      let deferred = false;
      for (const flags of [...tries, 0]) {
        params.fill(0);
        view.setUint32(PARAMS_FLAGS_OFFSET, flags, true);
        view.setUint32(PARAMS_CQ_ENTRIES_OFFSET, options.cqEntries, true);
        ring = libc.io_uring_setup(SYS_IO_URING_SETUP, options.entries, params);
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
      this.#sq = map(single ? Math.max(sqSize, cqSize) : sqSize, IORING_OFF_SQ_RING);
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
        eventfd = libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (eventfd < 0) throw osError(`${action}: cannot open its eventfd`, errno());
        const fds = new Int32Array([eventfd]);
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
        // Signalled only while armed.
        Atomics.or(this.#cq, this.#cqFlags, IORING_CQ_EVENTFD_DISABLED);
        this.#enterFlags = IORING_ENTER_GETEVENTS;
      }
      // SQE i always sits at SQ position i.
      const array = sqOff(SQ_OFF_ARRAY) / 4;
      for (let i = 0; i < this.#sqEntries; i++) this.#sq[array + i] = i;
      this.#sqTail = Atomics.load(this.#sq, this.#sqTailIndex);
      this.#sqHeadSeen = Atomics.load(this.#sq, this.#sqHead);
      this.#cqHead = Atomics.load(this.#cq, this.#cqHeadIndex);
      this.deferred = deferred;
      this.#stats = {
        sqEntries: this.#sqEntries,
        cqEntries: this.#cq[cqOff(CQ_OFF_RING_ENTRIES) / 4],
        deferred,
        submits: 0,
        overflowFlushes: 0,
      };
    } catch (error) {
      this.#sq = this.#cq = this.#sqes = new Uint32Array(0);
      for (const [pointer, length] of this.#maps) libc.munmap(pointer, length);
      if (ring >= 0) libc.close(ring);
      if (eventfd >= 0) libc.close(eventfd);
      throw error;
    }
    this.fd = ring;
    this.eventfd = eventfd;
  }

  /** Counters of what the ring has done (a copy). */
  get stats(): RingStats {
    return { ...this.#stats };
  }

  /** SQEs written and not yet submitted. */
  get unsubmitted(): number {
    return (this.#sqTail - Atomics.load(this.#sq, this.#sqHead)) >>> 0;
  }

  /**
   * Writes one SQE at the SQ's tail (submitting first if the SQ is full);
   * returns its SQ position. It goes to the kernel at the next submit.
   */
  push(
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
        this.submit();
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

  /**
   * Publishes the SQ tail and submits what is written, until the kernel has
   * taken it all (deferred completion work runs too).
   *
   * @throws {SubmitError} when the kernel refuses: the SQEs it did not take were taken back
   */
  submit(): void {
    for (let tries = 0;;) {
      const pending = (this.#sqTail - Atomics.load(this.#sq, this.#sqHead)) >>> 0;
      if (pending === 0) return;
      Atomics.store(this.#sq, this.#sqTailIndex, this.#sqTail);
      const n = this.#libc.io_uring_enter(
        SYS_IO_URING_ENTER,
        this.fd,
        pending,
        0,
        this.#enterFlags,
        null,
        NO_ARG_SIZE,
      );
      this.#stats.submits++;
      if (n > 0) continue;
      const e = n < 0 ? errno() : EAGAIN;
      if (e === EINTR) continue;
      if ((e === EBUSY || e === EAGAIN) && ++tries < SUBMIT_TRIES) {
        // The CQ is full (or the kernel short of memory): make room, then again.
        this.reap();
        continue;
      }
      // What the kernel did not take is taken back.
      const head = Atomics.load(this.#sq, this.#sqHead);
      const left = (this.#sqTail - head) >>> 0;
      this.#sqTail = head;
      Atomics.store(this.#sq, this.#sqTailIndex, head);
      throw new SubmitError(
        osError("Cannot submit to the completion port's io_uring", e),
        head,
        left,
      );
    }
  }

  /** Whether deferred completion work is queued for this thread (IORING_SQ_TASKRUN). */
  get workQueued(): boolean {
    return (Atomics.load(this.#sq, this.#sqFlags) & IORING_SQ_TASKRUN) !== 0;
  }

  /** io_uring_enter(GETEVENTS) without waiting: completion work due on this thread is run. */
  getEvents(): void {
    this.#libc.io_uring_enter(
      SYS_IO_URING_ENTER,
      this.fd,
      0,
      0,
      IORING_ENTER_GETEVENTS,
      null,
      NO_ARG_SIZE,
    );
  }

  /**
   * Reaps every CQE there is (running deferred work first when the ring
   * says some is queued), and what an overflowed CQ held back; returns how
   * many. Safe to re-enter from the handler (an operation's next step may
   * submit).
   */
  reap(): number {
    if (this.#enterFlags !== 0 && this.workQueued) this.getEvents();
    let count = this.#reapRing();
    for (let tries = 0; Atomics.load(this.#sq, this.#sqFlags) & IORING_SQ_CQ_OVERFLOW;) {
      const n = this.#libc.io_uring_enter(
        SYS_IO_URING_ENTER,
        this.fd,
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
      const reaped = this.#reapRing();
      count += reaped;
      if (reaped === 0 && ++tries >= SUBMIT_TRIES) break;
    }
    return count;
  }

  /** Reaps the CQEs in the CQ. */
  #reapRing(): number {
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
      this.#onCqe(lo, hi, res);
    }
  }

  /** Lets the kernel signal the eventfd (deferred work only). */
  armEventfd(): void {
    Atomics.and(this.#cq, this.#cqFlags, ~IORING_CQ_EVENTFD_DISABLED);
  }

  /** No more signals until armed again, and the count drained (deferred work only). */
  disarmEventfd(): void {
    Atomics.or(this.#cq, this.#cqFlags, IORING_CQ_EVENTFD_DISABLED);
    this.#libc.read(this.eventfd, this.#count, EVENTFD_COUNT_SIZE);
  }

  /** Unmaps the rings and closes the fds; called once, with nothing parked on them. */
  close(): void {
    // The views over the mappings go first: nothing may touch them once unmapped.
    this.#sq = this.#cq = this.#sqes = new Uint32Array(0);
    for (const [pointer, length] of this.#maps) this.#libc.munmap(pointer, length);
    this.#maps = [];
    this.#libc.close(this.fd);
    if (this.eventfd >= 0) this.#libc.close(this.eventfd);
  }
}
