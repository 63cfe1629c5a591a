/* runtime/tools/tkserve_gate.c — the connection gate: accepts, limits, checks the request line,
 * and enforces total deadlines that libmicrohttpd's per-byte idle timeout cannot.
 *
 * One thread owns the listening socket and a table of every open connection (a slot each).
 *   accept    at --max-connections in all, or --max-conns-per-addr from one client address,
 *             the connection that has waited longest for its headers (from that address, or
 *             from anyone) is closed with 408 to make room; only when every connection in the
 *             way has a request under way is the new one answered 503 + Retry-After and closed
 *             (counts are logged once a second).
 *   gate      the request line is read with MSG_PEEK, so nothing is consumed: SO_RCVLOWAT is
 *             raised to one byte more than seen, so poll wakes only on new bytes. A line that
 *             cannot be the start of `method SP target SP HTTP/d.d CRLF` (RFC 9112 §3) is
 *             answered 400 at once, on its first bad byte; a complete one hands the socket to
 *             MHD (MHD_add_connection), which then reads the very same bytes.
 *   deadlines each slot has a phase (tkserve.h) and a deadline set when the phase starts, never
 *             moved by arriving bytes: headers complete within --header-timeout of the accept
 *             (or of the previous response, on a kept-alive connection); a body within
 *             --body-timeout of its headers; a response delivered within --body-timeout of
 *             being queued. Past it the gate sends 408 (headers, body) and shuts the socket
 *             down (shutdown(2), never close: MHD owns the descriptor and closes it, and tells
 *             the gate first through tkserve_gate_notify, so a slot's fd is always still open).
 *   shutdown  tkserve_gate_quiesce stops the kernel from completing new handshakes (a socket
 *             filter drops SYNs; a client's connect then fails once the socket is closed),
 *             accepts every connection already completed, and only then closes the listening
 *             socket: closing it with connections in its backlog would reset them. Every
 *             connection still in the gate (from the backlog, or with its request line not yet
 *             handed to MHD) is answered 503 "shutting down" at once, whether or not its
 *             request has arrived, and its write side shut; the gate then reads and drops what
 *             the client sends until the client closes, for at most LINGER_S, so that the close
 *             never resets the connection under the answer (a close with unread bytes sends
 *             RST). Connections already in MHD get their answers there (tkserve_http.c).
 * The thread wakes on socket events and at least every TICK_MS, so a deadline is enforced
 * within TICK_MS of passing. Slots are guarded by one mutex; MHD's workers take it only to
 * change a phase and when a connection starts or closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>
#ifdef __linux__
#include <linux/filter.h>
#endif

#include "runtime/tools/tkserve.h"
#include "tk/alloc.h"

enum {
  TICK_MS = 100,
  LINE_MAX_BYTES = 8192,
  METHOD_MAX = 32,
  ACCEPTS_PER_WAKE = 64,
  ACCEPTS_AT_SHUTDOWN = 1024, /* more than a backlog holds (tkserve_bind.c): only a bound */
  LINGER_S = 2, /* at shutdown: a connection answered 503 is read until its client closes it */
};

typedef struct gate_slot {
  int fd;         /* -1: free */
  bool in_mhd;    /* handed to MHD; else still in the gate */
  bool served;    /* at least one response completed on it */
  bool evicting;  /* shut down to make room; MHD has yet to close it */
  bool lingering; /* answered 503 at shutdown, write side shut: read until the client closes */
  double since;   /* when the current phase began */
  tkserve_phase phase;
  double deadline; /* CLOCK_MONOTONIC seconds; 0 = none */
  char addr[64];   /* numeric client address */
  struct sockaddr_storage sa;
  socklen_t sa_len;
} gate_slot;

