// Copyright 2026 the @evented/io authors. MIT license.
/**
 * errno and Win32 error → `Deno.errors` mapping, with `code` and `errno` on every error.
 *
 * It must not know which call failed beyond the action its caller names,
 * nor a Selector or a port.
 *
 * @module
 */

/**
 * Linux errno numbers (identical on x86_64 and aarch64) and their names:
 * every errno the man pages give for the calls this module makes (epoll,
 * poll, eventfd, pipe2, fcntl, the socket calls, read/write, pread/pwrite,
 * fstat, mmap, getrlimit/setrlimit, io_uring_setup/enter/register and what
 * a completion's `res` carries). The README's error table lists each one
 * with its class (tests/repo/errors_test.ts holds the two to each other).
 */
const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  4: "EINTR",
  5: "EIO",
  6: "ENXIO",
  7: "E2BIG",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  16: "EBUSY",
  17: "EEXIST",
  19: "ENODEV",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  25: "ENOTTY",
  27: "EFBIG",
  28: "ENOSPC",
  29: "ESPIPE",
  30: "EROFS",
  32: "EPIPE",
  36: "ENAMETOOLONG",
  38: "ENOSYS",
  40: "ELOOP",
  64: "ENONET",
  71: "EPROTO",
  75: "EOVERFLOW",
  77: "EBADFD",
  88: "ENOTSOCK",
  89: "EDESTADDRREQ",
  90: "EMSGSIZE",
  91: "EPROTOTYPE",
  92: "ENOPROTOOPT",
  93: "EPROTONOSUPPORT",
  95: "EOPNOTSUPP",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  100: "ENETDOWN",
  101: "ENETUNREACH",
  103: "ECONNABORTED",
  104: "ECONNRESET",
  105: "ENOBUFS",
  106: "EISCONN",
  107: "ENOTCONN",
  109: "ETOOMANYREFS",
  110: "ETIMEDOUT",
  111: "ECONNREFUSED",
  112: "EHOSTDOWN",
  113: "EHOSTUNREACH",
  114: "EALREADY",
  115: "EINPROGRESS",
  122: "EDQUOT",
  125: "ECANCELED",
};

type ErrorClass = new (message: string) => Error;

/**
 * The error class for each errno name, following Deno's own mapping, and
 * where Deno has none the Windows twin's class (ENOTSOCK as WSAENOTSOCK,
 * ECANCELED as ERROR_OPERATION_ABORTED) or the class whose meaning is the
 * errno's (EBADFD, an fd in a bad state). A name not here is a plain
 * `Error` with `code` and `errno`.
 */
const ERROR_CLASSES: Readonly<Record<string, ErrorClass>> = {
  EPERM: Deno.errors.PermissionDenied,
  EACCES: Deno.errors.PermissionDenied,
  ENOENT: Deno.errors.NotFound,
  EINTR: Deno.errors.Interrupted,
  ECANCELED: Deno.errors.Interrupted,
  EAGAIN: Deno.errors.WouldBlock,
  EBADF: Deno.errors.BadResource,
  EBADFD: Deno.errors.BadResource,
  ENOTSOCK: Deno.errors.BadResource,
  EBUSY: Deno.errors.Busy,
  EEXIST: Deno.errors.AlreadyExists,
  ENOTDIR: Deno.errors.NotADirectory,
  EISDIR: Deno.errors.IsADirectory,
  EINVAL: TypeError,
  EPIPE: Deno.errors.BrokenPipe,
  ELOOP: Deno.errors.FilesystemLoop,
  ENOSYS: Deno.errors.NotSupported,
  EOPNOTSUPP: Deno.errors.NotSupported,
  EAFNOSUPPORT: Deno.errors.NotSupported,
  EPROTONOSUPPORT: Deno.errors.NotSupported,
  EADDRINUSE: Deno.errors.AddrInUse,
  EADDRNOTAVAIL: Deno.errors.AddrNotAvailable,
  ENETUNREACH: Deno.errors.NetworkUnreachable,
  EHOSTUNREACH: Deno.errors.NetworkUnreachable,
  ECONNABORTED: Deno.errors.ConnectionAborted,
  ECONNRESET: Deno.errors.ConnectionReset,
  ENOTCONN: Deno.errors.NotConnected,
  ETIMEDOUT: Deno.errors.TimedOut,
  ECONNREFUSED: Deno.errors.ConnectionRefused,
};

/** An error raised from a failed system call. */
export interface OsError extends Error {
  /** The errno name, such as `"EBADF"`, or `"E<number>"` for an unnamed one. */
  code: string;
  /** The errno number. */
  errno: number;
}

/**
 * Returns the name of an errno value, such as `"EBADF"` for 9.
 *
 * @param errno the errno number
 * @returns its name, or `"E<number>"` when it has none here
 */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

/**
 * The errnos this module names (and the README's error table lists), for the tests.
 *
 * @returns their numbers
 */
