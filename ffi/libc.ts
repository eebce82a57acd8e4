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
 * libc symbols used by the epoll and poll backends, the fd helpers and the
 * sockets.
 *
 * `read`, `write`, `recv`, `send`, `recvfrom` and `sendto` return `ssize_t`;
 * they are declared `i32` because Linux never transfers more than
 * `INT_MAX & PAGE_MASK` bytes in one call, so the low 32 bits of the return
 * register are the whole value (-1 included) on x86_64 and aarch64, and an
 * `i32` result needs no BigInt per call. Their `size_t` count is a `usize`,
 * which the fast call path takes as a BigInt only (a number is several times
 * slower): pass {@linkcode ioSize}. `socklen_t` is an unsigned 32-bit int.
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
  /** int fcntl(int fd, int cmd, int arg); the three-argument form (F_DUPFD_CLOEXEC, F_SETFL, F_SETFD) */
  fcntl_arg: { name: "fcntl", parameters: ["i32", "i32", "i32"], result: "i32" },
  /** ssize_t readlink(const char *pathname, char *buf, size_t bufsiz); (see above for i32) */
  readlink: { parameters: ["buffer", "buffer", "usize"], result: "i32" },
  /** int dup(int oldfd); */
  dup: { parameters: ["i32"], result: "i32" },
  /** int socket(int domain, int type, int protocol); */
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  /** int bind(int sockfd, const struct sockaddr *addr, socklen_t addrlen); */
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  /** int listen(int sockfd, int backlog); */
  listen: { parameters: ["i32", "i32"], result: "i32" },
  /** int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags); */
  accept4: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  /** int connect(int sockfd, const struct sockaddr *addr, socklen_t addrlen); */
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  /** int getsockopt(int sockfd, int level, int optname, void *optval, socklen_t *optlen); */
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  /** int setsockopt(int sockfd, int level, int optname, const void *optval, socklen_t optlen); */
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  /** int getsockname(int sockfd, struct sockaddr *addr, socklen_t *addrlen); */
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  /** int getpeername(int sockfd, struct sockaddr *addr, socklen_t *addrlen); */
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  /** ssize_t sendmsg(int sockfd, const struct msghdr *msg, int flags); (see above for i32) */
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  /** ssize_t recvmsg(int sockfd, struct msghdr *msg, int flags); (see above for i32) */
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  /** int lstat(const char *pathname, struct stat *statbuf); */
  lstat: { parameters: ["buffer", "buffer"], result: "i32" },
  /** int unlink(const char *pathname); */
  unlink: { parameters: ["buffer"], result: "i32" },
  /** char *getcwd(char *buf, size_t size); NULL on failure */
  getcwd: { parameters: ["buffer", "usize"], result: "pointer" },
  /** ssize_t recv(int sockfd, void *buf, size_t len, int flags); (see above for i32) */
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  /** ssize_t send(int sockfd, const void *buf, size_t len, int flags); (see above for i32) */
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  /**
   * ssize_t recvfrom(int sockfd, void *buf, size_t len, int flags,
   *                  struct sockaddr *src_addr, socklen_t *addrlen); (see above for i32)
   */
  recvfrom: {
    parameters: ["i32", "buffer", "usize", "i32", "buffer", "buffer"],
    result: "i32",
  },
  /**
   * ssize_t sendto(int sockfd, const void *buf, size_t len, int flags,
   *                const struct sockaddr *dest_addr, socklen_t addrlen); (see above for i32)
   */
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "i32" },
  /** int getrlimit(int resource, struct rlimit *rlim); */
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  /** int setrlimit(int resource, const struct rlimit *rlim); */
  setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  /**
   * long syscall(SYS_io_uring_setup, u32 entries, struct io_uring_params *p);
   * the first argument is the syscall number as a bigint
   */
  io_uring_setup: { name: "syscall", parameters: ["i64", "u32", "buffer"], result: "i32" },
  /**
   * long syscall(SYS_io_uring_enter, unsigned int fd, u32 to_submit,
   *              u32 min_complete, u32 flags, const void *argp, size_t argsz);
   */
  io_uring_enter: {
    name: "syscall",
    parameters: ["i64", "u32", "u32", "u32", "u32", "pointer", "usize"],
    result: "i32",
  },
  /**
   * long syscall(SYS_io_uring_register, unsigned int fd, unsigned int opcode,
   *              void *arg, unsigned int nr_args);
   */
  io_uring_register: {
    name: "syscall",
    parameters: ["i64", "u32", "u32", "buffer", "u32"],
    result: "i32",
  },
  /** void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset); */
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  /** int munmap(void *addr, size_t length); */
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  /** ssize_t pread(int fd, void *buf, size_t count, off_t offset); (see above for i32) */
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "i32" },
  /** ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset); (see above for i32) */
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "i32" },
  /** int fstat(int fd, struct stat *statbuf); */
  fstat: { parameters: ["i32", "buffer"], result: "i32" },
  /**
   * ssize_t pread(int fd, void *buf, size_t count, off_t offset); on a worker
   * thread (a large file read off the event loop): errno cannot be read
   * afterwards, so a failure is redone synchronously to learn it
   */
  pread_offloaded: {
    name: "pread",
    parameters: ["i32", "buffer", "usize", "i64"],
    result: "i32",
    nonblocking: true,
  },
  /** ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset); as pread_offloaded */
  pwrite_offloaded: {
    name: "pwrite",
    parameters: ["i32", "buffer", "usize", "i64"],
    result: "i32",
    nonblocking: true,
  },
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

