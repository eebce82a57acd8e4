// Copyright 2026 the @evented/io authors. MIT license.
// deno-lint-ignore-file camelcase
/**
 * The one symbol table for `ws2_32.dll` (Winsock 2), the Microsoft
 * extension functions reached through it (AcceptEx, ConnectEx), their
 * layouts (x64) and constants, and its reference-counted opening, which
 * also calls WSAStartup on first use and WSACleanup with the last user.
 *
 * A SOCKET is a UINT_PTR, a kernel handle: it is declared `pointer`, as
 * kernel32's HANDLEs are (the same register on x64), so that no call needs
 * a bigint; its value as a number is the socket's `fd`.
 *
 * Nothing here knows what a CompletionPort is; the net code imports from
 * here.
 *
 * @module
 */

import { sharedLibrary } from "./_library.ts";
import { win32Error } from "./errors.ts";

/** ws2_32 symbols used by the Winsock sockets. */
export const WS2_32_SYMBOLS = {
  /** int WSAStartup(WORD wVersionRequired, LPWSADATA lpWSAData); */
  WSAStartup: { parameters: ["u16", "buffer"], result: "i32" },
  /** int WSACleanup(void); */
  WSACleanup: { parameters: [], result: "i32" },
  /** int WSAGetLastError(void); */
  WSAGetLastError: { parameters: [], result: "i32" },
  /** SOCKET WSASocketW(int af, int type, int protocol, LPWSAPROTOCOL_INFOW lpProtocolInfo, GROUP g, DWORD dwFlags); */
  WSASocketW: { parameters: ["i32", "i32", "i32", "pointer", "u32", "u32"], result: "pointer" },
  /** int closesocket(SOCKET s); */
  closesocket: { parameters: ["pointer"], result: "i32" },
  /** int bind(SOCKET s, const struct sockaddr *name, int namelen); */
  bind: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  /** int listen(SOCKET s, int backlog); */
  listen: { parameters: ["pointer", "i32"], result: "i32" },
  /** int setsockopt(SOCKET s, int level, int optname, const char *optval, int optlen); */
  setsockopt: { parameters: ["pointer", "i32", "i32", "buffer", "i32"], result: "i32" },
  /** int getsockname(SOCKET s, struct sockaddr *name, int *namelen); */
  getsockname: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  /** int getpeername(SOCKET s, struct sockaddr *name, int *namelen); */
  getpeername: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  /** int WSAPoll(LPWSAPOLLFD fdArray, ULONG fds, INT timeout); */
  WSAPoll: { parameters: ["buffer", "u32", "i32"], result: "i32" },
  /** int ioctlsocket(SOCKET s, long cmd, u_long *argp); */
  ioctlsocket: { parameters: ["pointer", "i32", "buffer"], result: "i32" },
  /** int connect(SOCKET s, const struct sockaddr *name, int namelen); */
  connect: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  /** SOCKET accept(SOCKET s, struct sockaddr *addr, int *addrlen); */
  accept: { parameters: ["pointer", "buffer", "buffer"], result: "pointer" },
  /** int recv(SOCKET s, char *buf, int len, int flags); */
  recv: { parameters: ["pointer", "buffer", "i32", "i32"], result: "i32" },
  /** int send(SOCKET s, const char *buf, int len, int flags); */
  send: { parameters: ["pointer", "buffer", "i32", "i32"], result: "i32" },
  /** int recvfrom(SOCKET s, char *buf, int len, int flags, struct sockaddr *from, int *fromlen); */
  recvfrom: {
    parameters: ["pointer", "buffer", "i32", "i32", "buffer", "buffer"],
    result: "i32",
  },
  /** int sendto(SOCKET s, const char *buf, int len, int flags, const struct sockaddr *to, int tolen); */
  sendto: { parameters: ["pointer", "buffer", "i32", "i32", "buffer", "i32"], result: "i32" },
  /** int getsockopt(SOCKET s, int level, int optname, char *optval, int *optlen); */
  getsockopt: { parameters: ["pointer", "i32", "i32", "buffer", "buffer"], result: "i32" },
  /** int shutdown(SOCKET s, int how); */
  shutdown: { parameters: ["pointer", "i32"], result: "i32" },
  /**
   * int WSAIoctl(SOCKET s, DWORD dwIoControlCode, LPVOID lpvInBuffer, DWORD cbInBuffer,
   *   LPVOID lpvOutBuffer, DWORD cbOutBuffer, LPDWORD lpcbBytesReturned,
   *   LPWSAOVERLAPPED lpOverlapped, LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
   * (used synchronously only)
   */
  WSAIoctl: {
    parameters: [
      "pointer",
      "u32",
      "buffer",
      "u32",
      "buffer",
      "u32",
      "buffer",
      "pointer",
      "pointer",
    ],
    result: "i32",
  },
  /**
   * int WSARecv(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesRecvd,
   *   LPDWORD lpFlags, LPWSAOVERLAPPED lpOverlapped,
   *   LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
   */
  WSARecv: {
    parameters: ["pointer", "buffer", "u32", "pointer", "buffer", "pointer", "pointer"],
    result: "i32",
  },
  /**
   * int WSASend(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount, LPDWORD lpNumberOfBytesSent,
   *   DWORD dwFlags, LPWSAOVERLAPPED lpOverlapped,
   *   LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine);
   */
  WSASend: {
    parameters: ["pointer", "buffer", "u32", "pointer", "u32", "pointer", "pointer"],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/**
 * The Microsoft extension functions, called through the pointers
 * WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER) returns.
 */
export const WINSOCK_EXTENSIONS = {
  /**
   * BOOL AcceptEx(SOCKET sListenSocket, SOCKET sAcceptSocket, PVOID lpOutputBuffer,
   *   DWORD dwReceiveDataLength, DWORD dwLocalAddressLength, DWORD dwRemoteAddressLength,
   *   LPDWORD lpdwBytesReceived, LPOVERLAPPED lpOverlapped);
   */
  AcceptEx: {
    parameters: ["pointer", "pointer", "buffer", "u32", "u32", "u32", "buffer", "pointer"],
    result: "i32",
  },
  /**
   * BOOL ConnectEx(SOCKET s, const struct sockaddr *name, int namelen, PVOID lpSendBuffer,
   *   DWORD dwSendDataLength, LPDWORD lpdwBytesSent, LPOVERLAPPED lpOverlapped);
   */
  ConnectEx: {
    parameters: ["pointer", "buffer", "i32", "pointer", "u32", "pointer", "pointer"],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound ws2_32 symbols. */
export type Ws2_32 = Deno.DynamicLibrary<typeof WS2_32_SYMBOLS>["symbols"];

/** An extension function, bound. */
export type WinsockExtension<N extends keyof typeof WINSOCK_EXTENSIONS> = Deno.UnsafeFnPointer<
  (typeof WINSOCK_EXTENSIONS)[N]
>;

const ws2_32 = sharedLibrary("ws2_32.dll", WS2_32_SYMBOLS);
let users = 0;
/** Extension functions looked up while the library is open, by name and address family. */
let extensions = new Map<string, Deno.UnsafeFnPointer<Deno.ForeignFunction>>();

/**
 * Opens ws2_32 for one more user; the first use also starts Winsock
 * (WSAStartup 2.2).
 *
 * @returns the bound symbols
 * @throws {Error} if Winsock cannot be started
 */
export function acquireWs2_32(): Ws2_32 {
  const symbols = ws2_32.acquire();
  if (users === 0) {
    const data = new Uint8Array(WSADATA_SIZE);
    // WSAStartup returns its error; WSAGetLastError is not set by it.
    const error = symbols.WSAStartup(WINSOCK_VERSION_2_2, data);
    if (error !== 0) {
      ws2_32.release();
      throw win32Error("Cannot start Winsock", error);
    }
  }
  users++;
  return symbols;
}

/** Gives one use back; the last one ends Winsock (WSACleanup) and closes ws2_32. */
export function releaseWs2_32(): void {
  if (users <= 0) throw new Error("Cannot release ws2_32.dll: it is not open");
  if (--users === 0) {
    ws2_32.symbols().WSACleanup();
    extensions = new Map();
  }
  ws2_32.release();
}

/**
 * An extension function, looked up once per address family while ws2_32
 * is open (the caller holds a use), through a socket of that family.
 *
 * @param name "AcceptEx" or "ConnectEx"
 * @param family the address family of `socket`
 * @param socket an open socket of the provider the function is for
 * @returns the callable function
 * @throws {Error} with the Winsock error if the provider has no such function
 */
export function winsockExtension<N extends keyof typeof WINSOCK_EXTENSIONS>(
  name: N,
  family: number,
  socket: Deno.PointerValue,
): WinsockExtension<N> {
  const cacheKey = `${name}/${family}`;
  const known = extensions.get(cacheKey);
  if (known !== undefined) return known as unknown as WinsockExtension<N>;
  const symbols = ws2_32.symbols();
  const out = new BigUint64Array(1);
  const returned = new Uint32Array(1);
  const guidBytes = EXTENSION_GUIDS[name];
  const result = symbols.WSAIoctl(
    socket,
    SIO_GET_EXTENSION_FUNCTION_POINTER,
    guidBytes,
    guidBytes.length,
    out,
    POINTER_SIZE,
    returned,
    null,
    null,
  );
  if (result !== 0 || out[0] === 0n) {
    throw win32Error(`Cannot find Winsock's ${name}`, symbols.WSAGetLastError());
  }
  const fn = new Deno.UnsafeFnPointer(
    Deno.UnsafePointer.create(out[0])!,
    WINSOCK_EXTENSIONS[name],
  );
  extensions.set(cacheKey, fn as unknown as Deno.UnsafeFnPointer<Deno.ForeignFunction>);
  return fn;
}

/**
 * The Winsock error for the Win32 error a socket operation's completion
 * carries (its NTSTATUS went through RtlNtStatusToDosError), as
 * WSAGetOverlappedResult would give it; other errors are returned as they
 * are.
 *
 * @param error a Win32 error code
 * @returns the matching WSA error code, or `error`
 */
export function winsockErrorOf(error: number): number {
  return WIN32_TO_WSA.get(error) ?? error;
}

/** What a failed socket operation's Win32 error means in Winsock terms. */
const WIN32_TO_WSA: ReadonlyMap<number, number> = new Map([
  [6, 10038], // ERROR_INVALID_HANDLE → WSAENOTSOCK
  [64, 10054], // ERROR_NETNAME_DELETED (STATUS_CONNECTION_RESET…) → WSAECONNRESET
  [121, 10060], // ERROR_SEM_TIMEOUT (STATUS_IO_TIMEOUT) → WSAETIMEDOUT
  [1225, 10061], // ERROR_CONNECTION_REFUSED → WSAECONNREFUSED
  [1226, 10101], // ERROR_GRACEFUL_DISCONNECT → WSAEDISCON
  [1227, 10048], // ERROR_ADDRESS_ALREADY_ASSOCIATED → WSAEADDRINUSE
  [1229, 10057], // ERROR_CONNECTION_INVALID → WSAENOTCONN
  [1230, 10056], // ERROR_CONNECTION_ACTIVE → WSAEISCONN
  [1231, 10051], // ERROR_NETWORK_UNREACHABLE → WSAENETUNREACH
  [1232, 10065], // ERROR_HOST_UNREACHABLE → WSAEHOSTUNREACH
  [1234, 10061], // ERROR_PORT_UNREACHABLE → WSAECONNREFUSED
  [1236, 10053], // ERROR_CONNECTION_ABORTED → WSAECONNABORTED
]);

/** MAKEWORD(2, 2): the Winsock version asked for. */
export const WINSOCK_VERSION_2_2 = 0x0202;
/** sizeof(WSADATA) on x64. */
export const WSADATA_SIZE = 408;
/** sizeof(GUID). */
export const GUID_SIZE = 16;
/** sizeof(void *) on x64. */
export const POINTER_SIZE = 8;
/** sizeof(SOCKET) on x64 (a UINT_PTR): the option value of SO_UPDATE_ACCEPT_CONTEXT. */
export const SOCKET_SIZE = 8;
/** sizeof(int): the option value of boolean options. */
export const INT_SIZE = 4;

/** sizeof(WSABUF) on x64: `ULONG len` at 0, `CHAR *buf` at 8. */
export const WSABUF_SIZE = 16;
/** offsetof(WSABUF, len). */
export const WSABUF_LEN_OFFSET = 0;
/** offsetof(WSABUF, buf). */
export const WSABUF_BUF_OFFSET = 8;
/** sizeof(SOCKADDR_STORAGE): room for any address getsockname/getpeername return. */
export const SOCKADDR_STORAGE_SIZE = 128;
/**
 * AcceptEx needs, for each of the two addresses it writes, 16 bytes more
 * than the largest address of the transport.
 */
export const ACCEPTEX_ADDRESS_EXTRA = 16;

/** (SOCKET)~0, as WSASocketW returns it on failure. */
export const INVALID_SOCKET = 0xffffffffffffffffn;
/** What most Winsock calls return on failure. */
export const SOCKET_ERROR = -1;
/** sizeof(WSAPOLLFD) (x64): SOCKET fd; SHORT events; SHORT revents; padded. */
export const WSAPOLLFD_SIZE = 16;
export const WSAPOLLFD_EVENTS_OFFSET = 8;
export const WSAPOLLFD_REVENTS_OFFSET = 10;
/** WSAPoll's bits (winsock2.h's POLLRDNORM, POLLWRNORM, POLLERR, POLLHUP, POLLNVAL). */
export const WSAPOLL_RDNORM = 0x0100;
export const WSAPOLL_WRNORM = 0x0010;
export const WSAPOLL_ERR = 0x0001;
export const WSAPOLL_HUP = 0x0002;
export const WSAPOLL_NVAL = 0x0004;

export const AF_INET = 2;
/** AF_INET6 on Windows (10 on Linux). */
export const AF_INET6 = 23;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const IPPROTO_IP = 0;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
/** ws2ipdef.h (Winsock 2's values; winsock.h's old IP_* numbers differ). */
export const IP_TTL = 4;
export const IP_MULTICAST_TTL = 10;
export const IP_MULTICAST_LOOP = 11;
export const IP_ADD_MEMBERSHIP = 12;
export const IP_DROP_MEMBERSHIP = 13;
export const IPV6_UNICAST_HOPS = 4;
export const IPV6_MULTICAST_HOPS = 10;
export const IPV6_MULTICAST_LOOP = 11;
export const IPV6_ADD_MEMBERSHIP = 12;
export const IPV6_DROP_MEMBERSHIP = 13;
/** sizeof(IP_MREQ): the group's IN_ADDR, then the interface's. */
export const IP_MREQ_SIZE = 8;
/** offsetof(IP_MREQ, imr_interface) */
export const IP_MREQ_INTERFACE_OFFSET = 4;
/** sizeof(IPV6_MREQ): the group's IN6_ADDR, then a ULONG interface index. */
export const IPV6_MREQ_SIZE = 20;
/** offsetof(IPV6_MREQ, ipv6mr_interface) */
export const IPV6_MREQ_INTERFACE_OFFSET = 16;
/** IPV6_V6ONLY: 0 lets an IPv6 socket send to and receive from IPv4-mapped addresses. */
export const IPV6_V6ONLY = 27;

export const WSA_FLAG_OVERLAPPED = 0x01;
export const WSA_FLAG_NO_HANDLE_INHERIT = 0x80;

export const SOL_SOCKET = 0xffff;
/** ~SO_REUSEADDR: no other socket may bind the same address. */
export const SO_EXCLUSIVEADDRUSE = ~0x0004;
export const SO_ERROR = 0x1007;
/** getsockopt: the socket type (SOCK_STREAM, SOCK_DGRAM); WSAENOTSOCK on a handle that is no socket. */
export const SO_TYPE = 0x1008;
export const SO_UPDATE_ACCEPT_CONTEXT = 0x700b;
export const SO_UPDATE_CONNECT_CONTEXT = 0x7010;
export const SO_KEEPALIVE = 0x0008;
export const SO_BROADCAST = 0x0020;
export const TCP_NODELAY = 0x0001;
/** TCP_KEEPALIVE (TCP_KEEPIDLE's name here): seconds idle before the first probe (Windows 10 1709+). */
export const TCP_KEEPALIVE = 3;
/** Probes unanswered before the connection drops (Windows 10 1703+). */
export const TCP_KEEPCNT = 16;
/** Seconds between probes (Windows 10 1709+). */
export const TCP_KEEPINTVL = 17;

export const SD_RECEIVE = 0;
export const SD_SEND = 1;
export const SD_BOTH = 2;

/** _WSAIORW(IOC_WS2, 6). */
export const SIO_GET_EXTENSION_FUNCTION_POINTER = 0xc8000006;
/** _WSAIOR(IOC_WS2, 34): the socket of the base provider under any layered one. */
export const SIO_BASE_HANDLE = 0x48000022;
/** _WSAIOW(IOC_VENDOR, 12): FALSE stops an ICMP port-unreachable from failing a later UDP receive. */
export const SIO_UDP_CONNRESET = 0x9800000c;
/** _IOW('f', 126, u_long), as ioctlsocket's signed `long` cmd: sets nonblocking mode. */
export const FIONBIO = 0x8004667e | 0;

/** Winsock error codes the net code tells apart. */
export const WSA_IO_PENDING = 997;
export const WSA_OPERATION_ABORTED = 995;
export const WSAEINTR = 10004;
export const WSAEWOULDBLOCK = 10035;
export const WSAENOTSOCK = 10038;
export const WSAEMSGSIZE = 10040;
export const WSAEOPNOTSUPP = 10045;
export const WSAECONNRESET = 10054;
export const WSAENOTCONN = 10057;
export const WSAESHUTDOWN = 10058;

/** The GUIDs (as their 16 bytes) that name the extension functions. */
const EXTENSION_GUIDS: Readonly<Record<keyof typeof WINSOCK_EXTENSIONS, Uint8Array>> = {
  // WSAID_ACCEPTEX {b5367df1-cbac-11cf-95ca-00805f48a192}
  AcceptEx: guid(0xb5367df1, 0xcbac, 0x11cf, [0x95, 0xca, 0x00, 0x80, 0x5f, 0x48, 0xa1, 0x92]),
  // WSAID_CONNECTEX {25a207b9-ddf3-4660-8ee9-76e58c74063e}
  ConnectEx: guid(0x25a207b9, 0xddf3, 0x4660, [0x8e, 0xe9, 0x76, 0xe5, 0x8c, 0x74, 0x06, 0x3e]),
};

/** The bytes of a GUID: Data1, Data2, Data3 little-endian, then Data4. */
function guid(data1: number, data2: number, data3: number, data4: number[]): Uint8Array {
  const bytes = new Uint8Array(GUID_SIZE);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, data1, true);
  view.setUint16(4, data2, true);
  view.setUint16(6, data3, true);
  bytes.set(data4, 8);
  return bytes;
}
