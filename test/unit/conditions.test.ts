import fc from 'fast-check';
import {
  CONDITION_OPS,
  type ConditionRule,
  type ConditionSubject,
  type Conditions,
  conditionsMatch,
  evaluateConditions,
  isStorableNumber,
  parseConditions,
  ruleHolds,
} from '../../lambdas/core/conditions';

function event(data: Record<string, unknown>, type = 'LOAN_DISBURSEMENT'): ConditionSubject {
  return { id: 'evt_1', type, occurredAt: '2026-12-03T07:00:00.000Z', data };
}

const rule = (field: string, op: ConditionRule['op'], value: ConditionRule['value']) => ({
  field,
  op,
  value,
});

describe('rules, one op at a time', () => {
  const e = event({
    amount: 1500,
    currency: 'EUR',
    branch: null,
    tags: ['vip', 7],
    loan: { id: 'L-42', product: 'MORTGAGE' },
    items: [{ sku: 'A' }, { sku: 'B' }],
    zero: 0,
    text: '1500',
  });

  it.each([
    ['data.amount', 'eq', 1500, true],
    ['data.amount', 'eq', '1500', false],
    ['data.text', 'eq', 1500, false],
    ['data.branch', 'eq', null, true],
    ['data.missing', 'eq', null, false],
    ['data.amount', 'ne', 1500, false],
    ['data.amount', 'ne', '1500', true],
    ['data.missing', 'ne', 'x', true],
    ['data.amount', 'gte', 1000, true],
    ['data.amount', 'gt', 1500, false],
    ['data.amount', 'lt', 2000, true],
    ['data.amount', 'lte', 1500, true],
    ['data.text', 'gt', 1000, false],
    ['data.text', 'lte', 1000, false],
    ['data.currency', 'gt', 'CHF', true],
    ['event.occurredAt', 'gte', '2026-12-01T00:00:00.000Z', true],
    ['data.missing', 'lt', 5, false],
    ['data.currency', 'in', ['EUR', 'USD'], true],
    ['data.currency', 'in', ['GBP'], false],
    ['data.amount', 'in', ['1500'], false],
    ['data.currency', 'nin', ['GBP'], true],
    ['data.missing', 'nin', ['GBP'], true],
    ['data.branch', 'exists', true, true],
    ['data.missing', 'exists', true, false],
    ['data.missing', 'exists', false, true],
    ['data.loan.product', 'prefix', 'MORT', true],
    ['data.amount', 'prefix', '15', false],
    ['data.loan.id', 'prefix', '42', false],
    ['data.loan.id', 'contains', '-4', true],
    ['data.tags', 'contains', 'vip', true],
    ['data.tags', 'contains', 7, true],
    ['data.tags', 'contains', '7', false],
    ['data.items.1.sku', 'eq', 'B', true],
    ['data.items.2.sku', 'exists', true, false],
    ['data.items.01.sku', 'exists', true, false],
    ['data.zero', 'eq', 0, true],
    ['event.type', 'eq', 'LOAN_DISBURSEMENT', true],
    ['data.toString', 'exists', true, false],
    ['data.loan.constructor', 'exists', true, false],
    ['data.tags.length', 'exists', true, false],
    ['event.type.length', 'exists', true, false],
    ['event.type.length', 'ne', 17, true],
    ['data.amount.value', 'exists', true, false],
    ['amount', 'exists', true, false],
    ['amount', 'eq', 1500, false],
  ] as const)('%s %s %j -> %s', (field, op, value, expected) => {
    expect(ruleHolds(rule(field, op, value as ConditionRule['value']), e)).toBe(expected);
  });

  it('counts a field holding undefined (data built in code, not parsed JSON) as missing', () => {
    const built = event({ reason: undefined, nested: { code: undefined } });
    expect(ruleHolds(rule('data.reason', 'exists', true), built)).toBe(false);
    expect(ruleHolds(rule('data.nested.code', 'exists', false), built)).toBe(true);
    expect(ruleHolds(rule('data.reason', 'ne', null), built)).toBe(true);
  });
});

describe('match all / any', () => {
  const conditions = (match: 'all' | 'any'): Conditions => ({
    match,
    rules: [rule('data.amount', 'gte', 1000), rule('data.currency', 'in', ['EUR', 'USD'])],
  });

  it('all needs every rule, any one of them; evaluate names the failing rules', () => {
    const e = event({ amount: 500, currency: 'EUR' });
    expect(conditionsMatch(conditions('all'), e)).toBe(false);
    expect(conditionsMatch(conditions('any'), e)).toBe(true);
    expect(evaluateConditions(conditions('all'), e)).toEqual({ matches: false, failedRules: [0] });
    expect(evaluateConditions(conditions('any'), e)).toEqual({ matches: true, failedRules: [0] });
    const neither = event({ amount: 500, currency: 'GBP' });
    expect(conditionsMatch(conditions('any'), neither)).toBe(false);
    expect(evaluateConditions(conditions('any'), neither)).toEqual({
      matches: false,
      failedRules: [0, 1],
    });
  });

  it('no conditions match everything', () => {
    expect(conditionsMatch(undefined, event({}))).toBe(true);
  });
});

