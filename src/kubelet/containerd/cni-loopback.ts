/**
 * A CNI `loopback` plugin in C, compiled with the machine's compiler (like the static pause, see
 * pause-image.ts). containerd's CRI runs loopback for every sandbox on ADD and DEL; the Go plugin
 * costs about 20 ms of CPU per exec on these machines, this one a fraction of it. It does only
 * what the standard plugin does: set lo up (ADD) or down (DEL) in the sandbox's network namespace
 * and report lo's addresses. Without a compiler the node uses /usr/lib/cni/loopback.
 */
import { mkdirSync, readdirSync, symlinkSync, lstatSync, readlinkSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { staticCBinary } from './pause-image.js';

/** The plugin's C source (CNI spec 0.3.0 to 1.0.0 results). */
export const LOOPBACK_C_SOURCE = `#define _GNU_SOURCE
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static char conf[65536];

/* The value of "cniVersion" in the network config on stdin, or 0.1.0 (the spec's default). */
static void version(char *out, size_t n) {
  size_t len = fread(conf, 1, sizeof conf - 1, stdin);
  conf[len] = 0;
  snprintf(out, n, "0.1.0");
  char *p = strstr(conf, "\\"cniVersion\\"");
  if (!p) return;
  p = strchr(p + 12, '"');
  if (!p) return;
  char *e = strchr(++p, '"');
  if (!e || (size_t)(e - p) >= n) return;
  memcpy(out, p, e - p);
  out[e - p] = 0;
}

static int fail(int code, const char *msg, const char *v) {
  printf("{\\"cniVersion\\":\\"%s\\",\\"code\\":%d,\\"msg\\":\\"%s\\"}\\n", v, code, msg);
  return 1;
}

static int set_lo(const char *netns, int up) {
  int fd = open(netns, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  if (setns(fd, CLONE_NEWNET) < 0) return -1;
  close(fd);
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  struct ifreq r;
  memset(&r, 0, sizeof r);
  strcpy(r.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &r) < 0) return -1;
  if (up) r.ifr_flags |= IFF_UP; else r.ifr_flags &= ~IFF_UP;
  return ioctl(s, SIOCSIFFLAGS, &r);
}

int main(void) {
  const char *cmd = getenv("CNI_COMMAND");
  const char *netns = getenv("CNI_NETNS");
  char v[32];
  if (cmd && !strcmp(cmd, "VERSION")) {
    version(v, sizeof v);
    printf("{\\"cniVersion\\":\\"1.0.0\\",\\"supportedVersions\\":[\\"0.3.0\\",\\"0.3.1\\",\\"0.4.0\\",\\"1.0.0\\"]}\\n");
    return 0;
  }
  version(v, sizeof v);
  if (!cmd) return fail(4, "CNI_COMMAND not set", v);
  if (strncmp(v, "0.3.", 4) && strcmp(v, "0.4.0") && strcmp(v, "1.0.0")) return fail(1, "incompatible CNI version", v);
  if (!strcmp(cmd, "DEL")) {
    /* The namespace may be gone already: nothing to undo then. */
    if (netns && *netns) set_lo(netns, 0);
    return 0;
  }
  if (!netns || !*netns) return fail(4, "CNI_NETNS not set", v);
  if (!strcmp(cmd, "CHECK")) return 0;
  if (strcmp(cmd, "ADD")) return fail(4, "unknown CNI_COMMAND", v);
  if (set_lo(netns, 1) < 0) return fail(11, "cannot set lo up", v);
  int old = strcmp(v, "1.0.0") != 0;
  printf("{\\"cniVersion\\":\\"%s\\",\\"interfaces\\":[{\\"name\\":\\"lo\\",\\"mac\\":\\"00:00:00:00:00:00\\",\\"sandbox\\":\\"%s\\"}],"
         "\\"ips\\":[{%s\\"address\\":\\"127.0.0.1/8\\",\\"interface\\":0},{%s\\"address\\":\\"::1/128\\",\\"interface\\":0}],\\"dns\\":{}}\\n",
         v, netns, old ? "\\"version\\":\\"4\\"," : "", old ? "\\"version\\":\\"6\\"," : "");
  return 0;
}
`;

/** The path of the compiled loopback plugin (built and cached on first use), or undefined without a compiler. */
export function cLoopbackPlugin(o: { cacheDir?: string; cc?: string } = {}): string | undefined {
  return staticCBinary('cni-loopback', LOOPBACK_C_SOURCE, o);
}

/**
 * A CNI bin dir for containerd (its 1.6 CRI takes one dir): a symlink to every plugin of `from`,
 * except those named in `replace` with a path, which point there instead (an undefined path keeps
 * the plugin of `from`). Idempotent; a plugin no longer replaced goes back to `from`'s.
 */
export function cniBinDirWith(dir: string, from: string, replace: Record<string, string | undefined>): void {
  mkdirSync(dir, { recursive: true });
  const want = new Map<string, string>();
  for (const name of readdirSync(from)) want.set(name, join(from, name));
  for (const [name, path] of Object.entries(replace)) if (path) want.set(name, path);
  for (const [name, target] of want) {
    const link = join(dir, name);
    try {
      if (lstatSync(link).isSymbolicLink() && readlinkSync(link) === target) continue;
      unlinkSync(link);
    } catch {
      /* missing */
    }
    symlinkSync(target, link);
  }
}
