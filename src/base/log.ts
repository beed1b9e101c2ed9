/**
 * Structured logs: one JSON object per line on stderr, klog-like levels.
 * Kept tiny so start-up pays nothing for it.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

let minLevel: Level = (process.env.K8TS_LOG_LEVEL as Level) || 'info';
let sink: (line: string) => void = (line) => process.stderr.write(line + '\n');

/** Set the lowest level written. */
export function setLogLevel(l: Level): void {
  minLevel = l;
}
/** Redirect log lines (tests, or to silence). */
export function setLogSink(fn: (line: string) => void): void {
  sink = fn;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/** A logger for one component; fields are added to every line. */
export function logger(component: string, base: Record<string, unknown> = {}): Logger {
  const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (order[level] < order[minLevel]) return;
    const rec: Record<string, unknown> = { ts: new Date().toISOString(), level, component, msg, ...base, ...fields };
    for (const k of Object.keys(rec)) {
      const v = rec[k];
      if (v instanceof Error) rec[k] = v.message;
    }
    sink(JSON.stringify(rec));
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (f) => logger(component, { ...base, ...f }),
  };
}