describe('validation at save', () => {
  const valid = { match: 'all', rules: [{ field: 'data.amount', op: 'gte', value: 1000 }] };

  it('accepts valid conditions and returns them normalised', () => {
    expect(parseConditions(valid)).toEqual({ conditions: valid, issues: [] });
  });

  it.each([
    [{ field: 'data.a', op: 'like', value: 'x' }, 'UNKNOWN_OP', 'conditions.rules[1].op'],
    [{ field: 'amount', op: 'eq', value: 1 }, 'INVALID_FIELD', 'conditions.rules[1].field'],
    [{ field: 'data', op: 'eq', value: 1 }, 'INVALID_FIELD', 'conditions.rules[1].field'],
    [{ field: 'data..a', op: 'eq', value: 1 }, 'INVALID_FIELD', 'conditions.rules[1].field'],
    [{ field: 'event.secret', op: 'eq', value: 1 }, 'INVALID_FIELD', 'conditions.rules[1].field'],
    [{ field: 'data.a', op: 'in', value: 'EUR' }, 'INVALID_VALUE', 'conditions.rules[1].value'],
    [{ field: 'data.a', op: 'in', value: [] }, 'INVALID_VALUE', 'conditions.rules[1].value'],
    [{ field: 'data.a', op: 'exists', value: 'yes' }, 'INVALID_VALUE', 'conditions.rules[1].value'],
    [{ field: 'data.a', op: 'eq', value: { x: 1 } }, 'INVALID_VALUE', 'conditions.rules[1].value'],
    [{ field: 'data.a', op: 'gt', value: true }, 'INVALID_VALUE', 'conditions.rules[1].value'],
    [{ field: 'data.a', op: 'prefix', value: 1 }, 'INVALID_VALUE', 'conditions.rules[1].value'],
    [{ field: 'data.a', op: 'prefix', value: '' }, 'INVALID_VALUE', 'conditions.rules[1].value'],
    [{ field: 'data.a', op: 'contains', value: '' }, 'INVALID_VALUE', 'conditions.rules[1].value'],
    [{ field: 'data.a', op: 'eq' }, 'INVALID_VALUE', 'conditions.rules[1].value'],
    [
      { field: 'data.a', op: 'eq', value: 1, extra: 1 },
      'INVALID_RULE',
      'conditions.rules[1].extra',
    ],
    ['not a rule', 'INVALID_RULE', 'conditions.rules[1]'],
    // Numbers DynamoDB cannot store (it refuses them with "Number overflow/underflow").
    [{ field: 'data.a', op: 'eq', value: 1e300 }, 'INVALID_VALUE', 'conditions.rules[1].value'],
    [{ field: 'data.a', op: 'ne', value: -1e308 }, 'INVALID_VALUE', 'conditions.rules[1].value'],
    [{ field: 'data.a', op: 'gt', value: 1e126 }, 'INVALID_VALUE', 'conditions.rules[1].value'],
    [{ field: 'data.a', op: 'lte', value: 1e-300 }, 'INVALID_VALUE', 'conditions.rules[1].value'],
    [{ field: 'data.a', op: 'eq', value: 5e-324 }, 'INVALID_VALUE', 'conditions.rules[1].value'],
    [
      { field: 'data.a', op: 'contains', value: 1e-131 },
      'INVALID_VALUE',
      'conditions.rules[1].value',
    ],
    [
      { field: 'data.a', op: 'in', value: [1, 'x', 1e300] },
      'INVALID_VALUE',
      'conditions.rules[1].value[2]',
    ],
    [
      { field: 'data.a', op: 'nin', value: [-1e-300] },
      'INVALID_VALUE',
      'conditions.rules[1].value[0]',
    ],
  ])('refuses rule %j with %s at %s, naming index 1', (bad, reason, path) => {
    const { conditions, issues } = parseConditions({
      match: 'any',
      rules: [valid.rules[0], bad],
    });
    expect(conditions).toBeUndefined();
    expect(issues).toContainEqual(expect.objectContaining({ reason, path, index: 1 }));
  });

  it('accepts numbers at the edges of the range DynamoDB stores, and names the range when refusing', () => {
    const edges = [0, -0, 1e-130, -1e-130, 9.999999999999998e125, -9.999999999999998e125];
    for (const value of edges) {
      expect(isStorableNumber(value)).toBe(true);
      expect(
        parseConditions({ match: 'all', rules: [{ field: 'data.a', op: 'eq', value }] }).issues,
      ).toEqual([]);
    }
    for (const value of [1e126, 1e-131, 1e308, -5e-324, Number.POSITIVE_INFINITY, Number.NaN])
      expect(isStorableNumber(value)).toBe(false);
    const { issues } = parseConditions({
      match: 'all',
      rules: [{ field: 'data.a', op: 'eq', value: 1e300 }],
    });
    expect(issues[0]?.message).toContain('1e-130');
  });

  it('refuses more than 20 rules, a bad match and a missing rules list', () => {
    const many = Array.from({ length: 21 }, () => valid.rules[0]);
    expect(parseConditions({ match: 'all', rules: many }).issues).toEqual([
      expect.objectContaining({ reason: 'TOO_MANY_RULES', path: 'conditions.rules' }),
    ]);
    expect(parseConditions({ match: 'most', rules: valid.rules }).issues).toEqual([
      expect.objectContaining({ reason: 'INVALID_MATCH', path: 'conditions.match' }),
    ]);
    expect(parseConditions({ match: 'all' }).issues).toEqual([
      expect.objectContaining({ reason: 'INVALID_CONDITIONS', path: 'conditions.rules' }),
    ]);
    expect(parseConditions([]).issues[0]?.reason).toBe('INVALID_CONDITIONS');
  });

  it('takes a field 32 levels below data and 256 characters long, values of 1024 characters; one more is refused', () => {
    const issuesOf = (field: string, op: ConditionRule['op'], value: ConditionRule['value']) =>
      parseConditions({ match: 'all', rules: [{ field, op, value }] }).issues;
    const deep = (levels: number) => `data${'.a'.repeat(levels)}`;
    expect(issuesOf(deep(32), 'exists', true)).toEqual([]);
    expect(issuesOf(deep(33), 'exists', true)).toEqual([
      expect.objectContaining({ reason: 'INVALID_FIELD', message: expect.stringContaining('32') }),
    ]);
    const long = (length: number) => `data.${'f'.repeat(length - 5)}`;
    expect(issuesOf(long(256), 'exists', true)).toEqual([]);
    expect(issuesOf(long(257), 'exists', true)).toEqual([
      expect.objectContaining({ reason: 'INVALID_FIELD', message: expect.stringContaining('256') }),
    ]);
    for (const op of ['eq', 'gte', 'prefix', 'contains'] as const) {
      expect(issuesOf('data.a', op, 'v'.repeat(1024))).toEqual([]);
      expect(issuesOf('data.a', op, 'v'.repeat(1025))).toEqual([
        expect.objectContaining({ reason: 'INVALID_VALUE', path: 'conditions.rules[0].value' }),
      ]);
    }
    expect(issuesOf('data.a', 'in', ['v'.repeat(1024)])).toEqual([]);
    expect(issuesOf('data.a', 'in', ['v'.repeat(1025)])[0]?.reason).toBe('INVALID_VALUE');
    // A number where exists or prefix take none is refused for its type, not for its range.
    expect(issuesOf('data.a', 'exists', 1e300)[0]?.message).toBe(
      'must be true or false for exists',
    );
    expect(issuesOf('data.a', 'prefix', 1e300)[0]?.message).toBe(
      'must be a non-empty string for prefix',
    );
  });

  it('refuses a field beside match and rules', () => {
    expect(parseConditions({ ...valid, extra: 1 })).toEqual({
      issues: [expect.objectContaining({ reason: 'INVALID_CONDITIONS', path: 'conditions.extra' })],
    });
  });

  it('accepts exactly 20 rules', () => {
    const twenty = Array.from({ length: 20 }, () => valid.rules[0]);
    expect(parseConditions({ match: 'all', rules: twenty }).issues).toEqual([]);
  });
});

