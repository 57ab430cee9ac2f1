/**
 * The AWS JSON 1.0 protocol as local mode speaks it: an operation named by the X-Amz-Target
 * header, a JSON object body, and errors as `{ __type, message }` with X-Amzn-ErrorType (the SDK
 * turns the code into its exception class). Served by the Step Functions endpoint, answered
 * and called by the SQS journal.
 */
import http from 'node:http';

export const AWS_JSON_CONTENT_TYPE = 'application/x-amz-json-1.0';

/** An error answered in the AWS JSON 1.0 shape. */
export class AwsJsonError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export function sendAwsJson(
  res: http.ServerResponse,
  status: number,
  payload: unknown,
  errorType?: string,
): void {
  const headers: Record<string, string> = { 'content-type': AWS_JSON_CONTENT_TYPE };
  if (errorType) headers['x-amzn-errortype'] = errorType;
  res.writeHead(status, headers).end(JSON.stringify(payload));
}

/** An error answer of `service` (e.g. 'sfn', 'sqs'): `__type` is `com.amazonaws.<service>#<code>`. */
export function sendAwsJsonError(
  res: http.ServerResponse,
  service: string,
  status: number,
  code: string,
  message: string,
): void {
  sendAwsJson(res, status, { __type: `com.amazonaws.${service}#${code}`, message }, code);
}

export type AwsJsonOperation = (body: Record<string, unknown>) => unknown;

export interface AwsJsonServerOptions {
  /** As in `__type` (e.g. 'sfn'). */
  readonly service: string;
  /** For error reports, e.g. 'local Step Functions endpoint'. */
  readonly name: string;
  /** X-Amz-Target prefix, e.g. 'AWSStepFunctions.'. */
  readonly targetPrefix: string;
  readonly operations: Readonly<Record<string, AwsJsonOperation>>;
  readonly maxRequestBytes: number;
  /** Answers GET /health. */
  readonly health: () => { status: number; body: unknown };
  /** Called for an operation that failed with something other than AwsJsonError. */
  readonly onError: (message: string, err: unknown) => void;
}

/** An HTTP server dispatching AWS JSON 1.0 calls to `operations`. */
export function createAwsJsonServer(opts: AwsJsonServerOptions): http.Server {
  return http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/health') {
      const { status, body } = opts.health();
      sendAwsJson(res, status, body);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= opts.maxRequestBytes) chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        if (req.method !== 'POST')
          throw new AwsJsonError('UnknownOperationException', 'only POST is served', 404);
        if (size > opts.maxRequestBytes)
          throw new AwsJsonError('ValidationException', 'request too large', 413);
        const target = String(req.headers['x-amz-target'] ?? '');
        const operation = target.startsWith(opts.targetPrefix)
          ? opts.operations[target.slice(opts.targetPrefix.length)]
          : undefined;
        if (!operation) {
          throw new AwsJsonError(
            'UnknownOperationException',
            `operation not supported locally: '${target}'`,
          );
        }
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
        } catch {
          throw new AwsJsonError('SerializationException', 'request body is not JSON');
        }
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          throw new AwsJsonError('SerializationException', 'request body must be a JSON object');
        }
        sendAwsJson(res, 200, operation(body as Record<string, unknown>));
      } catch (err) {
        if (err instanceof AwsJsonError) {
          sendAwsJsonError(res, opts.service, err.status, err.code, err.message);
        } else {
          opts.onError(`${opts.name} failed a request`, err);
          sendAwsJsonError(res, opts.service, 500, 'InternalFailure', 'internal error');
        }
      }
    });
  });
}

/** One AWS JSON 1.0 call to `target` (`X-Amz-Target: <target>`); a non-200 answer rejects. */
export function callAwsJson(
  endpoint: URL,
  agent: http.Agent,
  target: string,
  body: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = http.request(
      {
        protocol: endpoint.protocol,
        hostname: endpoint.hostname,
        port: endpoint.port,
        method: 'POST',
        path: '/',
        agent,
        headers: {
          'content-type': AWS_JSON_CONTENT_TYPE,
          'x-amz-target': target,
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200)
            return reject(new Error(`${target} answered ${res.statusCode}: ${text.slice(0, 300)}`));
          try {
            resolve(JSON.parse(text || '{}'));
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