struct tkserve_gate {
  tkserve_state *st;
  struct MHD_Daemon *daemon;
  int listen_fd;
  int wake[2]; /* a pipe: quiesce and destroy write a byte */
  pthread_mutex_t mutex;
  gate_slot *slots;
  unsigned n_slots;
  atomic_bool quiesce, stop;
  bool quiesced; /* (mutex) the listening socket is closed, the gate's connections refused */
  pthread_cond_t quiesced_cond;
  struct pollfd *fds;    /* the thread's poll set: the wake pipe, the listening socket, slots */
  gate_slot **owner;     /* the slot of each fds entry */
  unsigned long refused; /* connections refused since the last log line */
  unsigned long evicted; /* connections evicted to make room, since then */
  double refused_logged;
  pthread_t thread;
};

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double phase_timeout(const tkserve_config *cfg, tkserve_phase phase) {
  switch (phase) {
    case TKSERVE_HEADERS: return cfg->header_timeout_s;
    case TKSERVE_BODY:
    case TKSERVE_RESPOND: return cfg->body_timeout_s;
    case TKSERVE_BUSY: return 0;
  }
  return 0;
}

/* ---- Raw answers (the gate's own, before MHD has the socket) ------------------------------ */

/* Writes a whole small response without blocking (best effort: the socket buffer is empty). */
static void send_raw(int fd, unsigned status, const char *reason, const char *extra,
                     const char *message) {
  char body[256], text[640];
  int body_len = snprintf(body, sizeof body, "{\"error\": \"%s\"}\n", message);
  int n = snprintf(text, sizeof text,
                   "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\n%sConnection: close\r\n"
                   "Content-Length: %d\r\n\r\n%s",
                   status, reason, extra, body_len, body);
  if (n > 0 && (size_t)n < sizeof text)
    (void)!send(fd, text, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Closes a socket the gate still owns after an answer: reads what the client already sent (a
 * close with unread bytes would reset the connection and could destroy the answer), then FIN. */
static void close_gently(int fd) {
  char sink[4096];
  for (int i = 0; i < 16 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++) {}
  shutdown(fd, SHUT_WR);
  close(fd);
}

/* ---- The request line (RFC 9112 §3) -------------------------------------------------------- */

typedef enum { LINE_MORE, LINE_OK, LINE_BAD } line_verdict;

static bool is_tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Judges the first n bytes of a connection: LINE_BAD as soon as a byte cannot belong to
 * `method SP request-target SP HTTP/DIGIT.DIGIT (CR)LF`, after at most a few empty lines
 * (RFC 9112 §2.2). *why names the part that is wrong. */
static line_verdict request_line_check(const char *p, size_t n, const char **why) {
  size_t i = 0;
  while (i < n && i < 8 && (p[i] == '\r' || p[i] == '\n')) i++;
  size_t start = i;
  *why = "method";
  while (i < n && is_tchar((unsigned char)p[i]) && i - start <= METHOD_MAX) i++;
  if (i - start > METHOD_MAX) return LINE_BAD;
  if (i == n) return LINE_MORE;
  if (i == start || p[i] != ' ') return LINE_BAD;
  start = ++i;
  *why = "request target";
  while (i < n && p[i] > 0x20 && p[i] < 0x7f) i++;
  if (i == n) return LINE_MORE;
  if (i == start || p[i] != ' ') return LINE_BAD;
  i++;
  *why = "HTTP version";
  static const char version[] = "HTTP/0.0";
  for (size_t k = 0; k < sizeof version - 1; k++, i++) {
    if (i == n) return LINE_MORE;
    bool digit = version[k] == '0';
    if (digit ? !(p[i] >= '0' && p[i] <= '9') : p[i] != version[k]) return LINE_BAD;
  }
  *why = "line end";
  if (i == n) return LINE_MORE;
  if (p[i] == '\n') return LINE_OK;
  if (p[i] != '\r') return LINE_BAD;
  if (i + 1 == n) return LINE_MORE;
  return p[i + 1] == '\n' ? LINE_OK : LINE_BAD;
}

/* ---- Slots (call with the mutex held) ------------------------------------------------------ */

static void slot_free(gate_slot *s) {
  s->fd = -1;
  s->in_mhd = s->evicting = s->lingering = false;
  s->deadline = 0;
}

static void slot_phase(tkserve_gate *g, gate_slot *s, tkserve_phase phase) {
  double t = phase_timeout(&g->st->config, phase);
  s->phase = phase;
  s->since = now_s();
  s->deadline = t > 0 ? s->since + t : 0;
}

/* Makes room by closing a connection that has not sent complete headers: 408 (none for an
 * idle kept-alive one) and, for one in MHD, shutdown; MHD closes it and frees the slot. */
static void slot_evict(gate_slot *s) {
  bool idle = s->in_mhd && s->served && s->phase == TKSERVE_HEADERS;
  if (!idle)
    send_raw(s->fd, 408, "Request Timeout", "",
             "request headers not complete while the connection limit was reached");
  if (s->in_mhd) {
    shutdown(s->fd, SHUT_RDWR);
    s->evicting = true;
    s->deadline = 0;
  } else {
    close_gently(s->fd);
    slot_free(s);
  }
}

/* A slot for a new connection from addr. At a limit (--max-conns-per-addr for addr, or
 * --max-connections), the connection that has waited longest for its headers (from addr, or
 * from anyone) is evicted to make room, so connections that trickle their headers cannot keep
 * a prompt client out, even one from the same address; NULL (and *why) only when every
 * connection in the way has a request under way. A slot still holding the fd number accept
 * just returned is stale (its socket was closed) and is dropped first. */
static gate_slot *slot_take(tkserve_gate *g, int fd, const char *addr, const char **why) {
  gate_slot *free_slot = NULL, *oldest_same = NULL, *oldest_any = NULL;
  unsigned same_addr = 0, live = 0;
  for (unsigned i = 0; i < g->n_slots; i++) {
    gate_slot *s = &g->slots[i];
    if (s->fd == fd) slot_free(s);
    if (s->fd < 0) {
      if (!free_slot) free_slot = s;
      continue;
    }
    if (s->evicting) continue;
    bool same = !strcmp(s->addr, addr);
    live++;
    same_addr += same;
    if (s->in_mhd && s->phase != TKSERVE_HEADERS) continue; /* a request under way */
    if (!oldest_any || s->since < oldest_any->since) oldest_any = s;
    if (same && (!oldest_same || s->since < oldest_same->since)) oldest_same = s;
  }
  gate_slot *victim = NULL;
  if (same_addr >= g->st->config.max_per_addr) {
    if (!(victim = oldest_same))
      *why = "too many connections from this address "
             "(--max-conns-per-addr)";
  } else if (live >= g->st->config.max_connections) {
    if (!(victim = oldest_any)) *why = "too many connections (--max-connections)";
  } else if (!free_slot) {
    *why = "too many connections closing";
  }
  if (!victim) return free_slot && !*why ? free_slot : NULL;
  g->evicted++;
  bool reuse = !victim->in_mhd; /* a gate slot is free at once */
  slot_evict(victim);
  if (reuse) return victim;
  if (!free_slot) *why = "too many connections closing";
  return free_slot;
}

static gate_slot *slot_by_fd(tkserve_gate *g, int fd) {
  for (unsigned i = 0; i < g->n_slots; i++)
    if (g->slots[i].fd == fd && g->slots[i].in_mhd) return &g->slots[i];
  return NULL;
}

/* ---- Events ------------------------------------------------------------------------------- */

static void log_closed(const char *addr, unsigned status, const char *what) {
  fprintf(stderr, "tkserve: %s \"-\" %u closed: %s\n", addr, status, what);
}

/* A connection just accepted, its client address and numeric name. */
typedef struct accepted {
  int fd;
  struct sockaddr_storage sa;
  socklen_t sa_len;
  char addr[64];
} accepted;

/* Accepts one connection; false (errno set) when there is none or this one failed. */
static bool accept_one(tkserve_gate *g, accepted *a) {
  a->sa_len = sizeof a->sa;
  a->fd =
      accept4(g->listen_fd, (struct sockaddr *)&a->sa, &a->sa_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (a->fd < 0) return false;
  snprintf(a->addr, sizeof a->addr, "?");
  getnameinfo((struct sockaddr *)&a->sa, a->sa_len, a->addr, sizeof a->addr, NULL, 0,
              NI_NUMERICHOST);
  return true;
}

static void slot_fill(tkserve_gate *g, gate_slot *s, const accepted *a) {
  s->fd = a->fd;
  s->in_mhd = s->served = false;
  s->sa = a->sa;
  s->sa_len = a->sa_len;
  snprintf(s->addr, sizeof s->addr, "%s", a->addr);
  slot_phase(g, s, TKSERVE_HEADERS);
}

static void accept_some(tkserve_gate *g) {
  for (int k = 0; k < ACCEPTS_PER_WAKE; k++) {
    accepted a;
    if (!accept_one(g, &a)) return; /* EAGAIN, or an error on this one connection */
    int fd = a.fd;
    const char *why = NULL;
    pthread_mutex_lock(&g->mutex);
    gate_slot *s = slot_take(g, fd, a.addr, &why);
    if (s) slot_fill(g, s, &a);
    pthread_mutex_unlock(&g->mutex);
    if (!s) {
      char message[160];
      snprintf(message, sizeof message, "%s; retry later", why);
      send_raw(fd, 503, "Service Unavailable", "Retry-After: 1\r\n", message);
      close_gently(fd);
      g->refused++;
    }
  }
}

/* The connection in slot s (still in the gate) has new bytes, or closed (`ended`: the client
 * will send nothing more, so a line still incomplete never will be). */
static void check_line(tkserve_gate *g, gate_slot *s, bool ended) {
  char buf[LINE_MAX_BYTES];
  ssize_t n = recv(s->fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  const char *why = "";
  line_verdict v = n > 0 ? request_line_check(buf, (size_t)n, &why) : LINE_BAD;
  if (v == LINE_MORE && (size_t)n == sizeof buf) {
    v = LINE_BAD;
    why = "length (over 8192 bytes)";
  }
  int fd = s->fd;
  if (v == LINE_MORE && ended) {
    pthread_mutex_lock(&g->mutex);
    slot_free(s);
    pthread_mutex_unlock(&g->mutex);
    close(fd);
    return;
  }
  if (v == LINE_MORE) { /* wake again only when more bytes than these have arrived */
    int lowat = (int)n + 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat);
    return;
  }
  if (v == LINE_BAD) {
    if (n > 0) {
      char shown[64], message[160];
      shown[0] = '\0';
      tkserve_log_escape(shown, sizeof shown, buf, (size_t)n < 24 ? (size_t)n : 24);
      fprintf(stderr, "tkserve: %s \"%s\" 400 closed: malformed request line (%s)\n", s->addr,
              shown, why);
      snprintf(message, sizeof message, "malformed request line: bad %s (RFC 9112 section 3)", why);
      send_raw(fd, 400, "Bad Request", "", message);
    }
    pthread_mutex_lock(&g->mutex);
    slot_free(s);
    pthread_mutex_unlock(&g->mutex);
    close_gently(fd);
    return;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
  pthread_mutex_lock(&g->mutex);
  s->in_mhd = true; /* the header deadline runs on from the accept */
  struct sockaddr_storage sa = s->sa;
  socklen_t sa_len = s->sa_len;
  pthread_mutex_unlock(&g->mutex);
  if (MHD_add_connection(g->daemon, fd, (struct sockaddr *)&sa, sa_len) != MHD_YES) {
    pthread_mutex_lock(&g->mutex); /* MHD closed fd; only this thread accepts, so no reuse yet */
    if (s->fd == fd) slot_free(s);
    pthread_mutex_unlock(&g->mutex);
  }
}

/* Enforces every deadline that has passed. */
static void reap(tkserve_gate *g) {
  double now = now_s();
  pthread_mutex_lock(&g->mutex);
  for (unsigned i = 0; i < g->n_slots; i++) {
    gate_slot *s = &g->slots[i];
    if (s->fd < 0 || s->evicting || !s->deadline || now < s->deadline) continue;
    s->deadline = 0;
    if (s->lingering) { /* answered 503 at shutdown; LINGER_S is over */
      close(s->fd);
      slot_free(s);
      continue;
    }
    bool idle = s->phase == TKSERVE_HEADERS && s->served; /* kept alive, no new request */
    if (s->phase == TKSERVE_HEADERS || s->phase == TKSERVE_BODY) {
      bool headers = s->phase == TKSERVE_HEADERS;
      if (!idle) {
        log_closed(s->addr, 408,
                   headers ? "headers not complete within --header-timeout"
                           : "body not complete within --body-timeout");
        send_raw(s->fd, 408, "Request Timeout", "",
                 headers ? "request headers not complete within the deadline (--header-timeout)"
                         : "request body not complete within the deadline (--body-timeout)");
      }
    } else if (s->phase == TKSERVE_RESPOND) {
      log_closed(s->addr, 0, "response not delivered within --body-timeout");
    }
    if (s->in_mhd) {
      shutdown(s->fd, SHUT_RDWR); /* MHD sees the end, closes, and frees the slot */
    } else {
      close_gently(s->fd);
      slot_free(s);
    }
  }
  pthread_mutex_unlock(&g->mutex);
  if ((g->refused || g->evicted) && now - g->refused_logged >= 1.0) {
    fprintf(stderr,
            "tkserve: at the connection limits: %lu connections refused, %lu without "
            "complete headers closed to make room\n",
            g->refused, g->evicted);
    g->refused = g->evicted = 0;
    g->refused_logged = now;
  }
}

/* ---- Shutdown ----------------------------------------------------------------------------- */

/* Makes the kernel drop new SYNs to the listening socket (a classic BPF socket filter: the TCP
 * header is at offset 0, its flags at 13), so that the backlog can be emptied before the socket
 * is closed; the ACK that completes a handshake already under way still passes. A client whose
 * SYN was dropped retries it (after 1 s) and is refused once the socket is closed. Best effort:
 * elsewhere than Linux, or if the filter is refused, the backlog is emptied all the same and
 * only a handshake completing in the instant before the close is lost. */
static void stop_handshakes(int listen_fd) {
#ifdef SO_ATTACH_FILTER
  struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 13),          /* the TCP flags */
      BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12),       /* SYN and ACK */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02, 0, 1), /* SYN without ACK: */
      BPF_STMT(BPF_RET | BPF_K, 0),                    /*   dropped */
      BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),          /* anything else kept whole */
  };
  struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
  (void)setsockopt(listen_fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
#else
  (void)listen_fd;
#endif
}

