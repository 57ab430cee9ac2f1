/**
 * The validation layer of the API use cases: small typed readers that collect every problem
 * (with its path) before failing once, so a client sees all mistakes of a request at a time.
 */

import { isLenientTimestamp, parseLenientDateTime } from '../date-time';
import { type ErrorDetail, ValidationError } from '../errors';

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** Collects problems; `fail` throws one ValidationError naming them all. */
export class Issues {
  readonly details: ErrorDetail[] = [];

  add(path: string, message: string): void {
    this.details.push({ path, message });
  }

  get ok(): boolean {
    return this.details.length === 0;
  }

  throwIfAny(message: string): void {
    if (this.details.length > 0) {
      const summary = this.details
        .slice(0, 3)
        .map((d) => `${d.path || 'body'}: ${d.message}`)
        .join('; ');
      throw new ValidationError(
        `${message}: ${summary}${this.details.length > 3 ? '; ...' : ''}`,
        this.details,
      );
    }
  }
}

export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base === '' ? key : `${base}.${key}`;
}

/** The body must be an object with only the given keys. Returns it (or an empty object after recording the problem). */
export function readObject(
  value: unknown,
  path: string,
  allowed: readonly string[],
  issues: Issues,
): Json {
  if (!isObject(value)) {
    issues.add(path, `must be an object, got ${describe(value)}`);
    return {};
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key))
      issues.add(joinPath(path, key), `unknown field; allowed: ${allowed.join(', ')}`);
  }
  return value;
}

export function has(obj: Json, key: string): boolean {
  return Object.hasOwn(obj, key) && obj[key] !== undefined;
}

export interface StringRule {
  readonly min?: number;
  readonly max?: number;
  readonly trim?: boolean;
  readonly pattern?: RegExp;
  readonly patternMessage?: string;
}

export function readString(
  value: unknown,
  path: string,
  rule: StringRule,
  issues: Issues,
): string | undefined {
  if (typeof value !== 'string') {
    issues.add(path, `must be a string, got ${describe(value)}`);
    return undefined;
  }
  const s = rule.trim ? value.trim() : value;
  const min = rule.min ?? 0;
  if (s.length < min) {
    issues.add(path, min === 1 ? 'must not be empty' : `must be at least ${min} characters`);
    return undefined;
  }
  if (rule.max !== undefined && s.length > rule.max) {
    issues.add(path, `must be at most ${rule.max} characters`);
    return undefined;
  }
  if (rule.pattern && !rule.pattern.test(s)) {
    issues.add(path, rule.patternMessage ?? `must match ${rule.pattern.source}`);
    return undefined;
  }
  return s;
}

export function readEnum<T extends string>(
  value: unknown,
  path: string,
  allowed: readonly T[],
  issues: Issues,
): T | undefined {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    issues.add(path, `must be one of ${allowed.join(', ')}`);
    return undefined;
  }
  return value as T;
}

export function readBoolean(value: unknown, path: string, issues: Issues): boolean | undefined {
  if (typeof value !== 'boolean') {
    issues.add(path, `must be true or false, got ${describe(value)}`);
    return undefined;
  }
  return value;
}

/**
 * An ISO 8601 / RFC 3339 timestamp (a date alone means midnight UTC; a time needs a zone),
 * normalised to UTC `toISOString()` form so it compares with stored timestamps as a string.
 */
export function readIsoTime(value: unknown, path: string, issues: Issues): string | undefined {
  if (typeof value !== 'string' || !isLenientTimestamp(value)) {
    issues.add(path, 'must be an ISO 8601 timestamp with a time zone, e.g. 2026-11-28T10:00:00Z');
    return undefined;
  }
  const iso = parseLenientDateTime(value);
  if (iso === undefined) issues.add(path, 'is not a valid date');
  return iso;
}

export function readInteger(
  value: unknown,
  path: string,
  min: number,
  max: number,
  issues: Issues,
): number | undefined {
  const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    issues.add(path, `must be an integer from ${min} to ${max}`);
    return undefined;
  }
  return n;
}