/**
 * The most bytes one read or write is asked to move: INT_MAX & PAGE_MASK with
 * 4 KiB pages, which Linux moves at most anyway. A kernel with 64 KiB pages
 * (some aarch64 distributions) moves at most 0x7fff0000: a shorter transfer,
 * which every caller handles.
 */
export const MAX_IO = 0x7ffff000;
/** Counts up to this many bytes have their BigInt kept once made. */
const KEPT_SIZES = 0x10000;
const keptSizes: bigint[] = new Array(KEPT_SIZES + 1);
let lastSize = 0;
let lastSizeBig = 0n;

/**
 * The `size_t` count argument for a transfer of `length` bytes (capped at
 * {@linkcode MAX_IO}), as the BigInt a `usize` parameter takes. Each count
 * up to 64 KiB is made once and kept, a larger one is reused while it
 * repeats: a steady read/write loop allocates nothing here.
 *
 * @param length the buffer's length
 * @returns the count as a BigInt
 */
export function ioSize(length: number): bigint {
  if (length <= KEPT_SIZES) return keptSizes[length] ??= BigInt(length);
  const capped = length < MAX_IO ? length : MAX_IO;
  if (capped !== lastSize) {
    lastSize = capped;
    lastSizeBig = BigInt(capped);
  }
  return lastSizeBig;
}

/**
 * The numbers that differ between the two architectures Deno ships for
 * Linux, one column per arch. Everything else in this file is the same on
 * both: both take the kernel's asm-generic headers, but for arm64's own
 * `asm/fcntl.h` (open flags), x86_64's own `asm/stat.h` and x86_64's packed
 * `struct epoll_event`, which are here. tests/engines/abi_test.ts checks every
 * number of this file, on both arches, against the headers' own, written
 * out there once.
 */
export const ARCH_ABI = {
  x86_64: {
    /** sizeof(struct epoll_event): packed (EPOLL_PACKED), 4 + 8. */
    EPOLL_EVENT_SIZE: 12,
    /** offsetof(struct epoll_event, data) */
    EPOLL_EVENT_DATA_OFFSET: 4,
    /** sizeof(struct stat) (arch/x86/include/uapi/asm/stat.h) */
    STAT_SIZE: 144,
    /** offsetof(struct stat, st_mode): after st_dev, st_ino and a 64-bit st_nlink */
    STAT_MODE_OFFSET: 24,
    /** open(2) flag: the path must be a directory (asm-generic/fcntl.h) */
    O_DIRECTORY: 0o200000,
    /** open(2) flag: bypass the page cache (asm-generic/fcntl.h) */
    O_DIRECT: 0o40000,
    /** open(2) flag: __O_TMPFILE (0o20000000) | O_DIRECTORY */
    O_TMPFILE: 0o20200000,
  },
  aarch64: {
    /** sizeof(struct epoll_event): natural alignment, 4 + 4 padding + 8. */
    EPOLL_EVENT_SIZE: 16,
    /** offsetof(struct epoll_event, data) */
    EPOLL_EVENT_DATA_OFFSET: 8,
    /** sizeof(struct stat) (asm-generic/stat.h) */
    STAT_SIZE: 128,
    /** offsetof(struct stat, st_mode): after st_dev and st_ino; st_nlink is 32-bit and after it */
    STAT_MODE_OFFSET: 16,
    /** open(2) flag: the path must be a directory (arch/arm64/include/uapi/asm/fcntl.h) */
    O_DIRECTORY: 0o40000,
    /** open(2) flag: bypass the page cache (arch/arm64/include/uapi/asm/fcntl.h) */
    O_DIRECT: 0o200000,
    /** open(2) flag: __O_TMPFILE (0o20000000) | O_DIRECTORY */
    O_TMPFILE: 0o20040000,
  },
} as const satisfies Record<typeof Deno.build.arch, Record<string, number>>;

