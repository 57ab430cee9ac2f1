/**
 * Conditions of a webhook definition (Mambu's "Match All / Match Any"): a pure evaluator over
 * an event, and the validation that runs when a definition is saved.
 *
 * `{"match":"all"|"any","rules":[{"field":"data.amount","op":"gte","value":1000}, ...]}`
 *
 * Semantics (typed, never coercing; the README states them for users):
 * - `field` is a dotted path into `{event: {id, type, occurredAt}, data}`; a numeric segment
 *   indexes an array (`data.items.0.sku`). Only own properties are followed. A path that
 *   leads nowhere is *missing*; a JSON `null` is present.
 * - `eq` holds when the field is present, of the same JSON type as the value and equal to it
 *   (`1` never equals `"1"`); `ne` is its complement, so a missing field is `ne` anything.
 * - `gt gte lt lte` compare two numbers numerically or two strings by code unit (ISO 8601
 *   timestamps of one format compare chronologically); any other pair, and a missing field,
 *   is false for all four (so `gt` and `lte` are not complements across types).
 * - `in` holds when the field `eq`s one of the listed values; `nin` is its complement.
 * - `exists: true` holds when the field is present (null included); `exists: false` is its
 *   complement.
 * - `prefix` holds when the field is a string starting with the value (a string).
 * - `contains` holds when the field is a string containing the value (a string), or an array
 *   holding an element that `eq`s the value; false otherwise.
 * - `all` holds when every rule holds, `any` when at least one does.
 */
import type { ErrorDetail } from './errors';

export const CONDITION_OPS = [
  'eq',
  'ne',
  'gt',
  'gte',
  'lt',
  'lte',
  'in',
  'nin',
  'exists',
  'prefix',
  'contains',
] as const;
export type ConditionOp = (typeof CONDITION_OPS)[number];

export const CONDITION_MATCHES = ['all', 'any'] as const;
export type ConditionMatch = (typeof CONDITION_MATCHES)[number];

export type Scalar = string | number | boolean | null;

export interface ConditionRule {
  readonly field: string;
  readonly op: ConditionOp;
  readonly value: Scalar | readonly Scalar[];
}

export interface Conditions {
  readonly match: ConditionMatch;
  readonly rules: readonly ConditionRule[];
}

export const CONDITION_LIMITS = {
  rules: 20,
  fieldLength: 256,
  fieldDepth: 32,
  listValues: 100,
  stringValue: 1024,
} as const;

/** The event fields a condition may read under `event.`. */
export const EVENT_CONDITION_FIELDS = ['id', 'type', 'occurredAt'] as const;

/** What a condition reads: the event's envelope fields and its data. */
export interface ConditionSubject {
  readonly id: string;
  readonly type: string;
  readonly occurredAt: string;
  readonly data: Readonly<Record<string, unknown>>;
}

const MISSING = Symbol('missing');
type Resolved = unknown | typeof MISSING;

function resolve(field: string, event: ConditionSubject): Resolved {
  const segments = field.split('.');
  const root = segments[0];
  let current: unknown;
  if (root === 'data') current = event.data;
  else if (root === 'event') {
    const name = segments[1];
    if (
      segments.length !== 2 ||
      name === undefined ||
      !(EVENT_CONDITION_FIELDS as readonly string[]).includes(name)
    )
      return MISSING;
    return event[name as (typeof EVENT_CONDITION_FIELDS)[number]];
  } else return MISSING;
  for (const key of segments.slice(1)) {
    if (Array.isArray(current)) {
      if (!/^(0|[1-9]\d*)$/.test(key)) return MISSING;
      const index = Number(key);
      if (index >= current.length) return MISSING;
      current = current[index];
    } else if (typeof current === 'object' && current !== null) {
      if (!Object.hasOwn(current, key)) return MISSING;
      current = (current as Record<string, unknown>)[key];
    } else {
      return MISSING;
    }
    if (current === undefined) return MISSING;
  }
  return current;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** Typed equality of a field value and a scalar: same JSON type and equal. */
function scalarEquals(actual: unknown, expected: unknown): boolean {
  if (jsonType(actual) !== jsonType(expected)) return false;
  return actual === expected;
}

function compare(actual: unknown, expected: unknown): number | undefined {
  if (typeof actual === 'number' && typeof expected === 'number')
    return actual < expected ? -1 : actual > expected ? 1 : 0;
  if (typeof actual === 'string' && typeof expected === 'string')
    return actual < expected ? -1 : actual > expected ? 1 : 0;
  return undefined;
}

/** Whether one rule holds for the event. Never throws, whatever the event and rule hold. */
export function ruleHolds(rule: ConditionRule, event: ConditionSubject): boolean {
  const actual = resolve(rule.field, event);
  const present = actual !== MISSING;
  const value = rule.value;
  switch (rule.op) {
    case 'eq':
      return present && scalarEquals(actual, value);
    case 'ne':
      return !(present && scalarEquals(actual, value));
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      if (!present) return false;
      const c = compare(actual, value);
      if (c === undefined) return false;
      return rule.op === 'gt'
        ? c > 0
        : rule.op === 'gte'
          ? c >= 0
          : rule.op === 'lt'
            ? c < 0
            : c <= 0;
    }
    case 'in':
      return present && Array.isArray(value) && value.some((v) => scalarEquals(actual, v));
    case 'nin':
      return !(present && Array.isArray(value) && value.some((v) => scalarEquals(actual, v)));
    case 'exists':
      return value === false ? !present : present;
    case 'prefix':
      return typeof actual === 'string' && typeof value === 'string' && actual.startsWith(value);
    case 'contains':
      if (typeof actual === 'string') return typeof value === 'string' && actual.includes(value);
      if (Array.isArray(actual)) return actual.some((item) => scalarEquals(item, value));
      return false;
    default:
      return false;
  }
}

