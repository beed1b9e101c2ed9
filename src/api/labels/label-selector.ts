/**
 * Label selectors: the string grammar of `?labelSelector=` (upstream's labels.Parse) and the
 * structured metav1.LabelSelector (matchLabels + matchExpressions), with matching and
 * printing as upstream does them.
 */
import { isLabelKey, isLabelValue } from '../validation/identifiers.js';

/** Operators a requirement may use (upstream's selection.Operator values). */
export type SelectorOperator = 'in' | 'notin' | '=' | '==' | '!=' | 'exists' | '!' | 'gt' | 'lt';

/** One requirement, e.g. `env in (a,b)`. */
export interface Requirement {
  key: string;
  operator: SelectorOperator;
  /** Sorted, de-duplicated for set operators; one value for `=`, `==`, `!=`, `gt`, `lt`. */
  values: string[];
}

/** A parsed selector: the AND of its requirements (sorted by key). Empty matches everything. */
export interface LabelSelector {
  requirements: Requirement[];
  /** True for the selector built from a nil metav1.LabelSelector: it matches nothing. */
  nothing?: boolean;
}

/** The structured form, metav1.LabelSelector. */
export interface LabelSelectorObject {
  matchLabels?: Record<string, string> | null;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] | null }> | null;
}

/** A malformed selector; the message is upstream's. */
export class SelectorParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelectorParseError';
  }
}

/** Matches every label set. */
export const everything: LabelSelector = Object.freeze({ requirements: [] }) as LabelSelector;
/** Matches no label set. */
export const nothing: LabelSelector = Object.freeze({ requirements: [], nothing: true }) as LabelSelector;

function requirementError(field: string, value: unknown, detail: string): string {
  return `${field}: Invalid value: ${JSON.stringify(value)}: ${detail}`;
}

/**
 * Build a requirement, validating key and values as upstream's NewRequirement does.
 * Throws {@link SelectorParseError}.
 */
export function newRequirement(key: string, operator: SelectorOperator, values: string[]): Requirement {
  const errs: string[] = [];
  const keyErrs = isLabelKey(key);
  if (keyErrs.length) errs.push(requirementError('key', key, keyErrs.join('; ')));
  switch (operator) {
    case 'in':
    case 'notin':
      if (values.length === 0) errs.push(requirementError('values', values, "for 'in', 'notin' operators, values set can't be empty"));
      break;
    case '=':
    case '==':
    case '!=':
      if (values.length !== 1) errs.push(requirementError('values', values, 'exact-match compatibility requires one single value'));
      break;
    case 'exists':
    case '!':
      if (values.length !== 0) errs.push(requirementError('values', values, 'values set must be empty for exists and does not exist'));
      break;
    case 'gt':
    case 'lt':
      if (values.length !== 1) errs.push(requirementError('values', values, "for 'Gt', 'Lt' operators, exactly one value is required"));
      values.forEach((v, i) => {
        if (!/^[-+]?\d+$/.test(v)) errs.push(requirementError(`values[${i}]`, v, "for 'Gt', 'Lt' operators, the value must be an integer"));
      });
      break;
    default:
      errs.push(`operator: Unsupported value: ${JSON.stringify(operator)}: supported values: "in", "notin", "=", "==", "!=", "gt", "lt", "exists", "!"`);
  }
  values.forEach((v, i) => {
    const vErrs = isLabelValue(v);
    if (vErrs.length) errs.push(requirementError(`values[${i}][${key}]`, v, vErrs.join('; ')));
  });
  if (errs.length) throw new SelectorParseError(errs.length === 1 ? errs[0] : `[${errs.join(', ')}]`);
  const setOp = operator === 'in' || operator === 'notin';
  return { key, operator, values: setOp ? [...new Set(values)].sort() : [...values] };
}