// ---- properties ------------------------------------------------------------------------------

const KEYS = ['a', 'b', 'c', '0', '1'];
const scalar = fc.oneof(
  fc.constantFrom<string | number | boolean | null>(null, true, false, 0, 1, -1, 'a', 'b', ''),
  fc.integer({ min: -5, max: 5 }),
  fc.string({ maxLength: 3 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const jsonValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    scalar,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 3 }),
  ),
})).value;
const data = fc.dictionary(fc.constantFrom(...KEYS), jsonValue, { maxKeys: 4 });
const field = fc.oneof(
  fc
    .array(fc.constantFrom(...KEYS), { minLength: 1, maxLength: 3 })
    .map((p) => `data.${p.join('.')}`),
  fc.constantFrom('event.id', 'event.type', 'event.occurredAt'),
);
// Rules validation accepts: numbers within the range DynamoDB stores.
const storable = <T>(arb: fc.Arbitrary<T>) =>
  arb.filter((v) => typeof v !== 'number' || isStorableNumber(v));
const storableScalar = storable(scalar);
const validRule = fc.oneof(
  fc.record({ field, op: fc.constantFrom('eq', 'ne'), value: storableScalar }),
  fc.record({
    field,
    op: fc.constantFrom('gt', 'gte', 'lt', 'lte'),
    value: fc.oneof(
      fc.string({ maxLength: 3 }),
      fc.integer(),
      storable(fc.double({ noNaN: true, noDefaultInfinity: true })),
    ),
  }),
  fc.record({ field, op: fc.constant('contains'), value: storableScalar.filter((v) => v !== '') }),
  fc.record({
    field,
    op: fc.constantFrom('in', 'nin'),
    value: fc.array(storableScalar, { minLength: 1, maxLength: 4 }),
  }),
  fc.record({ field, op: fc.constant('exists'), value: fc.boolean() }),
  fc.record({ field, op: fc.constant('prefix'), value: fc.string({ minLength: 1, maxLength: 3 }) }),
) as fc.Arbitrary<ConditionRule>;
const subject = data.map((d) => event(d as Record<string, unknown>));
const RUNS = { numRuns: 500 };