/** Whether the event matches (no conditions: it does). Stops at the first deciding rule. */
export function conditionsMatch(
  conditions: Conditions | undefined,
  event: ConditionSubject,
): boolean {
  if (!conditions) return true;
  return conditions.match === 'any'
    ? conditions.rules.some((rule) => ruleHolds(rule, event))
    : conditions.rules.every((rule) => ruleHolds(rule, event));
}

export interface ConditionsEvaluation {
  readonly matches: boolean;
  /** The rules that did not hold, by index (all of them, for an explanation). */
  readonly failedRules: readonly number[];
}

/** conditionsMatch with the failing rules named (preview). */
export function evaluateConditions(
  conditions: Conditions | undefined,
  event: ConditionSubject,
): ConditionsEvaluation {
  if (!conditions) return { matches: true, failedRules: [] };
  const failedRules: number[] = [];
  conditions.rules.forEach((rule, index) => {
    if (!ruleHolds(rule, event)) failedRules.push(index);
  });
  const matches =
    conditions.match === 'any'
      ? failedRules.length < conditions.rules.length
      : failedRules.length === 0;
  return { matches, failedRules };
}

// ---- validation (at save) ------------------------------------------------------------------

/** Machine-readable reasons a condition is refused (`details[].reason`). */
export type ConditionProblem =
  | 'INVALID_CONDITIONS'
  | 'INVALID_MATCH'
  | 'TOO_MANY_RULES'
  | 'INVALID_RULE'
  | 'UNKNOWN_OP'
  | 'INVALID_FIELD'
  | 'INVALID_VALUE';

export interface ConditionIssue extends ErrorDetail {
  readonly reason: ConditionProblem;
}

const CONTROL = /[\p{Cc}\p{Cs}]/u;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Whether DynamoDB can store the number (conditions are stored as DynamoDB numbers): zero, or a
 * magnitude from 1E-130 to 9.9999999999999999999999999999999999999E+125. Beyond, PutItem fails
 * with "Number overflow/underflow". The largest double below 1e126 prints as 9.999999999999998e+125;
 * 9.9999999999999999e125 and longer spellings of the maximum round to the double 1e126.
 */
export function isStorableNumber(value: number): boolean {
  if (!Number.isFinite(value)) return false;
  const magnitude = Math.abs(value);
  return magnitude === 0 || (magnitude >= 1e-130 && magnitude < 1e126);
}

const NUMBER_RANGE =
  'must be 0 or a number of magnitude from 1e-130 to 9.99e125 (the range DynamoDB stores)';

function isScalar(value: unknown): value is Scalar {
  return (
    value === null ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && isStorableNumber(value)) ||
    (typeof value === 'string' && value.length <= CONDITION_LIMITS.stringValue)
  );
}

/** Why a field path is refused, or undefined when it is a dotted path into `event` or `data`. */
export function fieldProblem(field: unknown): string | undefined {
  if (typeof field !== 'string') return 'must be a string: a dotted path such as data.amount';
  if (field.length > CONDITION_LIMITS.fieldLength)
    return `must be at most ${CONDITION_LIMITS.fieldLength} characters`;
  if (CONTROL.test(field)) return 'must not contain control characters';
  const segments = field.split('.');
  if (segments.length > CONDITION_LIMITS.fieldDepth + 1)
    return `must be at most ${CONDITION_LIMITS.fieldDepth} levels deep`;
  if (segments.some((s) => s === ''))
    return 'must be a dotted path without empty segments, e.g. data.loan.amount';
  const [root, ...rest] = segments;
  if (root === 'data') {
    if (rest.length === 0) return 'must name a field under data, e.g. data.amount';
    return undefined;
  }
  if (root === 'event') {
    const [name] = rest;
    if (
      rest.length !== 1 ||
      name === undefined ||
      !(EVENT_CONDITION_FIELDS as readonly string[]).includes(name)
    )
      return `under event only ${EVENT_CONDITION_FIELDS.map((f) => `event.${f}`).join(', ')} exist`;
    return undefined;
  }
  return 'must start with data. or event.';
}

const isUnstorable = (v: unknown) =>
  typeof v === 'number' && Number.isFinite(v) && !isStorableNumber(v);

/**
 * Where a rule's value holds a number DynamoDB cannot store, for the ops that take numbers:
 * the value itself, or the first such element of an `in`/`nin` list.
 */
