/* runtime/tools/tkserve_bind.c — tkserve's listening socket from "HOST:PORT".
 *
 * tkserve binds the socket itself (and hands it to libmicrohttpd) so that a bad address or a
 * port in use is reported with the OS's reason, and so that port 0 can be resolved to the
 * port the kernel picked (getsockname) and printed for scripts and tests. It also says whether
 * the bound address is a loopback one (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104), so that main
 * can warn before serving on an address other machines can reach.
 */
#include <errno.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/tools/tkserve.h"

enum { LISTEN_BACKLOG = 128 };

/* Splits "host:port" / "[v6]:port" into host and port strings (port digits only). */
static tk_status split_address(const char *address, char *host, size_t host_size, char *port,
                               size_t port_size) {
  const char *colon = strrchr(address, ':');
  const char *h = address, *h_end = colon;
  if (address[0] == '[') {
    const char *close = strchr(address, ']');
    if (!close || close[1] != ':') colon = NULL;
    h = address + 1;
    h_end = close;
  }
  bool port_ok = colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1) &&
                 strlen(colon + 1) <= 5 && atoi(colon + 1) <= 65535;
  if (!port_ok || h_end <= h || (size_t)(h_end - h) >= host_size || strlen(colon + 1) >= port_size)
    return tk_status_make(TK_INVALID_ARGUMENT,
                          "bind address \"%s\": expected HOST:PORT (e.g. 127.0.0.1:9100, "
                          "[::1]:9100; port 0 picks a free port)",
                          address);
  memcpy(host, h, (size_t)(h_end - h));
  host[h_end - h] = '\0';
  strcpy(port, colon + 1);
  return TK_STATUS_OK;
}

static tk_status bind_one(const struct addrinfo *ai, const char *address, int *out_fd) {
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) return tk_status_make(TK_IO_ERROR, "socket for %s: %s", address, strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, LISTEN_BACKLOG)) {
    int err = errno;
    close(fd);
    return tk_status_make(TK_IO_ERROR, "cannot listen on %s: %s", address, strerror(err));
  }
  *out_fd = fd;
  return TK_STATUS_OK;
}

static bool is_loopback(const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET)
    return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
  if (ss->ss_family != AF_INET6) return false;
  const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
  return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

/* "HOST:PORT" of a bound socket (numeric), and whether it is a loopback address. */
static void bound_name(int fd, char *out, size_t size, bool *out_loopback) {
  struct sockaddr_storage ss = {0};
  socklen_t len = sizeof ss;
  char host[NI_MAXHOST] = "?", port[NI_MAXSERV] = "?";
  if (!getsockname(fd, (struct sockaddr *)&ss, &len))
    getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, port, sizeof port,
                NI_NUMERICHOST | NI_NUMERICSERV);
  snprintf(out, size, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
  *out_loopback = is_loopback(&ss);
}

tk_status tkserve_bind(const char *address, int *out_fd, char *out_name, size_t name_size,
                       bool *out_loopback) {
  *out_fd = -1;
  *out_loopback = false;
  char host[256], port[8];
  TK_RETURN_IF_ERROR(split_address(address, host, sizeof host, port, sizeof port));
  struct addrinfo hints = {
      .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *list = NULL;
  int rc = getaddrinfo(host, port, &hints, &list);
  if (rc)
    return tk_status_make(TK_INVALID_ARGUMENT, "bind address \"%s\": %s", address,
                          gai_strerror(rc));
  tk_status s = bind_one(list, address, out_fd);
  freeaddrinfo(list);
  if (!s) bound_name(*out_fd, out_name, name_size, out_loopback);
  return s;
}
