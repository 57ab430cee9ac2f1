/**
 * Egress: every non-public range and every spelling of one is refused, as an IP literal, as a
 * host name resolving to it (a DNS server of our own on 127.0.0.1), and behind a redirect.
 *
 * Nothing here connects outside loopback: decisions about other addresses are made by the pure
 * guard, or by the sender whose guard refuses before connecting, under a tripwire that stops
 * (and records) any socket aimed elsewhere, so a broken guard fails the test without a packet
 * leaving the machine.
 */
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { createHttpSender } from '../../lambdas/adapters/http-sender';
import { checkAddress, checkUrl, type EgressPolicy } from '../../lambdas/core/egress';
import type { HttpResult, OutgoingRequest } from '../../lambdas/ports';
import { ok, type Receiver, redirectTo, startReceiver } from '../support/receivers';
import { type DnsServer, startDnsServer } from './support/dns-server';
import { recordFigures } from './support/figures';
import { installLoopbackOnly, isLoopback, type LoopbackOnly } from './support/loopback-only';

/** As on AWS (no exceptions), but plain http allowed so the scheme is never the reason. */
const STRICT: EgressPolicy = { allowHttp: true, allowCidrs: [] };
/** As in local mode: loopback is the exception, everything else non-public stays refused. */
const LOCAL: EgressPolicy = { allowHttp: true, allowCidrs: ['127.0.0.0/8', '::1/128'] };

// ---- the address table ----------------------------------------------------------------------

interface Blocked {
  readonly address: string;
  readonly range: string;
}

const V4_RANGES: readonly [string, string][] = [
  ['0.0.0.0/8', 'unspecified / this network'],
  ['10.0.0.0/8', 'RFC 1918'],
  ['100.64.0.0/10', 'CGNAT'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'RFC 1918'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', '6to4 relay'],
  ['192.168.0.0/16', 'RFC 1918'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
  ['255.255.255.255/32', 'broadcast'],
];

/** First, second, a middle and the last address of a block (deterministic). */
function v4Samples(cidr: string): string[] {
  const [net4, bits] = ipaddr.IPv4.parseCIDR(cidr);
  const base = net4.octets.reduce((n, o) => n * 256 + o, 0);
  const size = 2 ** (32 - bits);
  const offsets = [
    ...new Set([0, Math.min(1, size - 1), Math.floor(size / 2) + 7, size - 1]),
  ].filter((o) => o < size);
  return offsets.map((o) => {
    const n = base + o;
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  });
}

const V6_BLOCKED: readonly Blocked[] = [
  ...['::1', '0:0:0:0:0:0:0:1'].map((address) => ({ address, range: 'loopback' })),
  { address: '::', range: 'unspecified' },
  ...[
    'fc00::',
    'fc00::1',
    'fd00::1',
    'fd00:ec2::254',
    'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
  ].map((address) => ({
    address,
    range: 'unique local fc00::/7',
  })),
  ...['fe80::', 'fe80::1', 'fe80::a9fe:a9fe', 'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff'].map(
    (address) => ({
      address,
      range: 'link-local fe80::/10',
    }),
  ),
  ...['fec0::1', 'feff::1'].map((address) => ({ address, range: 'site-local (deprecated)' })),
  ...['ff00::', 'ff02::1', 'ff05::2', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'].map((address) => ({
    address,
    range: 'multicast',
  })),
  ...['2001:db8::', '2001:db8::1', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', '3fff::1'].map(
    (address) => ({
      address,
      range: 'documentation',
    }),
  ),
  { address: '2001:2::1', range: 'benchmarking' },
  { address: '100::1', range: 'discard-only' },
  { address: '2001:10::1', range: 'ORCHID' },
  { address: '2001:20::1', range: 'ORCHIDv2' },
  { address: '::2', range: 'reserved ::/8' },
  { address: '4000::1', range: 'outside global unicast' },
  ...[
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:10.0.0.1',
    '::ffff:169.254.169.254',
    '::ffff:192.168.1.1',
    '::ffff:0.0.0.0',
  ].map((address) => ({ address, range: 'IPv4-mapped' })),
  // The mapped form is never needed for a public target: it is refused whatever it embeds.
  { address: '::ffff:8.8.8.8', range: 'IPv4-mapped (public embedded)' },
  ...['::127.0.0.1', '::7f00:1', '::a00:1', '::a9fe:a9fe'].map((address) => ({
    address,
    range: 'IPv4-compatible',
  })),
  ...[
    '2002:7f00:1::',
    '2002:a00:1::1',
    '2002:a9fe:a9fe::',
    '2002:c0a8:101::1',
    '2002:6440:1::',
  ].map((address) => ({
    address,
    range: '6to4 of a non-public IPv4',
  })),
  ...[
    '64:ff9b::7f00:1',
    '64:ff9b::127.0.0.1',
    '64:ff9b::a00:1',
    '64:ff9b::a9fe:a9fe',
    '64:ff9b::c0a8:101',
  ].map((address) => ({
    address,
    range: 'NAT64 of a non-public IPv4',
  })),
  { address: '64:ff9b:1::a00:1', range: 'local-use NAT64' },
  // Teredo with a private server address, and with an obfuscated loopback client (~127.0.0.1).
  { address: '2001:0:a00:1::1', range: 'Teredo (private server)' },
  { address: '2001:0:808:808::80ff:fffe', range: 'Teredo (loopback client)' },
];

