/**
 * How an attempt is stored in a notification item's `attempts` list. Two forms, told apart
 * element by element, so one list may hold both:
 *  - a map with the Attempt's field names (items written before);
 *  - a list of the values in ATTEMPT_FIELDS order, trailing nulls left out (written now).
 * DynamoDB bills every byte of an attribute name inside a map, for each element: the names
 * were 66 of the about 120 bytes of an attempt sent at once, stored for the whole retention
 * and under point-in-time recovery. Readers answer the same Attempt for both forms.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Attempt } from '../core/model';
import { toAttribute } from './dynamo-item';

/** Position of each field in the list form. Append only: stored items depend on the order. */
const ATTEMPT_FIELDS = [
  'number',
  'trigger',
  'startedAt',
  'durationMs',
  'statusCode',
  'outcome',
  'error',
  'responseBody',
] as const satisfies readonly (keyof Attempt)[];

/** The stored form of an attempt (the list form). */
export function attemptAttribute(attempt: Attempt): AttributeValue {
  const values: unknown[] = ATTEMPT_FIELDS.map((field) => attempt[field] ?? null);
  while (values.length > 0 && values[values.length - 1] === null) values.pop();
  return toAttribute(values);
}

/** An attempt as read back (fromItem's plain value of either form), fields in documented order. */
export function attemptOf(stored: unknown): Attempt {
  const get: (field: (typeof ATTEMPT_FIELDS)[number]) => unknown = Array.isArray(stored)
    ? (field) => stored[ATTEMPT_FIELDS.indexOf(field)]
    : (field) => (stored as Record<string, unknown> | null)?.[field];
  return {
    number: get('number') as Attempt['number'],
    trigger: get('trigger') as Attempt['trigger'],
    startedAt: get('startedAt') as Attempt['startedAt'],
    durationMs: get('durationMs') as Attempt['durationMs'],
    statusCode: (get('statusCode') ?? null) as Attempt['statusCode'],
    outcome: get('outcome') as Attempt['outcome'],
    error: (get('error') ?? null) as Attempt['error'],
    responseBody: (get('responseBody') ?? null) as Attempt['responseBody'],
  };
}
