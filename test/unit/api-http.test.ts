import {
  ConflictError,
  ErasedError,
  InvalidConditionsError,
  InvalidCursorError,
  NotFoundError,
  PayloadTooLargeError,
  ReservedEventTypeError,
  TemplateError,
  UnsupportedMediaTypeError,
  ValidationError,
  WebhookDisabledError,
} from '../../lambdas/core/errors';
import {
  errorResponse,
  InvalidJsonError,
  MethodNotAllowedError,
} from '../../lambdas/handlers/http/errors';
import {
  MAX_JSON_DEPTH,
  readEmptyBody,
  readJsonBody,
  readQuery,
} from '../../lambdas/handlers/http/request';
import {
  createHttpHandler,
  MAX_PATH_PARAM_LENGTH,
  Router,
} from '../../lambdas/handlers/http/router';
import { apiGatewayEvent, invoke } from '../support/apigw';

const silent = { info: () => {}, error: () => {} };

function body(raw: string, extra: { contentType?: string | null; base64?: boolean } = {}) {
  return apiGatewayEvent({ method: 'POST', path: '/x', body: raw, ...extra });
}

// biome-ignore lint/suspicious/noExplicitAny: the caught error is inspected field by field
function thrown(fn: () => unknown): any {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('router', () => {
  const seen: string[] = [];
  const router = new Router()
    .add('GET', '/notifications/{id}', async ({ params }) => {
      seen.push(`get ${params.id}`);
      return { status: 200, body: { id: params.id } };
    })
    .add('POST', '/notifications/resend', async () => ({ status: 202, body: { bulk: true } }))
    .add('POST', '/notifications/{id}/resend', async ({ params }) => ({
      status: 202,
      body: { one: params.id },
    }))
    .add('GET', '/notifications/resend/{jobId}', async ({ params }) => ({
      status: 200,
      body: { job: params.jobId },
    }))
    .add('DELETE', '/things/{id}', async () => ({ status: 204 }));
  const handler = createHttpHandler(router, { logger: silent });

  it('prefers a literal segment over a parameter', async () => {
    const res = await invoke(handler, { method: 'POST', path: '/notifications/resend', body: {} });
    expect(res).toMatchObject({ status: 202, body: { bulk: true } });
  });

  it('routes the resend of one notification and the job status', async () => {
    expect(
      (await invoke(handler, { method: 'POST', path: '/notifications/ntf_1/resend' })).body,
    ).toEqual({ one: 'ntf_1' });
    expect(
      (await invoke(handler, { method: 'GET', path: '/notifications/resend/job_9' })).body,
    ).toEqual({ job: 'job_9' });
  });

  it('decodes path parameters and strips a named stage', async () => {
    const res = await invoke(handler, {
      method: 'GET',
      path: '/notifications/a%2Fb',
      stage: 'prod',
    });
    expect(res.body).toEqual({ id: 'a/b' });
  });

  it('answers 404 NOT_FOUND for an unknown route and 405 with Allow for a wrong method', async () => {
    const missing = await invoke(handler, { method: 'GET', path: '/nope' });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');
    const wrong = await invoke(handler, { method: 'PATCH', path: '/things/1' });
    expect(wrong.status).toBe(405);
    expect(wrong.body.error.code).toBe('METHOD_NOT_ALLOWED');
    expect(wrong.headers.allow).toBe('DELETE');
  });

  it('lists each allowed method once, sorted, in Allow', async () => {
    const twice = createHttpHandler(
      new Router()
        .add('PUT', '/a/{id}', async () => ({ status: 200, body: {} }))
        .add('PUT', '/a/b', async () => ({ status: 200, body: {} }))
        .add('GET', '/a/b', async () => ({ status: 200, body: {} })),
      { logger: silent },
    );
    const res = await invoke(twice, { method: 'DELETE', path: '/a/b' });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, PUT');
  });

  it('routes a path with a trailing slash as the path without it, and marks every answer no-store', async () => {
    const ok = await invoke(handler, { method: 'GET', path: '/notifications/ntf_2/' });
    expect(ok.body).toEqual({ id: 'ntf_2' });
    const missing = await invoke(handler, { method: 'GET', path: '/nope' });
    for (const res of [ok, missing]) expect(res.headers['cache-control']).toBe('no-store');
  });

  it('answers 204 without a body', async () => {
    const res = await invoke(handler, { method: 'DELETE', path: '/things/1' });
    expect(res.status).toBe(204);
    expect(res.rawBody).toBeUndefined();
  });

  it('hands an overlong parameter to a route that checks its length itself', async () => {
    const checking = createHttpHandler(
      new Router().add(
        'POST',
        '/subjects/{subject}/erase',
        async ({ params }) => ({ status: 400, body: { length: params.subject.length } }),
        { checksParamLength: true },
      ),
      { logger: silent },
    );
    const res = await invoke(checking, {
      method: 'POST',
      path: `/subjects/${'x'.repeat(300)}/erase`,
    });
    expect(res).toMatchObject({ status: 400, body: { length: 300 } });
  });

  it('prefers a literal segment over a parameter of the same method, whichever was added first', async () => {
    const literal = async () => ({ status: 200, body: { route: 'literal' } });
    const param = async ({ params }: { params: Record<string, string> }) => ({
      status: 200,
      body: { route: 'param', id: params.id },
    });
    const routers = [
      new Router().add('GET', '/items/latest', literal).add('GET', '/items/{id}', param),
      new Router().add('GET', '/items/{id}', param).add('GET', '/items/latest', literal),
    ];
    for (const router of routers) {
      const items = createHttpHandler(router, { logger: silent });
      expect((await invoke(items, { method: 'GET', path: '/items/latest' })).body).toEqual({
        route: 'literal',
      });
      expect((await invoke(items, { method: 'GET', path: '/items/it_1' })).body).toEqual({
        route: 'param',
        id: 'it_1',
      });
    }
  });

  it('prefers the route whose first literal segment comes earlier when two of one method match', async () => {
    const reports = createHttpHandler(
      new Router()
        .add('GET', '/reports/{id}/summary', async () => ({
          status: 200,
          body: { route: 'summary' },
        }))
        .add('GET', '/reports/daily/{part}', async () => ({
          status: 200,
          body: { route: 'daily' },
        })),
      { logger: silent },
    );
    expect((await invoke(reports, { method: 'GET', path: '/reports/daily/summary' })).body).toEqual(
      { route: 'daily' },
    );
    expect((await invoke(reports, { method: 'GET', path: '/reports/r_1/summary' })).body).toEqual({
      route: 'summary',
    });
  });

  it('matches no route when a parameter segment is empty', async () => {
    const res = await invoke(handler, { method: 'POST', path: '/notifications//resend' });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });

  it('strips a named stage only when it is the whole first segment of the path', async () => {
    const products = createHttpHandler(
      new Router().add('GET', '/products/{id}', async ({ params }) => ({
        status: 200,
        body: { id: params.id },
      })),
      { logger: silent },
    );
    expect(
      (await invoke(products, { method: 'GET', path: '/products/p_1', stage: 'prod' })).body,
    ).toEqual({ id: 'p_1' });
    // A custom domain mapped to the stage hands over the path without the stage in front.
    const mapped = apiGatewayEvent({ method: 'GET', path: '/products/p_1' });
    const result = await products({
      ...mapped,
      requestContext: { ...mapped.requestContext, stage: 'prod' },
    });
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(String(result.body))).toEqual({ id: 'p_1' });
  });

  it('sends no body with a 204 even when the route gives one', async () => {
    const noContent = createHttpHandler(
      new Router().add('DELETE', '/x', async () => ({ status: 204, body: { ignored: true } })),
      { logger: silent },
    );
    const res = await invoke(noContent, { method: 'DELETE', path: '/x' });
    expect(res.status).toBe(204);
    expect(res.rawBody).toBeUndefined();
    expect(res.headers['content-type']).toBeUndefined();
  });

  it('routes an id of exactly 256 characters and treats one of 257 as no route', async () => {
    const longest = 'x'.repeat(MAX_PATH_PARAM_LENGTH);
    const exact = await invoke(handler, { method: 'GET', path: `/notifications/${longest}` });
    expect(exact).toMatchObject({ status: 200, body: { id: longest } });
    const over = await invoke(handler, { method: 'GET', path: `/notifications/${longest}x` });
    expect(over.status).toBe(404);
  });

  it('treats a malformed percent escape or an overlong id as no route', async () => {
    expect((await invoke(handler, { method: 'GET', path: '/notifications/%E0%A4%A' })).status).toBe(
      404,
    );
    expect(
      (await invoke(handler, { method: 'GET', path: `/notifications/${'x'.repeat(300)}` })).status,
    ).toBe(404);
  });
});

