import { consoleCsp, withConsoleCspMeta } from '../../lib/constructs/console-csp';

const connect = {
  cognitoIdp: 'https://cognito-idp.eu-central-1.amazonaws.com',
  cognitoIdentity: 'https://cognito-identity.eu-central-1.amazonaws.com',
  api: 'https://abc123.execute-api.eu-central-1.amazonaws.com',
};

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Webhooks console</title>
    <script type="module" crossorigin src="/console/assets/index.js"></script>
  </head>
  <body></body>
</html>
`;

describe('console content security policy', () => {
  it('leaves frame-ancestors to the header: a meta policy cannot carry it', () => {
    const header = consoleCsp(connect, 'header');
    const meta = consoleCsp(connect, 'meta');
    expect(header).toBe(`${meta}; frame-ancestors 'none'`);
    expect(meta).toContain(
      `connect-src 'self' ${connect.cognitoIdp} ${connect.cognitoIdentity} ${connect.api};`,
    );
  });

  it('puts the meta policy right after <meta charset>, before any script, and changes nothing else', () => {
    const html = withConsoleCspMeta(PAGE, connect);
    const lines = html.split('\n');
    expect(lines[3]).toBe('    <meta charset="utf-8" />');
    expect(lines[4]).toBe(
      `    <meta http-equiv="Content-Security-Policy" content="${consoleCsp(connect, 'meta')}" />`,
    );
    expect([...lines.slice(0, 4), ...lines.slice(5)].join('\n')).toBe(PAGE);
  });

  it('puts it first in <head> when the page has no charset there', () => {
    const html = withConsoleCspMeta(
      '<html><head><script src="/a.js"></script></head></html>',
      connect,
    );
    expect(html).toMatch(
      /^<html><head>\n<meta http-equiv="Content-Security-Policy" content="[^"]+" \/><script src/,
    );
  });

  it('escapes the policy for the attribute', () => {
    const html = withConsoleCspMeta(PAGE, { ...connect, api: 'https://x.test/"><script>' });
    expect(html).toContain('https://x.test/&quot;&gt;&lt;script&gt;');
    expect(html.match(/<script/g)).toHaveLength(1);
  });

  it('refuses a page it cannot place the policy in safely', () => {
    expect(() => withConsoleCspMeta('<html><body></body></html>', connect)).toThrow(/no <head>/);
    expect(() =>
      withConsoleCspMeta(
        PAGE.replace('<title>', `<meta http-equiv="content-security-policy" content="x" /><title>`),
        connect,
      ),
    ).toThrow(/already carries/);
    expect(() =>
      withConsoleCspMeta('<script src="/a.js"></script><html><head></head></html>', connect),
    ).toThrow(/<script> before its <head>/);
  });
});
