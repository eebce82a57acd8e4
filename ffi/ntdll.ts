// Copyright 2026 the @evented/io authors. MIT license.
// deno-lint-ignore-file camelcase
/**
 * The one symbol table for `ntdll.dll`: what turns the NTSTATUS of a
 * completed operation into a Win32 error, and the native calls that reach
 * the Ancillary Function Driver (`\Device\Afd`, Winsock's kernel side)
 * directly, with the layouts (x64) and constants of its poll request.
 *
 * Nothing here knows what a Selector is; backends import from here.
 *
 * @module
 */

import { sharedLibrary } from "./_library.ts";

/** ntdll symbols. */
export const NTDLL_SYMBOLS = {
  /** ULONG RtlNtStatusToDosError(NTSTATUS Status); */
  RtlNtStatusToDosError: { parameters: ["i32"], result: "u32" },
  /**
   * NTSTATUS NtCreateFile(PHANDLE FileHandle, ACCESS_MASK DesiredAccess,
   *   POBJECT_ATTRIBUTES ObjectAttributes, PIO_STATUS_BLOCK IoStatusBlock,
   *   PLARGE_INTEGER AllocationSize, ULONG FileAttributes, ULONG ShareAccess,
   *   ULONG CreateDisposition, ULONG CreateOptions, PVOID EaBuffer, ULONG EaLength);
   */
  NtCreateFile: {
    parameters: [
      "buffer",
      "u32",
      "buffer",
      "buffer",
      "pointer",
      "u32",
      "u32",
      "u32",
      "u32",
      "pointer",
      "u32",
    ],
    result: "i32",
  },
  /**
   * NTSTATUS NtDeviceIoControlFile(HANDLE FileHandle, HANDLE Event,
   *   PIO_APC_ROUTINE ApcRoutine, PVOID ApcContext, PIO_STATUS_BLOCK IoStatusBlock,
   *   ULONG IoControlCode, PVOID InputBuffer, ULONG InputBufferLength,
   *   PVOID OutputBuffer, ULONG OutputBufferLength);
   *
   * ApcContext is declared a buffer: on a handle associated with a
   * completion port it is what the packet carries as its lpOverlapped, and
   * the AFD backend passes the request's own buffer there.
   */
  NtDeviceIoControlFile: {
    parameters: [
      "pointer",
      "pointer",
      "pointer",
      "buffer",
      "buffer",
      "u32",
      "buffer",
      "u32",
      "buffer",
      "u32",
    ],
    result: "i32",
  },
  /**
   * NTSTATUS NtCancelIoFileEx(HANDLE FileHandle, PIO_STATUS_BLOCK IoRequestToCancel,
   *   PIO_STATUS_BLOCK IoStatusBlock);
   */
  NtCancelIoFileEx: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound ntdll symbols. */
export type Ntdll = Deno.DynamicLibrary<typeof NTDLL_SYMBOLS>["symbols"];

const ntdll = sharedLibrary("ntdll.dll", NTDLL_SYMBOLS);

/**
 * Opens ntdll for one more user.
 *
 * @returns the bound symbols
 */
export function acquireNtdll(): Ntdll {
  return ntdll.acquire();
}

/** Closes ntdll when its last user is gone. */
export function releaseNtdll(): void {
  ntdll.release();
}

/** NTSTATUS values (as the signed 32-bit numbers the calls return). */
export const STATUS_SUCCESS = 0;
export const STATUS_PENDING = 0x103;
export const STATUS_INVALID_HANDLE = 0xc0000008 | 0;
export const STATUS_OBJECT_TYPE_MISMATCH = 0xc0000024 | 0;
export const STATUS_CANCELLED = 0xc0000120 | 0;
export const STATUS_NOT_FOUND = 0xc0000225 | 0;

/** sizeof(IO_STATUS_BLOCK) on x64: `NTSTATUS Status` (in a pointer-sized union), `ULONG_PTR Information`. */
export const IO_STATUS_BLOCK_SIZE = 16;

/**
 * sizeof(UNICODE_STRING) on x64: `USHORT Length` (bytes, without a NUL),
 * `USHORT MaximumLength`, then `PWSTR Buffer` at 8.
 */
export const UNICODE_STRING_SIZE = 16;
export const UNICODE_STRING_LENGTH_OFFSET = 0;
export const UNICODE_STRING_MAXIMUM_LENGTH_OFFSET = 2;
export const UNICODE_STRING_BUFFER_OFFSET = 8;

/**
 * sizeof(OBJECT_ATTRIBUTES) on x64: `ULONG Length` at 0, `HANDLE
 * RootDirectory` at 8, `PUNICODE_STRING ObjectName` at 16, `ULONG
 * Attributes` at 24, then two security pointers at 32 and 40.
 */
export const OBJECT_ATTRIBUTES_SIZE = 48;
export const OBJECT_ATTRIBUTES_LENGTH_OFFSET = 0;
export const OBJECT_ATTRIBUTES_OBJECT_NAME_OFFSET = 16;

/** ACCESS_MASK SYNCHRONIZE: enough to issue IOCTLs on a device. */
export const SYNCHRONIZE = 0x00100000;
/** NtCreateFile's CreateDisposition FILE_OPEN: open what exists. */
export const FILE_OPEN = 1;
/** ShareAccess FILE_SHARE_READ | FILE_SHARE_WRITE. */
export const FILE_SHARE_READ_WRITE = 3;

/**
 * The device a helper handle of the AFD backend opens: `\Device\Afd`
 * itself; what follows its last backslash only names the opener (as
 * `\Device\Afd\Mio` and `\Device\Afd\Wepoll` do).
 */
export const AFD_DEVICE_NAME = "\\Device\\Afd\\Evented";

/** IOCTL_AFD_POLL: FSCTL_AFD_BASE (0x12) << 12 | AFD_POLL (9) << 2 | METHOD_BUFFERED. */
export const IOCTL_AFD_POLL = 0x12024;

/**
 * sizeof(AFD_POLL_INFO) with one handle, on x64: `LARGE_INTEGER Timeout`
 * at 0, `ULONG NumberOfHandles` at 8, `ULONG Exclusive` at 12, then one
 * AFD_POLL_HANDLE_INFO: `HANDLE Handle` at 16, `ULONG Events` at 24,
 * `NTSTATUS Status` at 28.
 */
export const AFD_POLL_INFO_SIZE = 32;
export const AFD_POLL_INFO_TIMEOUT_OFFSET = 0;
export const AFD_POLL_INFO_NUMBER_OF_HANDLES_OFFSET = 8;
export const AFD_POLL_INFO_EXCLUSIVE_OFFSET = 12;
export const AFD_POLL_INFO_HANDLE_OFFSET = 16;
export const AFD_POLL_INFO_EVENTS_OFFSET = 24;
export const AFD_POLL_INFO_STATUS_OFFSET = 28;
/** The Timeout of a poll that waits until an event or a cancel (INT64_MAX: never). */
export const AFD_POLL_NO_TIMEOUT = 0x7fffffffffffffffn;

/** The events of an AFD poll: asked for in Events, reported in the same field. */
export const AFD_POLL_RECEIVE = 0x0001;
export const AFD_POLL_RECEIVE_EXPEDITED = 0x0002;
export const AFD_POLL_SEND = 0x0004;
/** The peer shut its sending side down (a FIN). */
export const AFD_POLL_DISCONNECT = 0x0008;
/** The connection was reset or aborted. */
export const AFD_POLL_ABORT = 0x0010;
/** The socket was closed (by this process); the poll ends. */
export const AFD_POLL_LOCAL_CLOSE = 0x0020;
export const AFD_POLL_CONNECT = 0x0040;
export const AFD_POLL_ACCEPT = 0x0080;
export const AFD_POLL_CONNECT_FAIL = 0x0100;