/* Answers a connection in the gate 503 (its request may not have arrived yet: the answer waits
 * in the client's receive buffer) and shuts the write side; the gate reads it until the client
 * closes, or LINGER_S. Call with the mutex held. */
static void slot_refuse(gate_slot *s) {
  log_closed(s->addr, 503, TKSERVE_SHUTTING_DOWN);
  send_raw(s->fd, 503, "Service Unavailable", "Retry-After: 1\r\n", TKSERVE_SHUTTING_DOWN);
  shutdown(s->fd, SHUT_WR);
  int one = 1; /* check_line may have raised it */
  setsockopt(s->fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
  s->lingering = true;
  s->deadline = now_s() + LINGER_S;
}

/* A free slot for a connection accepted at shutdown (the connection limits no longer matter:
 * it is answered at once), dropping a stale one holding the same fd number; NULL if none. */
static gate_slot *slot_unused(tkserve_gate *g, int fd) {
  gate_slot *free_slot = NULL;
  for (unsigned i = 0; i < g->n_slots; i++) {
    gate_slot *s = &g->slots[i];
    if (s->fd == fd) slot_free(s);
    if (s->fd < 0 && !free_slot) free_slot = s;
  }
  return free_slot;
}

/* Stops new handshakes, accepts the whole backlog, closes the listening socket, and answers
 * every connection still in the gate 503. */
static void quiesce_now(tkserve_gate *g) {
  stop_handshakes(g->listen_fd);
  accepted a;
  for (int k = 0; k < ACCEPTS_AT_SHUTDOWN; k++) {
    if (!accept_one(g, &a)) {
      if (errno == ECONNABORTED || errno == EINTR) continue; /* the rest are still queued */
      break;
    }
    pthread_mutex_lock(&g->mutex);
    gate_slot *s = slot_unused(g, a.fd);
    if (s) slot_fill(g, s, &a);
    pthread_mutex_unlock(&g->mutex);
    if (!s) { /* no slot left to linger in: answered and closed at once, logged all the same */
      log_closed(a.addr, 503, TKSERVE_SHUTTING_DOWN);
      send_raw(a.fd, 503, "Service Unavailable", "Retry-After: 1\r\n", TKSERVE_SHUTTING_DOWN);
      close_gently(a.fd);
    }
  }
  close(g->listen_fd);
  g->listen_fd = -1;
  pthread_mutex_lock(&g->mutex);
  for (unsigned i = 0; i < g->n_slots; i++) {
    gate_slot *s = &g->slots[i];
    if (s->fd >= 0 && !s->in_mhd && !s->lingering) slot_refuse(s);
  }
  g->quiesced = true;
  pthread_cond_broadcast(&g->quiesced_cond);
  pthread_mutex_unlock(&g->mutex);
}

/* A connection answered 503 at shutdown is readable: drops what arrived, and closes it once
 * the client has closed its side. */
static void linger(tkserve_gate *g, gate_slot *s) {
  char sink[4096];
  ssize_t n;
  for (int reads = 0; (n = recv(s->fd, sink, sizeof sink, MSG_DONTWAIT)) > 0 && reads < 16;
       reads++) {}
  if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))) return;
  int fd = s->fd;
  pthread_mutex_lock(&g->mutex);
  slot_free(s);
  pthread_mutex_unlock(&g->mutex);
  close(fd);
}

