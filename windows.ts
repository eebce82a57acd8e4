// Copyright 2026 the @evented/io authors. MIT license.
/**
 * Windows handles to complete on with a CompletionPort: an overlapped file
 * and a named-pipe pair.
 *
 * It must not know a port's engine: the handles it opens are associated by
 * the port on their first operation.
 *
 * @module
 */

import { pointerValue } from "./ffi/_pointer.ts";
import { announceClose } from "./backends/shared/_close_hook.ts";
import { win32Error } from "./ffi/errors.ts";
import {
  acquireKernel32,
  CREATE_ALWAYS,
  CREATE_NEW,
  FILE_ATTRIBUTE_NORMAL,
  FILE_FLAG_FIRST_PIPE_INSTANCE,
  FILE_FLAG_OVERLAPPED,
  FILE_SHARE_DELETE,
  FILE_SHARE_READ,
  FILE_SHARE_WRITE,
  GENERIC_READ,
  GENERIC_WRITE,
  INVALID_HANDLE_ADDRESS,
  type Kernel32,
  OPEN_ALWAYS,
  OPEN_EXISTING,
  PIPE_ACCESS_DUPLEX,
  PIPE_READMODE_BYTE,
  PIPE_REJECT_REMOTE_CLIENTS,
  PIPE_TYPE_BYTE,
  PIPE_WAIT,
  releaseKernel32,
  TRUNCATE_EXISTING,
  wide,
} from "./ffi/kernel32.ts";
import { describe } from "./backends/shared/_describe.ts";

/** A Windows handle owned by this module. */
export interface OwnedHandle extends Disposable {
  /** The HANDLE (null once closed). */
  readonly handle: Deno.PointerValue;
  /** Whether `close()` has been called. */
  readonly closed: boolean;
  /** Closes the handle; idempotent. Operations in flight on it fail. */
  close(): void;
}

/** Options of {@linkcode openOverlappedFile}. */
export interface OverlappedFileOptions {
  /** Open for reading (default true). */
  read?: boolean;
  /** Open for writing (default false). */
  write?: boolean;
  /** Create the file if it does not exist (default false). */
  create?: boolean;
  /** Fail if the file exists (with `create`). */
  createNew?: boolean;
  /** Empty the file (needs `write`). */
  truncate?: boolean;
}

/** A connected pair of overlapped named-pipe ends: bytes written to one are read from the other. */
export interface NamedPipePair extends Disposable {
  /** The server end (the pipe instance). */
  readonly server: OwnedHandle;
  /** The client end. */
  readonly client: OwnedHandle;
  /** The pipe's name, `\\.\pipe\…`. */
  readonly name: string;
  /** Closes both ends; idempotent. */
  close(): void;
}

function isInvalidHandle(handle: Deno.PointerValue): boolean {
  return handle === null || Deno.UnsafePointer.value(handle) === INVALID_HANDLE_ADDRESS;
}

function owned(k32: Kernel32, handle: Deno.PointerValue): OwnedHandle {
  let current: Deno.PointerValue = handle;
  const close = () => {
    if (current === null) return;
    announceClose(pointerValue(current)); // first: what is in flight on it is cancelled
    k32.CloseHandle(current);
    current = null;
    releaseKernel32();
  };
  return {
    get handle() {
      return current;
    },
    get closed() {
      return current === null;
    },
    close,
    [Symbol.dispose]: close,
  };
}

function checkFlag(action: string, name: string, value: unknown): boolean {
  if (value === undefined || typeof value === "boolean") return value ?? false;
  throw new TypeError(`${action}: ${name} must be a boolean, got ${describe(value)}`);
}

/**
 * Opens a file for overlapped I/O: every read and write through a
 * CompletionPort gives its `offset`.
 *
 * @param path the file's path
 * @param options how to open it
 * @returns the handle; close it when done
 * @throws {TypeError} if `path` is not a string or an option has the wrong type
 * @throws {Deno.errors.NotFound} if the file does not exist and `create` is not set
 * @throws {Deno.errors.AlreadyExists} with `createNew`, if the file exists
 * @throws {Deno.errors.NotCapable} without `--allow-ffi`
 *
 * @example Write, then read back at an offset
 * ```ts
 * import { openCompletionPort, openOverlappedFile } from "@evented/io";
 * import { equal } from "node:assert/strict";
 *
 * if (Deno.build.os === "windows") {
 *   const path = Deno.makeTempFileSync();
 *   await using port = openCompletionPort();
 *   using file = openOverlappedFile(path, { write: true });
 *   equal(await port.write(file.handle, new TextEncoder().encode("hello"), { offset: 0 }), 5);
 *   const buffer = new Uint8Array(3);
 *   equal(await port.read(file.handle, buffer, { offset: 2 }), 3);
 *   equal(new TextDecoder().decode(buffer), "llo");
 *   file.close();
 *   Deno.removeSync(path);
 * }
 * ```
 */
