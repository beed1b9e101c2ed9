/**
 * Kubernetes resource quantities (upstream's k8s.io/apimachinery/pkg/api/resource): parsing,
 * exact arithmetic and the canonical string form (`1500m`, `1536Mi`, `2k`, `1e3`).
 *
 * A quantity is held as `unscaled × 10^scale` with bigint precision; precision finer than
 * nano is rounded up to 1n, as upstream does.
 */

/** How a quantity is printed, remembered from the parsed suffix. */
export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

/** Upstream's ErrFormatWrong text. */
export const quantityFormatError =
  "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
/** Upstream's ErrSuffix text. */
export const quantitySuffixError = "unable to parse quantity's suffix";

/** Thrown by {@link parseQuantity}; `message` is upstream's wording. */
export class QuantityParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuantityParseError';
  }
}

const MIN_SCALE = -9;

const decimalSuffixes: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const binarySuffixes: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const decimalByExponent = new Map(Object.entries(decimalSuffixes).map(([k, v]) => [v, k]));
const binaryByPower = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];

function pow10(n: number): bigint {
  return 10n ** BigInt(n);
}

/** Divide rounding away from zero (upstream rounds precision loss "up"). */
function divAwayFromZero(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b === 0n ? q : q + (a < 0n ? -1n : 1n);
}

/** Ceiling division (towards +infinity), as upstream's ScaledValue rounds. */
function divCeil(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a > 0n ? q + 1n : q;
}

/** An exact resource quantity. Immutable. */
export class Quantity {
  readonly unscaled: bigint;
  readonly scale: number;
  readonly format: QuantityFormat;

  constructor(unscaled: bigint, scale: number, format: QuantityFormat = 'DecimalSI') {
    if (scale < MIN_SCALE) {
      unscaled = divAwayFromZero(unscaled, pow10(MIN_SCALE - scale));
      scale = MIN_SCALE;
    }
    this.unscaled = unscaled;
    this.scale = scale;
    this.format = format;
  }

  /** A whole number of units, e.g. `Quantity.fromValue(2)` is `2`; with BinarySI, `1073741824` prints `1Gi`. */
  static fromValue(n: number | bigint, format: QuantityFormat = 'DecimalSI'): Quantity {
    return new Quantity(BigInt(n), 0, format);
  }

  /** Thousandths, e.g. `Quantity.fromMilli(250)` is `250m`. */
  static fromMilli(n: number | bigint): Quantity {
    return new Quantity(BigInt(n), -3, 'DecimalSI');
  }

  /** The value scaled to `10^scale` units, rounded up like upstream's ScaledValue. */
  scaledValue(scale: number): bigint {
    if (scale <= this.scale) return this.unscaled * pow10(this.scale - scale);
    return divCeil(this.unscaled, pow10(scale - this.scale));
  }

  /** Whole units rounded up (upstream's Value). */
  value(): number {
    return Number(this.scaledValue(0));
  }

  /** Thousandths rounded up (upstream's MilliValue). */
  milliValue(): number {
    return Number(this.scaledValue(-3));
  }

  /** Approximate value as a float. */
  toNumber(): number {
    return Number(this.unscaled) * 10 ** this.scale;
  }

  isZero(): boolean {
    return this.unscaled === 0n;
  }

  sign(): -1 | 0 | 1 {
    return this.unscaled === 0n ? 0 : this.unscaled < 0n ? -1 : 1;
  }

  /** -1, 0 or 1. */
  cmp(other: Quantity): -1 | 0 | 1 {
    const s = Math.min(this.scale, other.scale);
    const a = this.scaledValue(s);
    const b = other.scaledValue(s);
    return a === b ? 0 : a < b ? -1 : 1;
  }

  add(other: Quantity): Quantity {
    const s = Math.min(this.scale, other.scale);
    return new Quantity(this.scaledValue(s) + other.scaledValue(s), s, this.isZero() ? other.format : this.format);
  }

  sub(other: Quantity): Quantity {
    const s = Math.min(this.scale, other.scale);
    return new Quantity(this.scaledValue(s) - other.scaledValue(s), s, this.isZero() ? other.format : this.format);
  }

