// Copyright 2026 the @evented/io authors. MIT license.
/**
 * The io_uring ABI of `<linux/io_uring.h>`: struct layouts, opcodes and
 * flags, the same on x86_64 and aarch64. No symbols here: the rings are set
 * up and entered through `syscall` (`io_uring_setup`, `io_uring_enter` in
 * `ffi/libc.ts`) and mapped with `mmap`; no liburing.
 *
 * Offsets are in bytes unless a name says `WORD` (a 32-bit word, for
 * `Uint32Array` views of the mapped rings).
 *
 * Nothing here knows what a CompletionPort is; the io_uring engine imports
 * from here.
 *
 * @module
 */

/** sizeof(struct io_uring_params). */
export const IO_URING_PARAMS_SIZE = 120;
/** offsetof(struct io_uring_params, sq_entries): u32, filled by the kernel. */
export const PARAMS_SQ_ENTRIES_OFFSET = 0;
/** offsetof(struct io_uring_params, cq_entries): u32, in (with IORING_SETUP_CQSIZE) and out. */
export const PARAMS_CQ_ENTRIES_OFFSET = 4;
/** offsetof(struct io_uring_params, flags): u32, IORING_SETUP_*. */
export const PARAMS_FLAGS_OFFSET = 8;
/** offsetof(struct io_uring_params, features): u32, IORING_FEAT_*, filled by the kernel. */
export const PARAMS_FEATURES_OFFSET = 20;
/** offsetof(struct io_uring_params, sq_off): struct io_sqring_offsets. */
export const PARAMS_SQ_OFF_OFFSET = 40;
/** offsetof(struct io_uring_params, cq_off): struct io_cqring_offsets. */
export const PARAMS_CQ_OFF_OFFSET = 80;

/** struct io_sqring_offsets: where in the SQ ring mapping each field is (u32 each). */
export const SQ_OFF_HEAD = 0;
export const SQ_OFF_TAIL = 4;
export const SQ_OFF_RING_MASK = 8;
export const SQ_OFF_RING_ENTRIES = 12;
export const SQ_OFF_FLAGS = 16;
export const SQ_OFF_DROPPED = 20;
export const SQ_OFF_ARRAY = 24;

/** struct io_cqring_offsets: where in the CQ ring mapping each field is (u32 each). */
export const CQ_OFF_HEAD = 0;
export const CQ_OFF_TAIL = 4;
export const CQ_OFF_RING_MASK = 8;
export const CQ_OFF_RING_ENTRIES = 12;
export const CQ_OFF_OVERFLOW = 16;
export const CQ_OFF_CQES = 20;
export const CQ_OFF_FLAGS = 24;

/** The mmap offsets of the three mappings. */
export const IORING_OFF_SQ_RING = 0n;
export const IORING_OFF_CQ_RING = 0x8000000n;
export const IORING_OFF_SQES = 0x10000000n;

/** sizeof(struct io_uring_sqe). */
export const SQE_SIZE = 64;
/** sizeof(struct io_uring_cqe) without IORING_SETUP_CQE32. */
export const CQE_SIZE = 16;
/** sizeof(u32): an entry of the SQ ring's index array. */
export const SQ_ARRAY_ENTRY_SIZE = 4;

/**
 * struct io_uring_sqe as 32-bit words (little-endian): word 0 holds
 * `opcode` (u8), `flags` (u8) and `ioprio` (u16); 64-bit fields take two
 * words, low word first.
 */
export const SQE_WORDS = SQE_SIZE / 4;
/** opcode | flags << 8 | ioprio << 16 */
export const SQE_OPCODE_WORD = 0;
/** s32 fd */
export const SQE_FD_WORD = 1;
/** u64 off, or addr2 (accept's socklen_t *, connect's addrlen) */
export const SQE_OFF_WORD = 2;
/** u64 addr (the buffer, a sockaddr, or the user_data a cancel targets) */
export const SQE_ADDR_WORD = 4;
/** u32 len */
export const SQE_LEN_WORD = 6;
/** u32 rw_flags / msg_flags / accept_flags / poll32_events / cancel_flags */
export const SQE_OP_FLAGS_WORD = 7;
/** u64 user_data */
export const SQE_USER_DATA_WORD = 8;
/** buf_index (u16) | personality (u16) << 16, then splice_fd_in, addr3 and padding: zero here */
export const SQE_TAIL_WORD = 10;

/** struct io_uring_cqe as 32-bit words: u64 user_data, s32 res, u32 flags. */
export const CQE_WORDS = CQE_SIZE / 4;
export const CQE_USER_DATA_WORD = 0;
export const CQE_RES_WORD = 2;
export const CQE_FLAGS_WORD = 3;

/** io_uring_setup flags. */
export const IORING_SETUP_CQSIZE = 1 << 3;
export const IORING_SETUP_CLAMP = 1 << 4;
export const IORING_SETUP_SUBMIT_ALL = 1 << 7;
/** With DEFER_TASKRUN: IORING_SQ_TASKRUN in the SQ ring's flags says that deferred work waits. */
export const IORING_SETUP_TASKRUN_FLAG = 1 << 9;
/** Only one thread submits (Linux 6.0). */
export const IORING_SETUP_SINGLE_ISSUER = 1 << 12;
/**
 * Completion work runs only when the submitter enters with
 * IORING_ENTER_GETEVENTS, never by interrupting it (Linux 6.1; needs
 * SINGLE_ISSUER). The ring's fd is not woken when work is queued; a
 * registered eventfd is.
 */
export const IORING_SETUP_DEFER_TASKRUN = 1 << 13;

/** io_uring_params.features. */
export const IORING_FEAT_SINGLE_MMAP = 1 << 0;
export const IORING_FEAT_NODROP = 1 << 1;
export const IORING_FEAT_SUBMIT_STABLE = 1 << 2;
export const IORING_FEAT_FAST_POLL = 1 << 5;

/** The SQ ring's flags word. */
export const IORING_SQ_CQ_OVERFLOW = 1 << 1;
/** Deferred completion work waits for an io_uring_enter(IORING_ENTER_GETEVENTS). */
export const IORING_SQ_TASKRUN = 1 << 2;

/** The CQ ring's flags word (written by the application): no eventfd signals while set. */
export const IORING_CQ_EVENTFD_DISABLED = 1 << 0;

/** io_uring_register opcodes. */
export const IORING_REGISTER_EVENTFD = 4;

/** io_uring_enter flags. */
export const IORING_ENTER_GETEVENTS = 1 << 0;

/** Opcodes (enum io_uring_op). */
export const IORING_OP_NOP = 0;
export const IORING_OP_POLL_ADD = 6;
export const IORING_OP_ACCEPT = 13;
export const IORING_OP_ASYNC_CANCEL = 14;
export const IORING_OP_CONNECT = 16;
export const IORING_OP_READ = 22;
export const IORING_OP_WRITE = 23;
export const IORING_OP_SEND = 26;
export const IORING_OP_RECV = 27;

/** rw_flags of a read or write that must not wait (preadv2's RWF_NOWAIT): -EAGAIN instead. */
export const RWF_NOWAIT = 0x8;

/** `off` of a read or write on a stream: use (and advance) the file position, if any. */
export const IO_URING_CURRENT_POSITION = 0xffffffff;
