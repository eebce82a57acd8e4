// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Fds across processes: one `sendmsg` with an SCM_RIGHTS control message,
 * one `recvmsg` that takes the fds back out, close-on-exec
 * (MSG_CMSG_CLOEXEC).
 *
 * The `struct msghdr`, its one `struct iovec` and the control buffer are
 * laid out from the named offsets of ffi/libc.ts (CMSG_LEN, CMSG_SPACE
 * computed as the C macros do), in memory kept for the thread: an
 * `ArrayBuffer` of its own, never a small on-heap typed array, so that
 * the addresses written into the msghdr stay valid during the call. The
 * receive side sizes its control buffer exactly, CMSG_LEN(maxFds × 4):
 * the kernel installs at most that many fds, closes the rest, and says so
 * with MSG_CTRUNC. Nothing here knows what a connection is: the callers
 * hand over an open fd and the checked arguments.
 *
 * @module
 */

import { osError } from "../ffi/errors.ts";
import {
  CMSGHDR_LEVEL_OFFSET,
  CMSGHDR_SIZE,
  CMSGHDR_TYPE_OFFSET,
  cmsgLen,
  cmsgSpace,
  EAGAIN,
  EINTR,
  errno,
  INT_SIZE,
  IOVEC_LEN_OFFSET,
  IOVEC_SIZE,
  type Libc,
  MAX_IO,
  MSG_CMSG_CLOEXEC,
  MSG_CTRUNC,
  MSG_NOSIGNAL,
  MSGHDR_CONTROL_OFFSET,
  MSGHDR_CONTROLLEN_OFFSET,
  MSGHDR_FLAGS_OFFSET,
  MSGHDR_IOV_OFFSET,
  MSGHDR_IOVLEN_OFFSET,
  MSGHDR_NAMELEN_OFFSET,
  MSGHDR_SIZE,
  SCM_MAX_FD,
  SCM_RIGHTS,
  SOL_SOCKET,
} from "../ffi/libc.ts";
import type { ReceivedFds } from "../types/unix.ts";

/** The room one control message with the most fds takes. */
const CONTROL_SIZE = cmsgSpace(SCM_MAX_FD * INT_SIZE);

/** The kept structs, and their addresses (taken on first use: taking one needs --allow-ffi). */
interface Scratch {
  header: Uint8Array;
  headerView: DataView;
  iovecView: DataView;
  iovecAddress: bigint;
  control: Uint8Array;
  controlView: DataView;
  controlAddress: bigint;
}

let kept: Scratch | undefined;

function addressOf(bytes: Uint8Array): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
}

function scratch(): Scratch {
  if (kept !== undefined) return kept;
  const header = new Uint8Array(new ArrayBuffer(MSGHDR_SIZE));
  const iovec = new Uint8Array(new ArrayBuffer(IOVEC_SIZE));
  const control = new Uint8Array(new ArrayBuffer(CONTROL_SIZE));
  return kept = {
    header,
    headerView: new DataView(header.buffer),
    iovecView: new DataView(iovec.buffer),
    iovecAddress: addressOf(iovec),
    control,
    controlView: new DataView(control.buffer),
    controlAddress: addressOf(control),
  };
}

/**
 * Fills the msghdr: no name, one iovec over `data`, `controlLength` bytes
 * of control buffer (none if 0).
 */
function prepare(s: Scratch, data: Uint8Array, controlLength: number): void {
  const { headerView, iovecView } = s;
  iovecView.setBigUint64(0, addressOf(data), true);
  iovecView.setBigUint64(IOVEC_LEN_OFFSET, BigInt(Math.min(data.length, MAX_IO)), true);
  headerView.setBigUint64(0, 0n, true); // msg_name: none (a connected socket)
  headerView.setUint32(MSGHDR_NAMELEN_OFFSET, 0, true);
  headerView.setBigUint64(MSGHDR_IOV_OFFSET, s.iovecAddress, true);
  headerView.setBigUint64(MSGHDR_IOVLEN_OFFSET, 1n, true);
  headerView.setBigUint64(MSGHDR_CONTROL_OFFSET, controlLength > 0 ? s.controlAddress : 0n, true);
  headerView.setBigUint64(MSGHDR_CONTROLLEN_OFFSET, BigInt(controlLength), true);
  headerView.setInt32(MSGHDR_FLAGS_OFFSET, 0, true);
}