/** Does one requirement hold for these labels? */
export function requirementMatches(r: Requirement, labels: Record<string, string>): boolean {
  const has = Object.prototype.hasOwnProperty.call(labels, r.key);
  switch (r.operator) {
    case 'in':
    case '=':
    case '==':
      return has && r.values.includes(labels[r.key]);
    case 'notin':
    case '!=':
      return !has || !r.values.includes(labels[r.key]);
    case 'exists':
      return has;
    case '!':
      return !has;
    case 'gt':
    case 'lt': {
      if (!has || !/^[-+]?\d+$/.test(labels[r.key]) || r.values.length !== 1) return false;
      const lv = BigInt(labels[r.key]);
      const rv = BigInt(r.values[0]);
      return r.operator === 'gt' ? lv > rv : lv < rv;
    }
  }
}

/** Does the selector match these labels? (AND of all requirements.) */
export function selectorMatches(sel: LabelSelector, labels: Record<string, string> | undefined | null): boolean {
  if (sel.nothing) return false;
  const l = labels ?? {};
  return sel.requirements.every((r) => requirementMatches(r, l));
}

/** True when the selector restricts nothing. */
export function selectorIsEmpty(sel: LabelSelector): boolean {
  return !sel.nothing && sel.requirements.length === 0;
}

/** Upstream's Requirement.String(): `a=b`, `a in (x,y)`, `!a`. */
export function requirementString(r: Requirement): string {
  switch (r.operator) {
    case 'exists':
      return r.key;
    case '!':
      return `!${r.key}`;
    case 'in':
      return `${r.key} in (${[...r.values].sort().join(',')})`;
    case 'notin':
      return `${r.key} notin (${[...r.values].sort().join(',')})`;
    case 'gt':
      return `${r.key}>${r.values[0]}`;
    case 'lt':
      return `${r.key}<${r.values[0]}`;
    default:
      return `${r.key}${r.operator}${r.values[0]}`;
  }
}

/** Upstream's Selector.String(): requirements joined by commas, sorted by key. */
export function selectorString(sel: LabelSelector): string {
  return sel.requirements.map(requirementString).join(',');
}

function sortByKey(reqs: Requirement[]): Requirement[] {
  // Stable, so requirements on the same key keep their order.
  return reqs.map((r, i) => ({ r, i })).sort((a, b) => (a.r.key < b.r.key ? -1 : a.r.key > b.r.key ? 1 : a.i - b.i)).map((x) => x.r);
}

// ---- lexer and parser for the string grammar -------------------------------------------------

type Tok = 'error' | 'eos' | ')' | ',' | '!' | '==' | '=' | '>' | 'id' | 'in' | '<' | '!=' | 'notin' | '(';

const literalTokens: Record<string, Tok> = {
  ')': ')',
  ',': ',',
  '!': '!',
  '==': '==',
  '=': '=',
  '>': '>',
  in: 'in',
  '<': '<',
  '!=': '!=',
  notin: 'notin',
  '(': '(',
};

function isSpecial(ch: string): boolean {
  return ch === '=' || ch === '!' || ch === '(' || ch === ')' || ch === ',' || ch === '>' || ch === '<';
}
function isSpace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n';
}

function lex(s: string): Array<{ tok: Tok; lit: string }> {
  const out: Array<{ tok: Tok; lit: string }> = [];
  let pos = 0;
  for (;;) {
    while (pos < s.length && isSpace(s[pos])) pos++;
    if (pos >= s.length) {
      out.push({ tok: 'eos', lit: '' });
      return out;
    }
    if (isSpecial(s[pos])) {
      let buf = '';
      let last: { tok: Tok; lit: string } | undefined;
      while (pos < s.length && isSpecial(s[pos])) {
        buf += s[pos];
        const t = literalTokens[buf];
        if (t) {
          last = { tok: t, lit: buf };
          pos++;
        } else if (last) {
          break;
        } else {
          pos++;
        }
      }
      out.push(last ?? { tok: 'error', lit: `error expected: keyword found '${buf}'` });
    } else {
      let buf = '';
      while (pos < s.length && !isSpecial(s[pos]) && !isSpace(s[pos])) buf += s[pos++];
      out.push({ tok: literalTokens[buf] ?? 'id', lit: buf });
    }
  }
}

