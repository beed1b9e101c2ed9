/**
 * Standard cron schedules as CronJobs use them (upstream validates with robfig/cron's
 * ParseStandard): five fields, names, ranges, steps, `@daily`-style descriptors, `@every`,
 * and an optional `TZ=`/`CRON_TZ=` prefix. Error messages follow that parser.
 */

/** A parsed schedule: the allowed values of each field. */
export interface CronSchedule {
  minutes: Set<number>;
  hours: Set<number>;
  daysOfMonth: Set<number>;
  months: Set<number>;
  daysOfWeek: Set<number>;
  /** Day-of-month or day-of-week was `*` (changes how the two combine). */
  domStar: boolean;
  dowStar: boolean;
  /** For `@every <duration>`: the period in milliseconds. */
  everyMs?: number;
  /** Time zone from a `TZ=`/`CRON_TZ=` prefix. */
  timeZone?: string;
}

/** A malformed schedule; the message is upstream's. */
export class CronParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CronParseError';
  }
}

interface Bounds {
  min: number;
  max: number;
  names?: Record<string, number>;
}

const months: Bounds = {
  min: 1,
  max: 12,
  names: { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 },
};
const dows: Bounds = { min: 0, max: 6, names: { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 } };
const bounds: Bounds[] = [{ min: 0, max: 59 }, { min: 0, max: 23 }, { min: 1, max: 31 }, months, dows];

function mustParseInt(expr: string): number {
  if (!/^[+-]?\d+$/.test(expr)) throw new CronParseError(`failed to parse int from ${expr}: strconv.Atoi: parsing ${JSON.stringify(expr)}: invalid syntax`);
  const n = Number(expr);
  if (n < 0) throw new CronParseError(`negative number (${n}) not allowed: ${expr}`);
  return n;
}

function parseIntOrName(expr: string, names?: Record<string, number>): number {
  if (names) {
    const v = names[expr.toLowerCase()];
    if (v !== undefined) return v;
  }
  return mustParseInt(expr);
}

function parseRange(expr: string, b: Bounds, out: Set<number>): boolean {
  const rangeAndStep = expr.split('/');
  const lowAndHigh = rangeAndStep[0].split('-');
  const single = lowAndHigh.length === 1;
  let start: number;
  let end: number;
  let star = false;
  if (lowAndHigh[0] === '*' || lowAndHigh[0] === '?') {
    start = b.min;
    end = b.max;
    star = true;
  } else {
    start = parseIntOrName(lowAndHigh[0], b.names);
    if (lowAndHigh.length === 1) end = start;
    else if (lowAndHigh.length === 2) end = parseIntOrName(lowAndHigh[1], b.names);
    else throw new CronParseError(`too many hyphens: ${expr}`);
  }
  let step = 1;
  if (rangeAndStep.length === 2) {
    step = mustParseInt(rangeAndStep[1]);
    if (single && !star) end = b.max;
    if (step > 1) star = false;
  } else if (rangeAndStep.length > 2) {
    throw new CronParseError(`too many slashes: ${expr}`);
  }
  if (start < b.min) throw new CronParseError(`beginning of range (${start}) below minimum (${b.min}): ${expr}`);
  if (end > b.max) throw new CronParseError(`end of range (${end}) above maximum (${b.max}): ${expr}`);
  if (start > end) throw new CronParseError(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
  if (step === 0) throw new CronParseError(`step of range should be a positive number: ${expr}`);
  for (let v = start; v <= end; v += step) out.add(v);
  return star;
}

function parseField(text: string, b: Bounds): { values: Set<number>; star: boolean } {
  const values = new Set<number>();
  let star = false;
  for (const part of text.split(',')) star = parseRange(part, b, values) || star;
  return { values, star };
}

function all(min: number, max: number): Set<number> {
  const s = new Set<number>();
  for (let i = min; i <= max; i++) s.add(i);
  return s;
}

const goDurationUnits: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function parseGoDuration(s: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * goDurationUnits[m[2]];
    matched += m[0].length;
  }
  return matched === s.length && s.length > 0 ? total : undefined;
}

