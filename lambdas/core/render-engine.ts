/**
 * The liquidjs engine as the platform configures it: no file system, strict filters, bounded
 * time, allocations and output (render-limits.ts), the `json`/`jsonify`/`xml_escape` filters,
 * and the pieces a render needs around it (the capped output emitter, the placeholder that
 * stands for unknown event data in save-time checks, error message extraction).
 */
import { CaptureTag, type Context, Drop, type Emitter, Liquid, toValue } from 'liquidjs';
import {
  MAX_RENDER_OUTPUT_CHARS,
  MAX_TEMPLATE_CHARS,
  RENDER_MEMORY_LIMIT,
  RENDER_TIME_LIMIT_MS,
} from './render-limits';

// Characters XML 1.0 does not allow anywhere in a document (with the u flag, lone surrogates too).
const XML_ILLEGAL = /[^\t\n\r\x20-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu;
const XML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

/** Escapes text for XML element content and attribute values, dropping characters XML forbids. */
export function xmlEscape(value: string): string {
  return value.replace(XML_ILLEGAL, '').replace(/[&<>"']/g, (c) => XML_ESCAPES[c] ?? c);
}

/** Liquid's own output conversion (nil -> '', arrays joined), repeated here for the capped emitter. */
function stringify(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = toValue(value);
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map(stringify).join('');
  return String(v);
}

/** Output characters a request's render may still produce. */
export interface Budget {
  left: number;
}

/** Collects output and stops the render once the request's output budget is spent. */
export class CappedEmitter implements Emitter {
  buffer = '';
  constructor(private readonly budget: Budget) {}
  write(html: unknown): void {
    const s = stringify(html);
    this.budget.left -= s.length;
    if (this.budget.left < 0) {
      throw new OutputLimitError(`rendered output exceeds ${MAX_RENDER_OUTPUT_CHARS} characters`);
    }
    this.buffer += s;
  }
}

class OutputLimitError extends Error {}

/** Context register holding the request's output budget (read by `capture`). */
export const BUDGET_REGISTER = 'webhooks:outputBudget';

/** `capture` writing into the request's output budget, so captured text cannot grow unbounded. */
class BudgetedCaptureTag extends CaptureTag {
  override *render(ctx: Context): Generator<unknown, void, string> {
    const budget = ctx.getRegister<Budget | undefined>(BUDGET_REGISTER);
    const emitter = budget ? new CappedEmitter(budget) : undefined;
    const html: string = yield this.liquid.renderer.renderTemplates(this.templates, ctx, emitter);
    ctx.bottom()[this.variable] = html;
  }
}

/**
 * Stands for unknown event data in save-time checks: any property of it is another placeholder
 * and it renders as 0, a value that is valid JSON both bare and inside a string, and a number
 * for arithmetic filters. A Proxy hides the prototype's members from templates.
 */
class Placeholder extends Drop {
  override liquidMethodMissing(): unknown {
    return PLACEHOLDER;
  }
  override valueOf(): number {
    return 0;
  }
}
export const PLACEHOLDER: Drop = new Proxy(new Placeholder(), {
  get(target, key, receiver) {
    if (key === 'valueOf' || key === 'liquidMethodMissing')
      return Reflect.get(target, key, receiver);
    return undefined;
  },
  has() {
    return false;
  },
});

export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    // liquidjs wraps the cause of a render failure; report the innermost message.
    const original = (err as { originalError?: unknown }).originalError;
    if (original instanceof OutputLimitError) return original.message;
    return err.message;
  }
  return String(err);
}

/** liquidjs's Limiter messages (render time, allocations, template length): fixed text. */
const LIMIT_MESSAGE = /^(memory alloc|template render|parse length) limit exceeded$/;
/** Template source quoted in a message is cut to this many characters. */
const MAX_QUOTED_SOURCE = 100;

function positionOf(err: unknown): string {
  const token = (err as { token?: { getPosition?: () => [number, number] } } | null)?.token;
  const at = typeof token?.getPosition === 'function' ? token.getPosition() : undefined;
  return at ? ` at line ${at[0]}, column ${at[1]}` : '';
}

/**
 * Why a template failed to render, built from the kind of failure and its position in the
 * template only. liquidjs's own messages may carry rendered values (a filter's error quoting its
 * input, a variable name looked up from event data), and this text is stored as a
 * notification's failureDetail, where erasure cannot reach. An undefined variable is named by
 * its source in the template (`data.customer.name`), which is the definition's, not the event's.
 */
export function renderErrorMessage(err: unknown): string {
  if (isOutputLimit(err)) return `rendered output exceeds ${MAX_RENDER_OUTPUT_CHARS} characters`;
  const original = (err as { originalError?: unknown } | null)?.originalError ?? err;
  const message = original instanceof Error ? original.message : '';
  if (LIMIT_MESSAGE.test(message)) return message;
  const name = (err as { name?: unknown } | null)?.name;
  if (name === 'UndefinedVariableError') {
    const token = (err as { token?: { getText?: () => string } }).token;
    const source = typeof token?.getText === 'function' ? token.getText().trim() : '';
    const quoted =
      source.length > MAX_QUOTED_SOURCE ? `${source.slice(0, MAX_QUOTED_SOURCE)}...` : source;
    return `undefined variable${quoted ? `: ${quoted}` : ''}${positionOf(err)}`;
  }
  const kind =
    original instanceof Error && original.name !== 'Error' ? ` with a ${original.name}` : '';
  return `a tag or filter failed${kind}${positionOf(err)}`;
}

export function isOutputLimit(err: unknown): boolean {
  return (
    err instanceof OutputLimitError ||
    (err as { originalError?: unknown } | null)?.originalError instanceof OutputLimitError
  );
}

/**
 * JSON.stringify(value, null, space), charged to the render's memory limit while it is being
 * built: the replacer sees each value before it is written and charges its text, the key
 * before it and the indentation in front of it. Text far larger than the limit (an indented
 * dump of deeply nested data, an array holding one big value many times) stops with the
 * limit's error instead of being built first and charged afterwards. `circular`: written in
 * place of a value that contains itself (inspect); without it such a value throws, as in JSON.
 */
export function chargedJson(
  value: unknown,
  space: unknown,
  memory: { use(count: number): void },
  circular?: string,
): string | undefined {
  if (typeof value !== 'object' || value === null) {
    const out = JSON.stringify(value, null, space as number | string | undefined);
    memory.use(out?.length ?? 0);
    return out;
  }
  // The indentation JSON.stringify uses: up to 10 spaces, or the first 10 characters of a string.
  const gap =
    typeof space === 'number'
      ? Math.max(0, Math.min(10, Math.floor(space)))
      : typeof space === 'string'
        ? Math.min(10, space.length)
        : 0;
  const ancestors: unknown[] = [];
  return JSON.stringify(
    value,
    function (this: unknown, key: string, val: unknown) {
      // `this` is the object holding `val`: the ancestors above it are done.
      while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) ancestors.pop();
      const depth = ancestors.length;
      let chars = 0;
      if (depth > 0) {
        // The comma, the line break and indentation, and a member's `"key": `.
        chars += 1 + (gap > 0 ? 1 + depth * gap : 0);
        if (!Array.isArray(this)) chars += key.length + 3 + (gap > 0 ? 1 : 0);
      }
      let out = val;
      if (typeof val === 'string') chars += val.length + 2;
      else if (typeof val === 'object' && val !== null) {
        if (circular !== undefined && ancestors.includes(val)) {
          out = circular;
          chars += circular.length + 2;
        } else {
          ancestors.push(val);
          // The brackets, the closing one on a line of its own when indented.
          chars += 2 + (gap > 0 ? 1 + depth * gap : 0);
        }
      } else chars += String(val).length;
      memory.use(chars);
      return out;
    },
    space as number | string | undefined,
  );
}

