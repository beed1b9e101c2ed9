/** A time as metav1.Time serialises it: RFC 3339 in UTC, whole seconds. */
export const rfc3339 = (ms: number = Date.now()): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
