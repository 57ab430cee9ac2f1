/**
 * Request rendering with Liquid (liquidjs): the URL, header values and body of a definition are
 * templates over { event, data, webhook, notification }. Templates are parsed once per
 * definition version and cached; each delivery only renders. Hostile templates are bounded in
 * time, allocations and output size and fail with TemplateError.
 */
import { Context, Drop, type Emitter, Liquid, type Template, toValue, toValueSync } from 'liquidjs';
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
export function sampleEvent(type = 'SAMPLE_EVENT', data: Record<string, unknown> = {}): EventEnvelope {
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
const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

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
    if (key === 'valueOf' || key === 'liquidMethodMissing') return Reflect.get(target, key, receiver);
    return undefined;
  },
  has() {
    return false;
  },
});

interface Compiled {
  readonly url: Template[];
  readonly headers: ReadonlyArray<readonly [string, Template[]]>;
  readonly body: Template[];
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
  return err instanceof OutputLimitError || (err as { originalError?: unknown })?.originalError instanceof OutputLimitError;
}

export function createEngine(): Liquid {
  const engine = new Liquid({
    strictVariables: false,
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
  const json = function (this: { context: Context }, value: unknown, space?: unknown): string {
    const v = toValue(value);
    const out = JSON.stringify(v, null, typeof space === 'number' ? Math.min(space, 10) : undefined) ?? 'null';
    this.context.memoryLimit.use(out.length);
    return out;
  };
  engine.registerFilter('json', json);
  engine.registerFilter('jsonify', json);
  engine.registerFilter('xml_escape', function (this: { context: Context }, value: unknown): string {
    const s = stringify(value);
    this.context.memoryLimit.use(s.length);
    return xmlEscape(s);
  });
  return engine;
}

/** Renders definitions, caching parsed templates per (definition id, version). */
export class Renderer {
  private readonly engine: Liquid;
  private readonly cacheSize: number;
  private readonly cache = new Map<string, Compiled>();
  /** definition id -> its cached key, so a new version evicts the old one at once. */
  private readonly keyById = new Map<string, string>();
  /** Counters for tests and benchmarks. */
  readonly stats = { compiles: 0, hits: 0 };

  constructor(opts?: { cacheSize?: number }) {
    this.cacheSize = Math.max(1, opts?.cacheSize ?? DEFAULT_CACHE_SIZE);
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
  validate(def: Omit<WebhookDefinition, 'version' | 'createdAt' | 'updatedAt'>, ctx?: RenderContext): void {
    const details: ErrorDetail[] = [];
    for (const name of Object.keys(def.headers)) {
      if (!HEADER_NAME.test(name)) {
        details.push({ path: `headers.${name}`, message: 'is not a valid HTTP header name' });
      } else if (RESERVED_HEADERS.has(name.toLowerCase())) {
        details.push({ path: `headers.${name}`, message: 'is set by the platform and cannot be configured' });
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
      return hit;
    }
    const details: ErrorDetail[] = [];
    const compiled = this.compile(def, details);
    if (!compiled) throw new TemplateError('Invalid template', details);
    const previous = this.keyById.get(def.id);
    if (previous !== undefined) this.cache.delete(previous);
    if (this.cache.size >= this.cacheSize) {
      // Map keeps insertion order: the first key is the least recently compiled.
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
      this.keyById.delete(oldest.slice(0, oldest.lastIndexOf(':')));
    }
    this.cache.set(key, compiled);
    this.keyById.set(def.id, key);
    return compiled;
  }

  private compile(def: DefinitionTemplates, details: ErrorDetail[]): Compiled | undefined {
    const before = details.length;
    const parse = (source: unknown, path: string): Template[] => {
      if (typeof source !== 'string') {
        details.push({ path, message: 'template must be a string' });
        return [];
      }
      try {
        return this.engine.parse(source);
      } catch (err) {
        details.push({ path, message: errorMessage(err) });
        return [];
      }
    };
    const url = parse(def.url, 'url');
    const headers = Object.entries(def.headers ?? {}).map(
      ([name, source]) => [name, parse(source, `headers.${name}`)] as const,
    );
    const body = parse(def.body, 'body');
    this.stats.compiles++;
    if (details.length > before) return undefined;
    return { url, headers, body, strict: def.strict === true, contentType: def.contentType };
  }

  private renderCompiled(compiled: Compiled, def: Pick<WebhookDefinition, 'method'>, scope: RenderContext): RenderedRequest {
    const budget: Budget = { left: MAX_RENDER_OUTPUT_CHARS };
    const renderOptions = { sync: true, strictVariables: compiled.strict };
    let first: Context | undefined;
    const run = (templates: Template[], path: string): string => {
      // One time and allocation budget for the whole request: later contexts share the
      // first one's limiters.
      const ctx = first
        ? new Context(scope, this.engine.options, renderOptions, {
            liquid: this.engine,
            memoryLimit: first.memoryLimit,
            renderLimit: first.renderLimit,
          })
        : new Context(scope, this.engine.options, renderOptions, { liquid: this.engine });
      first ??= ctx;
      const emitter = new CappedEmitter(budget);
      try {
        toValueSync(this.engine.renderer.renderTemplates(templates, ctx, emitter));
      } catch (err) {
        const message = isOutputLimit(err) ? `rendered output exceeds ${MAX_RENDER_OUTPUT_CHARS} characters` : errorMessage(err);
        throw new TemplateError(`Template ${path} failed to render: ${message}`, [{ path, message }]);
      }
      return emitter.buffer;
    };

    const url = checkUrl(run(compiled.url, 'url').trim());
    const headers: Record<string, string> = {};
    for (const [name, templates] of compiled.headers) {
      const path = `headers.${name}`;
      const value = run(templates, path).trim();
      if (BAD_HEADER_VALUE.test(value)) {
        const message = /[\r\n]/.test(value)
          ? 'rendered value contains a line break'
          : 'rendered value contains characters not allowed in a header (control or non-Latin-1 characters; use url_encode)';
        throw new TemplateError(`Header ${name} ${message}`, [{ path, message }]);
      }
      headers[name] = value;
    }
    headers['Content-Type'] = CONTENT_TYPE_HEADER[compiled.contentType];
    const body = run(compiled.body, 'body');
    if (compiled.contentType === 'application/json') {
      try {
        JSON.parse(body);
      } catch (err) {
        const message = `rendered body is not valid JSON (${errorMessage(err)})`;
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
