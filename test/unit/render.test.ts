import fc from 'fast-check';
import { Liquid } from 'liquidjs';
import { TemplateError } from '../../lambdas/core/errors';
import type { EventEnvelope, WebhookDefinition } from '../../lambdas/core/model';
import { Renderer } from '../../lambdas/core/render';
import {
  buildRenderContext,
  type RenderContext,
  sampleEvent,
} from '../../lambdas/core/render-context';
import { renderErrorMessage, xmlEscape } from '../../lambdas/core/render-engine';
import {
  blockDepth,
  MAX_BLOCK_DEPTH,
  MAX_RENDER_OUTPUT_CHARS,
  MAX_TEMPLATE_TAGS,
  RENDER_MEMORY_LIMIT,
} from '../../lambdas/core/render-limits';
import { requestSizeBytes } from '../../lambdas/core/request-rules';

function definition(overrides: Partial<WebhookDefinition> = {}): WebhookDefinition {
  return {
    id: 'wh_TEST',
    name: 'Loan disbursed to ledger',
    events: ['LOAN_DISBURSEMENT'],
    enabled: true,
    method: 'POST',
    url: 'https://ledger.example.com/loans/{{ data.loanId }}',
    contentType: 'application/json',
    headers: { 'X-Branch': '{{ data.branch }}' },
    body: '{"loan": {{ data.loanId | json }}, "amount": {{ data.amount }}}',
    version: 1,
    createdAt: '2026-11-28T10:00:00.000Z',
    updatedAt: '2026-11-28T10:00:00.000Z',
    ...overrides,
  };
}

const event: EventEnvelope = {
  id: 'evt_1',
  type: 'LOAN_DISBURSEMENT',
  occurredAt: '2026-11-28T10:15:30.000Z',
  data: { loanId: 'L-42', amount: 1250.5, branch: 'Berlin' },
};

function contextFor(
  data: Record<string, unknown>,
  def: WebhookDefinition = definition(),
): RenderContext {
  return buildRenderContext(def, { ...event, data }, 'ntf_1');
}

function templateError(fn: () => unknown): TemplateError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TemplateError) return err;
    throw err;
  }
  throw new Error('expected a TemplateError');
}

/** Decodes the five predefined XML entities (the only ones xml_escape produces). */
function xmlUnescape(s: string): string {
  return s.replace(
    /&(amp|lt|gt|quot|apos);/g,
    (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e]!,
  );
}

const HOSTILE = 'He said "hi" & <b>left</b> \'now\'\nline2\ttab \\ back Zoë 日本 🎉 \u2028 </note>';

