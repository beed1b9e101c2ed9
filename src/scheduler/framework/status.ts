/**
 * The result of running a plugin (upstream's framework.Status). `null` stands for success
 * everywhere a `Status | null` is returned, so the hot path allocates nothing.
 */

/** Status codes, numbered as upstream's framework.Code. */
export const Code = {
  Success: 0,
  Error: 1,
  /** The node cannot take the pod now; preemption might help. */
  Unschedulable: 2,
  /** The node cannot take the pod, and preemption would not help. */
  UnschedulableAndUnresolvable: 3,
  Wait: 4,
  /** PreFilter/PreScore: this plugin has nothing to do for the pod; its Filter/Score is skipped. */
  Skip: 5,
  Pending: 6,
} as const;
export type Code = (typeof Code)[keyof typeof Code];

const codeNames = ['Success', 'Error', 'Unschedulable', 'UnschedulableAndUnresolvable', 'Wait', 'Skip', 'Pending'];

/** A plugin's verdict with human-readable reasons. */
export class Status {
  /** The plugin that produced this status; the framework fills it in when missing. */
  plugin: string;
  readonly code: Code;
  readonly reasons: readonly string[];
  /** The underlying error for `Code.Error`. */
  readonly error?: Error;

  constructor(code: Code, reasons: readonly string[] = [], plugin = '', error?: Error) {
    this.code = code;
    this.reasons = reasons;
    this.plugin = plugin;
    if (error) this.error = error;
  }

  /** The reasons joined as upstream's Status.Message(). */
  message(): string {
    return this.reasons.join(', ');
  }

  isSuccess(): boolean {
    return this.code === Code.Success;
  }

  isSkip(): boolean {
    return this.code === Code.Skip;
  }

  /** Unschedulable, UnschedulableAndUnresolvable or Pending. */
  isRejected(): boolean {
    return this.code === Code.Unschedulable || this.code === Code.UnschedulableAndUnresolvable || this.code === Code.Pending;
  }

  codeName(): string {
    return codeNames[this.code] ?? String(this.code);
  }

  toString(): string {
    return `${this.codeName()}${this.plugin ? ` (${this.plugin})` : ''}: ${this.message()}`;
  }
}

/** A new status; `reasons` become its message. */
export function newStatus(code: Code, ...reasons: string[]): Status {
  return new Status(code, reasons);
}

/** An Error status wrapping `err` (upstream's AsStatus). */
export function asStatus(err: unknown, plugin = ''): Status {
  const e = err instanceof Error ? err : new Error(String(err));
  return new Status(Code.Error, [e.message], plugin, e);
}

/** True for `null` (the success shorthand) and for a Success status. */
export function isSuccess(s: Status | null | undefined): boolean {
  return s === null || s === undefined || s.code === Code.Success;
}

/** The code of a possibly-null status. */
export function codeOf(s: Status | null | undefined): Code {
  return s === null || s === undefined ? Code.Success : s.code;
}

/** The status upstream returns from PreFilter/PreScore when a plugin has nothing to do. */
export const SkipStatus: Status = new Status(Code.Skip);
