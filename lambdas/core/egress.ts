/**
 * Egress policy: which targets the sender may connect to. Pure decisions, no network I/O;
 * name resolution is injected (the HTTP adapter passes the address it will connect to).
 *
 * Rule: plain http only when allowed; no credentials in URLs; every address a host resolves
 * to must be public unicast, unless it falls inside an allow-listed CIDR. IPv6 forms that
 * embed an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) are judged by what they embed.
 */
import { ValidationError } from './errors';

export interface EgressPolicy {
  allowHttp: boolean;
  allowCidrs: readonly string[];
}

export type EgressDecision = { ok: true } | { ok: false; reason: string };
export type UrlDecision = { ok: true; url: URL } | { ok: false; reason: string };

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}
export type Lookup = (hostname: string) => Promise<ResolvedAddress[]>;

/** A parsed address: IPv4 as one unsigned 32-bit number, IPv6 as eight 16-bit groups. */
export type ParsedIp = { kind: 4; value: number } | { kind: 6; parts: number[] };
interface Cidr {
  ip: ParsedIp;
  bits: number;
}

// ---- parsing (hand-written: this runs per connection and must not throw or allocate much) ----

const V4_DOTTED =
  /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Strict dotted decimal without leading zeros: what resolvers and WHATWG URLs produce. */