function isValidTimeZone(tz: string): boolean {
  if (tz === 'UTC' || tz === 'Local') return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Parse a standard five-field schedule; throws {@link CronParseError}. */
export function parseCronSchedule(spec: string): CronSchedule {
  let s = spec;
  if (s.trim().length === 0) throw new CronParseError('empty spec string');
  let timeZone: string | undefined;
  if (s.startsWith('TZ=') || s.startsWith('CRON_TZ=')) {
    const eq = s.indexOf('=');
    const sp = s.indexOf(' ');
    const tz = sp < 0 ? s.slice(eq + 1) : s.slice(eq + 1, sp);
    if (!isValidTimeZone(tz)) throw new CronParseError(`provided bad location ${tz}: unknown time zone ${tz}`);
    timeZone = tz;
    s = sp < 0 ? '' : s.slice(sp).trim();
  }
  if (s.startsWith('@')) {
    const full = (m: number, h: number, dom: Set<number> | null, mon: Set<number> | null, dow: Set<number> | null): CronSchedule => ({
      minutes: new Set([m]),
      hours: new Set([h]),
      daysOfMonth: dom ?? all(1, 31),
      months: mon ?? all(1, 12),
      daysOfWeek: dow ?? all(0, 6),
      domStar: dom === null,
      dowStar: dow === null,
      timeZone,
    });
    switch (s) {
      case '@yearly':
      case '@annually':
        return full(0, 0, new Set([1]), new Set([1]), null);
      case '@monthly':
        return full(0, 0, new Set([1]), null, null);
      case '@weekly':
        return full(0, 0, null, null, new Set([0]));
      case '@daily':
      case '@midnight':
        return full(0, 0, null, null, null);
      case '@hourly':
        return { ...full(0, 0, null, null, null), hours: all(0, 23) };
    }
    if (s.startsWith('@every ')) {
      const d = s.slice('@every '.length);
      const ms = parseGoDuration(d);
      if (ms === undefined) throw new CronParseError(`failed to parse duration ${s}: time: invalid duration ${JSON.stringify(d)}`);
      return { ...full(0, 0, null, null, null), minutes: all(0, 59), hours: all(0, 23), everyMs: Math.max(1000, ms), timeZone };
    }
    throw new CronParseError(`unrecognized descriptor: ${s}`);
  }
  const fields = s.split(/\s+/).filter((f) => f.length > 0);
  if (fields.length !== 5) throw new CronParseError(`expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`);
  const [mi, h, dom, mon, dow] = fields.map((f, i) => parseField(f, bounds[i]));
  return {
    minutes: mi.values,
    hours: h.values,
    daysOfMonth: dom.values,
    months: mon.values,
    daysOfWeek: dow.values,
    domStar: dom.star,
    dowStar: dow.star,
    timeZone,
  };
}

/** The schedule's problem, or undefined when it parses. */
export function cronScheduleError(spec: string): string | undefined {
  try {
    parseCronSchedule(spec);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

function partsIn(date: Date, tz: string | undefined): { y: number; mo: number; d: number; h: number; mi: number; dow: number } {
  if (!tz || tz === 'UTC' || tz === 'Local') {
    const local = tz === 'Local';
    return {
      y: local ? date.getFullYear() : date.getUTCFullYear(),
      mo: (local ? date.getMonth() : date.getUTCMonth()) + 1,
      d: local ? date.getDate() : date.getUTCDate(),
      h: local ? date.getHours() : date.getUTCHours(),
      mi: local ? date.getMinutes() : date.getUTCMinutes(),
      dow: local ? date.getDay() : date.getUTCDay(),
    };
  }
  const f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', weekday: 'short' });
  const p = Object.fromEntries(f.formatToParts(date).map((x) => [x.type, x.value]));
  const dows: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
  return { y: Number(p.year), mo: Number(p.month), d: Number(p.day), h: Number(p.hour), mi: Number(p.minute), dow: dows[p.weekday] };
}

/**
 * The first time strictly after `after` that the schedule fires, or undefined within about
 * five years. `timeZone` (the CronJob's spec.timeZone) applies unless the schedule has its own.
 */
export function nextCronTime(sched: CronSchedule, after: Date, timeZone?: string): Date | undefined {
  if (sched.everyMs !== undefined) return new Date(after.getTime() - (after.getTime() % 1000) + sched.everyMs);
  const tz = sched.timeZone ?? timeZone;
  let t = Math.floor(after.getTime() / 60_000) * 60_000 + 60_000;
  const limit = after.getTime() + 5 * 366 * 24 * 3_600_000;
  while (t <= limit) {
    const p = partsIn(new Date(t), tz);
    if (!sched.months.has(p.mo)) {
      t += 3_600_000;
      t = Math.floor(t / 3_600_000) * 3_600_000;
      continue;
    }
    const domOk = sched.daysOfMonth.has(p.d);
    const dowOk = sched.daysOfWeek.has(p.dow);
    // As in cron: when both day fields are restricted, either may match.
    const dayOk = sched.domStar || sched.dowStar ? domOk && dowOk : domOk || dowOk;
    if (!dayOk || !sched.hours.has(p.h)) {
      t += 60_000 * (60 - p.mi);
      continue;
    }
    if (sched.minutes.has(p.mi)) return new Date(t);
    t += 60_000;
  }
  return undefined;
}
