/**
 * Request rendering with Liquid (liquidjs): the URL, header values and body of a definition are
 * templates over { event, data, webhook, notification }. Templates are parsed once per
 * definition version and cached; each delivery only renders. Hostile templates are bounded in
 * time, allocations and output size and fail with TemplateError.
 */
import {
  CaptureTag,
  Context,
  Drop,
  type Emitter,
  evalToken,
  Liquid,
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
import { type ErrorDetail, TemplateError } from './errors';
import { newEventId } from './ids';
import type { ContentType, EventEnvelope, RenderedRequest, WebhookDefinition } from './model';

export const MAX_RENDERED_REQUEST_BYTES = 256 * 1024;
/**
 * Output cap per render (URL + headers + body, in UTF-16 units). Between 256 KiB and this cap
 * the render succeeds and the delivery rule (PAYLOAD_TOO_LARGE) applies; beyond it the template
 * is treated as runaway and the render stops with TemplateError before building more output.
 */
export const MAX_RENDER_OUTPUT_CHARS = 1024 * 1024;
/** Wall-clock budget of one request's render (all templates together). */
export const RENDER_TIME_LIMIT_MS = 1000;
/** liquidjs allocation units (range sizes, string/array filter results) per request render. */
export const RENDER_MEMORY_LIMIT = 8 * 1024 * 1024;
/** Longest template source accepted, per template. */
export const MAX_TEMPLATE_CHARS = 256 * 1024;
/**
 * Deepest nesting of block tags accepted. liquidjs parses recursively; thousands of nested
 * blocks exhaust the stack inside V8's regexp compiler, which aborts the process instead of
 * throwing, so depth is checked with a flat scan before parsing.
 */
export const MAX_BLOCK_DEPTH = 64;

const BLOCK_TAGS = new Set([
  'if',
  'unless',
  'for',
  'case',
  'capture',
  'tablerow',
  'comment',
  'raw',
]);
const TAG_NAME = /\{%-?\s*(\w+)/g;

/** The deepest block nesting in a template source, by a flat scan of its tag names. */
export function blockDepth(source: string): number {
  let depth = 0;
  let deepest = 0;
  for (const match of source.matchAll(TAG_NAME)) {
    const name = match[1] as string;
    if (BLOCK_TAGS.has(name)) deepest = Math.max(deepest, ++depth);
    else if (name.startsWith('end') && BLOCK_TAGS.has(name.slice(3)))
      depth = Math.max(0, depth - 1);
  }
  return deepest;
}
export const DEFAULT_CACHE_SIZE = 1000;

export interface RenderContext {
  event: { id: string; type: string; occurredAt: string };
  data: Record<string, unknown>;
  webhook: { id: string; name: string };
  notification: { id: string };
}

export function buildRenderContext(
  def: Pick<WebhookDefinition, 'id' | 'name'>,
  event: EventEnvelope,
  notificationId: string,
): RenderContext {
  return {
    event: { id: event.id, type: event.type, occurredAt: event.occurredAt },
    data: event.data,
    webhook: { id: def.id, name: def.name },
    notification: { id: notificationId },
  };
}

/** A plausible event for previews and save-time checks. */
export function sampleEvent(
  type = 'SAMPLE_EVENT',
  data: Record<string, unknown> = {},
): EventEnvelope {
  return { id: newEventId(), type, occurredAt: new Date().toISOString(), data };
}

/** Content-Type header sent for each definition content type. */
export const CONTENT_TYPE_HEADER: Readonly<Record<ContentType, string>> = {
  'application/json': 'application/json',
  'application/xml': 'application/xml; charset=utf-8',
  'text/plain': 'text/plain; charset=utf-8',
};

/**
 * Header names a definition may not set: Content-Type follows `contentType`; the Standard
 * Webhooks and Authorization headers are added at send time; the rest belong to the transport.
 */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'content-type',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'host',
  'te',
  'trailer',
  'expect',
  'proxy-authorization',
  'authorization',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
]);
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Characters a field value may carry (RFC 9110: VCHAR, obs-text, SP, HTAB).
const BAD_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
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
  return value.replace(XML_ILLEGAL, '').replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);
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

interface Budget {
  left: number;
}