describe('evaluator properties (fast-check)', () => {
  it('all of the rules is their conjunction, any their disjunction', () => {
    fc.assert(
      fc.property(fc.array(validRule, { minLength: 1, maxLength: 20 }), subject, (rules, e) => {
        const each = rules.map((r) => ruleHolds(r, e));
        expect(conditionsMatch({ match: 'all', rules }, e)).toBe(each.every(Boolean));
        expect(conditionsMatch({ match: 'any', rules }, e)).toBe(each.some(Boolean));
        const evaluation = evaluateConditions({ match: 'all', rules }, e);
        expect(evaluation.failedRules).toEqual(each.flatMap((ok, i) => (ok ? [] : [i])));
        expect(evaluation.matches).toBe(each.every(Boolean));
        expect(evaluateConditions({ match: 'any', rules }, e).matches).toBe(each.some(Boolean));
      }),
      RUNS,
    );
  });

  it('ne, nin and exists:false are the complements of eq, in and exists:true', () => {
    fc.assert(
      fc.property(field, scalar, fc.array(scalar, { minLength: 1 }), subject, (f, v, list, e) => {
        expect(ruleHolds(rule(f, 'ne', v), e)).toBe(!ruleHolds(rule(f, 'eq', v), e));
        expect(ruleHolds(rule(f, 'nin', list), e)).toBe(!ruleHolds(rule(f, 'in', list), e));
        expect(ruleHolds(rule(f, 'exists', false), e)).toBe(!ruleHolds(rule(f, 'exists', true), e));
      }),
      RUNS,
    );
  });

  it('gt/lte and lt/gte are complements when field and value are of the same comparable type', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.tuple(fc.double({ noNaN: true }), fc.double({ noNaN: true })),
          fc.tuple(fc.string(), fc.string()),
        ),
        ([actual, value]) => {
          const e = event({ x: actual });
          expect(ruleHolds(rule('data.x', 'gt', value), e)).toBe(
            !ruleHolds(rule('data.x', 'lte', value), e),
          );
          expect(ruleHolds(rule('data.x', 'lt', value), e)).toBe(
            !ruleHolds(rule('data.x', 'gte', value), e),
          );
        },
      ),
      RUNS,
    );
  });

  it('every rule that validation accepts evaluates to a boolean on any data, never throwing', () => {
    fc.assert(
      fc.property(validRule, subject, (r, e) => {
        expect(parseConditions({ match: 'all', rules: [r] }).issues).toEqual([]);
        expect(typeof ruleHolds(r, e)).toBe('boolean');
      }),
      RUNS,
    );
  });

  it('no input throws: arbitrary rules and conditions evaluate or are refused', () => {
    fc.assert(
      fc.property(
        fc.record({
          field: fc.oneof(fc.string(), field),
          op: fc.oneof(fc.constantFrom(...CONDITION_OPS), fc.string()),
          value: fc.anything(),
        }),
        fc.anything(),
        fc.anything(),
        (r, anyData, anyConditions) => {
          const e = event({ x: anyData, a: anyData });
          expect(typeof ruleHolds(r as unknown as ConditionRule, e)).toBe('boolean');
          expect(() => parseConditions(anyConditions)).not.toThrow();
          expect(() => parseConditions({ match: 'all', rules: [r] })).not.toThrow();
        },
      ),
      RUNS,
    );
  });
});