export function namedErrnos(): number[] {
  return Object.keys(ERRNO_NAMES).map(Number);
}

/**
 * Builds the error for a failed system call: the `Deno.errors` class of the
 * errno (or `errorClass` where the call gives the errno a meaning of its
 * own), a message "<action>: <CODE> (os error <n>)", `code` and `errno`.
 *
 * @param action what failed, such as "Cannot register fd 7 with epoll"
 * @param errno the errno the call set
 * @param errorClass the class to use instead of the default mapping
 * @returns the error, to be thrown
 */
export function osError(
  action: string,
  errno: number,
  errorClass?: ErrorClass,
): OsError {
  const code = errnoName(errno);
  const Class = errorClass ?? ERROR_CLASSES[code] ?? Error;
  const error = new Class(`${action}: ${code} (os error ${errno})`) as OsError;
  error.code = code;
  error.errno = errno;
  return error;
}

/**
 * Win32 and Winsock error codes and their names: those the Windows calls
 * of this module meet (some only internally, such as ERROR_IO_PENDING),
 * each listed in the README's error table with its class.
 */
const WIN32_NAMES: Readonly<Record<number, string>> = {
  1: "ERROR_INVALID_FUNCTION",
  2: "ERROR_FILE_NOT_FOUND",
  3: "ERROR_PATH_NOT_FOUND",
  4: "ERROR_TOO_MANY_OPEN_FILES",
  5: "ERROR_ACCESS_DENIED",
  6: "ERROR_INVALID_HANDLE",
  8: "ERROR_NOT_ENOUGH_MEMORY",
  38: "ERROR_HANDLE_EOF",
  50: "ERROR_NOT_SUPPORTED",
  64: "ERROR_NETNAME_DELETED",
  80: "ERROR_FILE_EXISTS",
  87: "ERROR_INVALID_PARAMETER",
  109: "ERROR_BROKEN_PIPE",
  121: "ERROR_SEM_TIMEOUT",
  122: "ERROR_INSUFFICIENT_BUFFER",
  183: "ERROR_ALREADY_EXISTS",
  231: "ERROR_PIPE_BUSY",
  232: "ERROR_NO_DATA",
  233: "ERROR_PIPE_NOT_CONNECTED",
  234: "ERROR_MORE_DATA",
  258: "WAIT_TIMEOUT",
  535: "ERROR_PIPE_CONNECTED",
  735: "ERROR_ABANDONED_WAIT_0",
  995: "ERROR_OPERATION_ABORTED",
  996: "ERROR_IO_INCOMPLETE",
  997: "ERROR_IO_PENDING",
  998: "ERROR_NOACCESS",
  1168: "ERROR_NOT_FOUND",
  1225: "ERROR_CONNECTION_REFUSED",
  1226: "ERROR_GRACEFUL_DISCONNECT",
  1227: "ERROR_ADDRESS_ALREADY_ASSOCIATED",
  1229: "ERROR_CONNECTION_INVALID",
  1230: "ERROR_CONNECTION_ACTIVE",
  1231: "ERROR_NETWORK_UNREACHABLE",
  1232: "ERROR_HOST_UNREACHABLE",
  1234: "ERROR_PORT_UNREACHABLE",
  1236: "ERROR_CONNECTION_ABORTED",
  1784: "ERROR_INVALID_USER_BUFFER",
  10004: "WSAEINTR",
  10009: "WSAEBADF",
  10013: "WSAEACCES",
  10014: "WSAEFAULT",
  10022: "WSAEINVAL",
  10024: "WSAEMFILE",
  10035: "WSAEWOULDBLOCK",
  10036: "WSAEINPROGRESS",
  10037: "WSAEALREADY",
  10038: "WSAENOTSOCK",
  10039: "WSAEDESTADDRREQ",
  10040: "WSAEMSGSIZE",
  10041: "WSAEPROTOTYPE",
  10042: "WSAENOPROTOOPT",
  10043: "WSAEPROTONOSUPPORT",
  10044: "WSAESOCKTNOSUPPORT",
  10045: "WSAEOPNOTSUPP",
  10047: "WSAEAFNOSUPPORT",
  10048: "WSAEADDRINUSE",
  10049: "WSAEADDRNOTAVAIL",
  10050: "WSAENETDOWN",
  10051: "WSAENETUNREACH",
  10053: "WSAECONNABORTED",
  10054: "WSAECONNRESET",
  10055: "WSAENOBUFS",
  10056: "WSAEISCONN",
  10057: "WSAENOTCONN",
  10058: "WSAESHUTDOWN",
  10060: "WSAETIMEDOUT",
  10061: "WSAECONNREFUSED",
  10065: "WSAEHOSTUNREACH",
  10091: "WSASYSNOTREADY",
  10092: "WSAVERNOTSUPPORTED",
  10093: "WSANOTINITIALISED",
  10101: "WSAEDISCON",
};

