/**
 * A CNI `bridge` plugin in C (with host-local IPAM built in), compiled with the machine's compiler
 * like the static pause and the C loopback (see pause-image.ts, cni-loopback.ts). containerd's CRI
 * runs bridge for every sandbox ADD and DEL; Debian's Go bridge plus the Go host-local it execs cost
 * about 70 ms of CPU per ADD and 60 ms per DEL on a 2-vCPU machine.
 *
 * It handles exactly the config {@link bridgeConflist} writes (isGateway, no ipMasq, hairpin on or
 * off, one IPv4 host-local range given by `subnet` alone, routes, dataDir) for ADD and DEL, and it
 * keeps host-local's on-disk store (`<dataDir>/<name>/<ip>` holding `<id>\r\n<ifname>`,
 * `last_reserved_ip.0`, flock on `lock`), so either plugin can release what the other allocated.
 * Anything else — other IPAM, several ranges, rangeStart/gateway, ipMasq, mtu, vlan, promiscMode,
 * mac, IP= in CNI_ARGS, CHECK, GC, STATUS — is handed to the Go plugin: it execs the real bridge
 * (path compiled in, see {@link cBridgePlugin}) with the same environment and stdin bytes.
 *
 * Set K8TS_CNI_BRIDGE=go to keep the Go plugin (A/B benchmarks, escape hatch).
 */
import { staticCBinary } from './pause-image.js';

/** Where Debian's containernetworking-plugins puts the Go bridge. */
export const GO_BRIDGE_PLUGIN = '/usr/lib/cni/bridge';

