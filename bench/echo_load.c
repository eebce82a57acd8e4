// Copyright 2026 the @evented/io authors. MIT license.
//
// The load generator of bench/echo_run.ts: N connections each sending an
// M-byte message and waiting for its echo before sending the next
// (ping-pong), for T seconds after a warm-up, on one thread and epoll.
// Prints messages per second and the round trip's p50, p99 and max (one JSON
// line with --json, the same fields as examples/echo_client.ts --json).
//
//     cc -O2 -o echo_load bench/echo_load.c
//     ./echo_load --port 9000 [--host 127.0.0.1] [--connections 64] [--size 64]
//                 [--seconds 3] [--warmup 0.5] [--json]
//
// A round trip is timed from just before its message is written to just
// after its last byte is read back; echoed bytes are compared with what
// was sent, and mismatches counted. At the end it stops sending, waits
// (at most 2 s) for the echoes in flight, and closes every connection.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 1024

// Round trips in ns, in log-linear buckets: exact below 128 ns, then 64
// buckets per power of two (under 1.6% apart). Same scheme as echo_client.ts.
#define SUB_BITS 6
#define BUCKETS (64 * 40)
static uint64_t histogram[BUCKETS];
static uint64_t recorded = 0;
static uint64_t slowest = 0;  // the longest round trip, in ns (exact)

static int bucket_of(uint64_t ns) {
  if (ns < 128) return (int)ns;
  int k = 63 - __builtin_clzll(ns);  // 2^k <= ns, k >= 7
  int index = (k - SUB_BITS) * 64 + (int)(ns >> (k - SUB_BITS));
  return index < BUCKETS ? index : BUCKETS - 1;
}

// The smallest value of a bucket, and the next bucket's.
static double bucket_low(int index) {
  if (index < 128) return index;
  int k = index / 64 + SUB_BITS - 1;
  uint64_t mantissa = (uint64_t)(index % 64 + 64);
  return (double)(mantissa << (k - SUB_BITS));
}

static double percentile_us(double p) {
  if (recorded == 0) return 0;
  uint64_t rank = (uint64_t)(p * (double)recorded);
  if (rank >= recorded) rank = recorded - 1;
  uint64_t seen = 0;
  for (int i = 0; i < BUCKETS; i++) {
    seen += histogram[i];
    if (seen > rank) {
      double low = bucket_low(i), high = i + 1 < BUCKETS ? bucket_low(i + 1) : low;
      return (low + high) / 2 / 1000;
    }
  }
  return 0;
}

struct conn {
  int fd;
  size_t sent, received;
  uint64_t started;
  int writing;
};

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static int epfd;
static unsigned char *payload;
static size_t size;

static void set_interest(struct conn *c, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl MOD");
}

// Writes what remains of the current message; -1 if the connection failed.
static int send_rest(struct conn *c) {
  while (c->sent < size) {
    ssize_t w = write(c->fd, payload + c->sent, size - c->sent);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      return -1;
    }
    c->sent += (size_t)w;
  }
  int writing = c->sent < size;
  if (writing != c->writing) {
    c->writing = writing;
    set_interest(c, writing ? EPOLLIN | EPOLLOUT : EPOLLIN);
  }
  return 0;
}

