/**
 * The operator console's Content-Security-Policy on AWS, in its two deliveries (README
 * "Operator console"): the response header CloudFront adds to every file, and a `<meta>` policy
 * written into the deployed index.html. A browser enforces both, so a request must pass each:
 * the header cannot name this stack's API (a reference cycle, see OperatorConsole) and allows
 * the region's execute-api hosts; the meta names the API's own origin and narrows connect-src
 * to it. Plain strings in, plain strings out: the construct passes CloudFormation tokens, the
 * browser test loopback origins.
 */

export interface ConsoleConnectSources {
  /** Cognito user pools, e.g. https://cognito-idp.eu-central-1.amazonaws.com */
  readonly cognitoIdp: string;
  /** Cognito identity pools, e.g. https://cognito-identity.eu-central-1.amazonaws.com */
  readonly cognitoIdentity: string;
  /**
   * The API the console calls: the header's pattern (https://*.execute-api.<region>.<suffix>),
   * or in the meta the origin of the console's `apiUrl` (https://<id>.execute-api.<region>.<suffix>).
   */
  readonly api: string;
}

/**
 * The policy: the console's own files only, no inline script or style, and requests to its
 * own origin, Cognito and the API (`same-origin`: its own origin only, as in local mode, where
 * the API is on the console's origin and there is no Cognito). `meta` leaves out frame-ancestors, which browsers ignore
 * (with a console warning) in a `<meta>` policy; the header carries it.
 */
export function consoleCsp(
  connect: ConsoleConnectSources | 'same-origin',
  delivery: 'header' | 'meta',
): string {
  const sources =
    connect === 'same-origin' ? [] : [connect.cognitoIdp, connect.cognitoIdentity, connect.api];
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    ["connect-src 'self'", ...sources].join(' '),
    "base-uri 'none'",
    "form-action 'self'",
    ...(delivery === 'header' ? ["frame-ancestors 'none'"] : []),
  ].join('; ');
}

const escapeAttribute = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The built index.html with `<meta http-equiv="Content-Security-Policy">` carrying
 * `consoleCsp(connect, 'meta')` at the top of `<head>` (after `<meta charset>` when that comes
 * first), so it governs every script, style and request the page makes: a meta policy applies
 * only to what follows it. Throws when the page has no `<head>`, already carries a policy, or
 * has a script before the head.
 */
export function withConsoleCspMeta(html: string, connect: ConsoleConnectSources): string {
  const head = /<head(?:\s[^>]*)?>/i.exec(html);
  if (!head) throw new Error('The console index.html has no <head>');
  if (/<meta\b[^>]*http-equiv\s*=\s*["']?content-security-policy/i.test(html))
    throw new Error('The console index.html already carries a Content-Security-Policy <meta>');
  let at = head.index + head[0].length;
  let indent = '\n';
  const charset = /^(\s*)<meta\s+charset\s*=[^>]*>/i.exec(html.slice(at));
  if (charset) {
    at += charset[0].length;
    indent = charset[1] ?? '\n';
  }
  const script = html.search(/<script\b/i);
  if (script !== -1 && script < at)
    throw new Error('The console index.html has a <script> before its <head>');
  const meta = `<meta http-equiv="Content-Security-Policy" content="${escapeAttribute(consoleCsp(connect, 'meta'))}" />`;
  return `${html.slice(0, at)}${indent}${meta}${html.slice(at)}`;
}