/**
 * Sends `data` (not empty) over the connected socket `fd` with copies of
 * `fds` (checked: at most SCM_MAX_FD fds) in one SCM_RIGHTS message.
 *
 * @returns the bytes taken, or 0 when the socket's buffer is full (no fd went)
 */
export function sendWithFds(
  libc: Libc,
  fd: number,
  data: Uint8Array,
  fds: readonly number[],
): number {
  const s = scratch();
  let controlLength = 0;
  if (fds.length > 0) {
    const { controlView } = s;
    const length = cmsgLen(fds.length * INT_SIZE);
    controlLength = cmsgSpace(fds.length * INT_SIZE);
    s.control.fill(0, 0, controlLength);
    controlView.setBigUint64(0, BigInt(length), true);
    controlView.setInt32(CMSGHDR_LEVEL_OFFSET, SOL_SOCKET, true);
    controlView.setInt32(CMSGHDR_TYPE_OFFSET, SCM_RIGHTS, true);
    for (let i = 0; i < fds.length; i++) {
      controlView.setInt32(CMSGHDR_SIZE + i * INT_SIZE, fds[i], true);
    }
  }
  for (;;) {
    prepare(s, data, controlLength);
    const n = libc.sendmsg(fd, s.header, MSG_NOSIGNAL);
    if (n >= 0) return n;
    const e = errno();
    if (e === EAGAIN) return 0;
    if (e !== EINTR) {
      throw osError(`Cannot send ${fds.length} fds (${fds.join(", ")}) over fd ${fd}`, e);
    }
  }
}

/**
 * Reads into `buffer` (not empty) from the connected socket `fd`, with at
 * most `maxFds` fds (checked: 0 to SCM_MAX_FD), close-on-exec.
 *
 * @returns what came, or `null` when nothing is there yet
 */
export function receiveWithFds(
  libc: Libc,
  fd: number,
  buffer: Uint8Array,
  maxFds: number,
): ReceivedFds | null {
  const s = scratch();
  const controlLength = maxFds > 0 ? cmsgLen(maxFds * INT_SIZE) : 0;
  let n;
  for (;;) {
    prepare(s, buffer, controlLength);
    n = libc.recvmsg(fd, s.header, MSG_CMSG_CLOEXEC);
    if (n >= 0) break;
    const e = errno();
    if (e === EAGAIN) return null;
    if (e !== EINTR) throw osError(`Cannot receive fds from fd ${fd}`, e);
  }
  const { headerView, controlView } = s;
  const flags = headerView.getInt32(MSGHDR_FLAGS_OFFSET, true);
  const filled = controlLength > 0
    ? Number(headerView.getBigUint64(MSGHDR_CONTROLLEN_OFFSET, true))
    : 0;
  const fds: number[] = [];
  // CMSG_FIRSTHDR, CMSG_NXTHDR: each message is CMSG_SPACE of its data long.
  for (let at = 0; at + CMSGHDR_SIZE <= filled;) {
    const length = Number(controlView.getBigUint64(at, true));
    if (length < CMSGHDR_SIZE || at + length > filled) break;
    if (
      controlView.getInt32(at + CMSGHDR_LEVEL_OFFSET, true) === SOL_SOCKET &&
      controlView.getInt32(at + CMSGHDR_TYPE_OFFSET, true) === SCM_RIGHTS
    ) {
      for (let i = at + CMSGHDR_SIZE; i + INT_SIZE <= at + length; i += INT_SIZE) {
        fds.push(controlView.getInt32(i, true));
      }
    }
    at += cmsgSpace(length - CMSGHDR_SIZE);
  }
  return { bytes: n === 0 ? null : n, fds, truncated: (flags & MSG_CTRUNC) !== 0 };
}
