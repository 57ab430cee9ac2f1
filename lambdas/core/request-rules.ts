/**
 * What a rendered request must look like before it is sent: the headers the platform owns,
 * valid header values, an absolute http(s) URL without credentials, and the size limit.
 */
import { type ErrorDetail, TemplateError } from './errors';
import type { ContentType, RenderedRequest } from './model';

export const MAX_RENDERED_REQUEST_BYTES = 256 * 1024;

/** Content-Type header sent for each definition content type. */
export const CONTENT_TYPE_HEADER: Readonly<Record<ContentType, string>> = {
  'application/json': 'application/json',
  'application/xml': 'application/xml; charset=utf-8',
  'text/plain': 'text/plain; charset=utf-8',
};

/**
 * Header names a definition may not set: Content-Type follows `contentType`; the Standard
 * Webhooks (`webhook-*`, see isReservedHeader) and Authorization headers are added at send
 * time; the rest are hop-by-hop and framing headers the transport owns.
 */
const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'content-type',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
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
/** RFC 9110 token characters (tchar): what a header name may be made of. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Whether a header name is an RFC 9110 token. `__proto__` is a valid token but would not
 * survive as a key of a plain headers object, so it is refused too.
 */
export function isHeaderName(name: string): boolean {
  return HEADER_NAME.test(name) && name !== '__proto__';
}

/** Whether a definition may not set this header (name in lower case). */
export function isReservedHeader(lowerName: string): boolean {
  return RESERVED_HEADERS.has(lowerName) || lowerName.startsWith('webhook-');
}
// Characters a field value may carry (RFC 9110: VCHAR, obs-text, SP, HTAB).
const BAD_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** A rendered header value, or TemplateError at `headers.<name>`. */
export function checkHeaderValue(name: string, value: string): string {
  if (BAD_HEADER_VALUE.test(value)) {
    const path = `headers.${name}`;
    const message = /[\r\n]/.test(value)
      ? 'rendered value contains a line break'
      : 'rendered value contains characters not allowed in a header (control or non-Latin-1 characters; use url_encode)';
    throw new TemplateError(`Header ${name} ${message}`, [{ path, message }]);
  }
  return value;
}

/** The rendered URL, normalized, or TemplateError at `url`. */
export function checkRenderedUrl(rendered: string): string {
  let parsed: URL;
  try {
    parsed = new URL(rendered);
  } catch {
    const message = 'rendered URL is not an absolute URL';
    throw new TemplateError(message, [{ path: 'url', message }]);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    // Not naming the scheme found: the URL is rendered from event data.
    const message = 'rendered URL must use http or https';
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

/** Problems with the header names of a definition: invalid tokens and names the platform owns. */
export function headerNameIssues(headers: Readonly<Record<string, unknown>>): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const name of Object.keys(headers)) {
    if (!isHeaderName(name)) {
      details.push({ path: `headers.${name}`, message: 'is not a valid HTTP header name' });
    } else if (isReservedHeader(name.toLowerCase())) {
      details.push({
        path: `headers.${name}`,
        message: 'is set by the platform and cannot be configured',
      });
    }
  }
  return details;
}