/** The plugin's C source, with `@GO_BRIDGE@` standing for the Go plugin's path (see {@link bridgeCSource}). */
export const BRIDGE_C_SOURCE_TEMPLATE = String.raw`#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The Go plugin this one stands in for: it gets every config and command this one does not handle. */
static const char GO_BRIDGE[] = "@GO_BRIDGE@";

static char *conf;
static size_t conf_len;
static const char *ver = "0.1.0";

/* ---- errors ---- */

static void jstr_out(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20) fprintf(f, "\\u%04x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

static int fail(int code, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  printf("{\"cniVersion\":");
  jstr_out(stdout, ver);
  printf(",\"code\":%d,\"msg\":", code);
  jstr_out(stdout, msg);
  printf("}\n");
  return 1;
}

/* Runs the Go plugin with the same environment and the same stdin bytes. */
static int fallback(void) {
  if (getenv("K8TS_CNI_BRIDGE_FALLBACK")) return fail(999, "bridge fallback %s loops back to itself", GO_BRIDGE);
  setenv("K8TS_CNI_BRIDGE_FALLBACK", "1", 1);
  int fd = memfd_create("cni-conf", 0);
  if (fd < 0) return fail(999, "memfd_create: %s", strerror(errno));
  size_t off = 0;
  while (off < conf_len) {
    ssize_t n = write(fd, conf + off, conf_len - off);
    if (n <= 0) return fail(999, "write config: %s", strerror(errno));
    off += (size_t)n;
  }
  lseek(fd, 0, SEEK_SET);
  dup2(fd, 0);
  close(fd);
  fflush(stdout);
  char *argv[] = {(char *)GO_BRIDGE, NULL};
  execv(GO_BRIDGE, argv);
  return fail(999, "exec %s: %s", GO_BRIDGE, strerror(errno));
}

/* ---- a small JSON reader: a tree of nodes, strings decoded in place ---- */

enum { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };
typedef struct {
  int type, child, next;
  char *key, *str; /* str: decoded string, or the raw number text */
} jnode;
#define MAXN 8192
static jnode nodes[MAXN];
static int nn;
static char *jp;

static void ws(void) {
  while (*jp == ' ' || *jp == '\t' || *jp == '\n' || *jp == '\r') jp++;
}

static int put_utf8(char **o, unsigned cp) {
  char *d = *o;
  if (cp < 0x80) *d++ = (char)cp;
  else if (cp < 0x800) { *d++ = (char)(0xc0 | cp >> 6); *d++ = (char)(0x80 | (cp & 0x3f)); }
  else if (cp < 0x10000) { *d++ = (char)(0xe0 | cp >> 12); *d++ = (char)(0x80 | ((cp >> 6) & 0x3f)); *d++ = (char)(0x80 | (cp & 0x3f)); }
  else { *d++ = (char)(0xf0 | cp >> 18); *d++ = (char)(0x80 | ((cp >> 12) & 0x3f)); *d++ = (char)(0x80 | ((cp >> 6) & 0x3f)); *d++ = (char)(0x80 | (cp & 0x3f)); }
  *o = d;
  return 0;
}

static int hex4(const char *s, unsigned *v) {
  *v = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    *v <<= 4;
    if (c >= '0' && c <= '9') *v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') *v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') *v |= (unsigned)(c - 'A' + 10);
    else return -1;
  }
  return 0;
}

/* Decodes the string at jp (after the quote) in place; the decoded text never outgrows the source. */
static char *jstring(void) {
  char *out = jp, *d = jp;
  for (;;) {
    unsigned char c = (unsigned char)*jp;
    if (!c || c < 0x20) return NULL;
    jp++;
    if (c == '"') break;
    if (c != '\\') { *d++ = (char)c; continue; }
    c = (unsigned char)*jp++;
    switch (c) {
    case '"': case '\\': case '/': *d++ = (char)c; break;
    case 'b': *d++ = '\b'; break;
    case 'f': *d++ = '\f'; break;
    case 'n': *d++ = '\n'; break;
    case 'r': *d++ = '\r'; break;
    case 't': *d++ = '\t'; break;
    case 'u': {
      unsigned cp, lo;
      if (hex4(jp, &cp)) return NULL;
      jp += 4;
      if (cp >= 0xd800 && cp < 0xdc00 && jp[0] == '\\' && jp[1] == 'u' && !hex4(jp + 2, &lo) && lo >= 0xdc00 && lo < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        jp += 6;
      }
      if (!cp) return NULL; /* NUL would cut the string */
      put_utf8(&d, cp);
      break;
    }
    default: return NULL;
    }
  }
  *d = 0;
  return out;
}

static int jvalue(int depth);

static int jnew(int type) {
  if (nn >= MAXN) return -1;
  nodes[nn] = (jnode){type, -1, -1, NULL, NULL};
  return nn++;
}

static int jcontainer(int type, int depth) {
  int me = jnew(type), last = -1;
  if (me < 0) return -1;
  char close = type == J_OBJ ? '}' : ']';
  jp++;
  ws();
  if (*jp == close) { jp++; return me; }
  for (;;) {
    char *key = NULL;
    ws();
    if (type == J_OBJ) {
      if (*jp != '"') return -1;
      jp++;
      if (!(key = jstring())) return -1;
      ws();
      if (*jp++ != ':') return -1;
    }
    int c = jvalue(depth + 1);
    if (c < 0) return -1;
    nodes[c].key = key;
    if (last < 0) nodes[me].child = c; else nodes[last].next = c;
    last = c;
    ws();
    if (*jp == ',') { jp++; continue; }
    if (*jp == close) { jp++; return me; }
    return -1;
  }
}

static int jvalue(int depth) {
  if (depth > 64) return -1;
  ws();
  char c = *jp;
  if (c == '{') return jcontainer(J_OBJ, depth);
  if (c == '[') return jcontainer(J_ARR, depth);
  if (c == '"') {
    jp++;
    char *s = jstring();
    if (!s) return -1;
    int n = jnew(J_STR);
    if (n >= 0) nodes[n].str = s;
    return n;
  }
  if (!strncmp(jp, "true", 4)) { jp += 4; return jnew(J_TRUE); }
  if (!strncmp(jp, "false", 5)) { jp += 5; return jnew(J_FALSE); }
  if (!strncmp(jp, "null", 4)) { jp += 4; return jnew(J_NULL); }
  if (c == '-' || (c >= '0' && c <= '9')) {
    char *s = jp;
    while (*jp == '-' || *jp == '+' || *jp == '.' || *jp == 'e' || *jp == 'E' || (*jp >= '0' && *jp <= '9')) jp++;
    int n = jnew(J_NUM);
    if (n < 0) return -1;
    /* Numbers are only compared with 0: keep a copy of the text in the node's own buffer. */
    size_t len = (size_t)(jp - s);
    char *t = malloc(len + 1);
    if (!t) return -1;
    memcpy(t, s, len);
    t[len] = 0;
    nodes[n].str = t;
    return n;
  }
  return -1;
}

/* The member key of object node o, or -1. */
static int jget(int o, const char *key) {
  if (o < 0 || nodes[o].type != J_OBJ) return -1;
  for (int c = nodes[o].child; c >= 0; c = nodes[c].next)
    if (!strcmp(nodes[c].key, key)) return c;
  return -1;
}
static int jcount(int a) {
  int n = 0;
  for (int c = nodes[a].child; c >= 0; c = nodes[c].next) n++;
  return n;
}
static const char *jgets(int o, const char *key) {
  int c = jget(o, key);
  return c >= 0 && nodes[c].type == J_STR ? nodes[c].str : NULL;
}
/* Absent, null, false, or a number equal to zero. */
static int jzero(int o, const char *key) {
  int c = jget(o, key);
  if (c < 0) return 1;
  int t = nodes[c].type;
  if (t == J_NULL || t == J_FALSE) return 1;
  return t == J_NUM && strtod(nodes[c].str, NULL) == 0;
}

/* ---- the configuration this plugin handles (everything else goes to the Go plugin) ---- */

#define MAXROUTES 16
static struct {
  const char *name, *bridge, *datadir;
  int hairpin;
  uint32_t net, mask, gw, start, end;
  int prefix;
  int nroutes;
  uint32_t rdst[MAXROUTES], rgw[MAXROUTES];
  int rpre[MAXROUTES], rhasgw[MAXROUTES];
} cf;

static int parse_ip4(const char *s, uint32_t *out) {
  struct in_addr a;
  if (!s || inet_pton(AF_INET, s, &a) != 1) return -1;
  *out = ntohl(a.s_addr);
  return 0;
}
static int parse_cidr(const char *s, uint32_t *ip, int *prefix) {
  char buf[64];
  const char *slash = s ? strchr(s, '/') : NULL;
  if (!slash || (size_t)(slash - s) >= sizeof buf) return -1;
  memcpy(buf, s, (size_t)(slash - s));
  buf[slash - s] = 0;
  char *e;
  long p = strtol(slash + 1, &e, 10);
  if (*e || e == slash + 1 || p < 0 || p > 32) return -1;
  *prefix = (int)p;
  return parse_ip4(buf, ip);
}
static uint32_t mask_of(int prefix) { return prefix ? 0xffffffffu << (32 - prefix) : 0; }
static const char *ip_str(uint32_t ip, char *buf) {
  struct in_addr a = {htonl(ip)};
  return inet_ntop(AF_INET, &a, buf, 16);
}

static int name_ok(const char *s, size_t max) {
  size_t n = s ? strlen(s) : 0;
  if (!n || n > max || !strcmp(s, ".") || !strcmp(s, "..")) return 0;
  for (; *s; s++)
    if (*s == '/' || *s == ':' || (unsigned char)*s <= ' ') return 0;
  return 1;
}

static int only_keys(int o, const char *const *allowed) {
  for (int c = nodes[o].child; c >= 0; c = nodes[c].next) {
    int ok = 0;
    for (const char *const *a = allowed; *a; a++)
      if (!strcmp(nodes[c].key, *a)) ok = 1;
    if (!ok) return 0;
  }
  return 1;
}

/* 1 when the config, CNI_ARGS and the environment are exactly the supported subset. */
static int understood(int root) {
  static const char *const top[] = {"cniVersion", "name", "type", "bridge", "isGateway", "isDefaultGateway", "forceAddress",
                                    "ipMasq", "mtu", "hairpinMode", "promiscMode", "vlan", "vlanTrunk", "preserveDefaultVlan",
                                    "macspoofchk", "enabledad", "ipam", "runtimeConfig", "prevResult", "capabilities", "dns", NULL};
  static const char *const ipamk[] = {"type", "ranges", "routes", "dataDir", NULL};
  static const char *const rangek[] = {"subnet", NULL};
  static const char *const routek[] = {"dst", "gw", NULL};
  if (nodes[root].type != J_OBJ || !only_keys(root, top)) return 0;
  if (strcmp(ver, "0.3.0") && strcmp(ver, "0.3.1") && strcmp(ver, "0.4.0") && strcmp(ver, "1.0.0")) return 0;
  cf.name = jgets(root, "name");
  if (!name_ok(cf.name, 4096)) return 0;
  cf.bridge = jget(root, "bridge") >= 0 ? jgets(root, "bridge") : "cni0";
  if (!name_ok(cf.bridge, 15)) return 0;
  int g = jget(root, "isGateway");
  if (g < 0 || nodes[g].type != J_TRUE) return 0;
  if (!jzero(root, "isDefaultGateway") || !jzero(root, "forceAddress") || !jzero(root, "ipMasq") || !jzero(root, "mtu") ||
      !jzero(root, "promiscMode") || !jzero(root, "vlan") || !jzero(root, "macspoofchk") || !jzero(root, "enabledad"))
    return 0;
  int vt = jget(root, "vlanTrunk");
  if (vt >= 0 && nodes[vt].type != J_NULL) return 0;
  int hp = jget(root, "hairpinMode");
  if (hp >= 0 && nodes[hp].type != J_TRUE && nodes[hp].type != J_FALSE) return 0;
  cf.hairpin = hp >= 0 && nodes[hp].type == J_TRUE;
  int rc = jget(root, "runtimeConfig");
  if (rc >= 0 && (nodes[rc].type != J_OBJ || jget(rc, "mac") >= 0 || jget(rc, "ips") >= 0)) return 0;
  int dns = jget(root, "dns");
  if (dns >= 0 && (nodes[dns].type != J_OBJ || nodes[dns].child >= 0)) return 0;

  int ipam = jget(root, "ipam");
  if (ipam < 0 || nodes[ipam].type != J_OBJ || !only_keys(ipam, ipamk)) return 0;
  const char *t = jgets(ipam, "type");
  if (!t || strcmp(t, "host-local")) return 0;
  cf.datadir = jget(ipam, "dataDir") >= 0 ? jgets(ipam, "dataDir") : "/var/lib/cni/networks";
  if (!cf.datadir || cf.datadir[0] != '/') return 0;
  int rs = jget(ipam, "ranges");
  if (rs < 0 || nodes[rs].type != J_ARR || jcount(rs) != 1) return 0;
  int set = nodes[rs].child;
  if (nodes[set].type != J_ARR || jcount(set) != 1) return 0;
  int r = nodes[set].child;
  if (nodes[r].type != J_OBJ || !only_keys(r, rangek)) return 0;
  if (parse_cidr(jgets(r, "subnet"), &cf.net, &cf.prefix) || cf.prefix < 1 || cf.prefix > 30) return 0;
  cf.mask = mask_of(cf.prefix);
  if (cf.net & ~cf.mask) return 0; /* host bits set: host-local says so */
  cf.gw = cf.net + 1;
  cf.start = cf.net + 1;
  cf.end = (cf.net | ~cf.mask) - 1;
  int routes = jget(ipam, "routes");
  cf.nroutes = 0;
  if (routes >= 0) {
    if (nodes[routes].type != J_ARR) return 0;
    for (int c = nodes[routes].child; c >= 0; c = nodes[c].next) {
      if (cf.nroutes >= MAXROUTES || nodes[c].type != J_OBJ || !only_keys(c, routek)) return 0;
      int i = cf.nroutes++;
      if (parse_cidr(jgets(c, "dst"), &cf.rdst[i], &cf.rpre[i])) return 0;
      cf.rdst[i] &= mask_of(cf.rpre[i]);
      cf.rhasgw[i] = jget(c, "gw") >= 0;
      if (cf.rhasgw[i] && parse_ip4(jgets(c, "gw"), &cf.rgw[i])) return 0;
    }
  }

  /* CNI_ARGS: IP= and MAC= ask for things only the Go plugin does; other keys need IgnoreUnknown. */
  const char *args = getenv("CNI_ARGS");
  if (args && *args) {
    int unknown = 0, ignore = 0;
    char buf[4096];
    if (strlen(args) >= sizeof buf) return 0;
    strcpy(buf, args);
    for (char *save, *kv = strtok_r(buf, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
      char *eq = strchr(kv, '=');
      if (!eq) return 0;
      *eq = 0;
      if (!strcmp(kv, "IP") || !strcmp(kv, "MAC")) return 0;
      if (!strcmp(kv, "IgnoreUnknown")) {
        const char *v = eq + 1;
        ignore = !strcmp(v, "1") || !strcasecmp(v, "true") || !strcmp(v, "t") || !strcmp(v, "T");
      } else unknown = 1;
    }
    if (unknown && !ignore) return 0;
  }
  const char *id = getenv("CNI_CONTAINERID");
  if (!id || !*id || !((id[0] >= '0' && id[0] <= '9') || (id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z'))) return 0;
  for (const char *p = id; *p; p++)
    if (!(*p == '_' || *p == '.' || *p == '-' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) return 0;
  if (!name_ok(getenv("CNI_IFNAME"), 15)) return 0;
  return 1;
}

/* ---- netlink ---- */

typedef struct {
  struct nlmsghdr h;
  char data[4096];
} nlreq;
static unsigned seq;
static char rbuf[65536];

static int nl_open(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return -1;
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) return -1;
  return fd;
}

static void *nl_init(nlreq *r, int type, int flags, size_t hdrlen) {
  memset(r, 0, sizeof *r);
  r->h.nlmsg_len = NLMSG_LENGTH(hdrlen);
  r->h.nlmsg_type = (unsigned short)type;
  r->h.nlmsg_flags = (unsigned short)(NLM_F_REQUEST | flags);
  r->h.nlmsg_seq = ++seq;
  return NLMSG_DATA(&r->h);
}
static struct rtattr *nl_attr(nlreq *r, int type, const void *data, size_t len) {
  struct rtattr *a = (struct rtattr *)((char *)&r->h + NLMSG_ALIGN(r->h.nlmsg_len));
  a->rta_type = (unsigned short)type;
  a->rta_len = (unsigned short)RTA_LENGTH(len);
  if (data) memcpy(RTA_DATA(a), data, len);
  r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
  return a;
}
static void nl_str(nlreq *r, int type, const char *s) { nl_attr(r, type, s, strlen(s) + 1); }
static void nl_u32(nlreq *r, int type, uint32_t v) { nl_attr(r, type, &v, 4); }
static void nl_end(nlreq *r, struct rtattr *nest) {
  nest->rta_len = (unsigned short)((char *)&r->h + r->h.nlmsg_len - (char *)nest);
}

/* One read of netlink replies into rbuf: its length, or -errno. */
static ssize_t nl_recv(int fd) {
  for (;;) {
    ssize_t n = recv(fd, rbuf, sizeof rbuf, 0);
    if (n >= 0 || errno != EINTR) return n < 0 ? -errno : n;
  }
}

/* Sends r and reads the answer: 0 or -errno from the kernel's ack; a GET (no ack asked) returns the reply's length, kept in rbuf. */
static int nl_talk(int fd, nlreq *r) {
  int get = r->h.nlmsg_type == RTM_GETLINK;
  if (!get) r->h.nlmsg_flags |= NLM_F_ACK;
  if (send(fd, r, r->h.nlmsg_len, 0) < 0) return -errno;
  for (;;) {
    ssize_t n = nl_recv(fd);
    if (n < 0) return (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != r->h.nlmsg_seq) continue;
      if (h->nlmsg_type == NLMSG_ERROR) return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
      if (get) {
        memmove(rbuf, h, h->nlmsg_len);
        return (int)h->nlmsg_len;
      }
    }
  }
}

typedef struct {
  int index, up, master;
  unsigned char mac[6];
  char kind[32];
  unsigned char oper;
} linkinfo;

/* Looks up a link by name (or index when name is NULL): 0, or -errno (-ENODEV when missing). */
static int link_get(int fd, const char *name, int index, linkinfo *li) {
  nlreq r;
  struct ifinfomsg *ifi = nl_init(&r, RTM_GETLINK, 0, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  if (name) nl_str(&r, IFLA_IFNAME, name);
  nl_u32(&r, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  int n = nl_talk(fd, &r);
  if (n < 0) return n;
  if (n == 0) return -ENODEV;
  memset(li, 0, sizeof *li);
  struct nlmsghdr *h = (struct nlmsghdr *)rbuf;
  if (h->nlmsg_type != RTM_NEWLINK) return -EPROTO;
  ifi = NLMSG_DATA(h);
  li->index = ifi->ifi_index;
  li->up = !!(ifi->ifi_flags & IFF_UP);
  int len = (int)IFLA_PAYLOAD(h);
  for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == IFLA_ADDRESS && RTA_PAYLOAD(a) == 6) memcpy(li->mac, RTA_DATA(a), 6);
    else if (a->rta_type == IFLA_MASTER) li->master = *(int *)RTA_DATA(a);
    else if (a->rta_type == IFLA_OPERSTATE) li->oper = *(unsigned char *)RTA_DATA(a);
    else if (a->rta_type == IFLA_LINKINFO) {
      int l2 = (int)RTA_PAYLOAD(a);
      for (struct rtattr *b = RTA_DATA(a); RTA_OK(b, l2); b = RTA_NEXT(b, l2))
        if (b->rta_type == IFLA_INFO_KIND) snprintf(li->kind, sizeof li->kind, "%.*s", (int)RTA_PAYLOAD(b), (char *)RTA_DATA(b));
    }
  }
  return 0;
}

/* Sets flags/master/MAC of a link: master < 0 leaves it, mac NULL leaves it. */
static int link_set(int fd, int index, int up, int master, const unsigned char *mac) {
  nlreq r;
  struct ifinfomsg *ifi = nl_init(&r, RTM_NEWLINK, 0, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  if (up) {
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
  }
  if (master >= 0) nl_u32(&r, IFLA_MASTER, (uint32_t)master);
  if (mac) nl_attr(&r, IFLA_ADDRESS, mac, 6);
  return nl_talk(fd, &r);
}

static int link_del(int fd, int index) {
  nlreq r;
  struct ifinfomsg *ifi = nl_init(&r, RTM_DELLINK, 0, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  return nl_talk(fd, &r);
}

static int bridge_add(int fd, const char *name) {
  nlreq r;
  struct ifinfomsg *ifi = nl_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  nl_str(&r, IFLA_IFNAME, name);
  struct rtattr *li = nl_attr(&r, IFLA_LINKINFO, NULL, 0);
  nl_str(&r, IFLA_INFO_KIND, "bridge");
  nl_end(&r, li);
  return nl_talk(fd, &r);
}

/* A veth pair: host here, peer created straight in the namespace nsfd. */
static int veth_add(int fd, const char *host, const char *peer, int nsfd) {
  nlreq r;
  struct ifinfomsg *ifi = nl_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  nl_str(&r, IFLA_IFNAME, host);
  struct rtattr *li = nl_attr(&r, IFLA_LINKINFO, NULL, 0);
  nl_str(&r, IFLA_INFO_KIND, "veth");
  struct rtattr *data = nl_attr(&r, IFLA_INFO_DATA, NULL, 0);
  struct rtattr *pe = nl_attr(&r, VETH_INFO_PEER, NULL, sizeof(struct ifinfomsg));
  memset(RTA_DATA(pe), 0, sizeof(struct ifinfomsg));
  nl_str(&r, IFLA_IFNAME, peer);
  nl_u32(&r, IFLA_NET_NS_FD, (uint32_t)nsfd);
  nl_end(&r, pe);
  nl_end(&r, data);
  nl_end(&r, li);
  return nl_talk(fd, &r);
}

static int hairpin_set(int fd, int index, int on) {
  nlreq r;
  struct ifinfomsg *ifi = nl_init(&r, RTM_SETLINK, 0, sizeof *ifi);
  ifi->ifi_family = AF_BRIDGE;
  ifi->ifi_index = index;
  struct rtattr *p = nl_attr(&r, IFLA_PROTINFO | NLA_F_NESTED, NULL, 0);
  unsigned char v = (unsigned char)on;
  nl_attr(&r, IFLA_BRPORT_MODE, &v, 1);
  nl_end(&r, p);
  return nl_talk(fd, &r);
}

static int addr_add(int fd, int index, uint32_t ip, int prefix) {
  nlreq r;
  struct ifaddrmsg *ifa = nl_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof *ifa);
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = (unsigned char)prefix;
  ifa->ifa_index = (unsigned)index;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  uint32_t a = htonl(ip), b = htonl(prefix < 31 ? (ip | ~mask_of(prefix)) : 0);
  nl_attr(&r, IFA_LOCAL, &a, 4);
  nl_attr(&r, IFA_ADDRESS, &a, 4);
  if (prefix < 31) nl_attr(&r, IFA_BROADCAST, &b, 4);
  return nl_talk(fd, &r);
}

/* The IPv4 addresses of a link: count, or -errno. */
static int addr_list(int fd, int index, uint32_t *ips, int *prefixes, int max) {
  nlreq r;
  struct ifaddrmsg *ifa = nl_init(&r, RTM_GETADDR, NLM_F_DUMP, sizeof *ifa);
  ifa->ifa_family = AF_INET;
  if (send(fd, &r, r.h.nlmsg_len, 0) < 0) return -errno;
  int count = 0;
  for (;;) {
    ssize_t n = nl_recv(fd);
    if (n < 0) return (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != r.h.nlmsg_seq) continue;
      if (h->nlmsg_type == NLMSG_DONE) return count;
      if (h->nlmsg_type == NLMSG_ERROR) return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
      if (h->nlmsg_type != RTM_NEWADDR) continue;
      struct ifaddrmsg *m = NLMSG_DATA(h);
      if ((int)m->ifa_index != index) continue;
      int len = (int)IFA_PAYLOAD(h);
      for (struct rtattr *a = IFA_RTA(m); RTA_OK(a, len); a = RTA_NEXT(a, len))
        if (a->rta_type == IFA_LOCAL && count < max) {
          ips[count] = ntohl(*(uint32_t *)RTA_DATA(a));
          prefixes[count++] = m->ifa_prefixlen;
        }
    }
  }
}

static int route_add(int fd, int index, uint32_t dst, int prefix, uint32_t gw) {
  nlreq r;
  struct rtmsg *rt = nl_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof *rt);
  rt->rtm_family = AF_INET;
  rt->rtm_dst_len = (unsigned char)prefix;
  rt->rtm_table = RT_TABLE_MAIN;
  rt->rtm_protocol = RTPROT_BOOT;
  rt->rtm_scope = RT_SCOPE_UNIVERSE;
  rt->rtm_type = RTN_UNICAST;
  uint32_t d = htonl(dst), g = htonl(gw);
  if (prefix) nl_attr(&r, RTA_DST, &d, 4);
  nl_attr(&r, RTA_GATEWAY, &g, 4);
  nl_u32(&r, RTA_OIF, (uint32_t)index);
  return nl_talk(fd, &r);
}

/* ---- small helpers ---- */

static void sysctl_set(const char *path, const char *val) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = write(fd, val, strlen(val));
  (void)n;
  close(fd);
}

static void mac_str(const unsigned char *m, char *out) {
  sprintf(out, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static int mkdir_p(const char *path) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return -1;
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  return mkdir(buf, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* ---- host-local's store: <dataDir>/<name>/<ip> holding "<id>\r\n<ifname>", last_reserved_ip.0, lock ---- */

static char ipamdir[4096];

static int ipam_lock(void) {
  if (snprintf(ipamdir, sizeof ipamdir, "%s/%s", cf.datadir, cf.name) >= (int)sizeof ipamdir) return -1;
  if (mkdir_p(ipamdir) < 0) return -1;
  char p[4200];
  snprintf(p, sizeof p, "%s/lock", ipamdir);
  int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0750);
  if (fd < 0) return -1;
  while (flock(fd, LOCK_EX) < 0)
    if (errno != EINTR) return -1;
  return fd;
}

/* Whether file path holds match once surrounding whitespace is trimmed (Go's strings.TrimSpace). */
static int file_holds(const char *path, const char *match) {
  char buf[1024];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n < 0) return 0;
  buf[n] = 0;
  char *s = buf, *e = buf + n;
  while (s < e && (*s == ' ' || (*s >= '\t' && *s <= '\r'))) s++;
  while (e > s && (e[-1] == ' ' || (e[-1] >= '\t' && e[-1] <= '\r'))) e--;
  *e = 0;
  return !strcmp(s, match);
}

/* Finds (or removes) the IP-named files holding match; returns how many. */
static int ipam_each(const char *match, int remove_them, uint32_t *first) {
  DIR *d = opendir(ipamdir);
  if (!d) return 0;
  int count = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", ipamdir, e->d_name);
    if (!file_holds(p, match)) continue;
    if (remove_them) {
      if (unlink(p) == 0) count++;
    } else {
      uint32_t ip;
      if (parse_ip4(e->d_name, &ip)) continue;
      if (ip < cf.start || ip > cf.end) continue;
      if (!count && first) *first = ip;
      count++;
    }
  }
  closedir(d);
  return count;
}

static int ipam_alloc(const char *id, const char *ifname, uint32_t *out, char *err, size_t errlen) {
  int lk = ipam_lock();
  if (lk < 0) return snprintf(err, errlen, "failed to open the IPAM store %s/%s: %s", cf.datadir, cf.name, strerror(errno)), -1;
  char match[512], a[16], b[16], p[4200];
  snprintf(match, sizeof match, "%s\r\n%s", id, ifname);
  uint32_t have;
  if (ipam_each(match, 0, &have) || ipam_each(id, 0, &have)) {
    snprintf(err, errlen, "failed to allocate for range 0: %s has been allocated to %s, duplicate allocation is not allowed", ip_str(have, a), id);
    close(lk);
    return -1;
  }
  /* Round robin from the IP after the last one reserved, as host-local does. */
  uint32_t last = 0, cur;
  int have_last = 0;
  char lbuf[64];
  snprintf(p, sizeof p, "%s/last_reserved_ip.0", ipamdir);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, lbuf, sizeof lbuf - 1);
    close(fd);
    if (n > 0) {
      lbuf[n] = 0;
      have_last = !parse_ip4(lbuf, &last) && last >= cf.start && last <= cf.end;
    }
  }
  uint32_t size = cf.end - cf.start + 1;
  cur = have_last ? last : cf.end; /* the first candidate is cur + 1 (wrapping) */
  for (uint32_t i = 0; i < size; i++) {
    cur = cur == cf.end ? cf.start : cur + 1;
    if (have_last && cur == last) break;
    if (cur == cf.gw) continue;
    snprintf(p, sizeof p, "%s/%s", ipamdir, ip_str(cur, a));
    fd = open(p, O_RDWR | O_EXCL | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      snprintf(err, errlen, "failed to allocate for range 0: %s", strerror(errno));
      close(lk);
      return -1;
    }
    size_t ml = strlen(match);
    if (write(fd, match, ml) != (ssize_t)ml || close(fd) < 0) {
      unlink(p);
      snprintf(err, errlen, "failed to allocate for range 0: write %s: %s", p, strerror(errno));
      close(lk);
      return -1;
    }
    snprintf(p, sizeof p, "%s/last_reserved_ip.0", ipamdir);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ssize_t n = write(fd, a, strlen(a));
      (void)n;
      close(fd);
    }
    *out = cur;
    close(lk);
    return 0;
  }
  snprintf(err, errlen, "failed to allocate for range 0: no IP addresses available in range set: %s-%s", ip_str(cf.start, a), ip_str(cf.end, b));
  close(lk);
  return -1;
}

static int ipam_release(const char *id, const char *ifname) {
  int lk = ipam_lock();
  if (lk < 0) return -1;
  char match[512];
  snprintf(match, sizeof match, "%s\r\n%s", id, ifname);
  if (!ipam_each(match, 1, NULL)) ipam_each(id, 1, NULL); /* files from old host-local versions hold only the id */
  close(lk);
  return 0;
}

/* ---- ADD / DEL ---- */

static int enter(int nsfd) { return setns(nsfd, CLONE_NEWNET); }

static int cmd_add(void) {
  const char *id = getenv("CNI_CONTAINERID"), *ifname = getenv("CNI_IFNAME"), *netns = getenv("CNI_NETNS");
  char a[16], b[16], err[1024];
  int hs = nl_open();
  int hostns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (hs < 0 || hostns < 0) return fail(999, "netlink: %s", strerror(errno));

  /* The bridge, up. */
  int e = bridge_add(hs, cf.bridge);
  if (e < 0 && e != -EEXIST) return fail(999, "failed to create bridge \"%s\": could not add \"%s\": %s", cf.bridge, cf.bridge, strerror(-e));
  linkinfo br;
  if ((e = link_get(hs, cf.bridge, 0, &br)) < 0) return fail(999, "failed to create bridge \"%s\": could not lookup \"%s\": %s", cf.bridge, cf.bridge, strerror(-e));
  if (strcmp(br.kind, "bridge")) return fail(999, "failed to create bridge \"%s\": \"%s\" already exists but is not a bridge", cf.bridge, cf.bridge);
  char path[256];
  snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/accept_ra", cf.bridge);
  sysctl_set(path, "0");
  if (!br.up && (e = link_set(hs, br.index, 1, -1, NULL)) < 0) return fail(999, "failed to create bridge \"%s\": %s", cf.bridge, strerror(-e));

  if (!netns || !*netns) return fail(4, "required env variables [CNI_NETNS] missing");
  int nsfd = open(netns, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) return fail(999, "failed to open netns \"%s\": %s", netns, strerror(errno));

  /* The veth pair, host end named like the Go plugin's: veth + 8 hex digits. */
  char host[IFNAMSIZ];
  for (int tries = 0;; tries++) {
    unsigned char rnd[4];
    if (getrandom(rnd, 4, 0) != 4) return fail(999, "getrandom: %s", strerror(errno));
    snprintf(host, sizeof host, "veth%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
    e = veth_add(hs, host, ifname, nsfd);
    if (e == -EEXIST && tries < 10) {
      linkinfo x;
      if (link_get(hs, host, 0, &x) == 0) continue; /* our random name was taken: pick another */
      return fail(999, "container veth name provided (%s) already exists", ifname);
    }
    if (e < 0) return fail(999, "failed to make veth pair: %s", strerror(-e));
    break;
  }
  linkinfo hv;
  if ((e = link_get(hs, host, 0, &hv)) < 0) return fail(999, "failed to lookup \"%s\": %s", host, strerror(-e));
  const char *stage = "failed to set up veth";
  uint32_t ip = 0;
  int have_ip = 0, cs = -1;
  linkinfo cv;
  if ((e = link_set(hs, hv.index, 1, br.index, NULL)) < 0) {
    snprintf(err, sizeof err, "failed to connect \"%s\" to bridge %s: %s", host, cf.bridge, strerror(-e));
    goto undo;
  }
  if ((e = hairpin_set(hs, hv.index, cf.hairpin)) < 0) {
    snprintf(err, sizeof err, "failed to setup hairpin mode for %s: %s", host, strerror(-e));
    goto undo;
  }

  if (ipam_alloc(id, ifname, &ip, err, sizeof err) < 0) goto undo;
  have_ip = 1;

  /* Inside the sandbox: address, link up, routes. */
  if (enter(nsfd) < 0) {
    snprintf(err, sizeof err, "failed to enter netns \"%s\": %s", netns, strerror(errno));
    goto undo;
  }
  snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/accept_dad", ifname);
  sysctl_set(path, "0");
  snprintf(path, sizeof path, "/proc/sys/net/ipv4/conf/%s/arp_notify", ifname);
  sysctl_set(path, "1");
  cs = nl_open();
  e = cs < 0 ? -errno : link_get(cs, ifname, 0, &cv);
  stage = "failed to configure the container interface";
  if (e >= 0) e = addr_add(cs, cv.index, ip, cf.prefix), stage = "failed to add IP addr to the container interface";
  if (e >= 0) e = link_set(cs, cv.index, 1, -1, NULL), stage = "failed to set the container interface up";
  for (int i = 0; e >= 0 && i < cf.nroutes; i++)
    e = route_add(cs, cv.index, cf.rdst[i], cf.rpre[i], cf.rhasgw[i] ? cf.rgw[i] : cf.gw), stage = "failed to add route";
  if (enter(hostns) < 0) return fail(999, "cannot return to the host netns: %s", strerror(errno));
  if (e < 0) {
    snprintf(err, sizeof err, "%s %s: %s", stage, ifname, strerror(-e));
    goto undo;
  }

  /* The gateway address on the bridge, and forwarding. */
  {
    uint32_t ips[16];
    int pres[16], n = addr_list(hs, br.index, ips, pres, 16), found = 0;
    if (n < 0) {
      snprintf(err, sizeof err, "failed to set bridge addr: could not get list of IP addresses: %s", strerror(-n));
      goto undo;
    }
    for (int i = 0; i < n; i++) {
      if (ips[i] == cf.gw && pres[i] == cf.prefix) found = 1;
    }
    if (!found && n > 0) {
      snprintf(err, sizeof err, "failed to set bridge addr: \"%s\" already has an IP address different from %s/%d", cf.bridge, ip_str(cf.gw, a), cf.prefix);
      goto undo;
    }
    if (!found) {
      e = addr_add(hs, br.index, cf.gw, cf.prefix);
      if (e < 0 && e != -EEXIST) {
        snprintf(err, sizeof err, "failed to set bridge addr: could not add IP address to \"%s\": %s", cf.bridge, strerror(-e));
        goto undo;
      }
      /* Pin the bridge's MAC, or it follows the lowest port MAC as ports come and go. */
      if ((e = link_set(hs, br.index, 0, -1, br.mac)) < 0) {
        snprintf(err, sizeof err, "failed to set bridge addr: could not set bridge's mac: %s", strerror(-e));
        goto undo;
      }
    }
    char fw[4] = "";
    int fd = open("/proc/sys/net/ipv4/ip_forward", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t m = read(fd, fw, 1);
      (void)m;
      close(fd);
    }
    if (fw[0] != '1') sysctl_set("/proc/sys/net/ipv4/ip_forward", "1");
  }

  /* Wait (briefly) for the bridge port to come up, as the Go plugin does. */
  static const int waits[] = {0, 50, 500, 1000, 1000};
  for (int i = 0; i < 5; i++) {
    struct timespec ts = {waits[i] / 1000, (waits[i] % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    if ((e = link_get(hs, NULL, hv.index, &hv)) < 0) {
      snprintf(err, sizeof err, "failed to lookup \"%s\": %s", host, strerror(-e));
      goto undo;
    }
    if (hv.oper == 6 /* IF_OPER_UP */) break;
    if (i == 4) {
      snprintf(err, sizeof err, "bridge port in error state: %d", hv.oper);
      goto undo;
    }
  }
  if ((e = link_get(hs, NULL, br.index, &br)) < 0) {
    snprintf(err, sizeof err, "could not lookup \"%s\": %s", cf.bridge, strerror(-e));
    goto undo;
  }

  char m1[18], m2[18], m3[18];
  mac_str(br.mac, m1);
  mac_str(hv.mac, m2);
  mac_str(cv.mac, m3);
  int old = strcmp(ver, "1.0.0") != 0;
  printf("{\"cniVersion\":\"%s\",\"interfaces\":[{\"name\":", ver);
  jstr_out(stdout, cf.bridge);
  printf(",\"mac\":\"%s\"},{\"name\":\"%s\",\"mac\":\"%s\"},{\"name\":", m1, host, m2);
  jstr_out(stdout, ifname);
  printf(",\"mac\":\"%s\",\"sandbox\":", m3);
  jstr_out(stdout, netns);
  printf("}],\"ips\":[{%s\"interface\":2,\"address\":\"%s/%d\",\"gateway\":\"%s\"}],\"routes\":[", old ? "\"version\":\"4\"," : "", ip_str(ip, a), cf.prefix,
         ip_str(cf.gw, b));
  for (int i = 0; i < cf.nroutes; i++) {
    printf("%s{\"dst\":\"%s/%d\"", i ? "," : "", ip_str(cf.rdst[i], a), cf.rpre[i]);
    if (cf.rhasgw[i]) printf(",\"gw\":\"%s\"", ip_str(cf.rgw[i], b));
    printf("}");
  }
  printf("],\"dns\":{}}\n");
  return 0;

undo:
  /* Deleting the host end removes the container end too; then the IP goes back. */
  link_del(hs, hv.index);
  if (have_ip) ipam_release(id, ifname);
  return fail(999, "%s", err);
}

static int cmd_del(void) {
  const char *id = getenv("CNI_CONTAINERID"), *ifname = getenv("CNI_IFNAME"), *netns = getenv("CNI_NETNS");
  if (netns && *netns) {
    int nsfd = open(netns, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0 && errno != ENOENT) return fail(999, "failed to open netns \"%s\": %s", netns, strerror(errno));
    if (nsfd >= 0) {
      /* The namespace still exists: remove our interface (already gone is fine). */
      int hostns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
      if (hostns < 0 || enter(nsfd) < 0) return fail(999, "failed to enter netns \"%s\": %s", netns, strerror(errno));
      int cs = nl_open(), e = cs < 0 ? -errno : 0;
      linkinfo li;
      if (!e) {
        e = link_get(cs, ifname, 0, &li);
        if (e == -ENODEV) e = 0;
        else if (!e) e = link_del(cs, li.index);
      }
      if (enter(hostns) < 0) return fail(999, "cannot return to the host netns: %s", strerror(errno));
      if (e < 0 && e != -ENODEV) return fail(999, "failed to delete %s: %s", ifname, strerror(-e));
    }
  }
  if (ipam_release(id, ifname) < 0) return fail(999, "failed to open the IPAM store %s/%s: %s", cf.datadir, cf.name, strerror(errno));
  return 0;
}

int main(void) {
  const char *cmd = getenv("CNI_COMMAND");
  size_t cap = 65536;
  conf = malloc(cap + 1);
  for (;;) {
    if (!conf) return 1;
    ssize_t n = read(0, conf + conf_len, cap - conf_len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    conf_len += (size_t)n;
    if (conf_len == cap) conf = realloc(conf, (cap *= 2) + 1);
  }
  conf[conf_len] = 0;
  if (cmd && !strcmp(cmd, "VERSION")) {
    printf("{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"0.1.0\",\"0.2.0\",\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\"]}\n");
    return 0;
  }
  if (!cmd || (strcmp(cmd, "ADD") && strcmp(cmd, "DEL"))) return fallback();
  /* Parse a copy: the Go plugin must get the original bytes. */
  char *copy = malloc(conf_len + 1);
  if (!copy) return 1;
  memcpy(copy, conf, conf_len + 1);
  jp = copy;
  int root = jvalue(0);
  if (root >= 0) {
    ws();
    if (*jp) root = -1;
  }
  if (root < 0 || (size_t)(jp - copy) != conf_len) return fail(6, "error unmarshall network config: invalid JSON");
  const char *v = jgets(root, "cniVersion");
  if (v) ver = v;
  if (!understood(root)) return fallback();
  return !strcmp(cmd, "ADD") ? cmd_add() : cmd_del();
}
`;