/* When the thread has stopped: closes the listening socket (if still open) and every
 * connection still in the gate. */
static void close_all(tkserve_gate *g) {
  if (g->listen_fd >= 0) close(g->listen_fd);
  g->listen_fd = -1;
  pthread_mutex_lock(&g->mutex);
  for (unsigned i = 0; i < g->n_slots; i++) {
    gate_slot *s = &g->slots[i];
    if (s->fd >= 0 && !s->in_mhd) {
      close_gently(s->fd);
      slot_free(s);
    }
  }
  g->quiesced = true;
  pthread_cond_broadcast(&g->quiesced_cond);
  pthread_mutex_unlock(&g->mutex);
}

static void *gate_thread(void *arg) {
  tkserve_gate *g = arg;
  struct pollfd *fds = g->fds;
  gate_slot **owner = g->owner;
  while (!atomic_load(&g->stop)) {
    if (atomic_load(&g->quiesce) && g->listen_fd >= 0) quiesce_now(g);
    nfds_t n = 0;
    fds[n++] = (struct pollfd){.fd = g->wake[0], .events = POLLIN};
    if (g->listen_fd >= 0) fds[n++] = (struct pollfd){.fd = g->listen_fd, .events = POLLIN};
    pthread_mutex_lock(&g->mutex);
    for (unsigned i = 0; i < g->n_slots; i++) {
      if (g->slots[i].fd < 0 || g->slots[i].in_mhd) continue;
      owner[n] = &g->slots[i];
      fds[n++] = (struct pollfd){.fd = g->slots[i].fd, .events = POLLIN | POLLRDHUP};
    }
    pthread_mutex_unlock(&g->mutex);
    int ready = poll(fds, n, TICK_MS);
    if (ready > 0) {
      if (fds[0].revents) {
        char sink[64];
        (void)!read(g->wake[0], sink, sizeof sink);
      }
      for (nfds_t k = 1; k < n; k++) {
        if (!fds[k].revents) continue;
        if (fds[k].fd == g->listen_fd && k == 1)
          accept_some(g);
        else if (owner[k]->fd != fds[k].fd || owner[k]->in_mhd) /* evicted meanwhile */
          continue;
        else if (owner[k]->lingering)
          linger(g, owner[k]);
        else
          check_line(g, owner[k], fds[k].revents & (POLLRDHUP | POLLHUP | POLLERR));
      }
    }
    reap(g);
  }
  return NULL;
}

