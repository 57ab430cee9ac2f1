/**
 * Egress policy: which targets the sender may connect to. Pure decisions, no network I/O;
 * name resolution is injected (the HTTP adapter passes the address it will connect to).
 *
 * Rule: plain http only when allowed; no credentials in URLs; every address a host resolves
 * to must be public unicast, unless it falls inside an allow-listed CIDR. IPv6 forms that
 * embed an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) are judged by what they embed.
 */
import ipaddr from 'ipaddr.js';
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

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;
type Cidr = [IPv4 | IPv6, number];

// ---- policy --------------------------------------------------------------------------

/**
 * Reads the two egress switches (raw env values). undefined means "use the default";
 * an empty CIDR list is a valid, explicit "no exceptions". Bad values throw, naming the switch.
 */
export function parseEgressPolicy(
  allowHttp: string | undefined,
  allowCidrs: string | undefined,
  defaults: EgressPolicy,
): EgressPolicy {
  let http = defaults.allowHttp;
  if (allowHttp !== undefined && allowHttp.trim() !== '') {
    const v = allowHttp.trim().toLowerCase();
    if (v === 'true' || v === '1' || v === 'yes') http = true;
    else if (v === 'false' || v === '0' || v === 'no') http = false;
    else throw new ValidationError(`ALLOW_HTTP must be true or false, got "${allowHttp}"`, [{ path: 'ALLOW_HTTP', message: 'not a boolean' }]);
  }
  const cidrs =
    allowCidrs === undefined
      ? [...defaults.allowCidrs]
      : allowCidrs
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
  return { allowHttp: http, allowCidrs: normalizeCidrs(cidrs, 'EGRESS_ALLOW_CIDRS') };
}

/** Validates CIDRs (a bare address counts as a single host) and returns them canonical. Throws ValidationError. */
export function normalizeCidrs(cidrs: readonly string[], name = 'allowCidrs'): string[] {
  return cidrs.map((c, index) => {
    const parsed = parseCidr(c);
    if (!parsed) {
      throw new ValidationError(`${name}: "${c}" is not a CIDR (e.g. 10.0.0.0/8 or fd00::/8)`, [
        { path: name, index, message: 'invalid CIDR' },
      ]);
    }
    return `${parsed[0].toString()}/${parsed[1]}`;
  });
}

function parseCidr(text: string): Cidr | undefined {
  const s = text.trim();
  try {
    if (s.includes('/')) {
      const [addr, bits] = ipaddr.parseCIDR(s);
      return [unwrapZone(addr), bits];
    }
    const addr = ipaddr.parse(s);
    return [unwrapZone(addr), addr.kind() === 'ipv4' ? 32 : 128];
  } catch {
    return undefined;
  }
}

