/**
 * A small client of the local-mode HTTP API (bearer token), recording every response body it
 * saw so the secrets scan can search API responses too.
 */
export interface HttpReply {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON of many shapes; tests read what they assert
  readonly body: any;
  readonly text: string;
}

export interface ApiClient {
  readonly url: string;
  request(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<HttpReply>;
  /** Every response text seen (for the secrets scan). */
  readonly seen: string[];
}

export function apiClient(
  url: string,
  token: string,
  opts: { keepResponses?: boolean } = {},
): ApiClient {
  const seen: string[] = [];
  return {
    url,
    seen,
    async request(method, path, body, headers = {}) {
      let payload: string | Buffer | undefined;
      if (body !== undefined)
        payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      const res = await fetch(`${url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(payload === undefined ? {} : { body: payload }),
      });
      const text = await res.text();
      if (opts.keepResponses !== false) seen.push(text);
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        parsed = text;
      }
      return { status: res.status, body: parsed, text };
    },
  };
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
