/**
 * Key-range helpers shared by storage backends.
 */

/**
 * The smallest string greater than every string that starts with `prefix`, in code-point order
 * (which is also UTF-8 byte order), or undefined when no such bound exists (empty prefix, or a
 * prefix made only of U+10FFFF). Strings `s` with `prefix <= s < prefixEnd(prefix)` are exactly
 * those that start with `prefix`.
 */
export function prefixEnd(prefix: string): string | undefined {
  const cps = Array.from(prefix);
  while (cps.length > 0) {
    const last = cps.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      // Skip the surrogate block: those code points cannot stand alone in UTF-8.
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
      cps.push(String.fromCodePoint(next));
      return cps.join('');
    }
  }
  return undefined;
}