/** Collects output and stops the render once the request's output budget is spent. */
class CappedEmitter implements Emitter {
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

const BUDGET_REGISTER = 'webhooks:outputBudget';

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
const PLACEHOLDER: Drop = new Proxy(new Placeholder(), {
  get(target, key, receiver) {
    if (key === 'valueOf' || key === 'liquidMethodMissing')
      return Reflect.get(target, key, receiver);
    return undefined;
  },
  has() {
    return false;
  },
});

/*
 * Fast path. liquidjs renders through nested generators, which costs more per call than the
 * template logic itself. Top-level text and `{{ output }}` steps whose expression is a literal
 * or a plain variable path (the common webhook template) are run here directly, with the same
 * lookups (Context.findScope / readProperty), filter handlers, strict-variable rule and error
 * wrapping as liquidjs; tags are still rendered by liquidjs itself. Equivalence with the plain
 * liquidjs render is checked by a property test (test/unit/render.test.ts).
 */
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

interface CompiledTemplate {
  /** As parsed by liquidjs; rendered by liquidjs itself when the fast path is off. */
  readonly templates: Template[];
  readonly steps: readonly Step[];
  /** Tags may assign variables or break: such a template gets a Context of its own. */
  readonly hasTags: boolean;
}

const hasContent = (token: unknown): token is { content: unknown } =>
  typeof token === 'object' && token !== null && 'content' in token;

function isIteratorLike(v: unknown): boolean {
  return (
    typeof v === 'object' && v !== null && typeof (v as { next?: unknown }).next === 'function'
  );
}

function compileSteps(templates: Template[], fastPath: boolean): CompiledTemplate {
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
  if (postfix.length !== 1) return undefined;
  const initial = postfix[0]!;
  let path: (string | number)[] | undefined;
  let literal: unknown;
  if (initial.kind === TokenKind.PropertyAccess) {
    const access = initial as PropertyAccessToken;
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
  return { kind: 'output', template, path, literal, filters, lenient };
}

function evalOutput(step: OutputStep, ctx: Context): unknown {
  let value: unknown;
  if (step.path) {
    const path = step.path;
    const internal = ctx as unknown as { findScope(key: unknown): unknown };
    value = internal.findScope(path[0]);
    for (let i = 0; i < path.length; i++) {
      value = ctx.readProperty(value as never, path[i]!);
      if (isIteratorLike(value)) value = toValueSync(value);
      if (value === undefined && ctx.strictVariables) {
        if (step.lenient && ctx.opts.lenientIf) {
          value = null;
          break;
        }
        const name = path.slice(0, i + 1).join('.');
        throw new UndefinedVariableError(
          new Error(`undefined variable: ${name}`),
          step.template.token,
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

interface Compiled {
  readonly url: CompiledTemplate;
  readonly headers: ReadonlyArray<readonly [string, CompiledTemplate]>;
  readonly body: CompiledTemplate;
  readonly strict: boolean;
  readonly contentType: ContentType;
}

type DefinitionTemplates = Pick<
  WebhookDefinition,
  'id' | 'name' | 'method' | 'url' | 'headers' | 'body' | 'contentType' | 'strict'
>;

function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    // liquidjs wraps the cause of a render failure; report the innermost message.
    const original = (err as { originalError?: unknown }).originalError;
    if (original instanceof OutputLimitError) return original.message;
    return err.message;
  }
  return String(err);
}

function isOutputLimit(err: unknown): boolean {
  return (
    err instanceof OutputLimitError ||
    (err as { originalError?: unknown } | null)?.originalError instanceof OutputLimitError
  );
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
  const json = function (this: { context: Context }, value: unknown, space?: unknown): string {
    const v = toValue(value);
    const out =
      (typeof space === 'number'
        ? JSON.stringify(v, null, Math.min(space, 10))
        : JSON.stringify(v)) ?? 'null';
    this.context.memoryLimit.use(out.length);
    return out;
  };
  engine.registerFilter('json', json);
  engine.registerFilter('jsonify', json);
  engine.registerFilter(
    'xml_escape',
    function (this: { context: Context }, value: unknown): string {
      const s = stringify(value);
      this.context.memoryLimit.use(s.length);
      return xmlEscape(s);
    },
  );
  return engine;
}

/** Per-request render state: one output budget and one set of limiters for all templates. */
interface RenderState {
  readonly scope: RenderContext;
  readonly budget: Budget;
  readonly renderOptions: { sync: true; strictVariables: boolean };
  /** Context for templates without tags (never mutated); its limiters are shared by all. */
  base: Context | undefined;
}

/** Renders definitions, caching parsed templates per (definition id, version). */
export class Renderer {
  private readonly engine: Liquid;
  private readonly cacheSize: number;
  private readonly fastPath: boolean;
  private readonly cache = new Map<string, Compiled>();
  /** definition id -> its cached key, so a new version evicts the old one at once. */
  private readonly keyById = new Map<string, string>();
  /** Counters for tests and benchmarks. */
  readonly stats = { compiles: 0, hits: 0 };

  /** `fastPath: false` renders every step through liquidjs (reference behaviour for tests). */
  constructor(opts?: { cacheSize?: number; fastPath?: boolean }) {
    this.cacheSize = Math.max(1, opts?.cacheSize ?? DEFAULT_CACHE_SIZE);
    this.fastPath = opts?.fastPath ?? true;
    this.engine = createEngine();
  }

  /** Renders the request of `def` for `ctx`. Throws TemplateError. */
  render(def: WebhookDefinition, ctx: RenderContext): RenderedRequest {
    return this.renderCompiled(this.compiled(def), def, ctx);
  }

  /**
   * Save-time check. Every template must parse; then the request is rendered against `ctx`, or,
   * when none is given, against a sample event whose unknown `data` values render as 0 (so a
   * JSON body such as `{"amount": {{ data.amount }}}` is checked for shape, not for values).
   * The URL must be absolute http(s) and a JSON body must parse.
   * Throws TemplateError with details[].path 'url' | 'headers.<name>' | 'body'.
   */
  validate(
    def: Omit<WebhookDefinition, 'version' | 'createdAt' | 'updatedAt'>,
    ctx?: RenderContext,
  ): void {
    const details: ErrorDetail[] = [];
    for (const name of Object.keys(def.headers ?? {})) {
      // `__proto__` is a valid token but would not survive as a key of a plain headers object.
      if (!HEADER_NAME.test(name) || name === '__proto__') {
        details.push({ path: `headers.${name}`, message: 'is not a valid HTTP header name' });
      } else if (RESERVED_HEADERS.has(name.toLowerCase())) {
        details.push({
          path: `headers.${name}`,
          message: 'is set by the platform and cannot be configured',
        });
      }
    }
    const compiled = this.compile(def, details);
    if (!compiled || details.length > 0) throw new TemplateError('Invalid template', details);
    const context = ctx ?? {
      ...buildRenderContext(def, sampleEvent(def.events?.find((e) => e !== '*')), 'ntf_SAMPLE'),
      data: PLACEHOLDER as unknown as Record<string, unknown>,
    };
    this.renderCompiled(compiled, def, context);
  }

  private compiled(def: WebhookDefinition): Compiled {
    const key = `${def.id}:${def.version}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.stats.hits++;
      // Re-insert so Map order is least recently used first.
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const details: ErrorDetail[] = [];
    const compiled = this.compile(def, details);
    if (!compiled) throw new TemplateError('Invalid template', details);
    const previous = this.keyById.get(def.id);
    if (previous !== undefined) this.cache.delete(previous);
    if (this.cache.size >= this.cacheSize) {
      // Map keeps insertion order: the first key is the least recently used.
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
      this.keyById.delete(oldest.slice(0, oldest.lastIndexOf(':')));
    }
    this.cache.set(key, compiled);
    this.keyById.set(def.id, key);
    return compiled;
  }

  private compile(def: DefinitionTemplates, details: ErrorDetail[]): Compiled | undefined {
    this.stats.compiles++;
    const before = details.length;
    const parse = (source: unknown, path: string): CompiledTemplate => {
      if (typeof source !== 'string') {
        details.push({ path, message: 'template must be a string' });
        return { templates: [], steps: [], hasTags: false };
      }
      if (blockDepth(source) > MAX_BLOCK_DEPTH) {
        details.push({ path, message: `nests blocks deeper than ${MAX_BLOCK_DEPTH} levels` });
        return { templates: [], steps: [], hasTags: false };
      }
      try {
        return compileSteps(this.engine.parse(source), this.fastPath);
      } catch (err) {
        details.push({ path, message: errorMessage(err) });
        return { templates: [], steps: [], hasTags: false };
      }
    };
    const url = parse(def.url, 'url');
    const headers = Object.entries(def.headers ?? {}).map(
      ([name, source]) => [name, parse(source, `headers.${name}`)] as const,
    );
    const body = parse(def.body, 'body');
    if (details.length > before) return undefined;
    return { url, headers, body, strict: def.strict === true, contentType: def.contentType };
  }

  private run(template: CompiledTemplate, path: string, state: RenderState): string {
    const emitter = new CappedEmitter(state.budget);
    try {
      let ctx: Context;
      if (state.base === undefined) {
        ctx = new Context(state.scope, this.engine.options, state.renderOptions, {
          liquid: this.engine,
        });
        state.base = ctx;
        if (template.hasTags) ctx = this.spawn(state);
      } else {
        ctx = template.hasTags ? this.spawn(state) : state.base;
      }
      if (this.fastPath) this.renderSteps(template.steps, ctx, emitter);
      else toValueSync(this.engine.renderer.renderTemplates(template.templates, ctx, emitter));
    } catch (err) {
      const message = isOutputLimit(err)
        ? `rendered output exceeds ${MAX_RENDER_OUTPUT_CHARS} characters`
        : errorMessage(err);
      throw new TemplateError(`Template ${path} failed to render: ${message}`, [{ path, message }]);
    }
    return emitter.buffer;
  }

  /** A fresh scope sharing the request's limiters and output budget. */
  private spawn(state: RenderState): Context {
    const base = state.base!;
    const ctx = new Context(state.scope, this.engine.options, state.renderOptions, {
      liquid: this.engine,
      memoryLimit: base.memoryLimit,
      renderLimit: base.renderLimit,
    });
    ctx.setRegister(BUDGET_REGISTER, state.budget);
    return ctx;
  }

  /** The top-level loop of liquidjs's Render.renderTemplates, with fast steps inlined. */
  private renderSteps(steps: readonly Step[], ctx: Context, emitter: CappedEmitter): void {
    ctx.renderLimit.check(performance.now());
    for (const step of steps) {
      if (step.kind === 'text') {
        emitter.write(step.text);
        continue;
      }
      if (step.kind === 'output') {
        // No time check here: an output step does bounded work (its filters are charged to the
        // memory limit); the clock is read before each tag, as liquidjs does.
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

  private renderCompiled(
    compiled: Compiled,
    def: Pick<WebhookDefinition, 'method'>,
    scope: RenderContext,
  ): RenderedRequest {
    const state: RenderState = {
      scope,
      budget: { left: MAX_RENDER_OUTPUT_CHARS },
      renderOptions: { sync: true, strictVariables: compiled.strict },
      base: undefined,
    };
    const url = checkUrl(this.run(compiled.url, 'url', state).trim());
    const headers: Record<string, string> = {};
    for (const [name, template] of compiled.headers) {
      const path = `headers.${name}`;
      const value = this.run(template, path, state).trim();
      if (BAD_HEADER_VALUE.test(value)) {
        const message = /[\r\n]/.test(value)
          ? 'rendered value contains a line break'
          : 'rendered value contains characters not allowed in a header (control or non-Latin-1 characters; use url_encode)';
        throw new TemplateError(`Header ${name} ${message}`, [{ path, message }]);
      }
      headers[name] = value;
    }
    headers['Content-Type'] = CONTENT_TYPE_HEADER[compiled.contentType];
    const body = this.run(compiled.body, 'body', state);
    if (compiled.contentType === 'application/json') {
      try {
        JSON.parse(body);
      } catch (err) {
        // V8 may quote the body, which carries event data: drop the quotation.
        const reason = errorMessage(err).replace(/, ".*" is not valid JSON$/s, '');
        const message = `rendered body is not valid JSON: ${reason}`;
        throw new TemplateError(message, [{ path: 'body', message }]);
      }
    }
    return { method: def.method, url, headers, body };
  }
}

function checkUrl(rendered: string): string {
  let parsed: URL;
  try {
    parsed = new URL(rendered);
  } catch {
    const message = 'rendered URL is not an absolute URL';
    throw new TemplateError(message, [{ path: 'url', message }]);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    const message = `rendered URL must use http or https, not ${parsed.protocol.slice(0, -1)}`;
    throw new TemplateError(message, [{ path: 'url', message }]);
  }
  if (parsed.username !== '' || parsed.password !== '') {
    // Credentials in the URL would be stored in the history: use the definition's auth instead.
    const message = 'rendered URL must not contain credentials; configure auth instead';
    throw new TemplateError(message, [{ path: 'url', message }]);
  }
  return parsed.href;
}

/** UTF-8 bytes of method, URL, header names and values, and body. */
export function requestSizeBytes(req: RenderedRequest): number {
  let n = Buffer.byteLength(req.method, 'utf8') + Buffer.byteLength(req.url, 'utf8');
  for (const [name, value] of Object.entries(req.headers)) {
    n += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(value, 'utf8');
  }
  return n + Buffer.byteLength(req.body, 'utf8');
}