const GO_PATH_RE = /^\/[\w./+-]+$/;

/** The C source with the fallback Go plugin's path compiled in. */
export function bridgeCSource(goPlugin = GO_BRIDGE_PLUGIN): string {
  // Kept to plain path characters: it lands inside a C string literal.
  if (!GO_PATH_RE.test(goPlugin)) throw new Error(`unsupported Go bridge plugin path: ${goPlugin}`);
  return BRIDGE_C_SOURCE_TEMPLATE.replace('@GO_BRIDGE@', goPlugin);
}

/**
 * The path of the compiled bridge plugin (built and cached on first use; the cache key covers the
 * fallback path), or undefined without a compiler. `goPlugin` is the Go bridge it hands unsupported
 * configs and commands to (default {@link GO_BRIDGE_PLUGIN}).
 */
export function cBridgePlugin(o: { cacheDir?: string; cc?: string; goPlugin?: string } = {}): string | undefined {
  if (!GO_PATH_RE.test(o.goPlugin ?? GO_BRIDGE_PLUGIN)) return undefined;
  return staticCBinary('cni-bridge', bridgeCSource(o.goPlugin), o);
}

/** Whether the node should use the C bridge: yes unless K8TS_CNI_BRIDGE=go. */
export function cBridgeWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.K8TS_CNI_BRIDGE ?? '').toLowerCase() !== 'go';
}
