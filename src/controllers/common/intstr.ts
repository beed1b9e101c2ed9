/** IntOrString values of controller specs (maxSurge, maxUnavailable, minAvailable). */

/**
 * An IntOrString scaled against `total` (upstream's GetScaledValueFromIntOrPercent): an integer
 * as is, `N%` as N percent of total rounded up or down; unset is 0. Throws on anything else.
 */
export function scaledIntOrPercent(v: unknown, total: number, roundUp: boolean): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string') {
    const m = /^(\d+)%$/.exec(v);
    if (m) {
      const x = (Number(m[1]) * total) / 100;
      return roundUp ? Math.ceil(x) : Math.floor(x);
    }
    const n = Number(v);
    if (v.trim() !== '' && Number.isInteger(n)) return n;
  }
  throw new Error(`invalid value for IntOrString: ${JSON.stringify(v)}`);
}
