/**
 * grpc probes (upstream pkg/probe/grpc): grpc.health.v1.Health/Check over plaintext; SERVING is
 * success, anything else (including failing to connect within the timeout) a failure.
 * The two tiny messages are encoded by hand, so no .proto file has to ship with the kubelet.
 */
import * as grpc from '@grpc/grpc-js';
import { goDuration, goQuote, joinHostPort, PROBE_USER_AGENT, type ProbeOutcome } from './probe-util.js';

const CHECK = '/grpc.health.v1.Health/Check';
/** HealthCheckResponse.ServingStatus names by number. */
const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];
/** grpc codes as Go's codes.Code prints them. */
const GO_CODES = ['OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied', 'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated'];

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** HealthCheckRequest { string service = 1; } */
export function encodeHealthCheckRequest(service: string): Buffer {
  if (!service) return Buffer.alloc(0);
  const s = Buffer.from(service, 'utf8');
  return Buffer.concat([Buffer.from([0x0a, ...varint(s.length)]), s]);
}

/** HealthCheckResponse { ServingStatus status = 1; }, skipping fields it does not know. */
export function decodeHealthCheckResponse(b: Buffer): { status: number } {
  let status = 0;
  let i = 0;
  const readVarint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      if (i >= b.length) throw new Error('truncated varint');
      const byte = b[i++];
      v += (byte & 0x7f) * 2 ** shift;
      if (!(byte & 0x80)) return v;
      shift += 7;
    }
  };
  while (i < b.length) {
    const tag = readVarint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) {
      const v = readVarint();
      if (field === 1) status = v;
    } else if (wire === 1) i += 8;
    else if (wire === 2) {
      const len = readVarint();
      i += len;
    }
    else if (wire === 5) i += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return { status };
}

/** Checks `service` ('' for the whole server) on host:port within `timeoutMs`. */
export function grpcProbe(host: string, port: number, service: string, timeoutMs: number): Promise<ProbeOutcome> {
  const addr = joinHostPort(host, port);
  const deadline = Date.now() + timeoutMs;
  const timeout = goDuration(timeoutMs);
  const client = new grpc.Client(addr, grpc.credentials.createInsecure(), {
    'grpc.primary_user_agent': PROBE_USER_AGENT,
    // A fresh connection each time, like upstream's dial per probe.
    'grpc.use_local_subchannel_pool': 1,
  });
  return new Promise<ProbeOutcome>((resolve) => {
    client.waitForReady(deadline, (err) => {
      if (err) return resolve({ result: 'failure', output: `timeout: failed to connect service ${goQuote(addr)} within ${timeout}: context deadline exceeded` });
      client.makeUnaryRequest(
        CHECK,
        (s: string) => encodeHealthCheckRequest(s),
        (b: Buffer) => decodeHealthCheckResponse(b),
        service,
        new grpc.Metadata(),
        { deadline },
        (err: grpc.ServiceError | null, res?: { status: number }) => {
          if (err) {
            if (err.code === grpc.status.UNIMPLEMENTED)
              return resolve({ result: 'failure', output: `error: this server does not implement the grpc health protocol (grpc.health.v1.Health): ${err.details}` });
            if (err.code === grpc.status.DEADLINE_EXCEEDED) return resolve({ result: 'failure', output: `timeout: health rpc did not complete within ${timeout}` });
            return resolve({ result: 'failure', output: `error: health rpc probe failed: rpc error: code = ${GO_CODES[err.code] ?? `Code(${err.code})`} desc = ${err.details}` });
          }
          const status = res?.status ?? 0;
          if (status !== 1) return resolve({ result: 'failure', output: `service unhealthy (responded with ${goQuote(SERVING_STATUS[status] ?? String(status))})` });
          resolve({ result: 'success', output: 'service healthy' });
        },
      );
    });
  }).finally(() => client.close());
}