describe('Renderer.render', () => {
  it('renders the example definition of the design', () => {
    const def = definition();

    const req = new Renderer().render(def, buildRenderContext(def, event, 'ntf_1'));

    expect(req).toEqual({
      method: 'POST',
      url: 'https://ledger.example.com/loans/L-42',
      headers: { 'X-Branch': 'Berlin', 'Content-Type': 'application/json' },
      body: '{"loan": "L-42", "amount": 1250.5}',
    });
  });

  it('exposes event, webhook and notification to templates', () => {
    const def = definition({
      contentType: 'text/plain',
      body: '{{ event.id }}|{{ event.type }}|{{ event.occurredAt | date: "%Y-%m-%d %H:%M" }}|{{ webhook.id }}|{{ webhook.name }}|{{ notification.id }}',
    });

    const req = new Renderer().render(def, buildRenderContext(def, event, 'ntf_1'));

    expect(req.body).toBe(
      'evt_1|LOAN_DISBURSEMENT|2026-11-28 10:15|wh_TEST|Loan disbursed to ledger|ntf_1',
    );
  });

  it('embeds hostile strings in JSON so that the body parses back to the same values', () => {
    const def = definition({ body: '{"text": {{ data.text | json }}, "all": {{ data | json }}}' });
    const data = { text: HOSTILE, nested: { list: [HOSTILE, 1, null, true], __proto__: 'x' } };

    const req = new Renderer().render(def, contextFor(data));

    expect(JSON.parse(req.body)).toEqual({ text: HOSTILE, all: JSON.parse(JSON.stringify(data)) });
  });

  it('round-trips any JSON value and any string through the json filter', () => {
    const renderer = new Renderer();
    const def = definition({ body: '{"v": {{ data.v | json }}, "s": {{ data.s | json }}}' });
    fc.assert(
      fc.property(fc.jsonValue(), fc.string({ unit: 'binary' }), (v, s) => {
        const body = renderer.render(def, contextFor({ v, s })).body;
        const parsed = JSON.parse(body);
        expect(parsed.v).toEqual(JSON.parse(JSON.stringify(v)));
        expect(parsed.s).toBe(s);
      }),
      { numRuns: 300 },
    );
  });

  it('renders a missing value through json as null', () => {
    const def = definition({
      body: '{"x": {{ data.missing | json }}, "y": {{ data.a.b.c | json }}}',
    });

    expect(JSON.parse(new Renderer().render(def, contextFor({})).body)).toEqual({
      x: null,
      y: null,
    });
  });

  it('escapes hostile strings for XML element content and attributes', () => {
    const def = definition({
      contentType: 'application/xml',
      body: '<note id="{{ data.id | xml_escape }}" by=\'{{ data.text | xml_escape }}\'>{{ data.text | xml_escape }}</note>',
    });

    const req = new Renderer().render(def, contextFor({ id: 'a"b', text: HOSTILE }));

    const escaped =
      'He said &quot;hi&quot; &amp; &lt;b&gt;left&lt;/b&gt; &apos;now&apos;\nline2\ttab \\ back Zoë 日本 🎉 \u2028 &lt;/note&gt;';
    expect(req.body).toBe(`<note id="a&quot;b" by='${escaped}'>${escaped}</note>`);
    expect(xmlUnescape(escaped)).toBe(HOSTILE);
    expect(req.headers['Content-Type']).toBe('application/xml; charset=utf-8');
  });

  it('drops characters that XML 1.0 does not allow', () => {
    expect(xmlEscape('a\u0000b\u000bc\u001fd\ufffee\ud800f\udfffg\u{1F600}h\r\n\t')).toBe(
      'abcdefg\u{1F600}h\r\n\t',
    );
  });

  it('keeps every xml_escape output free of raw markup and forbidden characters', () => {
    // XML 1.0 Char production.
    const allowed = (cp: number) =>
      cp === 0x9 ||
      cp === 0xa ||
      cp === 0xd ||
      (cp >= 0x20 && cp <= 0xd7ff) ||
      (cp >= 0xe000 && cp <= 0xfffd) ||
      cp >= 0x10000;
    const keepAllowed = (s: string) =>
      Array.from(s)
        .filter((c) => allowed(c.codePointAt(0)!))
        .join('');
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const out = xmlEscape(s);
        expect(out).not.toMatch(/[<>"']|&(?!(amp|lt|gt|quot|apos);)/);
        expect(Array.from(out).every((c) => allowed(c.codePointAt(0)!))).toBe(true);
        expect(xmlUnescape(out)).toBe(keepAllowed(s));
      }),
      { numRuns: 500 },
    );
  });

  it('renders text bodies verbatim with a UTF-8 text content type', () => {
    const def = definition({
      contentType: 'text/plain',
      body: 'Loan {{ data.loanId }}: {{ data.text }}',
    });

    const req = new Renderer().render(def, contextFor({ loanId: 'L-1', text: HOSTILE }));

    expect(req.body).toBe(`Loan L-1: ${HOSTILE}`);
    expect(req.headers['Content-Type']).toBe('text/plain; charset=utf-8');
  });

  it('renders templated URLs and headers', () => {
    const def = definition({
      method: 'PUT',
      url: 'https://{{ data.region }}.example.com/loans/{{ data.loanId | url_encode }}?branch={{ data.branch | url_encode }}',
      headers: { 'X-Loan': 'loan-{{ data.loanId }}', 'X-Event': '{{ event.type | downcase }}' },
    });

    const req = new Renderer().render(
      def,
      contextFor({ region: 'eu', loanId: 'L 1/2', branch: 'Zoë & Co', amount: 1 }),
    );

    expect(req.method).toBe('PUT');
    expect(req.url).toBe('https://eu.example.com/loans/L+1%2F2?branch=Zo%C3%AB+%26+Co');
    expect(req.headers).toEqual({
      'X-Loan': 'loan-L 1/2',
      'X-Event': 'loan_disbursement',
      'Content-Type': 'application/json',
    });
  });

  it('refuses a header value that renders with a line break', () => {
    const def = definition({ headers: { 'X-Branch': '{{ data.branch }}' } });

    const err = templateError(() =>
      new Renderer().render(
        def,
        contextFor({ loanId: 1, amount: 1, branch: 'x\r\nSet-Cookie: a=b' }),
      ),
    );

    expect(err.details).toEqual([expect.objectContaining({ path: 'headers.X-Branch' })]);
    expect(err.details[0]!.message).toContain('line break');
  });

  it('refuses a header value with characters HTTP cannot carry', () => {
    const def = definition({ headers: { 'X-Branch': '{{ data.branch }}' } });

    const err = templateError(() =>
      new Renderer().render(def, contextFor({ loanId: 1, amount: 1, branch: 'café 🎉' })),
    );

    expect(err.details[0]!.path).toBe('headers.X-Branch');
  });

  it.each([
    ['{{ data.path }}', 'not an absolute URL'],
    ['ftp://example.com/{{ data.loanId }}', 'http or https'],
    ['javascript:alert(1)', 'http or https'],
    ['https://user:pw@example.com/', 'credentials'],
  ])('refuses the URL template %s', (url, message) => {
    const def = definition({ url });

    const err = templateError(() =>
      new Renderer().render(def, contextFor({ path: '/relative', loanId: 1, amount: 1 })),
    );

    expect(err.details).toEqual([expect.objectContaining({ path: 'url' })]);
    expect(err.details[0]!.message).toContain(message);
  });

  it('refuses a JSON body that does not parse after rendering', () => {
    const def = definition({ body: '{"amount": {{ data.amount }}}' });

    const err = templateError(() =>
      new Renderer().render(def, contextFor({ loanId: 1, amount: 'twelve' })),
    );

    expect(err.details).toEqual([expect.objectContaining({ path: 'body' })]);
    expect(err.message).toContain('not valid JSON');
    // The event data is not echoed into the error (it ends up in logs and history).
    expect(err.message).not.toContain('twelve');
  });

  it('renders missing variables empty unless the definition is strict', () => {
    const lenient = definition({
      contentType: 'text/plain',
      headers: {},
      body: '[{{ data.missing }}][{{ nothing.here }}]',
    });
    const strict = definition({ ...lenient, id: 'wh_STRICT', strict: true });

    expect(new Renderer().render(lenient, contextFor({ loanId: 1 })).body).toBe('[][]');
    const err = templateError(() => new Renderer().render(strict, contextFor({ loanId: 1 })));
    expect(err.details).toEqual([expect.objectContaining({ path: 'body' })]);
    expect(err.details[0]!.message).toContain('undefined variable: data.missing');
  });

  it('lets strict definitions test for missing values with if and default', () => {
    const def = definition({
      strict: true,
      contentType: 'text/plain',
      headers: {},
      body: '{% if data.note %}{{ data.note }}{% else %}none{% endif %}/{{ data.code | default: "n/a" }}',
    });

    expect(new Renderer().render(def, contextFor({ loanId: 1 })).body).toBe('none/n/a');
    expect(new Renderer().render(def, contextFor({ loanId: 1, note: 'hi', code: 7 })).body).toBe(
      'hi/7',
    );
  });

  it('hides prototype members of the data from templates', () => {
    const def = definition({
      contentType: 'text/plain',
      body: '[{{ data.constructor }}][{{ data.toString }}][{{ data.list.constructor }}]',
    });

    expect(new Renderer().render(def, contextFor({ loanId: 1, list: [1] })).body).toBe('[][][]');
  });

  it('sets Content-Type from the definition', () => {
    const renderer = new Renderer();
    const json = definition({ id: 'wh_J' });
    const text = definition({ id: 'wh_T', contentType: 'text/plain', body: 'x' });

    expect(
      renderer.render(json, contextFor({ loanId: 1, amount: 2 })).headers['Content-Type'],
    ).toBe('application/json');
    expect(renderer.render(text, contextFor({ loanId: 1 })).headers['Content-Type']).toBe(
      'text/plain; charset=utf-8',
    );
  });
});