describe('readJsonBody', () => {
  const opts = { maxBytes: 1024 };

  it('parses a JSON body, plain or base64-encoded, with or without a UTF-8 charset', () => {
    expect(readJsonBody(body('{"a":1}'), opts)).toEqual({ a: 1 });
    expect(readJsonBody(body('{"a":"é"}', { base64: true }), opts)).toEqual({ a: 'é' });
    expect(
      readJsonBody(body('[1]', { contentType: 'application/json; charset=UTF-8' }), opts),
    ).toEqual([1]);
  });

  it('refuses other content types and charsets with 415', () => {
    expect(thrown(() => readJsonBody(body('{}', { contentType: 'text/plain' }), opts)).code).toBe(
      'UNSUPPORTED_MEDIA_TYPE',
    );
    expect(thrown(() => readJsonBody(body('{}', { contentType: null }), opts)).code).toBe(
      'UNSUPPORTED_MEDIA_TYPE',
    );
    expect(
      thrown(() =>
        readJsonBody(body('{}', { contentType: 'application/json; charset=latin1' }), opts),
      ).code,
    ).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('accepts structured +json media types and the utf8 charset alias, nothing merely like them', () => {
    for (const contentType of [
      'application/vnd.api+json',
      'application/merge-patch+json; charset=utf-8',
      'application/json; charset=utf8',
      'application/json; charset="UTF-8"',
    ])
      expect(readJsonBody(body('{"a":1}', { contentType }), opts)).toEqual({ a: 1 });
    for (const contentType of [
      'application/jsonp',
      'application/vnd.api+json2',
      'text/application/vnd.api+json',
      'application/+json',
    ])
      expect(thrown(() => readJsonBody(body('{}', { contentType }), opts)).code).toBe(
        'UNSUPPORTED_MEDIA_TYPE',
      );
  });

  it('finds the Content-Type whatever the case of the header name', () => {
    const event = body('{"a":1}', { contentType: null });
    event.headers = { ...event.headers, 'Content-Type': 'application/json' };
    expect(readJsonBody(event, opts)).toEqual({ a: 1 });
  });

  it('skips a leading byte-order mark, plain or base64-encoded', () => {
    expect(readJsonBody(body('\ufeff{"a":1}'), opts)).toEqual({ a: 1 });
    expect(readJsonBody(body('\ufeff[2]', { base64: true }), opts)).toEqual([2]);
    // A body of only a byte-order mark is an empty body.
    expect(thrown(() => readJsonBody(body('\ufeff'), opts)).details).toEqual([
      { path: '', message: 'empty body' },
    ]);
  });

  it('accepts a base64 body of exactly the limit once decoded, and refuses one byte more', () => {
    const exact = `"${'a'.repeat(opts.maxBytes - 2)}"`;
    expect(readJsonBody(body(exact, { base64: true }), opts)).toBe('a'.repeat(opts.maxBytes - 2));
    const over = `"${'a'.repeat(opts.maxBytes - 1)}"`;
    expect(thrown(() => readJsonBody(body(over, { base64: true }), opts)).code).toBe(
      'PAYLOAD_TOO_LARGE',
    );
  });

  it('refuses a body over the limit before parsing it, counting UTF-8 bytes', () => {
    expect(thrown(() => readJsonBody(body(`"${'a'.repeat(1100)}"`), opts)).code).toBe(
      'PAYLOAD_TOO_LARGE',
    );
    // 400 characters of 3 UTF-8 bytes each: under the limit in characters, over it in bytes.
    expect(thrown(() => readJsonBody(body(`"${'€'.repeat(400)}"`), opts)).code).toBe(
      'PAYLOAD_TOO_LARGE',
    );
    expect(
      thrown(() => readJsonBody(body(`"${'a'.repeat(1100)}"`, { base64: true }), opts)).code,
    ).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers INVALID_JSON without echoing the body', () => {
    const err = thrown(() => readJsonBody(body('{"password": secret}'), opts));
    expect(err.code).toBe('INVALID_JSON');
    expect(err.message).not.toContain('secret');
  });

  it('refuses invalid UTF-8 in a base64 body', () => {
    const event = body('x', { base64: true });
    event.body = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]).toString('base64');
    expect(thrown(() => readJsonBody(event, opts)).code).toBe('INVALID_JSON');
  });

  it('refuses __proto__ keys, lone surrogates and deep nesting with a path', () => {
    const proto = thrown(() =>
      readJsonBody(body('{"data":{"__proto__":{"polluted":true}}}'), opts),
    );
    expect(proto.code).toBe('VALIDATION_ERROR');
    expect(proto.details[0].path).toBe('data.__proto__');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(thrown(() => readJsonBody(body('{"a":"\\ud800x"}'), opts)).details[0].path).toBe('a');
    const deep = `${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}`;
    expect(thrown(() => readJsonBody(body(deep), opts)).code).toBe('VALIDATION_ERROR');
    const ok = `${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`;
    expect(readJsonBody(body(ok), opts)).toBeDefined();
  });

  it('refuses a key holding an unpaired surrogate, at the object that holds it, and takes a paired one', () => {
    const lone = thrown(() => readJsonBody(body('{"data":{"\\udc00k":1}}'), opts));
    expect(lone.code).toBe('VALIDATION_ERROR');
    expect(lone.details[0].path).toBe('data');
    expect(readJsonBody(body('{"data":{"\\ud83d\\ude00":1}}'), opts)).toEqual({
      data: { '\u{1f600}': 1 },
    });
  });

  it('survives hostile nesting far beyond the limit', () => {
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    expect(thrown(() => readJsonBody(body(deep), { maxBytes: 1_000_000 })).code).toBe(
      'VALIDATION_ERROR',
    );
  });

  it('requires a body unless optional', () => {
    const event = apiGatewayEvent({ method: 'POST', path: '/x' });
    expect(thrown(() => readJsonBody(event, opts)).code).toBe('VALIDATION_ERROR');
    expect(readJsonBody(event, { ...opts, optional: true })).toBeUndefined();
    const blank = body(' \r\n ');
    expect(thrown(() => readJsonBody(blank, opts)).details).toEqual([
      { path: '', message: 'empty body' },
    ]);
    expect(readJsonBody(blank, { ...opts, optional: true })).toBeUndefined();
  });
});

