// Copyright 2026 the @evented/io authors. MIT license.
/**
 * errno → `Deno.errors` mapping, with `code` and `errno` on every error.
 *
 * @module
 */

/** Linux errno numbers (identical on x86_64 and aarch64) and their names. */
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
  110: "ETIMEDOUT",
  111: "ECONNREFUSED",
  113: "EHOSTUNREACH",
  114: "EALREADY",
  115: "EINPROGRESS",
};

type ErrorClass = new (message: string) => Error;

/** The error class for each errno name, following Deno's own mapping. */
const ERROR_CLASSES: Readonly<Record<string, ErrorClass>> = {
  EPERM: Deno.errors.PermissionDenied,
  EACCES: Deno.errors.PermissionDenied,
  ENOENT: Deno.errors.NotFound,
  EINTR: Deno.errors.Interrupted,
  EAGAIN: Deno.errors.WouldBlock,
  EBADF: Deno.errors.BadResource,
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