describe('compiled template cache', () => {
  afterEach(() => jest.restoreAllMocks());

  it('parses a definition version once and reuses it', () => {
    const parse = jest.spyOn(Liquid.prototype, 'parse');
    const renderer = new Renderer();
    const def = definition();

    for (let i = 0; i < 5; i++)
      renderer.render(def, contextFor({ loanId: `L-${i}`, amount: i, branch: 'b' }));

    // url + one header + body, parsed once.
    expect(parse).toHaveBeenCalledTimes(3);
    expect(renderer.stats).toEqual({ compiles: 1, hits: 4 });
  });

  it('compiles again when the definition version changes', () => {
    const renderer = new Renderer();
    const v1 = definition({ contentType: 'text/plain', body: 'one {{ data.loanId }}' });
    const v2 = { ...v1, version: 2, body: 'two {{ data.loanId }}' };

    const first = renderer.render(v1, contextFor({ loanId: 'A' })).body;
    const second = renderer.render(v2, contextFor({ loanId: 'A' })).body;

    expect([first, second]).toEqual(['one A', 'two A']);
    expect(renderer.stats.compiles).toBe(2);
  });

  it('stays bounded, evicting the least recently used definition', () => {
    const renderer = new Renderer({ cacheSize: 2 });
    const defs = ['wh_A', 'wh_B', 'wh_C'].map((id) =>
      definition({ id, contentType: 'text/plain', body: id }),
    );
    const ctx = contextFor({ loanId: 1 });

    renderer.render(defs[0]!, ctx);
    renderer.render(defs[1]!, ctx);
    renderer.render(defs[0]!, ctx); // A is now more recent than B
    renderer.render(defs[2]!, ctx); // evicts B
    renderer.render(defs[0]!, ctx);
    expect(renderer.stats.compiles).toBe(3);
    renderer.render(defs[1]!, ctx);
    expect(renderer.stats.compiles).toBe(4);
  });

  it('does not cache a definition whose templates do not parse', () => {
    const renderer = new Renderer();
    const def = definition({ body: '{{ data.loanId ' });

    expect(() => renderer.render(def, contextFor({}))).toThrow(TemplateError);
    expect(() => renderer.render(def, contextFor({}))).toThrow(TemplateError);
    expect(renderer.stats).toEqual({ compiles: 2, hits: 0 });
  });
});

