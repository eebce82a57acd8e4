// Copyright 2026 the @evented/io authors. MIT license.
/**
 * One IOCTL_AFD_POLL request of the afd Selector and what it means: the
 * helper handle to `\Device\Afd` it goes through (NtCreateFile), its
 * AFD_POLL_INFO and IO_STATUS_BLOCK (in an ArrayBuffer of their own, never
 * moved), the AFD events asked for each interest, and the {@linkcode Ready}
 * flags of the events reported, as mio maps them.
 *
 * It knows no completion port, no registration table and no Selector:
 * `afd.ts` issues, cancels and dequeues the polls.
 *
 * @module
 */

import type { Registration } from "../_selector_core.ts";
import { win32Error } from "../../ffi/errors.ts";
import {
  AFD_DEVICE_NAME,
  AFD_POLL_ABORT,
  AFD_POLL_ACCEPT,
  AFD_POLL_CONNECT_FAIL,
  AFD_POLL_DISCONNECT,
  AFD_POLL_INFO_EVENTS_OFFSET,
  AFD_POLL_INFO_EXCLUSIVE_OFFSET,
  AFD_POLL_INFO_HANDLE_OFFSET,
  AFD_POLL_INFO_NUMBER_OF_HANDLES_OFFSET,
  AFD_POLL_INFO_SIZE,
  AFD_POLL_INFO_STATUS_OFFSET,
  AFD_POLL_INFO_TIMEOUT_OFFSET,
  AFD_POLL_LOCAL_CLOSE,
  AFD_POLL_NO_TIMEOUT,
  AFD_POLL_RECEIVE,
  AFD_POLL_RECEIVE_EXPEDITED,
  AFD_POLL_SEND,
  FILE_OPEN,
  FILE_SHARE_READ_WRITE,
  IO_STATUS_BLOCK_SIZE,
  type Ntdll,
  OBJECT_ATTRIBUTES_LENGTH_OFFSET,
  OBJECT_ATTRIBUTES_OBJECT_NAME_OFFSET,
  OBJECT_ATTRIBUTES_SIZE,
  SYNCHRONIZE,
  UNICODE_STRING_BUFFER_OFFSET,
  UNICODE_STRING_LENGTH_OFFSET,
  UNICODE_STRING_MAXIMUM_LENGTH_OFFSET,
  UNICODE_STRING_SIZE,
} from "../../ffi/ntdll.ts";
import { Ready } from "../../types/selector.ts";

/** AFD_POLL_INFO in 32-bit words. */
const TIMEOUT_WORD = AFD_POLL_INFO_TIMEOUT_OFFSET / 4;
const COUNT_WORD = AFD_POLL_INFO_NUMBER_OF_HANDLES_OFFSET / 4;
const EXCLUSIVE_WORD = AFD_POLL_INFO_EXCLUSIVE_OFFSET / 4;
const HANDLE_WORD = AFD_POLL_INFO_HANDLE_OFFSET / 4;
const EVENTS_WORD = AFD_POLL_INFO_EVENTS_OFFSET / 4;
const HANDLE_STATUS_WORD = AFD_POLL_INFO_STATUS_OFFSET / 4;
const TIMEOUT_LOW = Number(AFD_POLL_NO_TIMEOUT & 0xffffffffn);
const TIMEOUT_HIGH = Number(AFD_POLL_NO_TIMEOUT >> 32n);

/**
 * The AFD events a poll asks for, by interest: ABORT and CONNECT_FAIL
 * always (they are error and hangup, reported for any interest, as epoll
 * reports EPOLLERR and EPOLLHUP), LOCAL_CLOSE always (it ends the poll of
 * a closed socket).
 */
const AFD_EVENTS: readonly number[] = Array.from({ length: 8 }, (_, interest) => {
  let bits = AFD_POLL_LOCAL_CLOSE | AFD_POLL_ABORT | AFD_POLL_CONNECT_FAIL;
  if (interest & Ready.READABLE) bits |= AFD_POLL_RECEIVE | AFD_POLL_ACCEPT | AFD_POLL_DISCONNECT;
  if (interest & Ready.WRITABLE) bits |= AFD_POLL_SEND;
  if (interest & Ready.PRIORITY) bits |= AFD_POLL_RECEIVE_EXPEDITED;
  return bits;
});

export const DIRECTIONS = Ready.READABLE | Ready.WRITABLE;

/**
 * The {@linkcode Ready} flags of the AFD events a poll reported, as mio
 * maps them: a connection to accept, data, or the peer's FIN is readable
 * (the FIN also readHangup); a reset is hangup and error (and readHangup,
 * as epoll reports it); a failed connect is error and hangup; and error
 * or hangup also set the directions the socket is registered for.
 */
export function readyFlags(afd: number, interest: number): number {
  let ready = 0;
  if (afd & (AFD_POLL_RECEIVE | AFD_POLL_ACCEPT | AFD_POLL_DISCONNECT)) ready |= Ready.READABLE;
  if (afd & AFD_POLL_SEND) ready |= Ready.WRITABLE;
  if (afd & AFD_POLL_RECEIVE_EXPEDITED) ready |= Ready.PRIORITY;
  if (afd & AFD_POLL_DISCONNECT) ready |= Ready.READ_HANGUP;
  if (afd & AFD_POLL_ABORT) ready |= Ready.HANGUP | Ready.ERROR | Ready.READ_HANGUP;
  if (afd & AFD_POLL_CONNECT_FAIL) ready |= Ready.ERROR | Ready.HANGUP;
  if (ready & (Ready.ERROR | Ready.HANGUP)) ready |= interest & DIRECTIONS;
  return ready;
}

