// Copyright 2026 the @evented/io authors. MIT license.
// deno-lint-ignore-file camelcase
/**
 * The one symbol table for the C library (`libc.so.6`), its struct layouts
 * and constants, and its reference-counted opening.
 *
 * Nothing here knows what a Selector is; backends import from here.
 *
 * @module
 */

/**
 * libc symbols used by the epoll and poll backends and the fd helpers.
 *
 * `read` and `write` return `ssize_t`; they are declared `i32` because Linux
 * never transfers more than `INT_MAX & PAGE_MASK` bytes in one call, so the
 * low 32 bits of the return register are the whole value (-1 included) on
 * x86_64 and aarch64, and an `i32` result needs no BigInt per call.
 */
export const LIBC_SYMBOLS = {
  /** int epoll_create1(int flags); */
  epoll_create1: { parameters: ["i32"], result: "i32" },
  /** int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event); */
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  /** int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout); */
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  /** int poll(struct pollfd *fds, nfds_t nfds, int timeout); */
  poll: { parameters: ["buffer", "usize", "i32"], result: "i32" },
  /**
   * int poll(struct pollfd *fds, nfds_t nfds, int timeout); on a worker
   * thread, where errno cannot be read afterwards: used only to park.
   */
  poll_parked: {
    name: "poll",
    parameters: ["pointer", "usize", "i32"],
    result: "i32",
    nonblocking: true,
  },
  /** int close(int fd); */
  close: { parameters: ["i32"], result: "i32" },
  /** ssize_t read(int fd, void *buf, size_t count); (see above for i32) */
  read: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  /** ssize_t write(int fd, const void *buf, size_t count); (see above for i32) */
  write: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  /** int pipe2(int pipefd[2], int flags); */
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  /** int socketpair(int domain, int type, int protocol, int sv[2]); */
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  /** int shutdown(int sockfd, int how); */
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  /** int eventfd(unsigned int initval, int flags); */
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  /** int fcntl(int fd, int cmd, ... ); called with two arguments only */
  fcntl: { parameters: ["i32", "i32"], result: "i32" },
  /** int dup(int oldfd); */
  dup: { parameters: ["i32"], result: "i32" },
  /** int *__errno_location(void); the calling thread's errno */
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

import { sharedLibrary } from "./_library.ts";

/** The bound libc symbols. */
export type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

const libc = sharedLibrary("libc.so.6", LIBC_SYMBOLS);
let errnoView: Deno.UnsafePointerView | undefined;

/**
 * Opens libc for one more user; importing the module needs no permission.
 *
 * @returns the bound symbols
 */
export function acquireLibc(): Libc {
  return libc.acquire();
}

/** Closes libc when its last user is gone (test sanitizers count an open library as a leak). */
export function releaseLibc(): void {
  if (libc.release()) errnoView = undefined;
}

/**
 * Reads errno of the calling (JavaScript) thread. Call it right after the
 * synchronous call that failed, before any other call into native code.
 *
 * @returns the current errno
 */
export function errno(): number {
  errnoView ??= new Deno.UnsafePointerView(libc.symbols().__errno_location()!);
  return errnoView.getInt32(0);
}

/** `struct epoll_event` is packed on x86_64 only. */
const PACKED_EPOLL_EVENT = Deno.build.arch === "x86_64";
/** sizeof(struct epoll_event): 12 on x86_64 (packed), 16 on aarch64. */
export const EPOLL_EVENT_SIZE = PACKED_EPOLL_EVENT ? 12 : 16;
/** offsetof(struct epoll_event, data): 4 on x86_64, 8 on aarch64. */
export const EPOLL_EVENT_DATA_OFFSET = PACKED_EPOLL_EVENT ? 4 : 8;
/** sizeof(struct pollfd): int fd; short events; short revents. */
export const POLLFD_SIZE = 8;
/** offsetof(struct pollfd, events) */
export const POLLFD_EVENTS_OFFSET = 4;
/** offsetof(struct pollfd, revents) */
export const POLLFD_REVENTS_OFFSET = 6;

/** The largest timeout, in milliseconds, that `int timeout` can carry. */
export const MAX_TIMEOUT_MS = 0x7fffffff;

export const EPOLL_CLOEXEC = 0o2000000;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;
export const EPOLLIN = 0x001;
export const EPOLLPRI = 0x002;
export const EPOLLOUT = 0x004;
export const EPOLLERR = 0x008;
export const EPOLLHUP = 0x010;
export const EPOLLRDHUP = 0x2000;
export const EPOLLEXCLUSIVE = 1 << 28;
export const EPOLLONESHOT = 1 << 30;
/** 0x80000000: pass it as an unsigned 32-bit value. */
export const EPOLLET = (1 << 31) >>> 0;

export const POLLIN = 0x001;
export const POLLPRI = 0x002;
export const POLLOUT = 0x004;
export const POLLERR = 0x008;
export const POLLHUP = 0x010;
export const POLLNVAL = 0x020;
export const POLLRDHUP = 0x2000;

export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const EFD_SEMAPHORE = 1;
export const EFD_NONBLOCK = O_NONBLOCK;
export const EFD_CLOEXEC = O_CLOEXEC;
export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = O_NONBLOCK;
export const SOCK_CLOEXEC = O_CLOEXEC;
export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;
export const F_GETFD = 1;

export const EINTR = 4;
export const EBADF = 9;
export const EAGAIN = 11;
export const EPERM = 1;
export const ENOENT = 2;