describe('hostile templates', () => {
  const ctx = contextFor({ loanId: 1, s: 'x'.repeat(1000) });
  const text = (body: string) => definition({ contentType: 'text/plain', body });

  it.each([
    ['a huge range', '{% for i in (1..100000000) %}x{% endfor %}', 'memory'],
    [
      'a megabyte of output',
      '{% for i in (1..2000) %}{{ data.s }}{% endfor %}',
      `${MAX_RENDER_OUTPUT_CHARS}`,
    ],
    [
      'a doubling capture',
      '{% assign x = "ab" %}{% for i in (1..40) %}{% capture x %}{{ x }}{{ x }}{% endcapture %}{% endfor %}{{ x | size }}',
      '',
    ],
    [
      'a doubling append',
      '{% assign x = "ab" %}{% for i in (1..40) %}{% assign x = x | append: x %}{% endfor %}{{ x | size }}',
      'memory',
    ],
    [
      'a long busy loop',
      '{% for i in (1..3000) %}{% for j in (1..3000) %}{% endfor %}{% endfor %}',
      'limit exceeded',
    ],
  ])('stops %s with TemplateError', (_name, body, message) => {
    const err = templateError(() => new Renderer().render(text(body), ctx));

    expect(err.details).toEqual([expect.objectContaining({ path: 'body' })]);
    expect(err.details[0]!.message).toContain(message);
  });

  it.each([
    ['include', '{% include "secrets.txt" %}'],
    ['render', "{% render '/etc/passwd' %}"],
    ['layout', '{% layout "base" %}'],
  ])('refuses the %s tag: no file system access', (_tag, body) => {
    const renderer = new Renderer();

    const err = templateError(() => renderer.validate(text(body)));

    expect(err.details).toEqual([expect.objectContaining({ path: 'body' })]);
  });

  /** Renders `body` over `data` and the longest text JSON.stringify returned meanwhile. */
  function renderWatchingJson(body: string, data: Record<string, unknown>) {
    const stringify = jest.spyOn(JSON, 'stringify');
    try {
      const err = templateError(() => new Renderer().render(text(body), contextFor(data)));
      const longest = Math.max(
        0,
        ...stringify.mock.results.map((r) =>
          r.type === 'return' && typeof r.value === 'string' ? r.value.length : 0,
        ),
      );
      return { err, longest };
    } finally {
      stringify.mockRestore();
    }
  }

  // Arrays nested 300 levels deep around 10,000 numbers (a template nests values with push;
  // events stop at 32 levels): indented by 10, each number sits on a line of 3,000 spaces, 30
  // million characters in all.
  const deep = () => {
    let v: unknown = new Array(10_000).fill(1);
    for (let i = 0; i < 300; i++) v = [v];
    return { nested: v };
  };

  it.each([
    ['json', '{{ data.nested | json: 10 }}'],
    ['inspect', '{{ data.nested | inspect: 10 }}'],
  ])('stops an indented %s dump of deeply nested data before building its text', (_f, body) => {
    const { err, longest } = renderWatchingJson(body, deep());

    expect(err.details[0]!.message).toContain('memory alloc limit exceeded');
    expect(longest).toBeLessThan(RENDER_MEMORY_LIMIT);
  });

  it.each([
    [
      'pushing one long string many times',
      '{% assign b = "" | split: "," %}{% for i in (1..100) %}{% assign b = b | push: data.s %}{% endfor %}{{ b | size }}',
    ],
    [
      'unshifting one long string many times',
      '{% assign b = "" | split: "," %}{% for i in (1..100) %}{% assign b = b | unshift: data.s %}{% endfor %}{{ b | size }}',
    ],
    [
      'concatenating an array with itself',
      '{% assign b = "" | split: "," | push: data.s %}{% for i in (1..7) %}{% assign b = b | concat: b %}{% endfor %}{{ b | size }}',
    ],
  ])('charges an array for what its elements write out: stops %s', (_name, body) => {
    // 128 copies of 100,000 characters: 12.8 million characters once written out.
    const data = { s: 'x'.repeat(100_000) };

    const err = templateError(() => new Renderer().render(text(body), contextFor(data)));

    expect(err.details[0]!.message).toContain('memory alloc limit exceeded');
  });

  it('still builds arrays of event values in a loop', () => {
    const items = Array.from({ length: 1000 }, (_, i) => ({ name: `item-${i}`, tags: ['a', 'b'] }));
    const body =
      '{% assign names = "" | split: "," %}{% for item in data.items %}{% assign names = names | push: item.name | concat: item.tags %}{% endfor %}{{ names | size }} {{ names | last }}';

    const out = new Renderer().render(text(body), contextFor({ items })).body;

    expect(out).toBe('3000 b');
  });

  it.each([
    ['at the top level (fast path)', `{{ data.s${' | upcase'.repeat(30)} }}`],
    ['inside a tag (liquidjs)', `{% if true %}{{ data.s${' | upcase'.repeat(30)} }}{% endif %}`],
  ])('reads the render clock before every filter of one output %s', (_where, body) => {
    // A clock that moves 100 ms at each reading. Read only before each output, these 30
    // filters would run to the end whatever they cost (a long chain of sort_natural over event
    // data took seconds); read before each filter, the 1 s budget stops them.
    let clock = 0;
    const now = jest.spyOn(performance, 'now').mockImplementation(() => {
      clock += 100;
      return clock;
    });
    try {
      const err = templateError(() => new Renderer().render(text(body), ctx));

      expect(err.details).toEqual([{ path: 'body', message: 'template render limit exceeded' }]);
    } finally {
      now.mockRestore();
    }
  });

  it.each(['json', 'inspect'])('writes %s text as JSON.stringify does, indented or not', (f) => {
    const data = { a: [1, 'two', { b: null, c: [true, { d: 'é"\\' }] }, []], e: {} };
    const body = `{{ data | ${f} }}|{{ data | ${f}: 2 }}|{{ data.a | ${f}: 10 }}|{{ data.e | ${f} }}`;

    const out = new Renderer().render(text(body), contextFor(data)).body;

    expect(out).toBe(
      [
        JSON.stringify(data),
        JSON.stringify(data, null, 2),
        JSON.stringify(data.a, null, 10),
        JSON.stringify(data.e),
      ].join('|'),
    );
  });
});