function unstorablePath(op: ConditionOp, value: unknown, at: string): string | undefined {
  if (op === 'in' || op === 'nin') {
    const index = Array.isArray(value) ? value.findIndex(isUnstorable) : -1;
    return index >= 0 ? `${at}[${index}]` : undefined;
  }
  return op !== 'exists' && op !== 'prefix' && isUnstorable(value) ? at : undefined;
}

function valueProblem(op: ConditionOp, value: unknown): string | undefined {
  switch (op) {
    case 'eq':
    case 'ne':
      return isScalar(value)
        ? undefined
        : `must be a string (at most ${CONDITION_LIMITS.stringValue} characters), number, boolean or null`;
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return (typeof value === 'number' && isStorableNumber(value)) ||
        (typeof value === 'string' && value.length <= CONDITION_LIMITS.stringValue)
        ? undefined
        : 'must be a number or a string';
    case 'in':
    case 'nin':
      if (!Array.isArray(value)) return `must be an array of values for ${op}`;
      if (value.length === 0 || value.length > CONDITION_LIMITS.listValues)
        return `must hold 1 to ${CONDITION_LIMITS.listValues} values`;
      return value.every(isScalar)
        ? undefined
        : 'must hold only strings, numbers, booleans or null';
    case 'exists':
      return typeof value === 'boolean' ? undefined : 'must be true or false for exists';
    case 'prefix':
      return typeof value === 'string' &&
        value.length > 0 &&
        value.length <= CONDITION_LIMITS.stringValue
        ? undefined
        : 'must be a non-empty string for prefix';
    case 'contains':
      return isScalar(value) && value !== ''
        ? undefined
        : 'must be a non-empty string, a number, a boolean or null for contains';
  }
}

/**
 * Validates `conditions` as sent by a client. Returns the normalised conditions, or the
 * problems found (each with its path, the rule's index when it is about one rule, a reason).
 */
export function parseConditions(
  input: unknown,
  path = 'conditions',
): { conditions?: Conditions; issues: ConditionIssue[] } {
  const issues: ConditionIssue[] = [];
  const problem = (reason: ConditionProblem, at: string, message: string, index?: number) =>
    issues.push({ reason, path: at, message, ...(index === undefined ? {} : { index }) });
  if (!isPlainObject(input)) {
    problem('INVALID_CONDITIONS', path, 'must be an object {"match":"all"|"any","rules":[...]}');
    return { issues };
  }
  for (const key of Object.keys(input)) {
    if (key !== 'match' && key !== 'rules')
      problem('INVALID_CONDITIONS', `${path}.${key}`, 'unknown field; allowed: match, rules');
  }
  const match = input.match;
  if (!(CONDITION_MATCHES as readonly unknown[]).includes(match))
    problem('INVALID_MATCH', `${path}.match`, 'must be "all" or "any"');
  const rules = input.rules;
  if (!Array.isArray(rules) || rules.length === 0) {
    problem('INVALID_CONDITIONS', `${path}.rules`, 'must be a non-empty array of rules');
    return { issues };
  }
  if (rules.length > CONDITION_LIMITS.rules) {
    problem(
      'TOO_MANY_RULES',
      `${path}.rules`,
      `must hold at most ${CONDITION_LIMITS.rules} rules, got ${rules.length}`,
    );
    return { issues };
  }
  const out: ConditionRule[] = [];
  rules.forEach((rule, index) => {
    const at = `${path}.rules[${index}]`;
    if (!isPlainObject(rule)) {
      problem('INVALID_RULE', at, 'must be an object {"field","op","value"}', index);
      return;
    }
    const before = issues.length;
    for (const key of Object.keys(rule)) {
      if (key !== 'field' && key !== 'op' && key !== 'value')
        problem('INVALID_RULE', `${at}.${key}`, 'unknown field; allowed: field, op, value', index);
    }
    const fieldIssue = fieldProblem(rule.field);
    if (fieldIssue) problem('INVALID_FIELD', `${at}.field`, fieldIssue, index);
    const op = rule.op;
    if (!(CONDITION_OPS as readonly unknown[]).includes(op)) {
      problem('UNKNOWN_OP', `${at}.op`, `must be one of ${CONDITION_OPS.join(', ')}`, index);
    } else if (!Object.hasOwn(rule, 'value')) {
      problem('INVALID_VALUE', `${at}.value`, 'is required', index);
    } else {
      const unstorable = unstorablePath(op as ConditionOp, rule.value, `${at}.value`);
      const valueIssue = valueProblem(op as ConditionOp, rule.value);
      if (unstorable) problem('INVALID_VALUE', unstorable, NUMBER_RANGE, index);
      else if (valueIssue) problem('INVALID_VALUE', `${at}.value`, valueIssue, index);
    }
    if (issues.length === before) {
      const value = rule.value as Scalar | Scalar[];
      out.push({
        field: rule.field as string,
        op: op as ConditionOp,
        value: Array.isArray(value) ? [...value] : value,
      });
    }
  });
  if (issues.length > 0) return { issues };
  return { conditions: { match: match as ConditionMatch, rules: out }, issues };
}
