/**
 * The egress decision table, without any network I/O: addresses are judged as strings and
 * names are "resolved" through an injected fake lookup.
 */
import { isIPv6 } from 'node:net';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import {
  checkAddress,
  checkAll,
  checkUrl,
  type EgressPolicy,
  type Lookup,
  normalizeCidrs,
  parseIp,
  resolveAndCheck,
} from '../../lambdas/core/egress';
import { ValidationError } from '../../lambdas/core/errors';

const strict: EgressPolicy = { allowHttp: false, allowCidrs: [] };
const httpNoExceptions: EgressPolicy = { allowHttp: true, allowCidrs: [] };
const localMode: EgressPolicy = { allowHttp: true, allowCidrs: ['127.0.0.0/8', '::1/128'] };

function reasonOf(ip: string, policy: EgressPolicy = strict): string | undefined {
  const d = checkAddress(ip, policy);
  return d.ok ? undefined : d.reason;
}

describe('checkAddress: IPv4 ranges (inside refused, just outside allowed)', () => {
  // [range label pattern, addresses inside, addresses just outside]
  const table: [RegExp, string[], string[]][] = [
    [/unspecified/, ['0.0.0.0', '0.255.255.255'], ['1.0.0.0']],
    [/private/, ['10.0.0.0', '10.255.255.255'], ['9.255.255.255', '11.0.0.0']],
    [/carrier-grade NAT/, ['100.64.0.0', '100.127.255.255'], ['100.63.255.255', '100.128.0.0']],
    [/loopback/, ['127.0.0.1', '127.0.0.0', '127.255.255.255'], ['126.255.255.255', '128.0.0.0']],
    [
      /link-local/,
      ['169.254.169.254', '169.254.0.0', '169.254.255.255'],
      ['169.253.255.255', '169.255.0.0'],
    ],
    [/private/, ['172.16.0.0', '172.31.255.255'], ['172.15.255.255', '172.32.0.0']],
    [/IETF protocol assignments/, ['192.0.0.0', '192.0.0.255'], ['191.255.255.255', '192.0.1.0']],
    [/documentation/, ['192.0.2.0', '192.0.2.255'], ['192.0.3.0']],
    [/6to4 relay/, ['192.88.99.0', '192.88.99.255'], ['192.88.98.255', '192.88.100.0']],
    [/private/, ['192.168.0.0', '192.168.255.255'], ['192.167.255.255', '192.169.0.0']],
    [/benchmarking/, ['198.18.0.0', '198.19.255.255'], ['198.17.255.255', '198.20.0.0']],
    [/documentation/, ['198.51.100.0', '198.51.100.255'], ['198.51.99.255', '198.51.101.0']],
    [/documentation/, ['203.0.113.0', '203.0.113.255'], ['203.0.112.255', '203.0.114.0']],
    [/multicast/, ['224.0.0.0', '224.0.0.1', '239.255.255.255'], ['223.255.255.255']],
    [/reserved/, ['240.0.0.0', '255.255.255.254'], []],
    [/broadcast/, ['255.255.255.255'], []],
  ];

  it.each(table)('%s', (label, inside, outside) => {
    for (const ip of inside) expect(reasonOf(ip)).toMatch(label);
    for (const ip of outside) expect(reasonOf(ip)).toBeUndefined();
  });

  it('allows ordinary public IPv4 addresses', () => {
    for (const ip of ['8.8.8.8', '1.1.1.1', '93.184.216.34', '52.94.236.248', '223.255.255.255']) {
      expect(checkAddress(ip, strict)).toEqual({ ok: true });
    }
  });
});

