// Copyright 2026 the @evented/io authors. MIT license.
//
// A TCP echo server on epoll in C: the physical-limit baseline of
// bench/echo_run.ts. It does what examples/echo_server.ts does, the same
// way: level-triggered, nonblocking, one 64 KiB buffer, one read per
// readiness event echoed at once, unsent bytes kept per connection with
// EPOLLOUT asked for only while there are some, TCP_NODELAY on every
// connection.
//
//     cc -O2 -o echo_server bench/echo_server.c
//     ./echo_server [--host 127.0.0.1] [--port 0]
//
// Prints one line when it listens ("listening on 127.0.0.1:PORT …"), and
// stops on SIGINT or SIGTERM with every fd closed.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFFER_SIZE 65536
#define MAX_EVENTS 1024

struct conn {
  int fd;
  int writing;    // EPOLLOUT asked for: unsent bytes are waiting
  char *pending;  // BUFFER_SIZE bytes, allocated at the first partial write
  size_t start, end;
  struct conn *prev, *next;  // every open connection, to close them at the end
};

static volatile sig_atomic_t stopping = 0;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static int epfd;
static struct conn *conns = NULL;
static long open_conns = 0;

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void conn_close(struct conn *c) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  if (c->prev) c->prev->next = c->next; else conns = c->next;
  if (c->next) c->next->prev = c->prev;
  free(c->pending);
  free(c);
  open_conns--;
}

static void set_interest(struct conn *c, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl MOD");
}

// Sends what is pending; returns -1 if the connection failed.
static int flush(struct conn *c) {
  while (c->start < c->end) {
    ssize_t w = write(c->fd, c->pending + c->start, c->end - c->start);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return 0;
      return -1;
    }
    c->start += (size_t)w;
  }
  return 0;
}

static void accept_all(int listener) {
  for (;;) {
    int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN) return;
      if (errno == EMFILE || errno == ENFILE) return;  // try again at the next event
      die("accept4");
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = calloc(1, sizeof *c);
    if (!c) die("calloc");
    c->fd = fd;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl ADD");
    c->next = conns;
    if (conns) conns->prev = c;
    conns = c;
    open_conns++;
  }
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--host") && i + 1 < argc) host = argv[++i];
    else if (!strcmp(argv[i], "--port") && i + 1 < argc) port = atoi(argv[++i]);
    else {
      fprintf(stderr, "Usage: %s [--host 127.0.0.1] [--port 0]\n", argv[0]);
      return 2;
    }
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  struct sigaction sa = {.sa_handler = on_signal};  // no SA_RESTART: epoll_wait returns EINTR
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "Not an IPv4 address: %s\n", host);
    return 2;
  }
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listener < 0) die("socket");
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
  if (listen(listener, 4096) < 0) die("listen");
  socklen_t len = sizeof addr;
  getsockname(listener, (struct sockaddr *)&addr, &len);

  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1");
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &lev) < 0) die("epoll_ctl ADD listener");

  printf("listening on %s:%d (C, epoll, level-triggered)\n", host, ntohs(addr.sin_port));
  fflush(stdout);

  static char buffer[BUFFER_SIZE];
  static struct epoll_event events[MAX_EVENTS];
  while (!stopping) {
    int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (c == NULL) {
        accept_all(listener);
        continue;
      }
      if (c->writing) {
        // Only EPOLLOUT is asked for (and errors come unasked).
        if (flush(c) < 0) {
          conn_close(c);
        } else if (c->start == c->end) {
          c->writing = 0;
          set_interest(c, EPOLLIN | EPOLLRDHUP);
        }
        continue;
      }
      ssize_t r = read(c->fd, buffer, BUFFER_SIZE);
      if (r > 0) {
        ssize_t w = write(c->fd, buffer, (size_t)r);
        if (w < 0) {
          if (errno != EAGAIN && errno != EINTR) {
            conn_close(c);
            continue;
          }
          w = 0;
        }
        if (w < r) {
          if (!c->pending && !(c->pending = malloc(BUFFER_SIZE))) die("malloc");
          memcpy(c->pending, buffer + w, (size_t)(r - w));
          c->start = 0;
          c->end = (size_t)(r - w);
          c->writing = 1;
          set_interest(c, EPOLLOUT);
        }
      } else if (r == 0) {
        conn_close(c);  // the peer is done sending, and all of it was echoed
      } else if (errno != EAGAIN && errno != EINTR) {
        conn_close(c);  // reset
      }
    }
  }
  long closed = open_conns;
  while (conns) conn_close(conns);
  epoll_ctl(epfd, EPOLL_CTL_DEL, listener, NULL);
  close(listener);
  close(epfd);
  printf("stopped: closed %ld connections\n", closed);
  return 0;
}