const BLOCKED: readonly Blocked[] = [
  ...V4_RANGES.flatMap(([cidr, range]) => v4Samples(cidr).map((address) => ({ address, range }))),
  { address: '169.254.169.254', range: 'link-local (cloud metadata)' },
  { address: '169.254.170.2', range: 'link-local (ECS task metadata)' },
  { address: '100.100.100.200', range: 'CGNAT (Alibaba metadata)' },
  ...V6_BLOCKED,
];

/** Public addresses the guard must let through: without them a guard refusing everything would pass. */
const PUBLIC_CONTROLS = [
  '8.8.8.8',
  '1.1.1.1',
  '93.184.216.34',
  '2606:4700:4700::1111',
  '2a00:1450:4001:80b::200e',
  '64:ff9b::808:808',
  '2002:808:808::1',
];

/** URL spellings of non-public targets; `{port}` is the loopback receiver's port. */
const SPELLINGS: readonly string[] = [
  'http://2130706433:{port}/',
  'http://127.1:{port}/',
  'http://127.0.1:{port}/',
  'http://0x7f.0.0.1:{port}/',
  'http://0x7f000001:{port}/',
  'http://0177.0.0.1:{port}/',
  'http://017700000001:{port}/',
  'http://127.0.0.1.:{port}/',
  'http://[::ffff:127.0.0.1]:{port}/',
  'http://[::ffff:7f00:1]:{port}/',
  'http://[0:0:0:0:0:ffff:127.0.0.1]:{port}/',
  'http://[::127.0.0.1]:{port}/',
  'http://[::1]:{port}/',
  'http://[0000::0001]:{port}/',
  'http://localhost:{port}/',
  'http://localhost.:{port}/',
  'http://LOCALHOST:{port}/',
  'http://LocalHost.:{port}/',
  'http://api.localhost:{port}/',
  'http://0:{port}/',
  'http://0.0.0.0:{port}/',
  'http://[::]:{port}/',
  'http://169.254.169.254/latest/meta-data/',
  'http://2852039166/latest/meta-data/',
  'http://0xa9fea9fe/latest/meta-data/',
  'http://0251.0376.0251.0376/latest/meta-data/',
  'http://169.254.43518/',
  'http://[::ffff:a9fe:a9fe]/latest/meta-data/',
  'http://[fd00:ec2::254]/latest/meta-data/',
  'http://[fe80::1]/',
  'http://[fe80::1%25eth0]/',
  'http://10.0.0.1/',
  'http://012.0.0.1/',
  'http://167772161/',
  'http://192.168.0.1/',
  'http://0xc0a80001/',
  'http://172.16.0.1/',
  'http://100.64.0.1/',
  'http://224.0.0.1/',
  'http://255.255.255.255/',
  'http://4294967295/',
  'http://[ff02::1]/',
  'http://[64:ff9b::a9fe:a9fe]/',
  'http://[2002:a9fe:a9fe::]/',
  'https://user:pass@example.com/',
  'ftp://example.com/',
  'file:///etc/passwd',
  'gopher://127.0.0.1:{port}/',
  'javascript:alert(1)',
];