  neg(): Quantity {
    return new Quantity(-this.unscaled, this.scale, this.format);
  }

  /** The canonical form upstream serializes, e.g. `1500m`, `1536Mi`, `100k`, `1e3`. */
  toString(): string {
    if (this.unscaled === 0n) return '0';
    let format = this.format;
    if (format === 'BinarySI') {
      const isInteger = this.scale >= 0 || this.unscaled % pow10(-this.scale) === 0n;
      const small = this.cmp(Quantity.fromValue(1024)) < 0 && this.cmp(Quantity.fromValue(-1024)) > 0;
      if (small || !isInteger) format = 'DecimalSI';
    }
    if (format === 'BinarySI') {
      let amount = this.scaledValue(0);
      let power = 0;
      while (power < 6 && amount % 1024n === 0n) {
        amount /= 1024n;
        power++;
      }
      return `${amount}${binaryByPower[power]}`;
    }
    let amount = this.unscaled;
    let exponent = this.scale;
    while (amount % 10n === 0n) {
      amount /= 10n;
      exponent++;
    }
    // Exponents are shown in steps of three, as SI suffixes are.
    const rem = exponent % 3;
    if (rem === 1 || rem === -2) {
      amount *= 10n;
      exponent -= 1;
    } else if (rem === 2 || rem === -1) {
      amount *= 100n;
      exponent -= 2;
    }
    if (format === 'DecimalSI') {
      const suffix = decimalByExponent.get(exponent);
      if (suffix !== undefined) return `${amount}${suffix}`;
    }
    return exponent === 0 ? `${amount}` : `${amount}e${exponent}`;
  }

  /** JSON form: the canonical string. */
  toJSON(): string {
    return this.toString();
  }
}

/** Parse a quantity string such as `100m`, `1.5Gi`, `2e3`; throws {@link QuantityParseError}. */
export function parseQuantity(input: string): Quantity {
  const str = String(input).trim();
  if (str.length === 0) throw new QuantityParseError(quantityFormatError);
  let pos = 0;
  let negative = false;
  if (str[pos] === '+' || str[pos] === '-') {
    negative = str[pos] === '-';
    pos++;
  }
  const intStart = pos;
  while (pos < str.length && str[pos] >= '0' && str[pos] <= '9') pos++;
  const intDigits = str.slice(intStart, pos);
  let fracDigits = '';
  if (str[pos] === '.') {
    pos++;
    const fracStart = pos;
    while (pos < str.length && str[pos] >= '0' && str[pos] <= '9') pos++;
    fracDigits = str.slice(fracStart, pos);
  }
  if (intDigits.length + fracDigits.length === 0) throw new QuantityParseError(quantityFormatError);
  const suffix = str.slice(pos);
  if (!/^[eEinumkKMGTP]*[-+]?[0-9]*$/.test(suffix)) throw new QuantityParseError(quantityFormatError);

  let mantissa = BigInt((intDigits || '0') + fracDigits);
  if (negative) mantissa = -mantissa;
  const fraction = fracDigits.length;

  if (suffix in binarySuffixes) {
    const unscaled = mantissa * (1n << BigInt(binarySuffixes[suffix]));
    return new Quantity(unscaled, -fraction, 'BinarySI');
  }
  if (suffix in decimalSuffixes) {
    return new Quantity(mantissa, decimalSuffixes[suffix] - fraction, 'DecimalSI');
  }
  const exp = /^[eE]([-+]?[0-9]+)$/.exec(suffix);
  if (exp) {
    return new Quantity(mantissa, Number(exp[1]) - fraction, 'DecimalExponent');
  }
  throw new QuantityParseError(quantitySuffixError);
}

/** Like {@link parseQuantity} but returns undefined instead of throwing. Numbers are accepted as plain values. */
export function tryParseQuantity(input: unknown): Quantity | undefined {
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) return undefined;
    return tryParseQuantity(String(input));
  }
  if (typeof input !== 'string') return undefined;
  try {
    return parseQuantity(input);
  } catch {
    return undefined;
  }
}

/** Parse, or throw; then print canonically. Useful to normalize stored quantities. */
export function canonicalQuantity(input: string): string {
  return parseQuantity(input).toString();
}