/**
 * One IOCTL_AFD_POLL request: its AFD_POLL_INFO (input and output) and
 * IO_STATUS_BLOCK, in an ArrayBuffer of their own (never moved by the
 * garbage collector). The address of the info is the request's ApcContext,
 * which its completion packet carries back.
 */
export class Poll<T> {
  readonly info: Uint8Array;
  readonly iosb: Uint8Array;
  readonly words: Uint32Array;
  readonly address: number;
  /** The watch it polls for; undefined once it was cancelled or has completed. */
  watch: Watch<T> | undefined = undefined;

  constructor() {
    const buffer = new ArrayBuffer(AFD_POLL_INFO_SIZE + IO_STATUS_BLOCK_SIZE);
    this.info = new Uint8Array(buffer, 0, AFD_POLL_INFO_SIZE);
    this.iosb = new Uint8Array(buffer, AFD_POLL_INFO_SIZE, IO_STATUS_BLOCK_SIZE);
    this.words = new Uint32Array(buffer, 0, AFD_POLL_INFO_SIZE / 4);
    this.address = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.info)));
  }

  /** Fills the AFD_POLL_INFO of a poll of one base socket (two words of its handle) for `interest`. */
  request(baseLow: number, baseHigh: number, interest: number): void {
    const words = this.words;
    words[TIMEOUT_WORD] = TIMEOUT_LOW;
    words[TIMEOUT_WORD + 1] = TIMEOUT_HIGH;
    words[COUNT_WORD] = 1;
    words[EXCLUSIVE_WORD] = 0;
    words[HANDLE_WORD] = baseLow;
    words[HANDLE_WORD + 1] = baseHigh;
    words[EVENTS_WORD] = AFD_EVENTS[interest];
    words[HANDLE_STATUS_WORD] = 0;
  }

  /** The AFD events a completed poll reported, of those asked for `interest`. */
  reported(interest: number): number {
    const words = this.words;
    return words[COUNT_WORD] === 0 ? 0 : words[EVENTS_WORD] & AFD_EVENTS[interest];
  }
}

/** A registered socket, as the driver polls it. */
export class Watch<T> {
  reg: Registration<T>;
  /** The base socket, as the two words of its handle value. */
  baseLow = 0;
  baseHigh = 0;
  /** The poll in flight for the current registration. */
  poll: Poll<T> | undefined = undefined;
  /** A finished poll's buffers, reused by the next poll. */
  spare: Poll<T> | undefined = undefined;
  /** In the re-arm queue. */
  queued = false;
  /** Unregistered. */
  removed = false;
  /** The socket was closed (AFD_POLL_LOCAL_CLOSE, or its handle is gone): never polled again. */
  closed = false;

  constructor(reg: Registration<T>) {
    this.reg = reg;
  }
}

/** Opens `\Device\Afd\…` for polling; returns the handle, or throws. */
export function openAfd(ntdll: Ntdll, action: string): Deno.PointerObject {
  // Off-heap buffers (an ArrayBuffer of their own): their addresses are written into others.
  const name = new Uint16Array(new ArrayBuffer(AFD_DEVICE_NAME.length * 2));
  for (let i = 0; i < name.length; i++) name[i] = AFD_DEVICE_NAME.charCodeAt(i);
  const unicode = new Uint8Array(new ArrayBuffer(UNICODE_STRING_SIZE));
  const unicodeView = new DataView(unicode.buffer);
  unicodeView.setUint16(UNICODE_STRING_LENGTH_OFFSET, name.byteLength, true);
  unicodeView.setUint16(UNICODE_STRING_MAXIMUM_LENGTH_OFFSET, name.byteLength, true);
  unicodeView.setBigUint64(
    UNICODE_STRING_BUFFER_OFFSET,
    Deno.UnsafePointer.value(Deno.UnsafePointer.of(name)),
    true,
  );
  const attributes = new Uint8Array(new ArrayBuffer(OBJECT_ATTRIBUTES_SIZE));
  const attributesView = new DataView(attributes.buffer);
  attributesView.setUint32(OBJECT_ATTRIBUTES_LENGTH_OFFSET, OBJECT_ATTRIBUTES_SIZE, true);
  attributesView.setBigUint64(
    OBJECT_ATTRIBUTES_OBJECT_NAME_OFFSET,
    Deno.UnsafePointer.value(Deno.UnsafePointer.of(unicode)),
    true,
  );
  const handle = new BigUint64Array(1);
  const iosb = new Uint8Array(IO_STATUS_BLOCK_SIZE);
  const status = ntdll.NtCreateFile(
    new Uint8Array(handle.buffer),
    SYNCHRONIZE,
    attributes,
    iosb,
    null,
    0,
    FILE_SHARE_READ_WRITE,
    FILE_OPEN,
    0,
    null,
    0,
  );
  // The name's buffers were read during the call: referenced until here.
  void name;
  void unicode;
  if (status < 0) {
    throw win32Error(
      `${action}: cannot open ${AFD_DEVICE_NAME}`,
      ntdll.RtlNtStatusToDosError(status),
    );
  }
  const pointer = Deno.UnsafePointer.create(handle[0]);
  if (pointer === null) throw new Error(`${action}: NtCreateFile gave a null handle`);
  return pointer;
}