function urlHost(address: string): string {
  return net.isIPv6(address) ? `[${address}]` : address;
}

function request(url: string): OutgoingRequest {
  return { method: 'POST', url, headers: { 'content-type': 'application/json' }, body: '{}' };
}

// ---- the tests ---------------------------------------------------------------------------------

describe('egress guard: nothing non-public is reached, however it is spelled or resolved', () => {
  let receiver: Receiver;
  let secondReceiver: Receiver;
  let dns: DnsServer;
  let tripwire: LoopbackOnly | undefined;
  /** Decisions (one per target, policy and surface) and the distinct targets they were about. */
  const tally = { tried: 0, refused: 0 };
  const bySurface: Record<string, { tried: number; refused: number }> = {};
  const targets = new Map<string, boolean>();
  const count = (surface: string, refused: boolean, target: string) => {
    tally.tried += 1;
    if (refused) tally.refused += 1;
    const s = bySurface[surface] ?? { tried: 0, refused: 0 };
    bySurface[surface] = s;
    s.tried += 1;
    if (refused) s.refused += 1;
    targets.set(target, (targets.get(target) ?? true) && refused);
  };

  beforeAll(async () => {
    receiver = await startReceiver(ok());
    secondReceiver = await startReceiver(ok());
    dns = await startDnsServer();
  });

  afterEach(() => {
    tripwire?.restore();
    tripwire = undefined;
  });

  afterAll(async () => {
    await Promise.all([receiver?.close(), secondReceiver?.close(), dns?.close()]);
    recordFigures('egress', {
      // A target is one address, URL spelling, DNS name or redirect target; each is judged on
      // several surfaces and policies (decisions).
      distinctTargets: targets.size,
      distinctTargetsRefusedEverywhere: [...targets.values()].filter(Boolean).length,
      decisions: tally.tried,
      refusals: tally.refused,
      bySurface,
      blockedAddresses: BLOCKED.length,
      spellings: SPELLINGS.length,
    });
  });

  it('the tripwire itself stops a non-loopback connect before calling through (self-check on a stub)', () => {
    const through: unknown[] = [];
    tripwire = installLoopbackOnly({
      underlying(this: net.Socket, ...args: unknown[]) {
        through.push(args);
        return this;
      },
    });
    expect(() => new net.Socket().connect({ host: '192.0.2.1', port: 9 })).toThrow(/tripwire/);
    expect(() => new net.Socket().connect(9, '10.1.2.3')).toThrow(/tripwire/);
    new net.Socket().connect({ host: '127.0.0.1', port: 9 });
    expect(through).toHaveLength(1);
    expect(tripwire.violations).toEqual(['192.0.2.1', '10.1.2.3']);
  });

  it('the tripwire fails a connect whose lookup answers a non-loopback address (self-check on a stub)', async () => {
    const through: unknown[] = [];
    tripwire = installLoopbackOnly({
      underlying(this: net.Socket, ...args: unknown[]) {
        through.push(args);
        return this;
      },
    });
    const lookup = (
      _h: string,
      _o: unknown,
      cb: (e: Error | null, a?: string, f?: number) => void,
    ) => cb(null, '10.0.0.7', 4);
    new net.Socket().connect({ host: 'private.rel.test', port: 9, lookup } as net.NetConnectOpts);
    const passed = (through[0] as unknown[])[0] as { lookup: typeof lookup };
    const answer = await new Promise<unknown>((resolve) =>
      passed.lookup('private.rel.test', {}, (e) => resolve(e)),
    );
    expect(String(answer)).toMatch(/tripwire/);
    expect(tripwire.violations).toEqual(['private.rel.test -> 10.0.0.7']);
  });

  it('the pure guard refuses every sampled non-public address and accepts the public controls', () => {
    const accepted: string[] = [];
    for (const b of BLOCKED) {
      const d = checkAddress(b.address, STRICT);
      count('pure guard (strict policy)', !d.ok, `address ${b.address}`);
      if (d.ok) accepted.push(`${b.address} (${b.range})`);
    }
    for (const b of BLOCKED.filter((x) => !embedsLoopback(x.address))) {
      const d = checkAddress(b.address, LOCAL);
      count('pure guard (local-mode policy)', !d.ok, `address ${b.address}`);
      if (d.ok) accepted.push(`${b.address} (${b.range}) under the local-mode policy`);
    }
    expect(accepted).toEqual([]);
    expect(PUBLIC_CONTROLS.filter((a) => !checkAddress(a, STRICT).ok)).toEqual([]);
  });

  it('checkUrl refuses every spelling that needs no resolution', () => {
    const passed = SPELLINGS.map((s) => s.replace('{port}', String(receiver.port))).filter(
      (u) => checkUrl(u, STRICT).ok,
    );
    for (const u of SPELLINGS)
      count(
        'checkUrl spellings',
        !passed.includes(u.replace('{port}', String(receiver.port))),
        `url ${u}`,
      );
    expect(passed).toEqual([]);
  });

  it('the sender refuses every IP-literal target with BLOCKED_URL and never opens a socket elsewhere', async () => {
    tripwire = installLoopbackOnly();
    const sender = createHttpSender({ policy: STRICT, totalTimeoutMs: 2000 });
    const local = createHttpSender({ policy: LOCAL, totalTimeoutMs: 2000 });
    try {
      const wrong: string[] = [];
      for (const b of BLOCKED) {
        const url = `http://${urlHost(b.address)}:${receiver.port}/literal`;
        const r = await sender.send(request(url));
        count('sender, IP literal (strict policy)', isBlocked(r), `address ${b.address}`);
        if (!isBlocked(r)) wrong.push(`${url}: ${show(r)}`);
        if (!embedsLoopback(b.address)) {
          const l = await local.send(request(url));
          count('sender, IP literal (local-mode policy)', isBlocked(l), `address ${b.address}`);
          if (!isBlocked(l)) wrong.push(`${url} (local policy): ${show(l)}`);
        }
      }
      for (const spelling of SPELLINGS) {
        const url = spelling.replace('{port}', String(receiver.port));
        const r = await sender.send(request(url));
        count('sender, URL spellings (strict policy)', isBlocked(r), `url ${spelling}`);
        if (!isBlocked(r)) wrong.push(`${url}: ${show(r)}`);
      }
      expect(wrong).toEqual([]);
      expect(tripwire.violations).toEqual([]);
      expect(receiver.requests.filter((r) => r.url === '/literal' || r.url === '/')).toEqual([]);
    } finally {
      await Promise.all([sender.close(), local.close()]);
    }
  });

  it('the sender refuses host names that resolve to non-public addresses (own DNS server), one bad answer is enough', async () => {
    const names: { name: string; addresses: string[]; loopback: boolean }[] = BLOCKED.map(
      (b, i) => ({
        name: `n${i}.rel.test`,
        addresses: [b.address],
        loopback: embedsLoopback(b.address),
      }),
    );
    // A public address next to a private one: the host is refused, the public one never tried.
    names.push({
      name: 'mixed4.rel.test',
      addresses: ['93.184.216.34', '10.0.0.5'],
      loopback: false,
    });
    names.push({
      name: 'mixed6.rel.test',
      addresses: ['2606:4700:4700::1111', 'fd00::5'],
      loopback: false,
    });
    names.push({
      name: 'metadata.google.internal',
      addresses: ['169.254.169.254'],
      loopback: false,
    });
    names.push({
      name: 'rebind.rel.test',
      addresses: ['127.0.0.1', '169.254.169.254'],
      loopback: false,
    });
    for (const n of names) dns.records.set(n.name, n.addresses);

    tripwire = installLoopbackOnly();
    const sender = createHttpSender({
      policy: STRICT,
      totalTimeoutMs: 3000,
      lookup: (h) => dns.lookup(h),
    });
    const local = createHttpSender({
      policy: LOCAL,
      totalTimeoutMs: 3000,
      lookup: (h) => dns.lookup(h),
    });
    try {
      const wrong: string[] = [];
      for (const n of names) {
        const url = `http://${n.name}:${receiver.port}/named`;
        const r = await sender.send(request(url));
        count('sender, DNS names (strict policy)', isBlocked(r), `name ${n.name}`);
        if (!isBlocked(r)) wrong.push(`${url} -> ${n.addresses.join(',')}: ${show(r)}`);
        if (!n.loopback) {
          const l = await local.send(request(url));
          count('sender, DNS names (local-mode policy)', isBlocked(l), `name ${n.name}`);
          if (!isBlocked(l))
            wrong.push(`${url} -> ${n.addresses.join(',')} (local policy): ${show(l)}`);
        }
      }
      expect(wrong).toEqual([]);
      expect(tripwire.violations).toEqual([]);
      expect(receiver.requests.filter((r) => r.url === '/named')).toEqual([]);
      // Every name really went through our resolver (the refusals are the guard's, not a lookup failure).
      for (const n of names) expect(dns.queries).toContain(n.name);
    } finally {
      await Promise.all([sender.close(), local.close()]);
    }
  });

  it('control: a name resolving to loopback reaches the receiver when loopback is allow-listed, so the refusals above are decisions', async () => {
    dns.records.set('ok.rel.test', ['127.0.0.1']);
    tripwire = installLoopbackOnly();
    const local = createHttpSender({ policy: LOCAL, lookup: (h) => dns.lookup(h) });
    const strict = createHttpSender({ policy: STRICT, lookup: (h) => dns.lookup(h) });
    try {
      const allowed = await local.send(request(`http://ok.rel.test:${receiver.port}/control`));
      const refused = await strict.send(request(`http://ok.rel.test:${receiver.port}/control`));
      expect(allowed).toMatchObject({ kind: 'response', statusCode: 200 });
      expect(refused).toMatchObject({ kind: 'error', error: 'BLOCKED_URL' });
      count(
        'control (loopback refused under strict policy)',
        isBlocked(refused),
        'name ok.rel.test',
      );
      expect(receiver.requests.filter((r) => r.url === '/control')).toHaveLength(1);
      expect(tripwire.attempts.some((a) => a.includes('ok.rel.test -> 127.0.0.1'))).toBe(true);
    } finally {
      await Promise.all([local.close(), strict.close()]);
    }
  });

  it('redirects are never followed: not to metadata, not to a private name, not to another loopback receiver', async () => {
    dns.records.set('meta.rel.test', ['169.254.169.254']);
    const targets = [
      'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
      'http://meta.rel.test/latest/meta-data/',
      'http://[::ffff:a9fe:a9fe]/',
      `http://127.0.0.1:${secondReceiver.port}/redirected`,
      `http://localhost:${secondReceiver.port}/redirected`,
    ];
    tripwire = installLoopbackOnly();
    const sender = createHttpSender({ policy: LOCAL, lookup: (h) => dns.lookup(h) });
    try {
      for (const [i, target] of targets.entries()) {
        for (const status of [301, 302, 303, 307, 308]) {
          receiver.setBehaviour(redirectTo(target, status));
          const r = await sender.send(request(`${receiver.url}/redirect-${i}-${status}`));
          // The 3xx is the result (a failed attempt); the Location is not visited.
          count(
            'sender, redirects',
            r.kind === 'response' && r.statusCode === status,
            `redirect to ${target}`,
          );
          expect(r).toMatchObject({ kind: 'response', statusCode: status });
        }
      }
      expect(secondReceiver.requests).toEqual([]);
      expect(dns.queries).not.toContain('meta.rel.test');
      expect(tripwire.violations).toEqual([]);
    } finally {
      receiver.setBehaviour(ok());
      await sender.close();
    }
  });

  it('every target tried was refused', () => {
    expect(tally.tried).toBeGreaterThan(BLOCKED.length * 3);
    expect(tally.refused).toBe(tally.tried);
    expect([...targets.entries()].filter(([, refused]) => !refused)).toEqual([]);
  });
});

function isBlocked(r: HttpResult): boolean {
  return r.kind === 'error' && r.error === 'BLOCKED_URL';
}

function show(r: HttpResult): string {
  return r.kind === 'error' ? `${r.error} ${r.message}` : `HTTP ${r.statusCode}`;
}

/** Addresses that reach loopback (allowed by design under the local-mode policy). */
function embedsLoopback(address: string): boolean {
  if (isLoopback(address)) return true;
  const parsed = ipaddr.parse(address);
  return (
    parsed.kind() === 'ipv6' &&
    (parsed as ipaddr.IPv6).isIPv4MappedAddress() &&
    (parsed as ipaddr.IPv6).toIPv4Address().octets[0] === 127
  );
}
