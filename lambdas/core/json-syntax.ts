/**
 * Where and why a text is not JSON, without quoting it. JSON.parse's messages quote the input
 * (V8: `Unexpected token 'S', "{"a": SECRET NAM"... is not valid JSON`), and a rendered body
 * carries event data; what the platform stores or logs about a bad body is built from the
 * kind and position found here instead. Only runs after JSON.parse has refused the text.
 */

export type JsonSyntaxProblem =
  | 'unexpected end'
  | 'unexpected character'
  | 'control character in a string'
  | 'invalid escape in a string'
  | 'invalid number'
  | 'unexpected text after the value';

export interface JsonSyntaxError {
  readonly problem: JsonSyntaxProblem;
  /** Offset in UTF-16 code units from the start of the text (as JSON.parse reports it). */
  readonly position: number;
}

class Stop {
  constructor(readonly error: JsonSyntaxError) {}
}

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const LITERALS = ['true', 'false', 'null'];

/** The first syntax error of `text` as JSON (RFC 8259), or undefined when it is valid JSON. */
export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  let i = 0;
  const fail = (problem: JsonSyntaxProblem, position = i): never => {
    throw new Stop({ problem, position });
  };
  const skip = () => {
    while (i < text.length && WHITESPACE.has(text.charCodeAt(i))) i++;
  };
  const expect = (char: string) => {
    skip();
    if (i >= text.length) fail('unexpected end');
    if (text[i] !== char) fail('unexpected character');
    i++;
  };
  const string = () => {
    i++; // the opening quote
    for (;;) {
      if (i >= text.length) fail('unexpected end');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail('control character in a string');
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === undefined) fail('unexpected end', i + 1);
        if (e === 'u') {
          for (let k = i + 2; k < i + 6; k++) {
            if (k >= text.length) fail('unexpected end', k);
            if (!/[0-9a-fA-F]/.test(text[k] as string)) fail('invalid escape in a string', i + 1);
          }
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail('invalid escape in a string', i + 1);
        continue;
      }
      i++;
    }
  };
  // Iterative over nesting (a stack of open containers), so deep input cannot overflow.
  const value = (): void => {
    const open: ('{' | '[')[] = [];
    for (;;) {
      skip();
      if (i >= text.length) fail('unexpected end');
      const c = text[i];
      if (c === '{' || c === '[') {
        i++;
        skip();
        if (text[i] === (c === '{' ? '}' : ']')) {
          i++;
        } else {
          open.push(c);
          if (c === '{') {
            skip();
            if (i >= text.length) fail('unexpected end');
            if (text[i] !== '"') fail('unexpected character');
            string();
            expect(':');
          }
          continue;
        }
      } else if (c === '"') {
        string();
      } else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
        NUMBER.lastIndex = i;
        const m = NUMBER.exec(text);
        const end = m ? i + m[0].length : i;
        // A number the pattern stops inside of (`1.`, `-`, `01`, `1e`) is malformed there.
        if (!m || m[0] === '-' || /[0-9.eE+-]/.test(text[end] ?? '')) fail('invalid number', end);
        i = end;
      } else {
        const literal = LITERALS.find((l) => text.startsWith(l, i));
        if (!literal) {
          const partial = LITERALS.some((l) => l.startsWith(text.slice(i)));
          fail(partial ? 'unexpected end' : 'unexpected character');
        }
        i += (literal as string).length;
      }
      // After a value: close containers or go on to the next element.
      for (;;) {
        const top = open[open.length - 1];
        if (top === undefined) return;
        skip();
        if (i >= text.length) fail('unexpected end');
        const next = text[i];
        if (next === (top === '{' ? '}' : ']')) {
          open.pop();
          i++;
          continue;
        }
        if (next !== ',') fail('unexpected character');
        i++;
        if (top === '{') {
          skip();
          if (i >= text.length) fail('unexpected end');
          if (text[i] !== '"') fail('unexpected character');
          string();
          expect(':');
        }
        break;
      }
    }
  };
  try {
    value();
    skip();
    if (i < text.length) fail('unexpected text after the value');
    return undefined;
  } catch (e) {
    if (e instanceof Stop) return e.error;
    throw e;
  }
}

/** "the rendered body is not valid JSON: unexpected character at position 6", never the text. */
export function invalidJsonMessage(text: string): string {
  const error = findJsonSyntaxError(text);
  if (!error) return 'the rendered body is not valid JSON';
  return `the rendered body is not valid JSON: ${error.problem} at position ${error.position}`;
}