/** This machine's column of {@linkcode ARCH_ABI}. */
const ABI = ARCH_ABI[Deno.build.arch];

/** sizeof(struct epoll_event): 12 on x86_64 (packed), 16 on aarch64. */
export const EPOLL_EVENT_SIZE: number = ABI.EPOLL_EVENT_SIZE;
/** offsetof(struct epoll_event, data): 4 on x86_64, 8 on aarch64. */
export const EPOLL_EVENT_DATA_OFFSET: number = ABI.EPOLL_EVENT_DATA_OFFSET;
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

export const O_RDONLY = 0;
export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
/** open(2): the path must be a directory. 0o200000 on x86_64, 0o40000 on aarch64. */
export const O_DIRECTORY: number = ABI.O_DIRECTORY;
/** open(2): bypass the page cache. 0o40000 on x86_64, 0o200000 on aarch64. */
export const O_DIRECT: number = ABI.O_DIRECT;
/**
 * open(2) of a directory: an unnamed regular file in it, gone once closed.
 * 0o20200000 on x86_64, 0o20040000 on aarch64 (it includes O_DIRECTORY).
 */
export const O_TMPFILE: number = ABI.O_TMPFILE;
/** memfd_create(2) flag: close-on-exec. */
export const MFD_CLOEXEC = 1;
export const EFD_SEMAPHORE = 1;
export const EFD_NONBLOCK = O_NONBLOCK;
export const EFD_CLOEXEC = O_CLOEXEC;
export const AF_UNIX = 1;
export const AF_INET = 2;
/** 10 on Linux (23 on Windows). */
export const AF_INET6 = 10;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
/** A socket type this module has no object for (adoptSocket names it). */
export const SOCK_RAW = 3;
/** A socket type this module has no object for (adoptSocket names it). */
export const SOCK_SEQPACKET = 5;
/** Address families this module has no sockets of (adoptSocket names them). */
export const AF_NETLINK = 16;
export const AF_PACKET = 17;
export const SOCK_NONBLOCK = O_NONBLOCK;
export const SOCK_CLOEXEC = O_CLOEXEC;
export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;
export const F_GETFD = 1;
export const F_GETFL = 3;
/** fcntl(2): set the fd flags (FD_CLOEXEC). */
export const F_SETFD = 2;
/** fcntl(2): set the file status flags (O_NONBLOCK). */
export const F_SETFL = 4;
/** fcntl(2): dup to the lowest free fd at or above the argument, close-on-exec. */
export const F_DUPFD_CLOEXEC = 1030;
/** fcntl(2): a pipe's capacity in bytes. */
export const F_GETPIPE_SZ = 1032;
/** The fd flag F_GETFD reports: close-on-exec. */
export const FD_CLOEXEC = 1;
/** The signals tests send to a thread, or the process, of their own. */
export const SIGUSR1 = 10;
export const SIGUSR2 = 12;
/** send/recv flag: this call does not block, whatever the fd's mode. */
export const MSG_DONTWAIT = 0x40;
/** Bytes a write to a pipe with room for one buffer takes without blocking. */
export const PIPE_BUF = 4096;

