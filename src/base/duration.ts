/** Go-style durations on the command line: `300ms`, `1.5s`, `2m`, `1h30m`. */
export function parseDuration(s: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let ms = 0;
  let consumed = 0;
  for (let m; (m = re.exec(s)); ) {
    ms += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    consumed += m[0].length;
  }
  if (!s || consumed !== s.length) throw new Error(`invalid duration "${s}" (use e.g. 500ms, 10s, 5m)`);
  return ms;
}