const binaryOperators = 'in, notin, =, ==, !=, gt, lt';

class Parser {
  private pos = 0;
  constructor(private readonly items: Array<{ tok: Tok; lit: string }>) {}

  /** In value context `in`/`notin` are plain identifiers. */
  private look(values: boolean): { tok: Tok; lit: string } {
    const it = this.items[this.pos];
    return values && (it.tok === 'in' || it.tok === 'notin') ? { tok: 'id', lit: it.lit } : it;
  }
  private take(values: boolean): { tok: Tok; lit: string } {
    const it = this.look(values);
    this.pos++;
    return it;
  }

  parse(): Requirement[] {
    const reqs: Requirement[] = [];
    for (;;) {
      const { tok, lit } = this.look(true);
      if (tok === 'id' || tok === '!') {
        try {
          reqs.push(this.requirement());
        } catch (e) {
          throw new SelectorParseError(`unable to parse requirement: ${(e as Error).message}`);
        }
        const next = this.take(true);
        if (next.tok === 'eos') return reqs;
        if (next.tok === ',') {
          const after = this.look(true);
          if (after.tok !== 'id' && after.tok !== '!') throw new SelectorParseError(`found '${after.lit}', expected: identifier after ','`);
          continue;
        }
        throw new SelectorParseError(`found '${next.lit}', expected: ',' or 'end of string'`);
      }
      if (tok === 'eos') return reqs;
      throw new SelectorParseError(`found '${lit}', expected: !, identifier, or 'end of string'`);
    }
  }

  private requirement(): Requirement {
    let notExists = false;
    let { tok, lit } = this.take(true);
    if (tok === '!') {
      notExists = true;
      ({ tok, lit } = this.take(true));
    }
    if (tok !== 'id') throw new Error(`found '${lit}', expected: identifier`);
    const key = lit;
    const keyErrs = isLabelKey(key);
    // Upstream validates the key against a nil field path, hence the literal `<nil>`.
    if (keyErrs.length) throw new Error(requirementError('<nil>', key, keyErrs.join('; ')));
    const after = this.look(true).tok;
    if (after === 'eos' || after === ',') return newRequirement(key, notExists ? '!' : 'exists', []);
    if (notExists) return newRequirement(key, '!', []);
    const op = this.operator();
    let values: string[];
    if (op === 'in' || op === 'notin') values = this.setValues();
    else values = this.exactValue();
    return newRequirement(key, op, values);
  }

  private operator(): SelectorOperator {
    const { tok, lit } = this.take(false);
    switch (tok) {
      case 'in':
        return 'in';
      case 'notin':
        return 'notin';
      case '=':
        return '=';
      case '==':
        return '==';
      case '!=':
        return '!=';
      case '>':
        return 'gt';
      case '<':
        return 'lt';
      default:
        throw new Error(`found '${lit}', expected: ${binaryOperators}`);
    }
  }

  private setValues(): string[] {
    const open = this.take(true);
    if (open.tok !== '(') throw new Error(`found '${open.lit}' expected: '('`);
    const { tok, lit } = this.look(true);
    if (tok === ')') {
      this.take(true);
      return [''];
    }
    if (tok !== 'id' && tok !== ',') throw new Error(`found '${lit}', expected: ',', ')' or identifier`);
    const values = new Set<string>();
    for (;;) {
      const cur = this.take(true);
      if (cur.tok === 'id') {
        values.add(cur.lit);
        const next = this.look(true);
        if (next.tok === ',') continue;
        if (next.tok === ')') break;
        throw new Error(`found '${next.lit}', expected: ',' or ')'`);
      } else if (cur.tok === ',') {
        if (values.size === 0) values.add('');
        const next = this.look(true).tok;
        if (next === ')') {
          values.add('');
          break;
        }
        if (next === ',') values.add('');
      } else {
        throw new Error(`found '${cur.lit}', expected: ',', or identifier`);
      }
    }
    const close = this.take(true);
    if (close.tok !== ')') throw new Error(`found '${lit}', expected: ')'`);
    return [...values];
  }