export function openOverlappedFile(path: string, options: OverlappedFileOptions = {}): OwnedHandle {
  const action = `Cannot open ${JSON.stringify(path)} for overlapped I/O`;
  if (typeof path !== "string" || path.length === 0 || path.includes("\0")) {
    throw new TypeError(`${action}: path must be a non-empty string without NUL`);
  }
  const read = checkFlag(action, "read", options.read ?? true);
  const write = checkFlag(action, "write", options.write);
  const create = checkFlag(action, "create", options.create);
  const createNew = checkFlag(action, "createNew", options.createNew);
  const truncate = checkFlag(action, "truncate", options.truncate);
  if (truncate && !write) throw new TypeError(`${action}: truncate needs write`);
  const access = (read ? GENERIC_READ : 0) | (write ? GENERIC_WRITE : 0);
  const disposition = createNew
    ? CREATE_NEW
    : create
    ? (truncate ? CREATE_ALWAYS : OPEN_ALWAYS)
    : (truncate ? TRUNCATE_EXISTING : OPEN_EXISTING);
  const k32 = acquireKernel32();
  const handle = k32.CreateFileW(
    wide(path),
    access >>> 0,
    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
    null,
    disposition,
    (FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED) >>> 0,
    null,
  );
  if (isInvalidHandle(handle)) {
    const error = win32Error(action, k32.GetLastError());
    releaseKernel32();
    throw error;
  }
  return owned(k32, handle);
}

let pipeSerial = 0;

/**
 * Opens a connected pair of overlapped, byte-mode named-pipe ends, local
 * to this machine.
 *
 * @returns the pair; close it when done
 * @throws {Deno.errors.NotCapable} without `--allow-ffi`
 *
 * @example Bytes from one end to the other
 * ```ts
 * import { openCompletionPort, openNamedPipePair } from "@evented/io";
 * import { equal } from "node:assert/strict";
 *
 * if (Deno.build.os === "windows") {
 *   await using port = openCompletionPort();
 *   using pipe = openNamedPipePair();
 *   const buffer = new Uint8Array(8);
 *   const reading = port.read(pipe.server.handle, buffer);
 *   equal(await port.write(pipe.client.handle, new Uint8Array([1, 2, 3])), 3);
 *   equal(await reading, 3);
 * }
 * ```
 */
export function openNamedPipePair(): NamedPipePair {
  const k32 = acquireKernel32();
  const name =
    `\\\\.\\pipe\\evented-io-${k32.GetCurrentProcessId()}-${++pipeSerial}-${crypto.randomUUID()}`;
  const action = `Cannot open named pipe ${name}`;
  const server = k32.CreateNamedPipeW(
    wide(name),
    (PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE) >>> 0,
    PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
    1,
    65536,
    65536,
    0,
    null,
  );
  if (isInvalidHandle(server)) {
    const error = win32Error(action, k32.GetLastError());
    releaseKernel32();
    throw error;
  }
  const client = k32.CreateFileW(
    wide(name),
    (GENERIC_READ | GENERIC_WRITE) >>> 0,
    0,
    null,
    OPEN_EXISTING,
    FILE_FLAG_OVERLAPPED,
    null,
  );
  if (isInvalidHandle(client)) {
    const error = win32Error(action, k32.GetLastError());
    k32.CloseHandle(server);
    releaseKernel32();
    throw error;
  }
  acquireKernel32(); // one use per handle
  const serverEnd = owned(k32, server);
  const clientEnd = owned(k32, client);
  const close = () => {
    serverEnd.close();
    clientEnd.close();
  };
  return { server: serverEnd, client: clientEnd, name, close, [Symbol.dispose]: close };
}