describe('Renderer.validate', () => {
  it('accepts the example definition of the design, although the sample event has no data', () => {
    const def = definition();

    expect(() => new Renderer().validate(def)).not.toThrow();
  });

  it('accepts JSON bodies whose unknown data values sit in strings, arrays and arithmetic', () => {
    const def = definition({
      body: '{"name": "{{ data.customer.name }}", "tags": [{% for t in data.tags %}{{ t | json }}{% unless forloop.last %},{% endunless %}{% endfor %}], "cents": {{ data.amount | times: 100 }}, "flag": {% if data.vip %}true{% else %}false{% endif %}}',
    });

    expect(() => new Renderer().validate(def)).not.toThrow();
  });

  it('reports every template that does not parse, by path', () => {
    const def = definition({
      url: 'https://x.example.com/{{ data.a',
      headers: { 'X-Ok': 'fine', 'X-Bad': '{% if %}' },
      body: '{% for x in data.list %}',
    });

    const err = templateError(() => new Renderer().validate(def));

    expect(err.details.map((d) => d.path).sort()).toEqual(['body', 'headers.X-Bad', 'url']);
  });

  it('refuses a JSON body that can never render to JSON', () => {
    for (const body of [
      '{"amount": {{ data.amount }}',
      '{"a": {{ unknownRoot }}}',
      'not json {{ data.a }}',
    ]) {
      const err = templateError(() => new Renderer().validate(definition({ body })));
      expect(err.details).toEqual([expect.objectContaining({ path: 'body' })]);
    }
  });

  it('refuses a URL that does not render to an absolute http(s) URL', () => {
    for (const url of [
      '/loans/{{ data.loanId }}',
      'ftp://x.example.com',
      '{{ data.callbackUrl }}',
    ]) {
      const err = templateError(() => new Renderer().validate(definition({ url })));
      expect(err.details).toEqual([expect.objectContaining({ path: 'url' })]);
    }
  });

  it('refuses header names that are invalid or set by the platform', () => {
    const def = definition({
      headers: JSON.parse(
        '{"Bad Name":"x","content-type":"text/html","Authorization":"Bearer x","Webhook-Signature":"v1,x","__proto__":"x","X-Fine":"y"}',
      ),
    });

    const err = templateError(() => new Renderer().validate(def));

    expect(err.details.map((d) => d.path).sort()).toEqual([
      'headers.Authorization',
      'headers.Bad Name',
      'headers.Webhook-Signature',
      'headers.__proto__',
      'headers.content-type',
    ]);
  });

  it('checks strict definitions for unknown top-level variables', () => {
    const ok = definition({
      strict: true,
      contentType: 'text/plain',
      body: '{{ data.anything.deep }} {{ event.type }}',
    });
    const typo = definition({ strict: true, contentType: 'text/plain', body: '{{ dta.amount }}' });

    expect(() => new Renderer().validate(ok)).not.toThrow();
    expect(templateError(() => new Renderer().validate(typo)).details[0]!.path).toBe('body');
  });

  it('renders against a given sample exactly', () => {
    const def = definition({ body: '{"amount": {{ data.amount }}}' });
    const sample = buildRenderContext(
      def,
      sampleEvent('LOAN_DISBURSEMENT', { amount: 'oops' }),
      'ntf_1',
    );

    expect(() => new Renderer().validate(def, sample)).toThrow(TemplateError);
    expect(() =>
      new Renderer().validate(
        def,
        buildRenderContext(def, sampleEvent('LOAN_DISBURSEMENT', { amount: 3 }), 'ntf_1'),
      ),
    ).not.toThrow();
  });
});

