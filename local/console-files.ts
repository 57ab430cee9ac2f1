/**
 * The operator console's static files (the Vite build in console/dist) under /console/ in
 * local mode. Local mode signs in with the API token, so the console's config.json is answered
 * here ({"mode":"token"}); on AWS the stack writes its own (Cognito) next to the files.
 */
import fs from 'node:fs/promises';
import type http from 'node:http';
import path from 'node:path';
import { consoleCsp } from '../lib/constructs/console-csp';

export const CONSOLE_PATH = '/console/';
export const DEFAULT_CONSOLE_DIR = path.resolve(__dirname, '../console/dist');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Own origin only, no framing, no referrer: the console's header policy on AWS
 * (lib/constructs/console-csp.ts), with connect-src 'self' alone since the API is on this
 * same origin.
 */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': consoleCsp('same-origin', 'header'),
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/** True when the request was for the console (answered); false leaves it to the API. */
export async function serveConsole(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  pathname: string,
  dir: string,
): Promise<boolean> {
  if (pathname !== '/console' && !pathname.startsWith(CONSOLE_PATH)) return false;
  const method = (req.method ?? 'GET').toUpperCase();
  req.resume();
  if (method !== 'GET' && method !== 'HEAD') {
    send(res, 405, 'text/plain; charset=utf-8', 'Method Not Allowed', { allow: 'GET, HEAD' });
    return true;
  }
  if (pathname === '/console') {
    res.writeHead(308, { location: CONSOLE_PATH, 'content-length': '0' });
    res.end();
    return true;
  }
  let rel: string;
  try {
    rel = decodeURIComponent(pathname.slice(CONSOLE_PATH.length)) || 'index.html';
  } catch {
    send(res, 400, 'text/plain; charset=utf-8', 'Bad Request');
    return true;
  }
  if (rel === 'config.json') {
    send(res, 200, 'application/json', JSON.stringify({ mode: 'token' }), {
      'cache-control': 'no-store',
    });
    return true;
  }
  const root = path.resolve(dir);
  const file = path.resolve(root, rel);
  if (rel.includes('\0') || (file !== root && !file.startsWith(root + path.sep))) {
    send(res, 404, 'text/plain; charset=utf-8', 'Not Found');
    return true;
  }
  const body = await fs.readFile(file).catch(() => undefined);
  if (!body) {
    if (rel === 'index.html') {
      send(
        res,
        503,
        'text/plain; charset=utf-8',
        'The console is not built. Run `npm run console:build` (npm ci does it) and reload.',
      );
    } else send(res, 404, 'text/plain; charset=utf-8', 'Not Found');
    return true;
  }
  const ext = path.extname(file).toLowerCase();
  // Hashed assets never change; index.html must be fresh to point at the current ones.
  const cache = rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
  send(res, 200, TYPES[ext] ?? 'application/octet-stream', method === 'HEAD' ? undefined : body, {
    'cache-control': cache,
    'content-length': String(body.length),
  });
  return true;
}

function send(
  res: http.ServerResponse,
  status: number,
  type: string,
  body: string | Buffer | undefined,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': type,
    ...CONSOLE_SECURITY_HEADERS,
    ...(body !== undefined && !headers['content-length']
      ? { 'content-length': String(Buffer.byteLength(body)) }
      : {}),
    ...headers,
  });
  res.end(body);
}