/* ---- API ---------------------------------------------------------------------------------- */

tk_status tkserve_gate_start(tkserve_state *st, int listen_fd, struct MHD_Daemon *daemon) {
  st->gate = NULL;
  tkserve_gate *g = tk_calloc(1, sizeof *g);
  /* twice the limit: an evicted connection keeps its slot until MHD has closed it */
  unsigned n_slots = st->config.max_connections * 2;
  gate_slot *slots = tk_calloc(n_slots, sizeof *slots);
  struct pollfd *fds = tk_calloc(n_slots + 2, sizeof *fds);
  gate_slot **owner = tk_calloc(n_slots + 2, sizeof *owner);
  if (!g || !slots || !fds || !owner) {
    free(g);
    free(slots);
    free(fds);
    free(owner);
    close(listen_fd);
    return tk_status_make(TK_RESOURCE_EXHAUSTED, "out of memory for the connection table");
  }
  *g = (tkserve_gate){.st = st,
                      .daemon = daemon,
                      .listen_fd = listen_fd,
                      .slots = slots,
                      .n_slots = n_slots,
                      .fds = fds,
                      .owner = owner,
                      .wake = {-1, -1}};
  for (unsigned i = 0; i < g->n_slots; i++) slots[i].fd = -1;
  pthread_mutex_init(&g->mutex, NULL);
  pthread_cond_init(&g->quiesced_cond, NULL);
  fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
  tk_status s = TK_STATUS_OK;
  st->gate = g; /* before the thread starts: MHD's notifications look for it */
  if (pipe2(g->wake, O_CLOEXEC | O_NONBLOCK))
    s = tk_status_make(TK_INTERNAL, "cannot create the gate's pipe: %s", strerror(errno));
  else if (pthread_create(&g->thread, NULL, gate_thread, g))
    s = tk_status_make(TK_INTERNAL, "cannot start the connection gate thread");
  if (s) {
    st->gate = NULL;
    if (g->wake[0] >= 0) close(g->wake[0]);
    if (g->wake[1] >= 0) close(g->wake[1]);
    close(listen_fd);
    pthread_mutex_destroy(&g->mutex);
    pthread_cond_destroy(&g->quiesced_cond);
    free(slots);
    free(fds);
    free(owner);
    free(g);
    return s;
  }
  return TK_STATUS_OK;
}