/** The error class for each Win32/Winsock name, following Deno's own mapping. */
const WIN32_CLASSES: Readonly<Record<string, ErrorClass>> = {
  ERROR_FILE_NOT_FOUND: Deno.errors.NotFound,
  ERROR_PATH_NOT_FOUND: Deno.errors.NotFound,
  ERROR_NOT_FOUND: Deno.errors.NotFound,
  ERROR_ACCESS_DENIED: Deno.errors.PermissionDenied,
  WSAEACCES: Deno.errors.PermissionDenied,
  ERROR_INVALID_HANDLE: Deno.errors.BadResource,
  WSAEBADF: Deno.errors.BadResource,
  WSAENOTSOCK: Deno.errors.BadResource,
  ERROR_HANDLE_EOF: Deno.errors.UnexpectedEof,
  ERROR_NOT_SUPPORTED: Deno.errors.NotSupported,
  WSAEOPNOTSUPP: Deno.errors.NotSupported,
  WSAEPROTONOSUPPORT: Deno.errors.NotSupported,
  WSAEAFNOSUPPORT: Deno.errors.NotSupported,
  ERROR_NETNAME_DELETED: Deno.errors.ConnectionReset,
  WSAECONNRESET: Deno.errors.ConnectionReset,
  ERROR_FILE_EXISTS: Deno.errors.AlreadyExists,
  ERROR_ALREADY_EXISTS: Deno.errors.AlreadyExists,
  ERROR_INVALID_PARAMETER: TypeError,
  WSAEINVAL: TypeError,
  ERROR_BROKEN_PIPE: Deno.errors.BrokenPipe,
  ERROR_NO_DATA: Deno.errors.BrokenPipe,
  WSAESHUTDOWN: Deno.errors.BrokenPipe,
  ERROR_PIPE_NOT_CONNECTED: Deno.errors.NotConnected,
  WSAENOTCONN: Deno.errors.NotConnected,
  ERROR_PIPE_BUSY: Deno.errors.Busy,
  ERROR_SEM_TIMEOUT: Deno.errors.TimedOut,
  WAIT_TIMEOUT: Deno.errors.TimedOut,
  WSAETIMEDOUT: Deno.errors.TimedOut,
  ERROR_OPERATION_ABORTED: Deno.errors.Interrupted,
  WSAEINTR: Deno.errors.Interrupted,
  ERROR_CONNECTION_REFUSED: Deno.errors.ConnectionRefused,
  WSAECONNREFUSED: Deno.errors.ConnectionRefused,
  ERROR_CONNECTION_ABORTED: Deno.errors.ConnectionAborted,
  WSAECONNABORTED: Deno.errors.ConnectionAborted,
  ERROR_NETWORK_UNREACHABLE: Deno.errors.NetworkUnreachable,
  ERROR_HOST_UNREACHABLE: Deno.errors.NetworkUnreachable,
  WSAENETUNREACH: Deno.errors.NetworkUnreachable,
  WSAEHOSTUNREACH: Deno.errors.NetworkUnreachable,
  WSAEADDRINUSE: Deno.errors.AddrInUse,
  ERROR_ADDRESS_ALREADY_ASSOCIATED: Deno.errors.AddrInUse,
  WSAEADDRNOTAVAIL: Deno.errors.AddrNotAvailable,
  WSAEWOULDBLOCK: Deno.errors.WouldBlock,
};

/**
 * Returns the name of a Win32 or Winsock error code, such as
 * `"ERROR_INVALID_HANDLE"` for 6.
 *
 * @param code the error code
 * @returns its name, or `"ERROR_<number>"` when it has none here
 */
export function win32ErrorName(code: number): string {
  return WIN32_NAMES[code] ?? `ERROR_${code}`;
}

/**
 * The Win32 and Winsock codes this module names (and the README's error table lists), for the
 * tests.
 *
 * @returns their numbers
 */
export function namedWin32Errors(): number[] {
  return Object.keys(WIN32_NAMES).map(Number);
}

/**
 * Builds the error for a failed Win32 or Winsock call: the `Deno.errors`
 * class of the code (or `errorClass`), a message "<action>: <NAME> (os
 * error <n>)", `code` (the name) and `errno` (the number).
 *
 * @param action what failed, such as "Cannot read from handle 0x1c"
 * @param code the error GetLastError (or WSAGetLastError, or a converted NTSTATUS) gave
 * @param errorClass the class to use instead of the default mapping
 * @returns the error, to be thrown
 */
export function win32Error(action: string, code: number, errorClass?: ErrorClass): OsError {
  const name = win32ErrorName(code);
  const Class = errorClass ?? WIN32_CLASSES[name] ?? Error;
  const error = new Class(`${action}: ${name} (os error ${code})`) as OsError;
  error.code = name;
  error.errno = code;
  return error;
}