static void start_message(struct conn *c, uint64_t now) {
  c->sent = 0;
  c->received = 0;
  c->started = now;
  if (send_rest(c) < 0) die("write");
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = -1, json = 0;
  long connections = 64;
  double seconds = 3, warmup = 0.5;
  size = 64;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--json")) json = 1;
    else if (v && !strcmp(a, "--host")) host = argv[++i];
    else if (v && !strcmp(a, "--port")) port = atoi(argv[++i]);
    else if (v && !strcmp(a, "--connections")) connections = atol(argv[++i]);
    else if (v && !strcmp(a, "--size")) size = (size_t)atol(argv[++i]);
    else if (v && !strcmp(a, "--seconds")) seconds = atof(argv[++i]);
    else if (v && !strcmp(a, "--warmup")) warmup = atof(argv[++i]);
    else port = -2;
  }
  if (port < 0 || port > 65535 || connections < 1 || size < 1 || !(seconds > 0) ||
      !(warmup >= 0)) {
    fprintf(stderr,
            "Usage: %s --port PORT [--host 127.0.0.1] [--connections 64] [--size 64] "
            "[--seconds 3] [--warmup 0.5] [--json]\n",
            argv[0]);
    return 2;
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  signal(SIGPIPE, SIG_IGN);

  payload = malloc(size);
  size_t buffer_size = size > 65536 ? size : 65536;
  unsigned char *buffer = malloc(buffer_size);
  if (!payload || !buffer) die("malloc");
  for (size_t i = 0; i < size; i++) payload[i] = (unsigned char)('a' + i % 26);

  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "Not an IPv4 address: %s\n", host);
    return 2;
  }
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1");
  struct conn *conns = calloc((size_t)connections, sizeof *conns);
  if (!conns) die("calloc");
  for (long i = 0; i < connections; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    conns[i].fd = fd;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl ADD");
  }

  static struct epoll_event events[MAX_EVENTS];
  uint64_t begin = now_ns();
  uint64_t measure_from = begin + (uint64_t)(warmup * 1e9);
  uint64_t measure_to = measure_from + (uint64_t)(seconds * 1e9);
  uint64_t grace_to = measure_to + 2000000000u;
  uint64_t messages = 0, mismatches = 0;
  long in_flight = connections;
  for (long i = 0; i < connections; i++) start_message(&conns[i], begin);

  int sending = 1;
  while (in_flight > 0) {
    int n = epoll_wait(epfd, events, MAX_EVENTS, 100);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (events[i].events & EPOLLOUT && c->writing && send_rest(c) < 0) die("write");
      if (!(events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      ssize_t r = read(c->fd, buffer, buffer_size);
      if (r < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        die("read");
      }
      if (r == 0) {
        fprintf(stderr, "The server closed a connection\n");
        return 1;
      }
      if (c->received + (size_t)r > c->sent ||
          memcmp(buffer, payload + c->received, (size_t)r) != 0) {
        mismatches++;
      }
      c->received += (size_t)r;
      if (c->received < size) continue;
      uint64_t now = now_ns();
      if (c->started >= measure_from && now <= measure_to) {
        uint64_t took = now - c->started;
        histogram[bucket_of(took)]++;
        recorded++;
        if (took > slowest) slowest = took;
        messages++;
      }
      if (sending && now < measure_to) {
        start_message(c, now);
      } else {
        sending = 0;
        c->sent = c->received = 0;
        in_flight--;
      }
    }
    uint64_t now = now_ns();
    if (now >= measure_to) sending = 0;
    if (now >= grace_to) break;
  }
  for (long i = 0; i < connections; i++) close(conns[i].fd);
  close(epfd);

  double rate = (double)messages / seconds;
  double p50 = percentile_us(0.50), p99 = percentile_us(0.99), max = (double)slowest / 1000;
  if (json) {
    printf("{\"connections\":%ld,\"size\":%zu,\"seconds\":%g,\"messages\":%llu,"
           "\"messagesPerSecond\":%.1f,\"p50Us\":%.1f,\"p99Us\":%.1f,\"maxUs\":%.1f,"
           "\"mismatches\":%llu}\n",
           connections, size, seconds, (unsigned long long)messages, rate, p50, p99, max,
           (unsigned long long)mismatches);
  } else {
    printf("%ld connections x %zu bytes for %g s: %.0f messages/s, round trip p50 %.1f us, "
           "p99 %.1f us, max %.1f us%s\n",
           connections, size, seconds, rate, p50, p99, max, mismatches ? ", MISMATCHES" : "");
  }
  free(conns);
  free(buffer);
  free(payload);
  return mismatches ? 1 : 0;
}
