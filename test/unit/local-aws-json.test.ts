/**
 * The AWS JSON 1.0 server and client local mode's stand-ins share: operations by X-Amz-Target,
 * errors as `{ __type, message }` with X-Amzn-ErrorType, and a 500 InternalFailure that names
 * nothing of the failure to the caller.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AWS_JSON_CONTENT_TYPE,
  AwsJsonError,
  callAwsJson,
  createAwsJsonServer,
} from '../../local/aws-json';

describe('AWS JSON 1.0 server and client', () => {
  const failures: { message: string; err: unknown }[] = [];
  const server = createAwsJsonServer({
    service: 'test',
    name: 'test endpoint',
    targetPrefix: 'TestService.',
    maxRequestBytes: 64,
    operations: {
      Echo: (body) => ({ echoed: body }),
      Refuse: () => {
        throw new AwsJsonError('ValidationException', 'not like that');
      },
      Boom: () => {
        throw new Error('disk path /secret/internals');
      },
    },
    health: () => ({ status: 503, body: { ok: false } }),
    onError: (message, err) => failures.push({ message, err }),
  });
  const agent = new http.Agent({ keepAlive: false });
  let endpoint: URL;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  });
  afterAll(async () => {
    agent.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  async function post(target: string | undefined, body: string, method = 'POST') {
    const res = await fetch(endpoint, {
      method,
      headers: {
        'content-type': AWS_JSON_CONTENT_TYPE,
        ...(target === undefined ? {} : { 'x-amz-target': target }),
      },
      ...(method === 'POST' ? { body } : {}),
    });
    return {
      status: res.status,
      errorType: res.headers.get('x-amzn-errortype'),
      contentType: res.headers.get('content-type'),
      body: (await res.json()) as Record<string, unknown>,
    };
  }

  it('runs the operation the target names and answers its result as JSON', async () => {
    await expect(post('TestService.Echo', '{"a":1}')).resolves.toEqual({
      status: 200,
      errorType: null,
      contentType: AWS_JSON_CONTENT_TYPE,
      body: { echoed: { a: 1 } },
    });
    await expect(post('TestService.Echo', '')).resolves.toMatchObject({ body: { echoed: {} } });
  });

  it('answers an AwsJsonError with its status and code, as __type and X-Amzn-ErrorType', async () => {
    await expect(post('TestService.Refuse', '{}')).resolves.toEqual({
      status: 400,
      errorType: 'ValidationException',
      contentType: AWS_JSON_CONTENT_TYPE,
      body: { __type: 'com.amazonaws.test#ValidationException', message: 'not like that' },
    });
  });

  it('answers any other failure 500 InternalFailure without its message, and reports it', async () => {
    failures.length = 0;
    const answer = await post('TestService.Boom', '{}');
    expect(answer).toEqual({
      status: 500,
      errorType: 'InternalFailure',
      contentType: AWS_JSON_CONTENT_TYPE,
      body: { __type: 'com.amazonaws.test#InternalFailure', message: 'internal error' },
    });
    expect(JSON.stringify(answer)).not.toContain('secret');
    expect(failures).toHaveLength(1);
    expect(failures[0]!.message).toBe('test endpoint failed a request');
    expect((failures[0]!.err as Error).message).toBe('disk path /secret/internals');
  });

  it('refuses what is not a known operation on a JSON object, each with its own code', async () => {
    const refusals = await Promise.all([
      post('TestService.Missing', '{}'),
      post('OtherService.Echo', '{}'),
      post(undefined, '{}'),
      post('TestService.Echo', 'not json'),
      post('TestService.Echo', '[1]'),
      post('TestService.Echo', 'null'),
      post('TestService.Echo', `{"a":"${'x'.repeat(64)}"}`),
      post('TestService.Echo', '', 'PUT'),
    ]);
    expect(refusals.map((r) => [r.status, r.errorType])).toEqual([
      [400, 'UnknownOperationException'],
      [400, 'UnknownOperationException'],
      [400, 'UnknownOperationException'],
      [400, 'SerializationException'],
      [400, 'SerializationException'],
      [400, 'SerializationException'],
      [413, 'ValidationException'],
      [404, 'UnknownOperationException'],
    ]);
    expect(refusals[0]!.body.message).toBe(
      "operation not supported locally: 'TestService.Missing'",
    );
  });

  it('answers GET /health with what the health function says', async () => {
    const res = await fetch(new URL('/health', endpoint));
    expect([res.status, await res.json()]).toEqual([503, { ok: false }]);
  });

  it('calls an operation and resolves its answer; a non-200 answer rejects naming target and status', async () => {
    await expect(callAwsJson(endpoint, agent, 'TestService.Echo', { b: 2 })).resolves.toEqual({
      echoed: { b: 2 },
    });
    await expect(callAwsJson(endpoint, agent, 'TestService.Refuse', {})).rejects.toThrow(
      /^TestService\.Refuse answered 400: .*not like that/,
    );
  });
});
