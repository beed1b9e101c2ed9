/**
 * The shape of one Pod Security Standards check and the small formatting helpers every check
 * shares, so that reasons and details read exactly as upstream's pod-security-admission prints them.
 */
import type { Container, PodSpec } from 'kubernetes-types/core/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';

export type { Container, PodSpec, ObjectMeta };

/** A Pod Security Standards level. */
export type Level = 'privileged' | 'baseline' | 'restricted';

/** Why a check refused a pod: a short reason and an optional detail (upstream's CheckResult). */
export interface Forbidden {
  reason: string;
  detail: string;
}

/** Evaluates one pod (or pod template) and returns undefined when it is allowed. */
export type CheckPodFn = (meta: ObjectMeta, spec: PodSpec) => Forbidden | undefined;

/** One check of the standard (upstream's policy.Check, flattened to its newest implementation). */
export interface Check {
  /** Upstream's check ID; evaluation order is by ID, baseline checks first. */
  id: string;
  level: 'baseline' | 'restricted';
  /** The first policy version (minor of 1.x) the check applies to. */
  minVersion: number;
  /** Baseline checks this restricted check replaces (it checks the same fields more strictly). */
  overrides?: string[];
  check: CheckPodFn;
}

/** `"a", "b"` — Go's joinQuote. */
export function joinQuote(items: readonly string[]): string {
  return items.length ? `"${items.join('", "')}"` : '';
}

/** Singular for exactly one, plural otherwise. */
export function pluralize(singular: string, plural: string, count: number): string {
  return count === 1 ? singular : plural;
}

/** `container "a"` or `containers "a", "b"`. */
export function containersPhrase(names: readonly string[]): string {
  return `${pluralize('container', 'containers', names.length)} ${joinQuote(names)}`;
}

/** Sorted, de-duplicated values (Go's sets.NewString(...).List()). */
export function sortedSet(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

/** Every init, regular and ephemeral container, in upstream's visiting order. */
export function allContainers(spec: PodSpec): Container[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...((spec.ephemeralContainers ?? []) as Container[])];
}