  private exactValue(): string[] {
    const { tok } = this.look(true);
    if (tok === 'eos' || tok === ',') return [''];
    const cur = this.take(true);
    if (cur.tok === 'id') return [cur.lit];
    throw new Error(`found '${cur.lit}', expected: identifier`);
  }
}

/**
 * Parse the string grammar: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`,
 * `a>1`, `a<1`, joined by commas. Throws {@link SelectorParseError} with upstream's message.
 */
export function parseLabelSelector(s: string): LabelSelector {
  const reqs = new Parser(lex(s)).parse();
  return { requirements: sortByKey(reqs) };
}

/**
 * The selector a metav1.LabelSelector stands for (upstream's LabelSelectorAsSelector):
 * null/undefined selects nothing, `{}` selects everything. Throws {@link SelectorParseError}.
 */
export function labelSelectorFromObject(ps: LabelSelectorObject | null | undefined): LabelSelector {
  if (ps === null || ps === undefined) return nothing;
  const ml = ps.matchLabels ?? {};
  const me = ps.matchExpressions ?? [];
  if (Object.keys(ml).length + me.length === 0) return everything;
  const reqs: Requirement[] = [];
  for (const [k, v] of Object.entries(ml)) reqs.push(newRequirement(k, '=', [v]));
  for (const expr of me) {
    let op: SelectorOperator;
    switch (expr.operator) {
      case 'In':
        op = 'in';
        break;
      case 'NotIn':
        op = 'notin';
        break;
      case 'Exists':
        op = 'exists';
        break;
      case 'DoesNotExist':
        op = '!';
        break;
      default:
        throw new SelectorParseError(`${JSON.stringify(expr.operator)} is not a valid label selector operator`);
    }
    reqs.push(newRequirement(expr.key, op, [...(expr.values ?? [])]));
  }
  return { requirements: sortByKey(reqs) };
}

/** Does a metav1.LabelSelector match these labels? Invalid selectors match nothing. */
export function labelSelectorObjectMatches(ps: LabelSelectorObject | null | undefined, labels: Record<string, string> | undefined | null): boolean {
  try {
    return selectorMatches(labelSelectorFromObject(ps), labels);
  } catch {
    return false;
  }
}

/**
 * A metav1.LabelSelector as a selector string (`app=web,tier in (a,b)`); `''` for an empty
 * selector. Throws {@link SelectorParseError} for an invalid one.
 */
export function labelSelectorAsString(ps: LabelSelectorObject | null | undefined): string {
  return selectorString(labelSelectorFromObject(ps));
}

/** Upstream's metav1.FormatLabelSelector for table cells: `<none>` when empty, `<error>` when invalid. */
export function formatLabelSelector(ps: LabelSelectorObject | null | undefined): string {
  let s: string;
  try {
    s = labelSelectorAsString(ps);
  } catch {
    return '<error>';
  }
  return s.length === 0 ? '<none>' : s;
}

/** Upstream's labels.FormatLabels: `a=b,c=d` sorted by key, `<none>` when empty. */
export function formatLabels(labels: Record<string, string> | undefined | null): string {
  const keys = Object.keys(labels ?? {}).sort();
  if (keys.length === 0) return '<none>';
  return keys.map((k) => `${k}=${labels![k]}`).join(',');
}

/** A selector matching exactly this label set (upstream's SelectorFromSet); empty selects everything. */
export function selectorFromSet(set: Record<string, string> | undefined | null): LabelSelector {
  const reqs = Object.entries(set ?? {}).map(([k, v]) => ({ key: k, operator: '=' as const, values: [v] }));
  return { requirements: sortByKey(reqs) };
}