void tkserve_gate_quiesce(tkserve_gate *g) {
  if (!g) return;
  atomic_store(&g->quiesce, true);
  (void)!write(g->wake[1], "q", 1);
  pthread_mutex_lock(&g->mutex);
  while (!g->quiesced) pthread_cond_wait(&g->quiesced_cond, &g->mutex);
  pthread_mutex_unlock(&g->mutex);
}

void tkserve_gate_stop(tkserve_gate *g) {
  if (!g || atomic_exchange(&g->stop, true)) return;
  (void)!write(g->wake[1], "s", 1);
  pthread_join(g->thread, NULL);
  close_all(g);
}

void tkserve_gate_destroy(tkserve_gate *g) {
  if (!g) return;
  tkserve_gate_stop(g);
  close(g->wake[0]);
  close(g->wake[1]);
  pthread_mutex_destroy(&g->mutex);
  pthread_cond_destroy(&g->quiesced_cond);
  free(g->slots);
  free(g->fds);
  free(g->owner);
  free(g);
}

unsigned tkserve_gate_active(tkserve_gate *g) {
  unsigned n = 0;
  pthread_mutex_lock(&g->mutex);
  for (unsigned i = 0; i < g->n_slots; i++) {
    const gate_slot *s = &g->slots[i];
    if (s->fd < 0 || s->evicting) continue;
    bool idle = s->in_mhd && s->phase == TKSERVE_HEADERS && s->served; /* between requests */
    n += !idle; /* in MHD with a request under way, or still the gate's */
  }
  pthread_mutex_unlock(&g->mutex);
  return n;
}

void tkserve_gate_notify(void *cls, struct MHD_Connection *c, void **socket_context, int started) {
  tkserve_gate *g = ((tkserve_state *)cls)->gate;
  if (!g) return;
  pthread_mutex_lock(&g->mutex);
  if (started) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    *socket_context = info ? slot_by_fd(g, info->connect_fd) : NULL;
  } else if (*socket_context) {
    slot_free(*socket_context);
    *socket_context = NULL;
  }
  pthread_mutex_unlock(&g->mutex);
}

void tkserve_gate_phase(tkserve_gate *g, void *socket_context, tkserve_phase phase) {
  if (!g || !socket_context) return;
  pthread_mutex_lock(&g->mutex);
  gate_slot *s = socket_context;
  if (phase == TKSERVE_HEADERS) s->served = true; /* a response completed: kept alive */
  slot_phase(g, s, phase);
  pthread_mutex_unlock(&g->mutex);
}
