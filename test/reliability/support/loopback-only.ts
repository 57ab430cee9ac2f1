/**
 * A tripwire for egress tests: while installed, no socket of this process can connect anywhere
 * but loopback. net.Socket.prototype.connect (which tls.connect and undici also go through) is
 * wrapped: an IP-literal target outside 127.0.0.0/8 and ::1 throws before connecting, and the
 * name lookup a connect uses is wrapped so that a non-loopback answer fails the connect instead
 * of reaching it. Every attempt is recorded, so a test can also assert none was even tried.
 *
 * If the egress guard under test were broken, the connect would be stopped here (and show up
 * in `violations`), so the test fails without any packet leaving the machine.
 */
import dns from 'node:dns';
import net from 'node:net';

export interface LoopbackOnly {
  /** Every connect target seen (host names and addresses). */
  readonly attempts: string[];
  /** Non-loopback targets that were stopped. */
  readonly violations: string[];
  restore(): void;
}

export function isLoopback(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '').toLowerCase();
  if (net.isIPv4(a)) return a.startsWith('127.');
  if (net.isIPv6(a)) return a === '::1' || a === '0:0:0:0:0:0:0:1';
  return false;
}

type LookupFn = (
  hostname: string,
  options: unknown,
  callback: (...args: unknown[]) => void,
) => void;

export interface LoopbackOnlyOptions {
  /**
   * What an allowed connect calls through to (default: the real Socket.prototype.connect).
   * The tripwire's own self-check passes a stub here, so even a broken tripwire connects nowhere.
   */
  readonly underlying?: (this: net.Socket, ...args: unknown[]) => net.Socket;
}

export function installLoopbackOnly(opts: LoopbackOnlyOptions = {}): LoopbackOnly {
  const attempts: string[] = [];
  const violations: string[] = [];
  const original = net.Socket.prototype.connect;
  const underlying =
    opts.underlying ?? (original as (this: net.Socket, ...a: unknown[]) => net.Socket);

  const guardLookup =
    (lookup: LookupFn): LookupFn =>
    (hostname, options, callback) => {
      const cb =
        typeof options === 'function' ? (options as (...args: unknown[]) => void) : callback;
      const opts = typeof options === 'function' ? {} : options;
      lookup(hostname, opts, (err: unknown, address: unknown, family: unknown) => {
        if (err) return cb(err);
        const list = Array.isArray(address)
          ? (address as { address: string }[]).map((a) => a.address)
          : [String(address)];
        for (const a of list) attempts.push(`${hostname} -> ${a}`);
        const bad = list.filter((a) => !isLoopback(a));
        if (bad.length > 0) {
          violations.push(`${hostname} -> ${bad.join(', ')}`);
          return cb(new Error(`loopback-only tripwire: refused to connect to ${bad.join(', ')}`));
        }
        cb(null, address, family);
      });
    };

  function patched(this: net.Socket, ...args: unknown[]): net.Socket {
    // net.connect hands over its arguments already normalized, as an array [options, callback].
    const holder: unknown[] = Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
    const first = holder[0];
    if (typeof first === 'object' && first !== null) {
      const options = first as { host?: string; path?: string; lookup?: LookupFn };
      if (options.path === undefined) {
        const host = options.host ?? 'localhost';
        attempts.push(host);
        if (net.isIP(host) !== 0) {
          if (!isLoopback(host)) {
            violations.push(host);
            throw new Error(`loopback-only tripwire: refused to connect to ${host}`);
          }
        } else {
          holder[0] = {
            ...options,
            lookup: guardLookup(options.lookup ?? (dns.lookup as unknown as LookupFn)),
          };
        }
      }
    } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
      const host = typeof holder[1] === 'string' ? holder[1] : 'localhost';
      attempts.push(host);
      if (net.isIP(host) !== 0 && !isLoopback(host)) {
        violations.push(host);
        throw new Error(`loopback-only tripwire: refused to connect to ${host}`);
      }
      if (net.isIP(host) === 0 && host !== 'localhost') {
        violations.push(host);
        throw new Error(`loopback-only tripwire: refused to resolve ${host}`);
      }
    }
    return underlying.apply(this, args);
  }

  net.Socket.prototype.connect = patched as typeof net.Socket.prototype.connect;
  return {
    attempts,
    violations,
    restore() {
      net.Socket.prototype.connect = original;
    },
  };
}