function parseV4(s: string): number | undefined {
  const m = V4_DOTTED.exec(s);
  if (!m) return undefined;
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

/** RFC 4291 text forms, incl. '::', an embedded dotted IPv4 tail and a zone ('%eth0', ignored). */
function parseV6(input: string): number[] | undefined {
  let s = input;
  const pct = s.indexOf('%');
  if (pct >= 0) {
    if (pct === s.length - 1) return undefined;
    s = s.slice(0, pct);
  }
  const lastColon = s.lastIndexOf(':');
  if (lastColon < 0) return undefined;
  let tail: number[] = [];
  if (s.indexOf('.', lastColon) >= 0) {
    const v4 = parseV4(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = [v4 >>> 16, v4 & 0xffff];
    s = s.slice(0, lastColon + 1);
    if (!s.endsWith('::')) s = s.slice(0, -1);
  }
  const groups = 8 - tail.length;
  const dbl = s.indexOf('::');
  let texts: string[];
  if (dbl >= 0) {
    if (s.indexOf('::', dbl + 1) >= 0) return undefined;
    const left = dbl === 0 ? [] : s.slice(0, dbl).split(':');
    const right = dbl + 2 === s.length ? [] : s.slice(dbl + 2).split(':');
    const missing = groups - left.length - right.length;
    if (missing < 1) return undefined;
    texts = [...left, ...new Array<string>(missing).fill('0'), ...right];
  } else {
    texts = s.split(':');
    if (texts.length !== groups) return undefined;
  }
  const parts: number[] = [];
  for (const t of texts) {
    if (!HEX_GROUP.test(t)) return undefined;
    parts.push(Number.parseInt(t, 16));
  }
  return parts.concat(tail);
}

/** Parses an IP address (IPv6 may carry brackets or a zone); undefined when it is not one. */
export function parseIp(ip: string): ParsedIp | undefined {
  let s = ip;
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const v4 = parseV4(s);
  if (v4 !== undefined) return { kind: 4, value: v4 };
  const v6 = s.includes(':') ? parseV6(s) : undefined;
  return v6 ? { kind: 6, parts: v6 } : undefined;
}

function parseCidr(text: string): Cidr | undefined {
  const s = text.trim();
  const slash = s.indexOf('/');
  const ip = parseIp(slash >= 0 ? s.slice(0, slash) : s);
  if (!ip) return undefined;
  const max = ip.kind === 4 ? 32 : 128;
  if (slash < 0) return { ip, bits: max };
  const bitsText = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  return bits <= max ? { ip, bits } : undefined;
}

function v4Mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

function inV4(value: number, net: number, bits: number): boolean {
  const mask = v4Mask(bits);
  return (value & mask) >>> 0 === (net & mask) >>> 0;
}

function inV6(parts: readonly number[], net: readonly number[], bits: number): boolean {
  let left = bits;
  for (let i = 0; i < 8 && left > 0; i++) {
    const take = Math.min(16, left);
    const mask = (0xffff << (16 - take)) & 0xffff;
    if (((parts[i] ?? 0) & mask) !== ((net[i] ?? 0) & mask)) return false;
    left -= take;
  }
  return true;
}

function formatV4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/** RFC 5952 text: lower-case, no leading zeros, the longest run (2+) of zero groups as '::'. */
function formatV6(parts: readonly number[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (parts[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && parts[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = parts.map((p) => p.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

function formatCidr({ ip, bits }: Cidr): string {
  if (ip.kind === 4) return `${formatV4((ip.value & v4Mask(bits)) >>> 0)}/${bits}`;
  const net = ip.parts.map((p, i) => {
    const take = Math.max(0, Math.min(16, bits - i * 16));
    return p & ((0xffff << (16 - take)) & 0xffff);
  });
  return `${formatV6(net)}/${bits}`;
}

// ---- policy --------------------------------------------------------------------------

/** Validates CIDRs (a bare address counts as a single host) and returns them canonical. Throws ValidationError. */
export function normalizeCidrs(cidrs: readonly string[], name = 'allowCidrs'): string[] {
  return cidrs.map((c, index) => {
    const parsed = parseCidr(c);
    if (!parsed) {
      throw new ValidationError(`${name}: "${c}" is not a CIDR (e.g. 10.0.0.0/8 or fd00::/8)`, [
        { path: name, index, message: 'invalid CIDR' },
      ]);
    }
    return formatCidr(parsed);
  });
}

// Parsed allow-lists, cached per list so the per-connection check does no parsing.
const parsedAllowLists = new WeakMap<readonly string[], Cidr[]>();

function allowList(policy: EgressPolicy): Cidr[] {
  let list = parsedAllowLists.get(policy.allowCidrs);
  if (!list) {
    list = [];
    for (const c of policy.allowCidrs) {
      const parsed = parseCidr(c);
      // An unparseable entry opens nothing (fail closed); createHttpSender validates up front.
      if (parsed) list.push(parsed);
    }
    parsedAllowLists.set(policy.allowCidrs, list);
  }
  return list;
}

function isMapped(parts: readonly number[]): boolean {
  return (
    parts[0] === 0 &&
    parts[1] === 0 &&
    parts[2] === 0 &&
    parts[3] === 0 &&
    parts[4] === 0 &&
    parts[5] === 0xffff
  );
}

function inCidr(ip: ParsedIp, cidr: Cidr): boolean {
  if (ip.kind === 4) return cidr.ip.kind === 4 && inV4(ip.value, cidr.ip.value, cidr.bits);
  return cidr.ip.kind === 6 && inV6(ip.parts, cidr.ip.parts, cidr.bits);
}

function isAllowListed(ip: ParsedIp, policy: EgressPolicy): boolean {
  const list = allowList(policy);
  if (list.length === 0) return false;
  // ::ffff:a.b.c.d reaches exactly a.b.c.d, so an IPv4 exception covers its mapped form and back.
  let alt: ParsedIp | undefined;
  if (ip.kind === 4)
    alt = { kind: 6, parts: [0, 0, 0, 0, 0, 0xffff, ip.value >>> 16, ip.value & 0xffff] };
  else if (isMapped(ip.parts))
    alt = { kind: 4, value: (((ip.parts[6] ?? 0) << 16) | (ip.parts[7] ?? 0)) >>> 0 };
  for (const cidr of list) {
    if (inCidr(ip, cidr) || (alt && inCidr(alt, cidr))) return true;
  }
  return false;
}

// ---- address ranges --------------------------------------------------------------------

interface V4Range {
  net: number;
  bits: number;
  label: string;
}

function v4(cidr: string, label: string): V4Range {
  const c = parseCidr(cidr);
  if (c?.ip.kind !== 4) throw new Error(`bad built-in range ${cidr}`);
  return { net: c.ip.value, bits: c.bits, label };
}

/** IANA special-purpose IPv4 blocks that are not globally reachable (order: specific first). */
const V4_BLOCKED: readonly V4Range[] = [
  v4('0.0.0.0/8', 'unspecified ("this network")'),
  v4('10.0.0.0/8', 'private (RFC 1918)'),
  v4('100.64.0.0/10', 'carrier-grade NAT (RFC 6598)'),
  v4('127.0.0.0/8', 'loopback'),
  v4('169.254.0.0/16', 'link-local (incl. cloud metadata)'),
  v4('172.16.0.0/12', 'private (RFC 1918)'),
  v4('192.0.0.0/24', 'IETF protocol assignments (reserved)'),
  v4('192.0.2.0/24', 'documentation (TEST-NET-1)'),
  v4('192.88.99.0/24', '6to4 relay anycast (deprecated)'),
  v4('192.168.0.0/16', 'private (RFC 1918)'),
  v4('198.18.0.0/15', 'benchmarking'),
  v4('198.51.100.0/24', 'documentation (TEST-NET-2)'),
  v4('203.0.113.0/24', 'documentation (TEST-NET-3)'),
  v4('224.0.0.0/4', 'multicast'),
  v4('255.255.255.255/32', 'broadcast'),
  v4('240.0.0.0/4', 'reserved (240.0.0.0/4)'),
];

/** Why an IPv4 address (as a 32-bit number) is not public, or undefined when it is. */
export function nonPublicV4(value: number): string | undefined {
  for (const r of V4_BLOCKED) {
    if (inV4(value, r.net, r.bits)) return r.label;
  }
  return undefined;
}

interface V6Range {
  net: number[];
  bits: number;
  label: string;
}

function v6(cidr: string, label = ''): V6Range {
  const c = parseCidr(cidr);
  if (c?.ip.kind !== 6) throw new Error(`bad built-in range ${cidr}`);
  return { net: c.ip.parts, bits: c.bits, label };
}

/** Non-global IPv6 blocks checked after the IPv4-embedding forms (order: specific first). */
const V6_BLOCKED: readonly V6Range[] = [
  v6('100::/64', 'discard-only (RFC 6666)'),
  v6('2001:2::/48', 'benchmarking'),
  v6('2001:db8::/32', 'documentation'),
  v6('2001:10::/28', 'ORCHID (deprecated)'),
  v6('2001:20::/28', 'ORCHIDv2 (not routable)'),
  v6('2001::/23', 'IETF protocol assignments (reserved)'),
  v6('3fff::/20', 'documentation'),
  v6('fc00::/7', 'unique local (private)'),
  v6('fe80::/10', 'link-local'),
  v6('fec0::/10', 'site-local (deprecated)'),
  v6('ff00::/8', 'multicast'),
  v6('::/8', 'reserved (::/8)'),
];
const V6_GLOBAL_UNICAST = v6('2000::/3');
const V6_MAPPED = v6('::ffff:0:0/96');
const V6_COMPAT = v6('::/96');
const V6_NAT64 = v6('64:ff9b::/96');
const V6_NAT64_LOCAL = v6('64:ff9b:1::/48');
const V6_6TO4 = v6('2002::/16');
const V6_TEREDO = v6('2001::/32');

const within = (parts: readonly number[], r: V6Range): boolean => inV6(parts, r.net, r.bits);

/** Why an IPv6 address (eight 16-bit groups) is not public, or undefined when it is. */
export function nonPublicV6(p: readonly number[]): string | undefined {
  const part = (i: number): number => p[i] ?? 0;
  const v4At = (hi: number, lo: number): number => ((hi << 16) | lo) >>> 0;
  if (p.every((x) => x === 0)) return 'unspecified (::)';
  if (within(p, V6_COMPAT) && part(6) === 0 && part(7) === 1) return 'loopback (::1)';
  const embedded = (value: number, form: string, always: boolean): string | undefined => {
    const why = nonPublicV4(value);
    const text = `${form} ${formatV4(value)}`;
    if (why) return `${text}, which is ${why}`;
    return always ? `${text} (form not allowed)` : undefined;
  };
  // Mapped and compatible forms are never needed for a public target: refuse them all.
  if (within(p, V6_MAPPED))
    return embedded(v4At(part(6), part(7)), 'IPv4-mapped IPv6 address of', true);
  if (within(p, V6_COMPAT))
    return embedded(v4At(part(6), part(7)), 'IPv4-compatible IPv6 address of', true);
  // Well-known NAT64 prefix: legitimate for IPv6-only networks, judged by the embedded IPv4.
  if (within(p, V6_NAT64)) return embedded(v4At(part(6), part(7)), 'NAT64 address of', false);
  // Local-use NAT64 is not globally reachable (RFC 8215).
  if (within(p, V6_NAT64_LOCAL))
    return embedded(v4At(part(6), part(7)), 'local-use NAT64 address of', true);
  if (within(p, V6_6TO4)) return embedded(v4At(part(1), part(2)), '6to4 address of', false);
  if (within(p, V6_TEREDO)) {
    // RFC 4380: server IPv4 in bits 32-63, client IPv4 obfuscated (inverted) in the last 32 bits.
    const server = embedded(v4At(part(2), part(3)), 'Teredo address with server', false);
    if (server) return server;
    return embedded(
      v4At(~part(6) & 0xffff, ~part(7) & 0xffff),
      'Teredo address with client',
      false,
    );
  }
  for (const r of V6_BLOCKED) {
    if (within(p, r)) return r.label;
  }
  if (!within(p, V6_GLOBAL_UNICAST)) return 'reserved (outside global unicast 2000::/3)';
  return undefined;
}

/** Decision for one address a connection would go to. */
export function checkAddress(ip: string, policy: EgressPolicy): EgressDecision {
  const parsed = parseIp(ip);
  if (!parsed) return { ok: false, reason: `"${ip}" is not an IP address` };
  if (isAllowListed(parsed, policy)) return { ok: true };
  const why = parsed.kind === 4 ? nonPublicV4(parsed.value) : nonPublicV6(parsed.parts);
  if (why) return { ok: false, reason: `address ${ip} is not allowed: ${why}` };
  return { ok: true };
}

// ---- URLs ------------------------------------------------------------------------------

const LOCALHOST_ADDRESSES: readonly ResolvedAddress[] = [
  { address: '127.0.0.1', family: 4 },
  { address: '::1', family: 6 },
];

/** Host name without a trailing root dot, lower-cased (WHATWG already lower-cases). */
function bareName(hostname: string): string {
  return hostname.replace(/\.+$/, '').toLowerCase();
}

/**
 * Addresses a name has without asking DNS: `localhost` and `*.localhost` are loopback by
 * definition (RFC 6761), whatever a resolver says. undefined for other names.
 */
export function staticAddresses(hostname: string): readonly ResolvedAddress[] | undefined {
  const name = bareName(hostname);
  return name === 'localhost' || name.endsWith('.localhost') ? LOCALHOST_ADDRESSES : undefined;
}

/** The IP address a URL host names directly ('[::1]' -> '::1'), or undefined for a DNS name. */
export function ipLiteral(hostname: string): string | undefined {
  if (hostname.startsWith('[')) return hostname.slice(1, -1);
  return parseV4(hostname) === undefined ? undefined : hostname;
}

/**
 * Checks everything about a target URL that needs no resolution: scheme, credentials,
 * localhost names and IP-literal hosts (WHATWG parsing has already turned '2130706433',
 * '0x7f.1' and friends into dotted decimal). DNS names still need checkResolved().
 */
export function checkUrl(url: string, policy: EgressPolicy): UrlDecision {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, reason: 'not a valid absolute URL' };
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    return {
      ok: false,
      reason: `scheme "${parsed.protocol.replace(/:$/, '')}" is not allowed (https only)`,
    };
  }
  if (parsed.protocol === 'http:' && !policy.allowHttp) {
    return { ok: false, reason: 'plain http is not allowed (https only)' };
  }
  if (parsed.username !== '' || parsed.password !== '') {
    return { ok: false, reason: 'credentials in the URL are not allowed (use the auth setting)' };
  }
  const host = parsed.hostname;
  if (host === '' || bareName(host) === '') return { ok: false, reason: 'URL has no host' };
  const literal = ipLiteral(host);
  if (literal !== undefined) {
    const d = checkAddress(literal, policy);
    return d.ok ? { ok: true, url: parsed } : { ok: false, reason: d.reason };
  }
  const fixed = staticAddresses(host);
  if (fixed) {
    const d = checkAll(fixed, policy);
    return d.ok
      ? { ok: true, url: parsed }
      : { ok: false, reason: `host "${host}" is loopback: ${d.reason}` };
  }
  return { ok: true, url: parsed };
}

/** Every address must pass; one refused address refuses the host (no "pick the good one"). */
export function checkAll(
  addresses: readonly ResolvedAddress[],
  policy: EgressPolicy,
): EgressDecision {
  if (addresses.length === 0) return { ok: false, reason: 'host resolved to no address' };
  for (const a of addresses) {
    const d = checkAddress(a.address, policy);
    if (!d.ok) return d;
  }
  return { ok: true };
}

export type ResolveDecision =
  | { ok: true; addresses: ResolvedAddress[] }
  | { ok: false; reason: string };

/**
 * Resolves a URL host (IP literal, localhost name, or DNS name through `lookup`) and checks
 * every address. The caller must connect only to the returned addresses.
 * Lookup failures are thrown (they are connection errors, not policy refusals).
 */
export async function resolveAndCheck(
  hostname: string,
  policy: EgressPolicy,
  lookup: Lookup,
): Promise<ResolveDecision> {
  const literal = ipLiteral(hostname) ?? (parseIp(hostname) ? hostname : undefined);
  let addresses: ResolvedAddress[];
  if (literal !== undefined) {
    addresses = [{ address: literal, family: parseIp(literal)?.kind === 6 ? 6 : 4 }];
  } else {
    const fixed = staticAddresses(hostname);
    addresses = fixed ? [...fixed] : await lookup(hostname);
  }
  const d = checkAll(addresses, policy);
  if (!d.ok) return { ok: false, reason: `host "${hostname}": ${d.reason}` };
  return { ok: true, addresses };
}