describe('sampleEvent', () => {
  it('builds a plausible event with defaults', () => {
    const e = sampleEvent();

    expect(e.type).toBe('SAMPLE_EVENT');
    expect(e.data).toEqual({});
    expect(e.id).toMatch(/^evt_/);
    expect(Number.isNaN(Date.parse(e.occurredAt))).toBe(false);
    expect(sampleEvent('X', { a: 1 })).toMatchObject({ type: 'X', data: { a: 1 } });
  });
});

describe('requestSizeBytes', () => {
  it('counts UTF-8 bytes of method, URL, headers and body', () => {
    const size = requestSizeBytes({
      method: 'POST',
      url: 'https://x.example.com/',
      headers: { 'X-A': 'é', 'Content-Type': 'text/plain' },
      body: '🎉ab',
    });

    expect(size).toBe(4 + 22 + (3 + 2) + (12 + 10) + (4 + 2));
  });
});

describe('fast path', () => {
  // Templates mixing text, outputs with filters and tags, rendered with and without the fast
  // path: the results (or the failure) must be the same as liquidjs's own rendering.
  const piece = fc.oneof(
    fc.constantFrom(
      'a',
      ' ',
      '"',
      '<',
      '\n',
      'é',
      '{}',
      ' \n  ',
      '{{- data.b -}}',
      '{%- assign y = 1 -%}',
    ),
    fc
      .tuple(
        fc.constantFrom(
          'data.a',
          'data.b',
          'data.c',
          'data.a.x',
          'data.list[0]',
          'data.list.size',
          'data.list.first',
          'data.missing',
          'event.type',
          'x',
          '"lit"',
          '3',
        ),
        fc.array(
          fc.constantFrom(
            'json',
            'xml_escape',
            'upcase',
            'default: "d"',
            'size',
            'url_encode',
            'append: "s"',
            'plus: 1',
            'escape',
            'join: ","',
            'first',
            'default: data.b',
          ),
          { maxLength: 3 },
        ),
      )
      .map(([v, fs]) => `{{ ${[v, ...fs].join(' | ')} }}`),
    fc.constantFrom(
      '{% assign x = data.b %}',
      '{% if data.a %}T{% else %}F{% endif %}',
      '{% for i in data.list %}{{ i }},{% endfor %}',
      '{% capture x %}c{{ data.c }}{% endcapture %}',
      '{% break %}',
    ),
  );
  const scalar = fc.oneof(
    fc.string({ maxLength: 5 }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
  );
  const data = fc.record(
    {
      a: fc.oneof(scalar, fc.record({ x: scalar })),
      b: scalar,
      c: scalar,
      list: fc.array(scalar, { maxLength: 3 }),
    },
    { requiredKeys: [] },
  );

  it('renders exactly as liquidjs does', () => {
    const fast = new Renderer();
    const reference = new Renderer({ fastPath: false });
    let version = 0;
    const outcome = (r: Renderer, def: WebhookDefinition, ctx: RenderContext) => {
      try {
        return { body: r.render(def, ctx).body };
      } catch (err) {
        if (err instanceof TemplateError) return { error: err.details[0]?.path };
        throw err;
      }
    };
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), data, fc.boolean(), (pieces, d, strict) => {
        version++;
        const def = definition({
          url: 'https://x.example.com/',
          headers: {},
          contentType: 'text/plain',
          body: pieces.join(''),
          strict,
          version,
        });
        const ctx = contextFor(d);
        expect(outcome(fast, def, ctx)).toEqual(outcome(reference, def, ctx));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('template nesting limit', () => {
  const renderer = new Renderer();
  const nested = (depth: number) =>
    `${'{% if true %}'.repeat(depth)}x${'{% endif %}'.repeat(depth)}`;

  it('measures block depth by a flat scan, ignoring tags that close nothing', () => {
    expect(
      blockDepth('{% if a %}{% for i in x %}{{ i }}{% endfor %}{% endif %}{% if b %}{% endif %}'),
    ).toBe(2);
    expect(blockDepth('{{ a }} {% assign b = 1 %}')).toBe(0);
    expect(blockDepth(nested(3))).toBe(3);
  });

  it(`accepts ${MAX_BLOCK_DEPTH} nested blocks and refuses one more with a TemplateError naming the template`, () => {
    const def = definition({ contentType: 'text/plain' });
    expect(() => renderer.validate({ ...def, body: nested(MAX_BLOCK_DEPTH) })).not.toThrow();
    const error = templateError(() => renderer.validate({ ...def, body: nested(2000) }));
    expect(error.details).toEqual([{ path: 'body', message: expect.stringContaining('deeper') }]);
  });
});

describe('template limits however tags are written', () => {
  const renderer = new Renderer();
  const def = definition({ contentType: 'text/plain' });
  const liquidNested = (depth: number) =>
    `{% liquid\n${'if true\n'.repeat(depth)}echo "x"\n${'endif\n'.repeat(depth)}%}`;

  it('counts blocks inside {% liquid %} as blocks: 1,500 levels there are refused', () => {
    expect(blockDepth(liquidNested(3))).toBe(3);
    expect(blockDepth(`{% if a %}${liquidNested(2)}{% endif %}`)).toBe(3);
    expect(() => renderer.validate({ ...def, body: liquidNested(MAX_BLOCK_DEPTH) })).not.toThrow();
    const error = templateError(() => renderer.validate({ ...def, body: liquidNested(1500) }));
    expect(error.details).toEqual([{ path: 'body', message: expect.stringContaining('deeper') }]);
  });

  it(`refuses more than ${MAX_TEMPLATE_TAGS} tags and outputs before parsing, {% liquid %} lines included`, () => {
    const outputs = (n: number) => '{{ event.id }}'.repeat(n);
    expect(() => renderer.validate({ ...def, body: outputs(MAX_TEMPLATE_TAGS) })).not.toThrow();
    for (const body of [
      outputs(MAX_TEMPLATE_TAGS + 1),
      // The shape that held the event loop for seconds while liquidjs parsed it.
      `{% liquid\n${'assign a = 1\n'.repeat(20_000)}%}`,
      '{% liquid assign a = 1 %}'.repeat(MAX_TEMPLATE_TAGS),
    ]) {
      const error = templateError(() => renderer.validate({ ...def, body }));
      expect(error.details).toEqual([{ path: 'body', message: expect.stringContaining('tags') }]);
    }
  });
});

describe('render failure messages (stored as failureDetail, beyond the reach of erasure)', () => {
  const secret = 'SECRET NAME Alice Smith';
  const fragments = ['SECRET', 'Alice', 'Smith', 'NAM'];

  it.each([
    ['a JSON body the data breaks', { body: '{"a": {{ data.x }}, "b": 1}' }, 'body'],
    ['a URL whose scheme comes from the data', { url: '{{ data.scheme }}://host.example/' }, 'url'],
    ['a URL that is not absolute', { url: '{{ data.x }}' }, 'url'],
    [
      'a header value with a line break',
      { headers: { 'X-Name': '{{ data.lines }}' } },
      'headers.X-Name',
    ],
    [
      'a strict lookup keyed by the data',
      { strict: true, url: 'https://x.example/', body: '{"a": {{ data[data.x] | json }}}' },
      'body',
    ],
    [
      'output over the limit',
      {
        contentType: 'text/plain' as const,
        body: `{% for i in (1..${MAX_RENDER_OUTPUT_CHARS}) %}{{ data.x }}{% endfor %}`,
      },
      'body',
    ],
  ])('%s names the template and the kind of failure, never the data', (_what, overrides, path) => {
    const def = definition({ id: `wh_${path}_${Math.random()}`, headers: {}, ...overrides });

    const err = templateError(() =>
      new Renderer().render(
        def,
        contextFor({ x: secret, scheme: 'SECRET', lines: `${secret}\r\nX-Evil: 1` }, def),
      ),
    );

    expect(err.details).toEqual([expect.objectContaining({ path })]);
    for (const text of [err.message, err.details[0]!.message])
      for (const fragment of fragments) expect(text).not.toContain(fragment);
  });

  it('a JSON body that does not parse: the problem and its position', () => {
    const def = definition({ body: '{"a": {{ data.x }}, "b": 1}' });

    const err = templateError(() => new Renderer().render(def, contextFor({ x: secret })));

    expect(err.details[0]!.message).toBe(
      'the rendered body is not valid JSON: unexpected character at position 6',
    );
  });

  it('an undefined variable: its source in the template and its position', () => {
    const def = definition({
      id: 'wh_STRICT_KEYED',
      strict: true,
      url: 'https://x.example/',
      headers: {},
      body: '{{ data[data.k] }}',
    });

    const err = templateError(() => new Renderer().render(def, contextFor({ k: 'SECRET' })));

    expect(err.details[0]!.message).toBe('undefined variable: data[data.k] at line 1, column 4');
  });

  it('a filter or tag that throws: the error class and the position, not its message', () => {
    const failure = {
      name: 'RenderError',
      message: 'TypeError: cannot read SECRET NAME, line:2, col:5',
      originalError: new TypeError('cannot read SECRET NAME'),
      token: { getPosition: () => [2, 5] },
    };

    expect(renderErrorMessage(failure)).toBe(
      'a tag or filter failed with a TypeError at line 2, column 5',
    );
  });
});