/**
 * The characters `value` amounts to when written out (strings by their length, members by
 * their key and value, at least 1 per value), counted per reference: an array holding the
 * same array twice counts it twice. Stops counting past `cap`, so the walk is bounded too.
 */
function writtenSize(value: unknown, cap: number): number {
  let total = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0 && total <= cap) {
    const next = pending.pop();
    if (typeof next === 'string') {
      total += Math.max(1, next.length);
      continue;
    }
    const v = typeof next === 'object' && next !== null ? toValue(next) : next;
    if (typeof v === 'string') total += Math.max(1, v.length);
    else if (Array.isArray(v)) {
      total += 1;
      for (let i = v.length - 1; i >= 0; i--) pending.push(v[i]);
    } else if (typeof v === 'object' && v !== null) {
      total += 1;
      for (const key of Object.keys(v)) {
        total += key.length;
        pending.push((v as Record<string, unknown>)[key]);
      }
    } else total += 1;
  }
  return total;
}

/**
 * liquidjs charges `push`, `unshift` and `concat` for the elements they copy (the references),
 * not for what those elements amount to, so a loop pushing one big value (or concatenating an
 * array with itself) makes an array that writes out to gigabytes while charged a few thousand
 * units; every filter that turns it into text (`append`, `upcase`, `join`, output itself)
 * then builds that text before any limit sees it. Charged here for what they add, the sum of
 * everything charged bounds what any value a template makes can write out.
 */
