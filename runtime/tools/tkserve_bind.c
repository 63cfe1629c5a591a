/* runtime/tools/tkserve_bind.c — tkserve's listening socket from "HOST:PORT".
 *
 * tkserve binds the socket itself (and hands it to libmicrohttpd) so that a bad address or a
 * port in use is reported with the OS's reason, and so that port 0 can be resolved to the
 * port the kernel picked (getsockname) and printed for scripts and tests.
 */
#include <errno.h>
#include <netdb.h>
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

/* "HOST:PORT" of a bound socket (numeric). */
static void bound_name(int fd, char *out, size_t size) {
  struct sockaddr_storage ss = {0};
  socklen_t len = sizeof ss;
  char host[NI_MAXHOST] = "?", port[NI_MAXSERV] = "?";
  if (!getsockname(fd, (struct sockaddr *)&ss, &len))
    getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, port, sizeof port,
                NI_NUMERICHOST | NI_NUMERICSERV);
  snprintf(out, size, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

tk_status tkserve_bind(const char *address, int *out_fd, char *out_name, size_t name_size) {
  *out_fd = -1;
  char host[256], port[8];
  TK_RETURN_IF_ERROR(split_address(address, host, sizeof host, port, sizeof port));
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *list = NULL;
  int rc = getaddrinfo(host, port, &hints, &list);
  if (rc)
    return tk_status_make(TK_INVALID_ARGUMENT, "bind address \"%s\": %s", address,
                          gai_strerror(rc));
  tk_status s = bind_one(list, address, out_fd);
  freeaddrinfo(list);
  if (!s) bound_name(*out_fd, out_name, name_size);
  return s;
}