/** sizeof(int), the size of an int socket option. */
export const INT_SIZE = 4;
/** sizeof(struct sockaddr_storage): room for any socket address. */
export const SOCKADDR_STORAGE_SIZE = 128;
/** sizeof(struct linger): int l_onoff; int l_linger. */
export const LINGER_SIZE = 8;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_ERROR = 4;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_LINGER = 13;
export const SO_REUSEPORT = 15;
/** getsockopt: the socket's type (SOCK_STREAM, …). */
export const SO_TYPE = 3;
export const SO_BROADCAST = 6;
export const SO_KEEPALIVE = 9;
/** getsockopt: the peer's `struct ucred` (a Unix socket's pid, uid and gid). */
export const SO_PEERCRED = 17;
/** getsockopt: 1 on a listening socket. */
export const SO_ACCEPTCONN = 30;
/** getsockopt: the socket's protocol (IPPROTO_TCP, …). */
export const SO_PROTOCOL = 38;
/** getsockopt: the socket's address family (AF_UNIX, …). */
export const SO_DOMAIN = 39;
export const IPPROTO_IP = 0;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const TCP_NODELAY = 1;
/** TCP: seconds idle before the first keepalive probe. */
export const TCP_KEEPIDLE = 4;
/** TCP: seconds between keepalive probes. */
export const TCP_KEEPINTVL = 5;
/** TCP: unanswered probes before the connection is dropped. */
export const TCP_KEEPCNT = 6;
export const IP_TTL = 2;
export const IP_MULTICAST_TTL = 33;
export const IP_MULTICAST_LOOP = 34;
export const IP_ADD_MEMBERSHIP = 35;
export const IP_DROP_MEMBERSHIP = 36;
export const IPV6_UNICAST_HOPS = 16;
export const IPV6_MULTICAST_HOPS = 18;
export const IPV6_MULTICAST_LOOP = 19;
/** IPV6_JOIN_GROUP in RFC 3493's words. */
export const IPV6_ADD_MEMBERSHIP = 20;
/** IPV6_LEAVE_GROUP in RFC 3493's words. */
export const IPV6_DROP_MEMBERSHIP = 21;
/** sizeof(struct ip_mreq): the group's in_addr, then the interface's. */
export const IP_MREQ_SIZE = 8;
/** offsetof(struct ip_mreq, imr_interface) */
export const IP_MREQ_INTERFACE_OFFSET = 4;
/** sizeof(struct ipv6_mreq): the group's in6_addr, then an int interface index. */
export const IPV6_MREQ_SIZE = 20;
/** offsetof(struct ipv6_mreq, ipv6mr_interface) */
export const IPV6_MREQ_INTERFACE_OFFSET = 16;

// Unix sockets and the messages that carry fds. struct msghdr, iovec,
// cmsghdr, ucred and sockaddr_un are laid out alike on x86_64 and aarch64
// (both LP64, both with glibc's generic bits/socket.h), so none is in
// ARCH_ABI; tests/abi_test.ts computes each from its fields for both.

/** sizeof(struct sockaddr_un): sa_family_t sun_family; char sun_path[108]. */
export const SOCKADDR_UN_SIZE = 110;
/** offsetof(struct sockaddr_un, sun_path) */
export const SUN_PATH_OFFSET = 2;
/** sizeof(struct iovec): void *iov_base; size_t iov_len. */
export const IOVEC_SIZE = 16;
/** offsetof(struct iovec, iov_len) */
export const IOVEC_LEN_OFFSET = 8;
/** sizeof(struct msghdr) */
export const MSGHDR_SIZE = 56;
/** offsetof(struct msghdr, msg_namelen), a socklen_t after the void *msg_name at 0 */
export const MSGHDR_NAMELEN_OFFSET = 8;
/** offsetof(struct msghdr, msg_iov) */
export const MSGHDR_IOV_OFFSET = 16;
/** offsetof(struct msghdr, msg_iovlen), a size_t */
export const MSGHDR_IOVLEN_OFFSET = 24;
/** offsetof(struct msghdr, msg_control) */
export const MSGHDR_CONTROL_OFFSET = 32;
/** offsetof(struct msghdr, msg_controllen), a size_t */
export const MSGHDR_CONTROLLEN_OFFSET = 40;
/** offsetof(struct msghdr, msg_flags), an int */
export const MSGHDR_FLAGS_OFFSET = 48;
/** sizeof(struct cmsghdr): size_t cmsg_len; int cmsg_level; int cmsg_type (its data follows). */
export const CMSGHDR_SIZE = 16;
/** offsetof(struct cmsghdr, cmsg_level) */
export const CMSGHDR_LEVEL_OFFSET = 8;
/** offsetof(struct cmsghdr, cmsg_type) */
export const CMSGHDR_TYPE_OFFSET = 12;
/** What CMSG_ALIGN rounds to: sizeof(size_t). */
export const CMSG_ALIGNMENT = 8;
/** sizeof(struct ucred): pid_t pid; uid_t uid; gid_t gid. */
export const UCRED_SIZE = 12;
/** offsetof(struct ucred, uid) */
export const UCRED_UID_OFFSET = 4;
/** offsetof(struct ucred, gid) */
export const UCRED_GID_OFFSET = 8;
/** A control message's type: fds (SOL_SOCKET level). */
export const SCM_RIGHTS = 1;
/** The most fds one SCM_RIGHTS message carries (include/net/scm.h). */
export const SCM_MAX_FD = 253;
/** recvmsg flag: the control messages did not all fit (fds beyond were closed). */
export const MSG_CTRUNC = 0x8;
/** recvmsg flag: a datagram was longer than the buffer. */
export const MSG_TRUNC = 0x20;
/** recvmsg flag: the fds received are close-on-exec. */
export const MSG_CMSG_CLOEXEC = 0x40000000;

