/**
 * Local mode serves the operator console's built files at /console/ beside the API: without
 * the token (the page asks for it), with the same security headers CloudFront sends on AWS,
 * and a config.json that tells the page to sign in with the API token.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ApiServer, listenApi } from '../../local/api-server';

describe('console files in local mode', () => {
  let dir: string;
  let server: ApiServer;
  let apiCalls = 0;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-files-'));
    fs.mkdirSync(path.join(dir, 'assets'));
    fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>console</title>');
    fs.writeFileSync(path.join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
    fs.writeFileSync(path.join(os.tmpdir(), 'console-files-secret.txt'), 'secret');
    server = await listenApi(0, '127.0.0.1', { consoleDir: dir });
    server.attach({
      token: 't0ken',
      region: 'us-east-1',
      ingest: async () => ({ statusCode: 202, body: '{}' }),
      api: async () => {
        apiCalls++;
        return { statusCode: 200, body: '{"items":[]}' };
      },
      health: async () => ({ ok: true, components: {} }),
    });
  });
  afterAll(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(path.join(os.tmpdir(), 'console-files-secret.txt'), { force: true });
  });

  test('index.html is served without a token, with a content security policy', async () => {
    const res = await fetch(`${server.url}/console/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(await res.text()).toContain('<title>console</title>');
  });

  test('hashed assets are cached for good; /console redirects to /console/', async () => {
    const asset = await fetch(`${server.url}/console/assets/index-abc.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    const bare = await fetch(`${server.url}/console`, { redirect: 'manual' });
    expect(bare.status).toBe(308);
    expect(bare.headers.get('location')).toBe('/console/');
  });

  test('config.json tells the page to sign in with the API token', async () => {
    const res = await fetch(`${server.url}/console/config.json`);
    expect(await res.json()).toEqual({ mode: 'token' });
  });

  test('paths outside the console folder and unknown files are 404, writes are 405', async () => {
    for (const p of [
      '/console/..%2Fconsole-files-secret.txt',
      '/console/assets%2F..%2F..%2Fconsole-files-secret.txt',
      '/console/nope.js',
    ]) {
      const res = await fetch(`${server.url}${p}`);
      expect(res.status).toBe(404);
      expect(await res.text()).not.toContain('secret');
    }
    const post = await fetch(`${server.url}/console/`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(apiCalls).toBe(0);
  });

  test('API routes still need the token', async () => {
    const res = await fetch(`${server.url}/webhooks`);
    expect(res.status).toBe(401);
  });

  test('an unbuilt console says how to build it', async () => {
    const empty = await listenApi(0, '127.0.0.1', { consoleDir: path.join(dir, 'missing') });
    try {
      const res = await fetch(`${empty.url}/console/`);
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('npm run console:build');
    } finally {
      await empty.close();
    }
  });
});
