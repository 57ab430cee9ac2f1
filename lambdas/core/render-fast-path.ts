/**
 * Fast path. liquidjs renders through nested generators, which costs more per call than the
 * template logic itself. Top-level text and `{{ output }}` steps whose expression is a literal
 * or a plain variable path (the common webhook template) are run here directly, with the same
 * lookups (Context.findScope / readProperty), filter handlers, strict-variable rule and error
 * wrapping as liquidjs; tags are still rendered by liquidjs itself. Equivalence with the plain
 * liquidjs render is checked by a property test (test/unit/render.test.ts).
 */
import {
  type Context,
  evalToken,
  type Liquid,
  LiquidError,
  Output,
  type PropertyAccessToken,
  RenderError,
  type Template,
  TokenKind,
  toValue,
  toValueSync,
  UndefinedVariableError,
} from 'liquidjs';
import type { CappedEmitter } from './render-engine';

interface InternalFilter {
  name: string;
  args: unknown[];
  handler: (this: unknown, ...args: unknown[]) => unknown;
  token: unknown;
  liquid: Liquid;
}
interface OutputStep {
  readonly kind: 'output';
  readonly template: Template;
  /** Root-to-leaf property path, or undefined for a literal. */
  readonly path: readonly (string | number)[] | undefined;
  /** The variable's token (as liquidjs reports an undefined variable: its source and position). */
  readonly access: PropertyAccessToken | undefined;
  readonly literal: unknown;
  readonly filters: readonly {
    readonly filter: InternalFilter;
    readonly args: readonly unknown[] | undefined;
  }[];
  /** `default` first: under strict variables a missing value becomes null (liquidjs lenientIf). */
  readonly lenient: boolean;
}
type Step =
  | { readonly kind: 'text'; readonly text: string }
  | OutputStep
  | { readonly kind: 'tag'; readonly template: Template };

export interface CompiledTemplate {
  /** As parsed by liquidjs; rendered by liquidjs itself when the fast path is off. */
  readonly templates: Template[];
  readonly steps: readonly Step[];
  /** Tags may assign variables or break: such a template gets a Context of its own. */
  readonly hasTags: boolean;
}

export const EMPTY_TEMPLATE: CompiledTemplate = { templates: [], steps: [], hasTags: false };

const hasContent = (token: unknown): token is { content: unknown } =>
  typeof token === 'object' && token !== null && 'content' in token;

function isIteratorLike(v: unknown): boolean {
  return (
    typeof v === 'object' && v !== null && typeof (v as { next?: unknown }).next === 'function'
  );
}

export function compileSteps(templates: Template[], fastPath: boolean): CompiledTemplate {
  const steps: Step[] = [];
  let hasTags = false;
  for (const template of templates) {
    const step = fastPath ? fastStep(template) : undefined;
    if (step) steps.push(step);
    else {
      steps.push({ kind: 'tag', template });
      hasTags = true;
    }
  }
  return { templates, steps, hasTags };
}

function fastStep(template: Template): Step | undefined {
  const t = template as unknown as { token: { kind: number }; str?: unknown };
  if (t.token.kind === TokenKind.HTML && typeof t.str === 'string')
    return { kind: 'text', text: t.str };
  if (!(template instanceof Output)) return undefined;
  const postfix = template.value.initial.postfix;
  const [initial] = postfix;
  if (postfix.length !== 1 || initial === undefined) return undefined;
  let path: (string | number)[] | undefined;
  let access: PropertyAccessToken | undefined;
  let literal: unknown;
  if (initial.kind === TokenKind.PropertyAccess) {
    access = initial as PropertyAccessToken;
    if (access.variable !== undefined || access.props.length === 0) return undefined;
    path = [];
    for (const prop of access.props) {
      if (!hasContent(prop)) return undefined;
      const key = prop.content;
      if (typeof key !== 'string' && typeof key !== 'number') return undefined;
      path.push(key);
    }
  } else if (initial.kind === TokenKind.Quoted || initial.kind === TokenKind.Number) {
    if (!hasContent(initial)) return undefined;
    literal = initial.content;
  } else {
    return undefined;
  }
  const filters: OutputStep['filters'][number][] = [];
  for (const f of template.value.filters as unknown as InternalFilter[]) {
    // Literal arguments are evaluated once here, as liquidjs's evalToken would on each call.
    let args: unknown[] | undefined = [];
    for (const arg of f.args) {
      if (Array.isArray(arg)) {
        if (!hasContent(arg[1])) args = undefined;
        else args?.push([arg[0], arg[1].content]);
      } else if (hasContent(arg)) args?.push(arg.content);
      else args = undefined;
    }
    filters.push({ filter: f, args });
  }
  const lenient = filters[0]?.filter.name === 'default';
  return { kind: 'output', template, path, access, literal, filters, lenient };
}

function evalOutput(step: OutputStep, ctx: Context): unknown {
  let value: unknown;
  if (step.path) {
    const path = step.path;
    const internal = ctx as unknown as { findScope(key: unknown): unknown };
    value = internal.findScope(path[0]);
    for (const [i, key] of path.entries()) {
      value = ctx.readProperty(value as never, key);
      if (isIteratorLike(value)) value = toValueSync(value);
      if (value === undefined && ctx.strictVariables) {
        if (step.lenient && ctx.opts.lenientIf) {
          value = null;
          break;
        }
        const name = path.slice(0, i + 1).join('.');
        throw new UndefinedVariableError(
          new Error(`undefined variable: ${name}`),
          step.access ?? step.template.token,
        );
      }
    }
  } else {
    value = step.literal;
  }
  for (const { filter, args } of step.filters) {
    const argv =
      args ??
      filter.args.map((arg) =>
        Array.isArray(arg)
          ? [arg[0], toValueSync(evalToken(arg[1], ctx))]
          : toValueSync(evalToken(arg as Parameters<typeof evalToken>[0], ctx)),
      );
    value = filter.handler.apply({ context: ctx, token: filter.token, liquid: filter.liquid }, [
      value,
      ...argv,
    ]);
    if (isIteratorLike(value)) value = toValueSync(value);
  }
  return toValue(value);
}

/** The top-level loop of liquidjs's Render.renderTemplates, with fast steps inlined. */
export function renderSteps(steps: readonly Step[], ctx: Context, emitter: CappedEmitter): void {
  ctx.renderLimit.check(performance.now());
  for (const step of steps) {
    if (step.kind === 'text') {
      emitter.write(step.text);
      continue;
    }
    if (step.kind === 'output') {
      // No time check here: each filter reads the clock itself (render-engine.ts), and the
      // clock is read before each tag, as liquidjs does.
      let value: unknown;
      try {
        value = evalOutput(step, ctx);
      } catch (e) {
        throw LiquidError.is(e) ? e : new RenderError(e as Error, step.template);
      }
      emitter.write(value);
      continue;
    }
    ctx.renderLimit.check(performance.now());
    try {
      const html = toValueSync(step.template.render(ctx, emitter));
      if (html) emitter.write(html);
    } catch (e) {
      throw LiquidError.is(e) ? e : new RenderError(e as Error, step.template);
    }
    if (ctx.breakCalled || ctx.continueCalled) break;
  }
}
