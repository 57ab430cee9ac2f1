import fc from 'fast-check';
import { findJsonSyntaxError, invalidJsonMessage } from '../../lambdas/core/json-syntax';

describe('findJsonSyntaxError', () => {
  it.each([
    ['{"a": SECRET NAME Alice Smith, "b": 1}', 'unexpected character', 6],
    ['{"a": 1', 'unexpected end', 7],
    ['', 'unexpected end', 0],
    ['{"a":1} trailing', 'unexpected text after the value', 8],
    ['[1,]', 'unexpected character', 3],
    ['{"a":1,}', 'unexpected character', 7],
    ['{"a" 1}', 'unexpected character', 5],
    ['{"a":"x\u0001"}', 'control character in a string', 7],
    ['"\\x"', 'invalid escape in a string', 2],
    ['"\\u12"', 'invalid escape in a string', 2],
    ['01', 'invalid number', 1],
    ['-', 'invalid number', 0],
    ['tru', 'unexpected end', 0],
  ])('finds where %j stops being JSON', (text, problem, position) => {
    expect(findJsonSyntaxError(text)).toEqual({ problem, position });
  });

  it('agrees with JSON.parse on what is JSON', () => {
    const jsonish = fc.oneof(
      fc.json(),
      fc.json().map((j) => j.slice(0, -1)),
      fc
        .tuple(
          fc.json(),
          fc.nat(),
          fc.constantFrom(',', '}', ']', '"', ':', '-', '.', 'e', ' ', '\\', 'x', '0'),
        )
        .map(
          ([j, at, c]) => `${j.slice(0, at % (j.length + 1))}${c}${j.slice(at % (j.length + 1))}`,
        ),
      fc.string(),
    );
    fc.assert(
      fc.property(jsonish, (text) => {
        let valid = true;
        try {
          JSON.parse(text);
        } catch {
          valid = false;
        }
        expect(findJsonSyntaxError(text) === undefined).toBe(valid);
      }),
      { numRuns: 2000 },
    );
  });

  it('handles deep nesting without recursion', () => {
    expect(findJsonSyntaxError(`${'['.repeat(100_000)}${']'.repeat(100_000)}`)).toBeUndefined();
    expect(findJsonSyntaxError('['.repeat(100_000))).toEqual({
      problem: 'unexpected end',
      position: 100_000,
    });
  });
});

describe('invalidJsonMessage', () => {
  it('names the problem and its position, never the text', () => {
    const body = '{"a": SECRET NAME Alice Smith, "b": 1}';

    const message = invalidJsonMessage(body);

    expect(message).toBe('the rendered body is not valid JSON: unexpected character at position 6');
  });
});
