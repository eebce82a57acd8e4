// Copyright 2026 the @evented/io authors. MIT license.
// deno-lint-ignore-file camelcase
/**
 * The one symbol table for `kernel32.dll`, the layouts of OVERLAPPED and
 * OVERLAPPED_ENTRY (x64), and Win32 constants.
 *
 * Nothing here knows what a CompletionPort is; backends import from here.
 *
 * @module
 */

import { sharedLibrary } from "./_library.ts";

/** kernel32 symbols used by the IOCP backend and the Windows handle helpers. */
export const KERNEL32_SYMBOLS = {
  /** HANDLE CreateIoCompletionPort(HANDLE FileHandle, HANDLE ExistingCompletionPort, ULONG_PTR CompletionKey, DWORD NumberOfConcurrentThreads); */
  CreateIoCompletionPort: { parameters: ["pointer", "pointer", "usize", "u32"], result: "pointer" },
  /** BOOL PostQueuedCompletionStatus(HANDLE CompletionPort, DWORD dwNumberOfBytesTransferred, ULONG_PTR dwCompletionKey, LPOVERLAPPED lpOverlapped); */
  PostQueuedCompletionStatus: { parameters: ["pointer", "u32", "usize", "pointer"], result: "i32" },
  /** BOOL GetQueuedCompletionStatusEx(HANDLE CompletionPort, LPOVERLAPPED_ENTRY lpCompletionPortEntries, ULONG ulCount, PULONG ulNumEntriesRemoved, DWORD dwMilliseconds, BOOL fAlertable); */
  GetQueuedCompletionStatusEx: {
    parameters: ["pointer", "buffer", "u32", "buffer", "u32", "i32"],
    result: "i32",
  },
  /**
   * The same, on a worker thread, where GetLastError cannot be read
   * afterwards: used only to park until packets arrive.
   */
  GetQueuedCompletionStatusEx_parked: {
    name: "GetQueuedCompletionStatusEx",
    parameters: ["pointer", "pointer", "u32", "pointer", "u32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  /** BOOL CloseHandle(HANDLE hObject); */
  CloseHandle: { parameters: ["pointer"], result: "i32" },
  /** BOOL CancelIoEx(HANDLE hFile, LPOVERLAPPED lpOverlapped); */
  CancelIoEx: { parameters: ["pointer", "pointer"], result: "i32" },
  /** BOOL ReadFile(HANDLE hFile, LPVOID lpBuffer, DWORD nNumberOfBytesToRead, LPDWORD lpNumberOfBytesRead, LPOVERLAPPED lpOverlapped); */
  ReadFile: { parameters: ["pointer", "pointer", "u32", "pointer", "pointer"], result: "i32" },
  /** BOOL WriteFile(HANDLE hFile, LPCVOID lpBuffer, DWORD nNumberOfBytesToWrite, LPDWORD lpNumberOfBytesWritten, LPOVERLAPPED lpOverlapped); */
  WriteFile: { parameters: ["pointer", "pointer", "u32", "pointer", "pointer"], result: "i32" },
  /** DWORD GetLastError(void); */
  GetLastError: { parameters: [], result: "u32" },
  /** DWORD GetFileType(HANDLE hFile); */
  GetFileType: { parameters: ["pointer"], result: "u32" },
  /** HANDLE CreateFileW(LPCWSTR lpFileName, DWORD dwDesiredAccess, DWORD dwShareMode, LPSECURITY_ATTRIBUTES lpSecurityAttributes, DWORD dwCreationDisposition, DWORD dwFlagsAndAttributes, HANDLE hTemplateFile); */
  CreateFileW: {
    parameters: ["buffer", "u32", "u32", "pointer", "u32", "u32", "pointer"],
    result: "pointer",
  },
  /** HANDLE CreateNamedPipeW(LPCWSTR lpName, DWORD dwOpenMode, DWORD dwPipeMode, DWORD nMaxInstances, DWORD nOutBufferSize, DWORD nInBufferSize, DWORD nDefaultTimeOut, LPSECURITY_ATTRIBUTES lpSecurityAttributes); */
  CreateNamedPipeW: {
    parameters: ["buffer", "u32", "u32", "u32", "u32", "u32", "u32", "pointer"],
    result: "pointer",
  },
  /** BOOL ConnectNamedPipe(HANDLE hNamedPipe, LPOVERLAPPED lpOverlapped); */
  ConnectNamedPipe: { parameters: ["pointer", "pointer"], result: "i32" },
  /** BOOL SetFileCompletionNotificationModes(HANDLE FileHandle, UCHAR Flags); */
  SetFileCompletionNotificationModes: { parameters: ["pointer", "u8"], result: "i32" },
  /** BOOL GetHandleInformation(HANDLE hObject, LPDWORD lpdwFlags); */
  GetHandleInformation: { parameters: ["pointer", "buffer"], result: "i32" },
  /** BOOL SetHandleInformation(HANDLE hObject, DWORD dwMask, DWORD dwFlags); */
  SetHandleInformation: { parameters: ["pointer", "u32", "u32"], result: "i32" },
  /** BOOL DuplicateHandle(HANDLE hSourceProcessHandle, HANDLE hSourceHandle, HANDLE hTargetProcessHandle, LPHANDLE lpTargetHandle, DWORD dwDesiredAccess, BOOL bInheritHandle, DWORD dwOptions); */
  DuplicateHandle: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "u32", "i32", "u32"],
    result: "i32",
  },
  /** DWORD GetCurrentProcessId(void); */
  GetCurrentProcessId: { parameters: [], result: "u32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound kernel32 symbols. */
export type Kernel32 = Deno.DynamicLibrary<typeof KERNEL32_SYMBOLS>["symbols"];

const kernel32 = sharedLibrary("kernel32.dll", KERNEL32_SYMBOLS);

/**
 * Opens kernel32 for one more user.
 *
 * @returns the bound symbols
 */
export function acquireKernel32(): Kernel32 {
  return kernel32.acquire();
}

/** Closes kernel32 when its last user is gone. */
export function releaseKernel32(): void {
  kernel32.release();
}

/** sizeof(OVERLAPPED) on x64. */
/**
 * The most bytes one Win32 or Winsock call moves here: the counts are a
 * DWORD (ReadFile, WriteFile) or an int (recv, send, WSABUF's length in
 * practice), kept to the signed range for both.
 */
export const MAX_WIN32_IO = 0x7fffffff;
export const OVERLAPPED_SIZE = 32;
/** offsetof(OVERLAPPED, Internal): the NTSTATUS of the operation. */
export const OVERLAPPED_INTERNAL_OFFSET = 0;
/** offsetof(OVERLAPPED, Offset) and OffsetHigh, the file position. */
export const OVERLAPPED_OFFSET_OFFSET = 16;
export const OVERLAPPED_OFFSET_HIGH_OFFSET = 20;
/** sizeof(OVERLAPPED_ENTRY) on x64. */
export const OVERLAPPED_ENTRY_SIZE = 32;
/** offsetof(OVERLAPPED_ENTRY, lpCompletionKey). */
export const OVERLAPPED_ENTRY_KEY_OFFSET = 0;
/** offsetof(OVERLAPPED_ENTRY, lpOverlapped). */
export const OVERLAPPED_ENTRY_OVERLAPPED_OFFSET = 8;
/** offsetof(OVERLAPPED_ENTRY, Internal): the NTSTATUS of the operation. */
export const OVERLAPPED_ENTRY_STATUS_OFFSET = 16;
/** offsetof(OVERLAPPED_ENTRY, dwNumberOfBytesTransferred). */
export const OVERLAPPED_ENTRY_BYTES_OFFSET = 24;

/** (HANDLE)-1, as the address CreateFileW and friends return on failure. */
export const INVALID_HANDLE_ADDRESS = 0xffffffffffffffffn;
export const INFINITE = 0xffffffff;
export const FILE_TYPE_DISK = 1;
export const FILE_TYPE_CHAR = 2;
export const FILE_TYPE_PIPE = 3;
export const GENERIC_READ = 0x80000000;
export const GENERIC_WRITE = 0x40000000;
export const FILE_SHARE_READ = 1;
export const FILE_SHARE_WRITE = 2;
export const FILE_SHARE_DELETE = 4;
export const CREATE_NEW = 1;
export const CREATE_ALWAYS = 2;
export const OPEN_EXISTING = 3;
export const OPEN_ALWAYS = 4;
export const TRUNCATE_EXISTING = 5;
export const FILE_ATTRIBUTE_NORMAL = 0x80;
export const FILE_FLAG_OVERLAPPED = 0x40000000;
export const FILE_FLAG_FIRST_PIPE_INSTANCE = 0x00080000;
export const PIPE_ACCESS_DUPLEX = 3;
export const PIPE_TYPE_BYTE = 0;
export const PIPE_READMODE_BYTE = 0;
export const PIPE_WAIT = 0;
export const PIPE_REJECT_REMOTE_CLIENTS = 8;

/** SetFileCompletionNotificationModes: do not set the handle's event when an operation completes. */
export const FILE_SKIP_SET_EVENT_ON_HANDLE = 2;
/** GetCurrentProcess()'s pseudo handle, (HANDLE)-1: this process. */
export const CURRENT_PROCESS_ADDRESS = 0xffffffffffffffffn;
/** DuplicateHandle: the copy has the access of the original. */
export const DUPLICATE_SAME_ACCESS = 2;
/** GetHandleInformation/SetHandleInformation: child processes inherit the handle. */
export const HANDLE_FLAG_INHERIT = 1;

/** Win32 error codes the backend tells apart. */
export const ERROR_INVALID_HANDLE = 6;
export const ERROR_HANDLE_EOF = 38;
export const ERROR_INVALID_PARAMETER = 87;
export const ERROR_BROKEN_PIPE = 109;
export const WAIT_TIMEOUT = 258;
export const ERROR_PIPE_CONNECTED = 535;
export const ERROR_ABANDONED_WAIT_0 = 735;
export const ERROR_OPERATION_ABORTED = 995;
export const ERROR_IO_PENDING = 997;
export const ERROR_NOT_FOUND = 1168;

/**
 * Encodes a string as a NUL-terminated UTF-16LE buffer (LPCWSTR).
 *
 * @param text the string
 * @returns its wide form
 */
export function wide(text: string): Uint8Array {
  const units = new Uint16Array(text.length + 1);
  for (let i = 0; i < text.length; i++) units[i] = text.charCodeAt(i);
  return new Uint8Array(units.buffer);
}