describe('checkAddress: IPv6 ranges', () => {
  const table: [string, RegExp, string[], string[]][] = [
    ['unspecified', /unspecified/, ['::', '0:0:0:0:0:0:0:0'], []],
    ['loopback', /loopback/, ['::1', '0:0:0:0:0:0:0:1'], []],
    [
      'unique local fc00::/7',
      /unique local/,
      ['fc00::', 'fd12:3456::1', 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
      [],
    ],
    ['link-local fe80::/10', /link-local/, ['fe80::1', 'febf:ffff::1', 'fe80::1%eth0'], []],
    ['site-local fec0::/10', /site-local/, ['fec0::1'], []],
    ['multicast ff00::/8', /multicast/, ['ff02::1', 'ff0e::101'], []],
    [
      'documentation 2001:db8::/32',
      /documentation/,
      ['2001:db8::1', '2001:db8:ffff:ffff::1'],
      ['2001:db7:ffff::1', '2001:db9::1'],
    ],
    ['documentation 3fff::/20', /documentation/, ['3fff::1', '3fff:fff::1'], ['3fff:1000::1']],
    ['benchmarking 2001:2::/48', /benchmarking/, ['2001:2::1', '2001:2:0:ffff::1'], []],
    ['discard-only 100::/64', /discard-only/, ['100::1'], []],
    ['reserved ::/8', /reserved/, ['1::1', '0:1::1'], []],
    [
      'outside global unicast',
      /outside global unicast/,
      ['4000::1', '5f00::1', 'e000::1', 'fe00::1'],
      [],
    ],
  ];

  it.each(table)('%s', (_name, label, inside, outside) => {
    for (const ip of inside) expect(reasonOf(ip)).toMatch(label);
    for (const ip of outside) expect(reasonOf(ip)).toBeUndefined();
  });

  it('judges the neighbours of nested ranges by their own range', () => {
    // Just outside 2001:2::/48 is still IETF protocol space, just outside fc00::/7 is not global.
    expect(reasonOf('2001:2:1::1')).toMatch(/IETF protocol assignments/);
    expect(reasonOf('fbff:ffff::1')).toMatch(/outside global unicast/);
    expect(reasonOf('fe00::')).toMatch(/outside global unicast/);
    expect(reasonOf('100:0:0:1::1')).toMatch(/reserved/);
  });

  it('allows ordinary public IPv6 addresses', () => {
    for (const ip of [
      '2606:4700:4700::1111',
      '2a00:1450:4001:81c::200e',
      '2001:200::1',
      '2003::1',
      '3fff:1000::1',
    ]) {
      expect(checkAddress(ip, strict)).toEqual({ ok: true });
    }
  });
});

describe('checkAddress: IPv6 forms that embed an IPv4 address', () => {
  it('refuses IPv4-mapped addresses (::ffff:0:0/96), naming what they embed', () => {
    expect(reasonOf('::ffff:127.0.0.1')).toMatch(/IPv4-mapped .* 127\.0\.0\.1, which is loopback/);
    expect(reasonOf('::ffff:7f00:1')).toMatch(/IPv4-mapped .* 127\.0\.0\.1, which is loopback/);
    expect(reasonOf('::ffff:169.254.169.254')).toMatch(/link-local/);
    expect(reasonOf('::ffff:10.1.2.3')).toMatch(/private/);
    // A mapped public address is still a form no public target needs.
    expect(reasonOf('::ffff:8.8.8.8')).toMatch(/IPv4-mapped .* 8\.8\.8\.8 \(form not allowed\)/);
  });

  it('refuses IPv4-compatible addresses (::/96)', () => {
    expect(reasonOf('::127.0.0.1')).toMatch(/IPv4-compatible .* loopback/);
    expect(reasonOf('::7f00:1')).toMatch(/IPv4-compatible .* loopback/);
    expect(reasonOf('::8.8.8.8')).toMatch(/IPv4-compatible/);
  });

  it('judges NAT64 64:ff9b::/96 by the embedded address', () => {
    expect(reasonOf('64:ff9b::7f00:1')).toMatch(/NAT64 .* loopback/);
    expect(reasonOf('64:ff9b::169.254.169.254')).toMatch(/NAT64 .* link-local/);
    expect(reasonOf('64:ff9b::c0a8:101')).toMatch(/NAT64 .* private/);
    expect(checkAddress('64:ff9b::808:808', strict)).toEqual({ ok: true });
    // Just outside the /96 is ordinary reserved ::/8 space.
    expect(reasonOf('64:ff9b::1:808:808')).toMatch(/reserved/);
  });

  it('refuses local-use NAT64 64:ff9b:1::/48 whatever it embeds', () => {
    expect(reasonOf('64:ff9b:1::7f00:1')).toMatch(/local-use NAT64 .* loopback/);
    expect(reasonOf('64:ff9b:1::808:808')).toMatch(/local-use NAT64/);
  });

  it('judges 6to4 2002::/16 by the embedded address', () => {
    expect(reasonOf('2002:7f00:1::1')).toMatch(/6to4 .* 127\.0\.0\.1, which is loopback/);
    expect(reasonOf('2002:a9fe:a9fe::')).toMatch(/6to4 .* 169\.254\.169\.254/);
    expect(reasonOf('2002:c0a8:101::1')).toMatch(/6to4 .* private/);
    expect(checkAddress('2002:808:808::1', strict)).toEqual({ ok: true });
    expect(checkAddress('2003::1', strict)).toEqual({ ok: true });
  });

  it('judges Teredo 2001::/32 by its server and (inverted) client addresses', () => {
    // RFC 4380 example: server 65.54.227.120, client 192.0.2.45 (documentation).
    expect(reasonOf('2001:0:4136:e378:8000:63bf:3fff:fdd2')).toMatch(
      /Teredo .* client 192\.0\.2\.45, which is documentation/,
    );
    // Client 127.0.0.1 is stored inverted as 80ff:fffe.
    expect(reasonOf('2001:0:4136:e378:8000:63bf:80ff:fffe')).toMatch(
      /Teredo .* client 127\.0\.0\.1, which is loopback/,
    );
    // Server 10.0.0.1.
    expect(reasonOf('2001:0:a00:1:8000:63bf:f7f7:f7f7')).toMatch(/Teredo .* server 10\.0\.0\.1/);
    // Server 65.54.227.120, client 8.8.8.8: both public.
    expect(checkAddress('2001:0:4136:e378:8000:63bf:f7f7:f7f7', strict)).toEqual({ ok: true });
    // Just outside 2001::/32 lies IETF protocol space.
    expect(reasonOf('2001:1::1')).toMatch(/IETF protocol assignments/);
  });
});

describe('checkAddress: input and allow-list exceptions', () => {
  it('refuses strings that are not IP addresses (including loose IPv4 spellings)', () => {
    for (const s of ['example.com', '', '127.1', '0x7f.0.0.1', '2130706433', '1.2.3.4.5', '::g']) {
      expect(reasonOf(s)).toMatch(/not an IP address/);
    }
  });

  it('lets an address inside an allowed CIDR through even though it is not public', () => {
    const policy: EgressPolicy = {
      allowHttp: false,
      allowCidrs: ['10.1.0.0/16', 'fd00:1::/32', '169.254.169.123/32'],
    };
    expect(checkAddress('10.1.2.3', policy)).toEqual({ ok: true });
    expect(reasonOf('10.2.0.1', policy)).toMatch(/private/);
    expect(checkAddress('fd00:1::5', policy)).toEqual({ ok: true });
    expect(reasonOf('fd00:2::5', policy)).toMatch(/unique local/);
    expect(checkAddress('169.254.169.123', policy)).toEqual({ ok: true });
    expect(reasonOf('169.254.169.254', policy)).toMatch(/link-local/);
  });

  it('treats an IPv4 exception and its IPv4-mapped form as the same endpoint, and nothing else', () => {
    expect(checkAddress('::ffff:127.0.0.1', localMode)).toEqual({ ok: true });
    expect(
      checkAddress('127.0.0.1', { allowHttp: true, allowCidrs: ['::ffff:127.0.0.0/104'] }),
    ).toEqual({ ok: true });
    // NAT64 / 6to4 go through a gateway, not to the embedded address: no exception.
    expect(reasonOf('64:ff9b::7f00:1', localMode)).toMatch(/NAT64/);
    expect(reasonOf('2002:7f00:1::1', localMode)).toMatch(/6to4/);
    expect(reasonOf('::2', localMode)).toMatch(/IPv4-compatible/);
  });

  it('checkAll refuses a host when any one of its addresses is refused', () => {
    expect(checkAll([{ address: '8.8.8.8', family: 4 }], strict)).toEqual({ ok: true });
    const d = checkAll(
      [
        { address: '8.8.8.8', family: 4 },
        { address: '10.0.0.1', family: 4 },
      ],
      strict,
    );
    expect(d).toEqual({ ok: false, reason: expect.stringMatching(/10\.0\.0\.1 .*private/) });
    expect(checkAll([], strict)).toEqual({
      ok: false,
      reason: expect.stringMatching(/no address/),
    });
  });
});

describe('checkUrl', () => {
  it('accepts an https URL with a DNS name (resolution is checked later)', () => {
    const d = checkUrl('https://hooks.example.com:8443/a/b?c=1', strict);
    expect(d.ok).toBe(true);
    if (d.ok) expect(d.url.host).toBe('hooks.example.com:8443');
  });

  it('refuses plain http unless the policy allows it', () => {
    expect(checkUrl('http://hooks.example.com/', strict)).toEqual({
      ok: false,
      reason: expect.stringMatching(/plain http/),
    });
    expect(checkUrl('http://hooks.example.com/', httpNoExceptions).ok).toBe(true);
  });

  it('refuses other schemes and things that are not absolute URLs', () => {
    for (const u of [
      'ftp://example.com/',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'gopher://example.com/',
      'ws://example.com/',
    ]) {
      expect(checkUrl(u, httpNoExceptions)).toEqual({
        ok: false,
        reason: expect.stringMatching(/scheme/),
      });
    }
    for (const u of ['not a url', '/relative/path', '', 'http://[fe80::1%25eth0]/']) {
      expect(checkUrl(u, httpNoExceptions)).toEqual({
        ok: false,
        reason: expect.stringMatching(/not a valid absolute URL/),
      });
    }
  });

  it('refuses credentials in the URL', () => {
    expect(checkUrl('https://user:pass@example.com/', strict)).toEqual({
      ok: false,
      reason: expect.stringMatching(/credentials/),
    });
    expect(checkUrl('https://user@example.com/', strict)).toEqual({
      ok: false,
      reason: expect.stringMatching(/credentials/),
    });
    expect(checkUrl('https://:pass@example.com/', strict)).toEqual({
      ok: false,
      reason: expect.stringMatching(/credentials/),
    });
  });

  const loopbackSpellings = [
    'http://127.0.0.1/',
    'http://2130706433/',
    'http://127.1/',
    'http://127.0.1/',
    'http://0x7f.0.0.1/',
    'http://0x7f000001/',
    'http://0177.0.0.1/',
    'http://017700000001/',
    'http://127.0.0.1./',
    'http://%31%32%37.0.0.1/',
    'http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/',
    'http://[::1]/',
    'http://[0:0:0:0:0:0:0:1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:7f00:1]/',
    'http://localhost/',
    'http://localhost./',
    'http://LOCALHOST/',
    'http://LocalHost:8080/',
    'http://api.localhost/',
    'http://a.b.localhost./',
  ];

  it.each(loopbackSpellings)('refuses the loopback spelling %s', (u) => {
    expect(checkUrl(u, httpNoExceptions)).toEqual({
      ok: false,
      reason: expect.stringMatching(/loopback/),
    });
  });

  it.each([
    ['http://0/', /unspecified/],
    ['http://0.0.0.0/', /unspecified/],
    ['http://169.254.169.254/latest/meta-data/', /link-local/],
    ['http://0xa9fea9fe/', /link-local/],
    ['http://[::ffff:a9fe:a9fe]/', /link-local/],
    ['http://10.0.0.1/', /private/],
    ['http://[fd00::1]/', /unique local/],
    ['http://[fe80::1]/', /link-local/],
    ['http://100.64.0.1/', /carrier-grade/],
    ['http://255.255.255.255/', /broadcast/],
    ['http://[64:ff9b::a9fe:a9fe]/', /NAT64 .* link-local/],
  ])('refuses the non-public literal %s', (u, why) => {
    expect(checkUrl(u, httpNoExceptions)).toEqual({
      ok: false,
      reason: expect.stringMatching(why),
    });
  });

  it('accepts public IP literals', () => {
    expect(checkUrl('https://8.8.8.8/', strict).ok).toBe(true);
    expect(checkUrl('https://[2606:4700:4700::1111]/', strict).ok).toBe(true);
  });

  it('lets loopback spellings through when loopback is allow-listed (local mode)', () => {
    for (const u of loopbackSpellings) {
      expect({ u, ok: checkUrl(u, localMode).ok }).toEqual({ u, ok: true });
    }
  });

  it('refuses the IPv4-compatible spelling of loopback even in local mode (it is neither ::1 nor 127.0.0.1)', () => {
    expect(checkUrl('http://[::127.0.0.1]/', httpNoExceptions)).toEqual({
      ok: false,
      reason: expect.stringMatching(/IPv4-compatible .* loopback/),
    });
    expect(checkUrl('http://[::127.0.0.1]/', localMode)).toEqual({
      ok: false,
      reason: expect.stringMatching(/IPv4-compatible/),
    });
  });

  it('keeps localhost refused when only one of its loopback addresses is allow-listed', () => {
    const v4Only: EgressPolicy = { allowHttp: true, allowCidrs: ['127.0.0.0/8'] };
    expect(checkUrl('http://localhost/', v4Only)).toEqual({
      ok: false,
      reason: expect.stringMatching(/::1/),
    });
    expect(checkUrl('http://127.0.0.1/', v4Only).ok).toBe(true);
  });
});

describe('resolveAndCheck with an injected lookup', () => {
  const fake = (
    answers: Record<string, string[]>,
  ): jest.Mock<ReturnType<Lookup>, Parameters<Lookup>> =>
    jest.fn(async (hostname: string) => {
      const list = answers[hostname];
      if (!list)
        throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      return list.map((address) => ({
        address,
        family: address.includes(':') ? (6 as const) : (4 as const),
      }));
    });

  it('passes a name whose every address is public and returns those addresses', async () => {
    const lookup = fake({
      'hooks.example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
    });
    const d = await resolveAndCheck('hooks.example.com', strict, lookup);
    expect(d).toEqual({
      ok: true,
      addresses: [
        { address: '93.184.216.34', family: 4 },
        { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 },
      ],
    });
    expect(lookup).toHaveBeenCalledTimes(1);
  });

  it('refuses a name when any address is non-public', async () => {
    const lookup = fake({
      'mixed.example.com': ['93.184.216.34', '10.0.0.7'],
      'metadata.example.com': ['169.254.169.254'],
      'mapped.example.com': ['::ffff:169.254.169.254'],
      'rebind.example.com': ['127.0.0.1'],
    });
    await expect(resolveAndCheck('mixed.example.com', strict, lookup)).resolves.toEqual({
      ok: false,
      reason: expect.stringMatching(/mixed\.example\.com.*10\.0\.0\.7.*private/),
    });
    await expect(resolveAndCheck('metadata.example.com', strict, lookup)).resolves.toMatchObject({
      ok: false,
    });
    await expect(resolveAndCheck('mapped.example.com', strict, lookup)).resolves.toMatchObject({
      ok: false,
    });
    await expect(resolveAndCheck('rebind.example.com', strict, lookup)).resolves.toEqual({
      ok: false,
      reason: expect.stringMatching(/loopback/),
    });
  });

  it('refuses a name that resolves to nothing, and lets lookup failures surface', async () => {
    const lookup = jest.fn(async () => []);
    await expect(resolveAndCheck('empty.example.com', strict, lookup)).resolves.toEqual({
      ok: false,
      reason: expect.stringMatching(/no address/),
    });
    await expect(resolveAndCheck('unknown.example.com', strict, fake({}))).rejects.toMatchObject({
      code: 'ENOTFOUND',
    });
  });

  it('never asks the resolver about localhost names or IP literals', async () => {
    const lookup = fake({});
    await expect(resolveAndCheck('localhost', strict, lookup)).resolves.toMatchObject({
      ok: false,
    });
    await expect(resolveAndCheck('x.localhost.', strict, lookup)).resolves.toMatchObject({
      ok: false,
    });
    await expect(resolveAndCheck('127.0.0.1', strict, lookup)).resolves.toMatchObject({
      ok: false,
    });
    await expect(resolveAndCheck('[::1]', strict, lookup)).resolves.toMatchObject({ ok: false });
    await expect(resolveAndCheck('8.8.8.8', strict, lookup)).resolves.toEqual({
      ok: true,
      addresses: [{ address: '8.8.8.8', family: 4 }],
    });
    await expect(resolveAndCheck('localhost', localMode, lookup)).resolves.toEqual({
      ok: true,
      addresses: [
        { address: '127.0.0.1', family: 4 },
        { address: '::1', family: 6 },
      ],
    });
    expect(lookup).not.toHaveBeenCalled();
  });
});

describe('policy parsing', () => {
  it('normalizeCidrs canonicalizes valid entries', () => {
    expect(normalizeCidrs(['0:0:0:0:0:0:0:1/128', '10.0.0.0/8', 'FD00::/8'])).toEqual([
      '::1/128',
      '10.0.0.0/8',
      'fd00::/8',
    ]);
  });

  it('normalizeCidrs refuses a bad CIDR, naming the setting', () => {
    expect(() => normalizeCidrs(['10.0.0.0/33'])).toThrow(ValidationError);
    expect(() => normalizeCidrs(['10.0.0.0/8', 'example.com'], 'EGRESS_ALLOW_CIDRS')).toThrow(
      /EGRESS_ALLOW_CIDRS: "example.com"/,
    );
  });

  it('an unparseable allow-list entry opens nothing', () => {
    expect(
      reasonOf('10.0.0.1', { allowHttp: true, allowCidrs: ['10.0.0.0/99', 'nonsense'] }),
    ).toMatch(/private/);
  });
});

describe('address parsing', () => {
  it('reads the IPv6 text forms', () => {
    expect(parseIp('1:2:3:4:5:6:7:8')).toEqual({ kind: 6, parts: [1, 2, 3, 4, 5, 6, 7, 8] });
    expect(parseIp('FE80::1')).toEqual({ kind: 6, parts: [0xfe80, 0, 0, 0, 0, 0, 0, 1] });
    expect(parseIp('[::1]')).toEqual({ kind: 6, parts: [0, 0, 0, 0, 0, 0, 0, 1] });
    expect(parseIp('fe80::1%eth0')).toEqual({ kind: 6, parts: [0xfe80, 0, 0, 0, 0, 0, 0, 1] });
    expect(parseIp('::1.2.3.4')).toEqual({ kind: 6, parts: [0, 0, 0, 0, 0, 0, 0x102, 0x304] });
    expect(parseIp('::ffff:1.2.3.4')).toEqual({
      kind: 6,
      parts: [0, 0, 0, 0, 0, 0xffff, 0x102, 0x304],
    });
    expect(parseIp('1:2:3:4:5:6:1.2.3.4')).toEqual({
      kind: 6,
      parts: [1, 2, 3, 4, 5, 6, 0x102, 0x304],
    });
    expect(parseIp('1::')).toEqual({ kind: 6, parts: [1, 0, 0, 0, 0, 0, 0, 0] });
  });

  it('rejects malformed addresses', () => {
    for (const s of [
      ':::',
      '1::2::3',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7',
      ':1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:',
      'fe80::1%',
      '12345::',
      '::1.2.3',
      '::1.2.3.256',
      '1.2.3.04',
      '256.1.1.1',
      '1:2:3:4:5:6:7::8',
    ]) {
      expect({ s, parsed: parseIp(s) }).toEqual({ s, parsed: undefined });
    }
  });

  it('agrees with ipaddr.js and node:net on random IPv6 addresses in every spelling', () => {
    const group = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (parts) => {
        const addr = new ipaddr.IPv6(parts);
        for (const text of [
          addr.toString(),
          addr.toNormalizedString(),
          parts.map((p) => p.toString(16).padStart(4, '0')).join(':'),
          addr.toString().toUpperCase(),
        ]) {
          expect(isIPv6(text)).toBe(true);
          expect(parseIp(text)).toEqual({ kind: 6, parts });
        }
      }),
      { numRuns: 500 },
    );
  });

  it('normalizes CIDRs to their network address in canonical text', () => {
    expect(
      normalizeCidrs(['10.1.2.3/8', '2001:DB8:0:0:1::/64', '2001:db8::1:0:0:1', 'fd00::/7']),
    ).toEqual(['10.0.0.0/8', '2001:db8::/64', '2001:db8::1:0:0:1/128', 'fc00::/7']);
  });
});