function chargeAddedValues(engine: Liquid): void {
  for (const name of ['push', 'unshift', 'concat']) {
    const original = engine.filters[name];
    const handler = typeof original === 'function' ? original : original?.handler;
    if (!handler) throw new Error(`liquidjs has no ${name} filter`);
    engine.registerFilter(
      name,
      function (this: { context: Context }, value: unknown, added: unknown, ...rest: unknown[]) {
        this.context.memoryLimit.use(writtenSize(added, RENDER_MEMORY_LIMIT));
        return handler.call(this as never, value, added, ...rest);
      },
    );
  }
}

/**
 * liquidjs reads the clock before each tag and output, never between the filters of one
 * output, so a single `{{ data.list | sort_natural | sort_natural | ... }}` (thousands of
 * filters fit in a template, each charged only its input's length) ran for seconds past the
 * render's time budget. Every filter reads it first here, in the fast path and in liquidjs.
 */
function checkTimeBeforeEachFilter(engine: Liquid): void {
  for (const [name, impl] of Object.entries(engine.filters)) {
    const handler = typeof impl === 'function' ? impl : impl.handler;
    if (!handler) continue;
    const raw = typeof impl === 'function' ? false : impl.raw === true;
    engine.registerFilter(name, {
      handler(this: { context: Context }, ...args: unknown[]) {
        this.context.renderLimit.check(performance.now());
        return handler.apply(this as never, args as never);
      },
      raw,
    });
  }
}

export function createEngine(): Liquid {
  const engine = new Liquid({
    strictVariables: false,
    // Under strict variables, `if`/`unless` and the `default` filter still accept a missing value.
    lenientIf: true,
    strictFilters: true,
    ownPropertyOnly: true,
    jsTruthy: false,
    // No file system: an empty in-memory template map answers every include/render/layout
    // lookup, and the tags themselves are removed below so such templates fail to parse.
    templates: {},
    relativeReference: false,
    dynamicPartials: false,
    timezoneOffset: 0,
    parseLimit: MAX_TEMPLATE_CHARS,
    renderLimit: RENDER_TIME_LIMIT_MS,
    memoryLimit: RENDER_MEMORY_LIMIT,
  });
  for (const tag of ['include', 'render', 'layout', 'block']) delete engine.tags[tag];
  engine.registerTag('capture', BudgetedCaptureTag);
  chargeAddedValues(engine);
  const json = function (this: { context: Context }, value: unknown, space?: unknown): string {
    const indent = typeof space === 'number' ? Math.min(space, 10) : undefined;
    return chargedJson(toValue(value), indent, this.context.memoryLimit) ?? 'null';
  };
  engine.registerFilter('json', json);
  engine.registerFilter('jsonify', json);
  // liquidjs's own inspect charges each value but not the indentation between them.
  engine.registerFilter(
    'inspect',
    function (this: { context: Context }, value: unknown, space: unknown = 0): string {
      return chargedJson(value, space, this.context.memoryLimit, '[Circular]') ?? '';
    },
  );
  engine.registerFilter(
    'xml_escape',
    function (this: { context: Context }, value: unknown): string {
      const s = stringify(value);
      this.context.memoryLimit.use(s.length);
      return xmlEscape(s);
    },
  );
  checkTimeBeforeEachFilter(engine);
  return engine;
}
