/*
 * A watch client in C (OpenSSL; one epoll loop serves all of a process's watches) for bench/api/run.ts --c-watchers: the same
 * protocol as watchers.ts, at a small fraction of a Node client's CPU per event, so that 500
 * watchers sharing the server's two cores measure the server's delivery rather than the clients.
 * argv: port path n cafile certfile keyfile. Prints "ready" once every watch has its response
 * headers, then, when stdin closes, one line "name epochMs" per event of a pod named w-<i>, and "end".
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SEEN 4096
static const char MARK[] = "\"name\":\"w-";

struct seen { char name[24]; double ms; };
struct watch { int port; const char *path; struct seen *seen; int nseen; int fd; SSL *ssl; int headers; int closed; int carry; char buf[65536 + 64]; };
struct watches { int ep; struct watch *ws; };

static SSL_CTX *ctx;
static atomic_int ready_count;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Connect, handshake and send the watch request (blocking), then leave the socket non-blocking. */
static void open_watch(struct watch *w) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(w->port) };
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { perror("connect"); exit(1); }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  if (SSL_connect(ssl) != 1) { ERR_print_errors_fp(stderr); exit(1); }
  char req[1024];
  int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: application/json\r\n\r\n", w->path, w->port);
  SSL_write(ssl, req, len);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  w->fd = fd;
  w->ssl = ssl;
}

/* Read what one watch has; names of pods w-<i> are recorded with the time they were read. */
static void drain(struct watch *w) {
  for (;;) {
    int n = SSL_read(w->ssl, w->buf + w->carry, 65536);
    if (n <= 0) {
      int e = SSL_get_error(w->ssl, n);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) { w->closed = 1; }
      return;
    }
    double t = now_ms();
    if (!w->headers) {
      w->headers = 1;
      atomic_fetch_add(&ready_count, 1);
    }
    char *buf = w->buf;
    int end = w->carry + n;
    char *p = buf, *stop = buf + end, *keep = NULL;
    while ((p = memmem(p, stop - p, MARK, sizeof MARK - 1)) != NULL) {
      char *name = p + 8, *q = memchr(name, '"', stop - name);
      if (!q) { keep = p; break; }
      if (w->nseen < MAX_SEEN && q - name < (long)sizeof w->seen[0].name) {
        memcpy(w->seen[w->nseen].name, name, q - name);
        w->seen[w->nseen].name[q - name] = 0;
        w->seen[w->nseen++].ms = t;
      }
      p = q;
    }
    if (!keep) keep = end > (int)sizeof MARK ? stop - (sizeof MARK) : buf;
    w->carry = stop - keep;
    memmove(buf, keep, w->carry);
    /* Nothing left in OpenSSL's buffer: stop here rather than pay a read that would find the
       socket empty; epoll (level-triggered) reports the socket again if more has arrived. */
    if (!SSL_has_pending(w->ssl)) return;
  }
}

/* One thread serves every watch of this process through epoll, as an event-loop client does. */
static void *loop(void *arg) {
  struct watches *all = arg;
  struct epoll_event evs[256];
  for (;;) {
    int k = epoll_wait(all->ep, evs, 256, -1);
    for (int i = 0; i < k; i++) drain(&all->ws[evs[i].data.u32]);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 7) { fprintf(stderr, "usage: c-watcher port path n cafile certfile keyfile\n"); return 2; }
  int port = atoi(argv[1]), n = atoi(argv[3]);
  ctx = SSL_CTX_new(TLS_client_method());
  if (!SSL_CTX_load_verify_locations(ctx, argv[4], NULL) || !SSL_CTX_use_certificate_file(ctx, argv[5], SSL_FILETYPE_PEM) || !SSL_CTX_use_PrivateKey_file(ctx, argv[6], SSL_FILETYPE_PEM)) {
    ERR_print_errors_fp(stderr);
    return 1;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  /* One read() per readiness takes a whole record (header and body) when it has all arrived. */
  SSL_CTX_set_read_ahead(ctx, 1);
  struct watch *ws = calloc(n, sizeof *ws);
  struct watches all = { .ep = epoll_create1(0), .ws = ws };
  for (int i = 0; i < n; i++) {
    ws[i].port = port;
    ws[i].path = argv[2];
    ws[i].seen = calloc(MAX_SEEN, sizeof(struct seen));
    open_watch(&ws[i]);
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
    epoll_ctl(all.ep, EPOLL_CTL_ADD, ws[i].fd, &ev);
  }
  pthread_t th;
  pthread_create(&th, NULL, loop, &all);
  while (atomic_load(&ready_count) < n) usleep(10000);
  printf("ready\n");
  fflush(stdout);
  /* The parent asks for the results by closing stdin. */
  char c;
  while (read(0, &c, 1) > 0) {}
  for (int i = 0; i < n; i++)
    for (int j = 0; j < ws[i].nseen; j++) printf("%s %.3f\n", ws[i].seen[j].name, ws[i].seen[j].ms);
  printf("end\n");
  fflush(stdout);
  _exit(0);
}
