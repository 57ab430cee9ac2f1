/**
 * A tiny authoritative DNS server on 127.0.0.1 (UDP, node:dgram) answering A and AAAA queries
 * from a table, and a lookup function that asks it through dns.Resolver. It lets tests make a
 * host name resolve to any address (private, metadata, IPv6 forms) without touching real DNS.
 */
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';

export interface DnsServer {
  readonly port: number;
  /** name (lower case, no trailing dot) -> addresses; may be changed while running. */
  readonly records: Map<string, string[]>;
  /** Queries answered, by name. */
  readonly queries: string[];
  /** A lookup for HttpSenderOptions.lookup that asks only this server. */
  lookup(hostname: string): Promise<{ address: string; family: 4 | 6 }[]>;
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_AAAA = 28;

function readName(msg: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let i = offset;
  for (;;) {
    const len = msg[i];
    if (len === undefined) throw new Error('truncated name');
    if (len === 0) return { name: labels.join('.'), end: i + 1 };
    if ((len & 0xc0) !== 0) throw new Error('compressed names in questions are not expected');
    labels.push(msg.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += 1 + len;
  }
}

function answer(query: Buffer, records: Map<string, string[]>, seen: string[]): Buffer {
  const id = query.readUInt16BE(0);
  const { name, end } = readName(query, 12);
  const qtype = query.readUInt16BE(end);
  const question = query.subarray(12, end + 4);
  const key = name.toLowerCase().replace(/\.$/, '');
  seen.push(key);
  const addresses = records.get(key);
  const wanted = (addresses ?? []).filter((a) => {
    const parsed = ipaddr.parse(a);
    return qtype === TYPE_A
      ? parsed.kind() === 'ipv4'
      : qtype === TYPE_AAAA
        ? parsed.kind() === 'ipv6'
        : false;
  });
  const answers = wanted.map((a) => {
    const rdata = Buffer.from(ipaddr.parse(a).toByteArray());
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    rr.writeUInt16BE(qtype, 2);
    rr.writeUInt16BE(1, 4); // class IN
    rr.writeUInt32BE(1, 6); // TTL 1 s
    rr.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([rr, rdata]);
  });
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  // QR, AA, RD, RA; RCODE 3 (NXDOMAIN) for unknown names.
  header.writeUInt16BE(0x8580 | (addresses === undefined ? 3 : 0), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, question, ...answers]);
}

export async function startDnsServer(initial: Record<string, string[]> = {}): Promise<DnsServer> {
  const records = new Map(Object.entries(initial));
  const queries: string[] = [];
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    try {
      socket.send(answer(msg, records, queries), rinfo.port, rinfo.address);
    } catch {
      // A malformed query gets no answer; the client times out.
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const port = socket.address().port;
  const resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  return {
    port,
    records,
    queries,
    async lookup(hostname) {
      const [v4, v6] = await Promise.allSettled([
        resolver.resolve4(hostname),
        resolver.resolve6(hostname),
      ]);
      const out: { address: string; family: 4 | 6 }[] = [];
      if (v4.status === 'fulfilled')
        for (const address of v4.value) out.push({ address, family: 4 });
      if (v6.status === 'fulfilled')
        for (const address of v6.value) out.push({ address, family: 6 });
      if (out.length === 0)
        throw Object.assign(new Error(`${hostname} did not resolve`), { code: 'ENOTFOUND' });
      return out;
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