describe('readEmptyBody', () => {
  const post = (raw: string | undefined, contentType?: string | null) =>
    apiGatewayEvent({ method: 'POST', path: '/x', body: raw, contentType });

  it('takes an absent, empty, blank or {} body, with or without a Content-Type', () => {
    expect(readEmptyBody(post(undefined), 1024)).toBeUndefined();
    expect(readEmptyBody(post('', null), 1024)).toBeUndefined();
    expect(readEmptyBody(post(' \n\t'), 1024)).toBeUndefined();
    expect(readEmptyBody(post('{}'), 1024)).toBeUndefined();
  });

  it('refuses any other body with a 400 naming what was sent', () => {
    expect(thrown(() => readEmptyBody(post('{"a":1}'), 1024)).details).toEqual([
      { path: 'a', message: 'unknown field; this route takes none' },
    ]);
    expect(thrown(() => readEmptyBody(post('[]'), 1024)).details[0].message).toContain('an array');
  });
});

describe('readQuery', () => {
  it('refuses unknown and repeated parameters', () => {
    const err = thrown(() =>
      readQuery(apiGatewayEvent({ method: 'GET', path: '/n?limit=1&limit=2&x=1' }), ['limit']),
    );
    expect(err.details.map((d: { path: string }) => d.path).sort()).toEqual(['limit', 'x']);
  });
});

