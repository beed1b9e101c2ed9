// Cached test images: real OCI archives built once (Debian packages via mmdebstrap, or busybox)
// and kept in the image cache ($K8TS_IMAGE_CACHE or /var/cache/k8ts/images), so tests can import
// them into any node's containerd as `nginx` or `busybox`.
import { buildImage, cachedImageArchive, debianMirrorReachable, type BuildImageOptions } from '../src/kubelet/containerd/image-build.js';

/** The test images: a name and how to build it. */
export const TEST_IMAGES = {
  nginx: {
    name: 'nginx:latest',
    debian: ['nginx-light', 'curl', 'ca-certificates', 'procps'],
    cmd: "nginx -g 'daemon off;'",
    stopSignal: 'SIGQUIT',
    // Debian's config logs to /var/log/nginx and writes /run/nginx.pid; make sure both exist, and
    // send the logs to the container's output as the official image does.
    run: ['mkdir -p /run /var/log/nginx /var/lib/nginx && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log'],
  },
  busybox: { name: 'busybox:latest', busybox: true },
} satisfies Record<string, BuildImageOptions>;

/**
 * The archive of a test image, built on first use and cached (about a minute or more for nginx
 * cold, milliseconds after). Throws when a Debian build is needed and the mirror is unreachable.
 */
export async function ensureTestImage(kind: 'nginx' | 'busybox', onProgress?: (line: string) => void): Promise<string> {
  const built = await buildImage({ ...TEST_IMAGES[kind], onProgress });
  return built.archive;
}

/** Why a test image cannot be had here (no root for Debian builds, mirror unreachable), or undefined. */
export async function testImageUnavailable(kind: 'nginx' | 'busybox'): Promise<string | undefined> {
  if (kind === 'busybox') return undefined;
  // A cached archive needs neither root nor the network.
  if (cachedImageArchive(TEST_IMAGES[kind])) return undefined;
  if (process.getuid?.() !== 0) return 'building the nginx test image needs root';
  if (!(await debianMirrorReachable())) return 'the Debian mirror http://deb.debian.org/debian is unreachable, so the nginx test image cannot be built';
  return undefined;
}
