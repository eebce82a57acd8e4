// Copyright 2026 the @evented/io authors. MIT license.
/**
 * An operation of the io_uring CompletionPort, and the SQE of its next
 * step: RECV/SEND on a socket (MSG_NOSIGNAL on a send), READ/WRITE at an
 * offset on a file and at the current position on another stream, always
 * into or out of port memory (the core readied the step's address and
 * length); ACCEPT with the peer's address and its length in port memory;
 * CONNECT from an address in port memory; POLL_ADD when a nonblocking fd
 * answered -EAGAIN. Each SQE carries the operation's slot (user_data's low
 * word) and generation (high word).
 *
 * It knows no CQE and no outcome: `io_uring.ts` reads those.
 *
 * @module
 */

import {
  IO_URING_CURRENT_POSITION,
  IORING_OP_ACCEPT,
  IORING_OP_CONNECT,
  IORING_OP_POLL_ADD,
  IORING_OP_READ,
  IORING_OP_RECV,
  IORING_OP_SEND,
  IORING_OP_WRITE,
} from "../../ffi/io_uring.ts";
import {
  MSG_NOSIGNAL,
  POLLIN,
  POLLOUT,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCKADDR_STORAGE_SIZE,
} from "../../ffi/libc.ts";
import { ACCEPT, FILE, Operation, READ, SOCKET, WRITE } from "../_port_engine.ts";
import type { PortListener } from "../_port_sockets.ts";
import type { Ring } from "./_io_uring_ring.ts";

const TWO_32 = 2 ** 32;

/** What an accept or a connect needs until its CQE: the kernel writes or reads these. */
export interface SocketScratch {
  where: string;
  /** accept: the listener, which wraps what is accepted. */
  listener?: PortListener;
  /** accept: where the peer's address goes, and its length. */
  storage?: Uint8Array;
  length?: Uint32Array;
  /** connect: the address, and the peer as a Deno.NetAddr. */
  sockaddr?: Uint8Array;
  remote?: Deno.NetAddr;
}

/** An operation of this engine. */
export class UringOp extends Operation {
  /** Waiting (POLL_ADD) until the fd is ready, to try again. */
  polling = false;
  /** A connect under way: an EISCONN then means it connected. */
  connecting = false;
  /** Where its last SQE went in the SQ (to tell whether it was submitted). */
  sqPos = 0;
  /** A posted packet's contents. */
  key = 0;
  bytes = 0;
  pointer: Deno.PointerValue = null;

  override reset(): void {
    this.polling = false;
    this.connecting = false;
    this.pointer = null;
  }
}

/**
 * Queues the SQE of `op`'s next step in `ring`.
 *
 * @param rwFlags rw_flags of reads and writes (RWF_NOWAIT, or 0)
 * @param msgFlags msg_flags of recvs and sends (MSG_DONTWAIT, or 0)
 * @returns where the SQE went in the SQ
 */
export function pushStep(ring: Ring, op: UringOp, rwFlags: number, msgFlags: number): number {
  const fd = op.handle;
  const { slot, gen } = op;
  if (op.polling) {
    const events = op.kind === READ || op.kind === ACCEPT ? POLLIN : POLLOUT;
    return ring.push(IORING_OP_POLL_ADD, fd, 0, 0, 0, 0, 0, events, slot, gen);
  } else if (op.kind === READ || op.kind === WRITE) {
    // The core readied this step's port memory: its address and length.
    const address = op.address;
    const lo = address >>> 0;
    const hi = (address / TWO_32) >>> 0;
    const length = op.step;
    if (op.handleKind === SOCKET) {
      const opcode = op.kind === READ ? IORING_OP_RECV : IORING_OP_SEND;
      const flags = op.kind === READ ? msgFlags : msgFlags | MSG_NOSIGNAL;
      return ring.push(opcode, fd, 0, 0, lo, hi, length, flags, slot, gen);
    } else {
      let offLo = IO_URING_CURRENT_POSITION;
      let offHi = IO_URING_CURRENT_POSITION;
      if (op.handleKind === FILE) {
        const at = op.offset;
        if (typeof at === "number" && at + op.done <= Number.MAX_SAFE_INTEGER) {
          const offset = at + op.done;
          offLo = offset >>> 0;
          offHi = (offset / TWO_32) >>> 0;
        } else {
          const offset = BigInt(at) + BigInt(op.done);
          offLo = Number(offset & 0xffffffffn);
          offHi = Number(offset >> 32n);
        }
      }
      const opcode = op.kind === READ ? IORING_OP_READ : IORING_OP_WRITE;
      return ring.push(opcode, fd, offLo, offHi, lo, hi, length, rwFlags, slot, gen);
    }
  } else if (op.kind === ACCEPT) {
    // The peer's address and its length go to port memory.
    const { length } = op.target as SocketScratch;
    const into = op.memory!.address;
    const lengthAt = into + SOCKADDR_STORAGE_SIZE;
    length![0] = SOCKADDR_STORAGE_SIZE;
    return ring.push(
      IORING_OP_ACCEPT,
      fd,
      lengthAt >>> 0,
      (lengthAt / TWO_32) >>> 0,
      into >>> 0,
      (into / TWO_32) >>> 0,
      0,
      SOCK_NONBLOCK | SOCK_CLOEXEC,
      slot,
      gen,
    );
  } else {
    const { sockaddr } = op.target as SocketScratch;
    const to = op.memory!.address;
    return ring.push(
      IORING_OP_CONNECT,
      fd,
      sockaddr!.length,
      0,
      to >>> 0,
      (to / TWO_32) >>> 0,
      0,
      0,
      slot,
      gen,
    );
  }
}