describe('errorResponse', () => {
  it('maps domain errors to their status with code, message and details', () => {
    expect(
      errorResponse(new ValidationError('bad', [{ path: 'a', message: 'm' }]), silent),
    ).toMatchObject({
      status: 400,
      body: {
        error: { code: 'VALIDATION_ERROR', message: 'bad', details: [{ path: 'a', message: 'm' }] },
      },
    });
    expect(errorResponse(new NotFoundError('x'), silent).status).toBe(404);
    expect(errorResponse(new ConflictError('x'), silent).status).toBe(409);
  });

  it('answers each documented error code with its documented status', () => {
    const answers = [
      new ValidationError('x'),
      new InvalidJsonError('x'),
      new InvalidCursorError('x'),
      new TemplateError('x'),
      new ReservedEventTypeError('x'),
      new InvalidConditionsError('x'),
      new NotFoundError('x'),
      new MethodNotAllowedError('x', ['GET', 'PUT']),
      new ConflictError('x'),
      new ErasedError('x', 'POST', 'example.test'),
      new WebhookDisabledError('x'),
      new PayloadTooLargeError('x'),
      new UnsupportedMediaTypeError('x'),
    ].map((err) => {
      const res = errorResponse(err, silent);
      return [res.body.error.code, res.status];
    });
    expect(answers).toEqual([
      ['VALIDATION_ERROR', 400],
      ['INVALID_JSON', 400],
      ['INVALID_CURSOR', 400],
      ['TEMPLATE_ERROR', 400],
      ['RESERVED_EVENT_TYPE', 400],
      ['INVALID_CONDITIONS', 400],
      ['NOT_FOUND', 404],
      ['METHOD_NOT_ALLOWED', 405],
      ['CONFLICT', 409],
      ['ERASED', 409],
      ['WEBHOOK_DISABLED', 409],
      ['PAYLOAD_TOO_LARGE', 413],
      ['UNSUPPORTED_MEDIA_TYPE', 415],
    ]);
    expect(errorResponse(new MethodNotAllowedError('x', ['GET', 'PUT']), silent).headers).toEqual({
      allow: 'GET, PUT',
    });
  });

  it('turns anything else into a logged 500 without detail', () => {
    const logged: unknown[] = [];
    const res = errorResponse(new Error('db password=hunter2 leaked'), {
      error: (...args: unknown[]) => logged.push(args),
    });
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe('INTERNAL_ERROR');
    expect(JSON.stringify(res.body)).not.toContain('hunter2');
    expect(logged).toHaveLength(1);
  });
});