function unwrapZone<T extends IPv4 | IPv6>(addr: T): T {
  if (addr.kind() === 'ipv6' && (addr as IPv6).zoneId !== undefined) {
    return new ipaddr.IPv6((addr as IPv6).parts) as T;
  }
  return addr;
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

function isAllowListed(addr: IPv4 | IPv6, policy: EgressPolicy): boolean {
  const list = allowList(policy);
  if (list.length === 0) return false;
  // ::ffff:a.b.c.d reaches exactly a.b.c.d, so an IPv4 exception covers its mapped form and back.
  const alt: IPv4 | IPv6 | undefined =
    addr.kind() === 'ipv4'
      ? (addr as IPv4).toIPv4MappedAddress()
      : (addr as IPv6).isIPv4MappedAddress()
        ? (addr as IPv6).toIPv4Address()
        : undefined;
  for (const [net, bits] of list) {
    if (net.kind() === addr.kind() && addr.match(net, bits)) return true;
    if (alt && net.kind() === alt.kind() && alt.match(net, bits)) return true;
  }
  return false;
}

// ---- address ranges --------------------------------------------------------------------

interface V4Range {
  net: number;
  mask: number;
  label: string;
}

function v4(cidr: string, label: string): V4Range {
  const [a, bits] = ipaddr.IPv4.parseCIDR(cidr);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { net: (v4ToInt(a.octets) & mask) >>> 0, mask, label };
}

function v4ToInt(o: readonly number[]): number {
  return (((o[0] ?? 0) << 24) | ((o[1] ?? 0) << 16) | ((o[2] ?? 0) << 8) | (o[3] ?? 0)) >>> 0;
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

/** Why an IPv4 address is not public, or undefined when it is. */
export function nonPublicV4(octets: readonly number[]): string | undefined {
  const n = v4ToInt(octets);
  for (const r of V4_BLOCKED) {
    if (((n & r.mask) >>> 0) === r.net) return r.label;
  }
  return undefined;
}

interface V6Range {
  net: IPv6;
  bits: number;
  label: string;
}

function v6(cidr: string, label: string): V6Range {
  const [net, bits] = ipaddr.IPv6.parseCIDR(cidr);
  return { net, bits, label };
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
const V6_GLOBAL_UNICAST = ipaddr.IPv6.parseCIDR('2000::/3');
const V6_MAPPED = ipaddr.IPv6.parseCIDR('::ffff:0:0/96');
const V6_COMPAT = ipaddr.IPv6.parseCIDR('::/96');
const V6_NAT64 = ipaddr.IPv6.parseCIDR('64:ff9b::/96');
const V6_NAT64_LOCAL = ipaddr.IPv6.parseCIDR('64:ff9b:1::/48');
const V6_6TO4 = ipaddr.IPv6.parseCIDR('2002::/16');
const V6_TEREDO = ipaddr.IPv6.parseCIDR('2001::/32');

function v4FromParts(hi: number, lo: number): number[] {
  return [(hi >> 8) & 0xff, hi & 0xff, (lo >> 8) & 0xff, lo & 0xff];
}

/** Why an IPv6 address is not public, or undefined when it is. */
export function nonPublicV6(addr: IPv6): string | undefined {
  const p = addr.parts;
  const part = (i: number): number => p[i] ?? 0;
  if (p.every((x) => x === 0)) return 'unspecified (::)';
  if (addr.match(V6_COMPAT) && part(6) === 0 && part(7) === 1) return 'loopback (::1)';
  const embedded = (o: number[], form: string, always: boolean): string | undefined => {
    const why = nonPublicV4(o);
    const text = `${form} ${o.join('.')}`;
    if (why) return `${text}, which is ${why}`;
    return always ? `${text} (form not allowed)` : undefined;
  };
  // Mapped and compatible forms are never needed for a public target: refuse them all.
  if (addr.match(V6_MAPPED)) return embedded(v4FromParts(part(6), part(7)), 'IPv4-mapped IPv6 address of', true);
  if (addr.match(V6_COMPAT)) return embedded(v4FromParts(part(6), part(7)), 'IPv4-compatible IPv6 address of', true);
  // Well-known NAT64 prefix: legitimate for IPv6-only networks, judged by the embedded IPv4.
  if (addr.match(V6_NAT64)) return embedded(v4FromParts(part(6), part(7)), 'NAT64 address of', false);
  // Local-use NAT64 is not globally reachable (RFC 8215).
  if (addr.match(V6_NAT64_LOCAL)) return embedded(v4FromParts(part(6), part(7)), 'local-use NAT64 address of', true);
  if (addr.match(V6_6TO4)) return embedded(v4FromParts(part(1), part(2)), '6to4 address of', false);
  if (addr.match(V6_TEREDO)) {
    // RFC 4380: server IPv4 in bits 32-63, client IPv4 obfuscated (inverted) in the last 32 bits.
    const server = embedded(v4FromParts(part(2), part(3)), 'Teredo address with server', false);
    if (server) return server;
    return embedded(v4FromParts(~part(6) & 0xffff, ~part(7) & 0xffff), 'Teredo address with client', false);
  }
  for (const r of V6_BLOCKED) {
    if (addr.match(r.net, r.bits)) return r.label;
  }
  if (!addr.match(V6_GLOBAL_UNICAST)) return 'reserved (outside global unicast 2000::/3)';
  return undefined;
}

/** Parses an IP address (IPv6 may carry brackets or a zone); undefined when it is not one. */
export function parseIp(ip: string): IPv4 | IPv6 | undefined {
  let s = ip.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  try {
    // Strict forms only: a lookup or a WHATWG-normalized URL never yields '127.1' or '0x7f.1'.
    if (ipaddr.IPv4.isValidFourPartDecimal(s)) return ipaddr.IPv4.parse(s);
    // ipaddr.js reads the deprecated '::a.b.c.d' as '::ffff:a.b.c.d'; it is the compatible form.
    const compat = /^::(\d{1,3}(?:\.\d{1,3}){3})$/.exec(s);
    if (compat?.[1] && ipaddr.IPv4.isValidFourPartDecimal(compat[1])) {
      const o = ipaddr.IPv4.parse(compat[1]).octets;
      return new ipaddr.IPv6([0, 0, 0, 0, 0, 0, ((o[0] ?? 0) << 8) | (o[1] ?? 0), ((o[2] ?? 0) << 8) | (o[3] ?? 0)]);
    }
    if (s.includes(':') && ipaddr.IPv6.isValid(s)) return ipaddr.IPv6.parse(s);
  } catch {
    return undefined;
  }
  return undefined;
}

/** Decision for one address a connection would go to. */
export function checkAddress(ip: string, policy: EgressPolicy): EgressDecision {
  const addr = parseIp(ip);
  if (!addr) return { ok: false, reason: `"${ip}" is not an IP address` };
  if (isAllowListed(addr, policy)) return { ok: true };
  const why = addr.kind() === 'ipv4' ? nonPublicV4((addr as IPv4).octets) : nonPublicV6(addr as IPv6);
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
  return ipaddr.IPv4.isValidFourPartDecimal(hostname) ? hostname : undefined;
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
    return { ok: false, reason: `scheme "${parsed.protocol.replace(/:$/, '')}" is not allowed (https only)` };
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
    return d.ok ? { ok: true, url: parsed } : { ok: false, reason: `host "${host}" is loopback: ${d.reason}` };
  }
  return { ok: true, url: parsed };
}

/** Every address must pass; one refused address refuses the host (no "pick the good one"). */
export function checkAll(addresses: readonly ResolvedAddress[], policy: EgressPolicy): EgressDecision {
  if (addresses.length === 0) return { ok: false, reason: 'host resolved to no address' };
  for (const a of addresses) {
    const d = checkAddress(a.address, policy);
    if (!d.ok) return d;
  }
  return { ok: true };
}

export type ResolveDecision = { ok: true; addresses: ResolvedAddress[] } | { ok: false; reason: string };

/**
 * Resolves a URL host (IP literal, localhost name, or DNS name through `lookup`) and checks
 * every address. The caller must connect only to the returned addresses.
 * Lookup failures are thrown (they are connection errors, not policy refusals).
 */
export async function resolveAndCheck(hostname: string, policy: EgressPolicy, lookup: Lookup): Promise<ResolveDecision> {
  const literal = ipLiteral(hostname) ?? (parseIp(hostname) ? hostname : undefined);
  let addresses: ResolvedAddress[];
  if (literal !== undefined) {
    const addr = parseIp(literal);
    addresses = [{ address: literal, family: addr?.kind() === 'ipv6' ? 6 : 4 }];
  } else {
    const fixed = staticAddresses(hostname);
    addresses = fixed ? [...fixed] : await lookup(hostname);
  }
  const d = checkAll(addresses, policy);
  if (!d.ok) return { ok: false, reason: `host "${hostname}": ${d.reason}` };
  return { ok: true, addresses };
}