/**
 * CMSG_ALIGN: `length` rounded up to the alignment of a control message.
 *
 * @param length a length in bytes
 * @returns it, rounded up to {@linkcode CMSG_ALIGNMENT}
 */
export function cmsgAlign(length: number): number {
  return Math.ceil(length / CMSG_ALIGNMENT) * CMSG_ALIGNMENT;
}

/**
 * CMSG_LEN: the `cmsg_len` of a control message carrying `length` bytes.
 *
 * @param length the bytes of data
 * @returns the header and the data, with no padding after it
 */
export function cmsgLen(length: number): number {
  return CMSGHDR_SIZE + length;
}

/**
 * CMSG_SPACE: the room one control message carrying `length` bytes takes in a buffer.
 *
 * @param length the bytes of data
 * @returns the header and the data, padded to the next message
 */
export function cmsgSpace(length: number): number {
  return CMSGHDR_SIZE + cmsgAlign(length);
}
/** send/sendto flag: a write to a connection the peer has closed fails with EPIPE, raising no SIGPIPE. */
export const MSG_NOSIGNAL = 0x4000;

/** getrlimit resource: the number of fds the process may open. */
export const RLIMIT_NOFILE = 7;
/** sizeof(struct rlimit): rlim_t rlim_cur; rlim_t rlim_max (64-bit each). */
export const RLIMIT_SIZE = 16;
/** rlim_t RLIM_INFINITY: no limit. */
export const RLIM_INFINITY = 0xffffffffffffffffn;

/** SYS_io_uring_setup, _enter and _register (the same on x86_64 and aarch64). */
export const SYS_IO_URING_SETUP = 425n;
export const SYS_IO_URING_ENTER = 426n;
export const SYS_IO_URING_REGISTER = 427n;
/** sizeof(struct stat): 144 on x86_64, 128 on aarch64. */
export const STAT_SIZE: number = ABI.STAT_SIZE;
/** offsetof(struct stat, st_mode), a u32: 24 on x86_64, 16 on aarch64. */
export const STAT_MODE_OFFSET: number = ABI.STAT_MODE_OFFSET;
/** offsetof(struct stat, st_dev), a u64: 0 on both. */
export const STAT_DEV_OFFSET = 0;
/** offsetof(struct stat, st_ino), a u64: 8 on both. */
export const STAT_INO_OFFSET = 8;
/** offsetof(struct stat, st_size), an i64: 48 on both. */
export const STAT_SIZE_OFFSET = 48;
/** The file-type bits of `st_mode`, and the types that take offsets. */
export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFSOCK = 0o140000;
export const S_IFDIR = 0o040000;
/** mmap: protection and flags of the io_uring rings, and what a failed mmap returns. */
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x01;
export const MAP_POPULATE = 0x8000;
export const MAP_FAILED = 0xffffffffffffffffn;
export const EINTR = 4;
export const EBADF = 9;
export const EAGAIN = 11;
export const EPERM = 1;
export const ENOENT = 2;
export const ENOMEM = 12;
export const EACCES = 13;
export const ENOTDIR = 20;
export const EMFILE = 24;
export const ECONNABORTED = 103;
export const ENOTCONN = 107;
export const EINPROGRESS = 115;
export const EEXIST = 17;
export const ESPIPE = 29;
export const ENOTSOCK = 88;
export const EBUSY = 16;
export const EINVAL = 22;
export const ENOSYS = 38;
export const EPIPE = 32;
export const EISCONN = 106;
export const EALREADY = 114;
export const ECANCELED = 125;
