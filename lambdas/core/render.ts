/**
 * Request rendering with Liquid (liquidjs): the URL, header values and body of a definition are
 * templates over { event, data, webhook, notification }. Templates are parsed once per
 * definition version and cached; each delivery only renders. Hostile templates are bounded in
 * time, allocations and output size (render-limits.ts) and fail with TemplateError.
 */
import { Context, type Liquid, toValueSync } from 'liquidjs';
import { type ErrorDetail, TemplateError } from './errors';
import { invalidJsonMessage } from './json-syntax';
import type { ContentType, RenderedRequest, WebhookDefinition } from './model';
import { VersionedLruCache } from './render-cache';
import { buildRenderContext, type RenderContext, sampleEvent } from './render-context';
import {
  BUDGET_REGISTER,
  type Budget,
  CappedEmitter,
  createEngine,
  errorMessage,
  PLACEHOLDER,
  renderErrorMessage,
} from './render-engine';
import {
  type CompiledTemplate,
  compileSteps,
  EMPTY_TEMPLATE,
  renderSteps,
} from './render-fast-path';
import {
  MAX_BLOCK_DEPTH,
  MAX_RENDER_OUTPUT_CHARS,
  MAX_TEMPLATE_TAGS,
  templateShape,
} from './render-limits';
import {
  CONTENT_TYPE_HEADER,
  checkHeaderValue,
  checkRenderedUrl,
  headerNameIssues,
} from './request-rules';

export const DEFAULT_CACHE_SIZE = 1000;

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
  private readonly fastPath: boolean;
  private readonly cache: VersionedLruCache<Compiled>;
  /** Counters for tests and benchmarks. */
  readonly stats = { compiles: 0, hits: 0 };

  /** `fastPath: false` renders every step through liquidjs (reference behaviour for tests). */
  constructor(opts?: { cacheSize?: number; fastPath?: boolean }) {
    this.cache = new VersionedLruCache(Math.max(1, opts?.cacheSize ?? DEFAULT_CACHE_SIZE));
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
    const details: ErrorDetail[] = headerNameIssues(def.headers ?? {});
    const compiled = this.compile(def, details);
    if (!compiled || details.length > 0) throw new TemplateError('Invalid template', details);
    const context = ctx ?? {
      ...buildRenderContext(def, sampleEvent(def.events?.find((e) => e !== '*')), 'ntf_SAMPLE'),
      data: PLACEHOLDER as unknown as Record<string, unknown>,
    };
    this.renderCompiled(compiled, def, context);
  }

  private compiled(def: WebhookDefinition): Compiled {
    const hit = this.cache.get(def.id, def.version);
    if (hit) {
      this.stats.hits++;
      return hit;
    }
    const details: ErrorDetail[] = [];
    const compiled = this.compile(def, details);
    if (!compiled) throw new TemplateError('Invalid template', details);
    this.cache.set(def.id, def.version, compiled);
    return compiled;
  }

  private compile(def: DefinitionTemplates, details: ErrorDetail[]): Compiled | undefined {
    this.stats.compiles++;
    const before = details.length;
    const parse = (source: unknown, path: string): CompiledTemplate => {
      if (typeof source !== 'string') {
        details.push({ path, message: 'template must be a string' });
        return EMPTY_TEMPLATE;
      }
      const shape = templateShape(source);
      if (shape.depth > MAX_BLOCK_DEPTH) {
        details.push({ path, message: `nests blocks deeper than ${MAX_BLOCK_DEPTH} levels` });
        return EMPTY_TEMPLATE;
      }
      if (shape.tags > MAX_TEMPLATE_TAGS) {
        details.push({ path, message: `holds more than ${MAX_TEMPLATE_TAGS} tags and outputs` });
        return EMPTY_TEMPLATE;
      }
      try {
        return compileSteps(this.engine.parse(source), this.fastPath);
      } catch (err) {
        details.push({ path, message: errorMessage(err) });
        return EMPTY_TEMPLATE;
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
        if (template.hasTags) ctx = this.spawn(state, ctx);
      } else {
        ctx = template.hasTags ? this.spawn(state, state.base) : state.base;
      }
      if (this.fastPath) renderSteps(template.steps, ctx, emitter);
      else toValueSync(this.engine.renderer.renderTemplates(template.templates, ctx, emitter));
    } catch (err) {
      // Never liquidjs's message: it may quote event data (see renderErrorMessage).
      const message = renderErrorMessage(err);
      throw new TemplateError(`Template ${path} failed to render: ${message}`, [{ path, message }]);
    }
    return emitter.buffer;
  }

  /** A fresh scope sharing the request's limiters and output budget. */
  private spawn(state: RenderState, base: Context): Context {
    const ctx = new Context(state.scope, this.engine.options, state.renderOptions, {
      liquid: this.engine,
      memoryLimit: base.memoryLimit,
      renderLimit: base.renderLimit,
    });
    ctx.setRegister(BUDGET_REGISTER, state.budget);
    return ctx;
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
    const url = checkRenderedUrl(this.run(compiled.url, 'url', state).trim());
    const headers: Record<string, string> = {};
    for (const [name, template] of compiled.headers) {
      headers[name] = checkHeaderValue(name, this.run(template, `headers.${name}`, state).trim());
    }
    headers['Content-Type'] = CONTENT_TYPE_HEADER[compiled.contentType];
    const body = this.run(compiled.body, 'body', state);
    if (compiled.contentType === 'application/json') {
      try {
        JSON.parse(body);
      } catch {
        // Not JSON.parse's message: it quotes the body, which carries event data.
        const message = invalidJsonMessage(body);
        throw new TemplateError(message, [{ path: 'body', message }]);
      }
    }
    return { method: def.method, url, headers, body };
  }
}
