/**
 * Bytes of one attempt on the wire, measured: the real HttpSender sends the rendered request
 * over TLS to a loopback HTTPS receiver that serves a certificate chain shaped like a public
 * one (RSA-2048 leaf carrying two SCTs' worth of extension, RSA-2048 intermediate signed by an
 * RSA-4096 root; the root is trusted, not sent). The receiver counts the bytes of each TCP
 * connection below TLS, so handshakes, record framing and AEAD tags are in the figure.
 *
 * The receiver answers `Connection: close`, so every attempt opens a new connection: the first
 * one makes a full handshake, the next ones resume the TLS session the sender cached (its
 * connector keeps one per receiver host and port). Whether they did is read from the server side
 * (isSessionReused), not assumed. TCP/IP headers are estimated: 40 B per packet, 7 packets to
 * open and close the connection and an acknowledgement per data segment.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { TLSSocket } from 'node:tls';
import { createHttpSender } from '../../lambdas/adapters/http-sender';
import type { TlsKeyExchange } from '../../lambdas/config';
import type { OutgoingRequest } from '../../lambdas/ports';

export interface WireBytes {
  /** Both directions: what a NAT gateway processes. */
  readonly both: number;
  /** Leaving AWS: data transfer out. */
  readonly outbound: number;
}

export interface TlsWire {
  readonly full: WireBytes;
  /**
   * On a new connection that resumed the cached session (median of the samples the receiver saw
   * resume); equal to `full` when none did.
   */
  readonly resumed: WireBytes;
  /** Whether the sender's later connections resumed its TLS session (server-side view). */
  readonly sessionResumed: boolean;
  /** DER bytes of the certificates the receiver sends (leaf, intermediate). */
  readonly chainBytes: readonly number[];
}

interface Chain {
  readonly key: string;
  /** Leaf then intermediate, PEM. */
  readonly cert: string;
  readonly root: string;
  readonly chainBytes: number[];
}

const HOST = 'hooks.ledger.example.com';

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: 'pipe' });
  } catch (err) {
    const detail = (err as { stderr?: Buffer }).stderr?.toString().trim() || String(err);
    throw new Error(`the wire measurement needs the openssl CLI: ${detail}`);
  }
}

function derBytes(pemPath: string, cwd: string): number {
  return execFileSync('openssl', ['x509', '-in', pemPath, '-outform', 'der'], { cwd }).length;
}

/** A root, an intermediate and a leaf for HOST, made in a scratch folder that is removed after. */
export function publicLikeChain(): Chain {
  const dir = mkdtempSync(join(tmpdir(), 'bench-tls-'));
  try {
    const ext = (name: string, lines: string[]) => writeFileSync(join(dir, name), lines.join('\n'));
    // A key and its signing request; the request signed by `ca` with the extensions of `name`.ext.
    const request = (name: string, bits: number, subject: string) =>
      openssl(
        [
          'req',
          '-newkey',
          `rsa:${bits}`,
          '-nodes',
          '-keyout',
          `${name}.key`,
          '-out',
          `${name}.csr`,
          '-subj',
          subject,
        ],
        dir,
      );
    const sign = (name: string, ca: string) =>
      openssl(
        [
          'x509',
          '-req',
          '-in',
          `${name}.csr`,
          '-CA',
          `${ca}.pem`,
          '-CAkey',
          `${ca}.key`,
          '-CAcreateserial',
          '-out',
          `${name}.pem`,
          '-days',
          '2',
          '-extfile',
          `${name}.ext`,
        ],
        dir,
      );
    openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:4096',
        '-nodes',
        '-keyout',
        'root.key',
        '-out',
        'root.pem',
        '-days',
        '2',
        '-subj',
        '/C=US/O=Bench Trust/CN=Bench Root X1',
      ],
      dir,
    );
    request('int', 2048, '/C=US/O=Bench Trust/CN=Bench R1');
    ext('int.ext', [
      'basicConstraints=critical,CA:TRUE,pathlen:0',
      'keyUsage=critical,digitalSignature,keyCertSign,cRLSign',
      'extendedKeyUsage=serverAuth,clientAuth',
      'authorityInfoAccess=caIssuers;URI:http://x1.i.bench.example/',
      'crlDistributionPoints=URI:http://x1.c.bench.example/',
      'certificatePolicies=2.23.140.1.2.1',
    ]);
    sign('int', 'root');
    request('leaf', 2048, `/CN=${HOST}`);
    // Public leaves carry signed certificate timestamps (two, about 120 B each): same OID, same size.
    const scts = execFileSync('openssl', ['rand', '-hex', '236']).toString().trim();
    ext('leaf.ext', [
      `subjectAltName=DNS:${HOST},IP:127.0.0.1`,
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth,clientAuth',
      'basicConstraints=critical,CA:FALSE',
      'authorityInfoAccess=OCSP;URI:http://r1.o.bench.example,caIssuers;URI:http://r1.i.bench.example/',
      'certificatePolicies=2.23.140.1.2.1',
      `1.3.6.1.4.1.11129.2.4.2=ASN1:FORMAT:HEX,OCTETSTRING:${scts}`,
    ]);
    sign('leaf', 'int');
    const read = (f: string) => readFileSync(join(dir, f), 'utf8');
    return {
      key: read('leaf.key'),
      cert: read('leaf.pem') + read('int.pem'),
      root: read('root.pem'),
      chainBytes: [derBytes('leaf.pem', dir), derBytes('int.pem', dir)],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** 40 B of TCP/IP header per packet: open and close (7), each data segment and its ack. */
function withPacketHeaders(inbound: number, outbound: number): WireBytes {
  const segments = (n: number) => Math.ceil(n / 1448);
  const packets = 7 + 2 * (segments(inbound) + segments(outbound));
  return {
    both: inbound + outbound + 40 * packets,
    outbound: outbound + 40 * (4 + segments(outbound) + segments(inbound)),
  };
}

/**
 * Sends `request` (its URL's host is served on loopback) `resumedSamples + 1` times, each on a
 * new connection, and returns the bytes of the first (full handshake) and the median of the
 * others. The receiver answers 200 with `responseHeaderBytes` of headers and a small body.
 */
export async function measureTlsWire(
  request: OutgoingRequest,
  opts: {
    responseHeaderBytes: number;
    resumedSamples?: number;
    /** What the sender offers (its keyExchange option); by default the hybrid post-quantum group first. */
    keyExchange?: TlsKeyExchange;
    /** The sender's predictKeyShares option (default: the sender's own, on). */
    predictKeyShares?: boolean;
    /** Groups the receiver accepts (OpenSSL list); by default Node's own, hybrid first. */
    receiverGroups?: string;
  },
): Promise<TlsWire> {
  const chain = publicLikeChain();
  const connections: { socket: Socket; closed: Promise<void> }[] = [];
  const reused: boolean[] = [];
  const tlsOptions = {
    key: chain.key,
    cert: chain.cert,
    ...(opts.receiverGroups === undefined ? {} : { ecdhCurve: opts.receiverGroups }),
  };
  const server = https.createServer(tlsOptions, (req, res) => {
    req.resume();
    req.on('end', () => {
      const body = '{"received":true}';
      // Status line and the headers Node writes itself are about 110 B; pad to the assumption.
      const own = 110 + 'content-type: application/json\r\n'.length;
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-request-id', 'r'.repeat(Math.max(1, opts.responseHeaderBytes - own - 16)));
      res.setHeader('connection', 'close');
      res.end(body);
    });
  });
  server.on('connection', (socket: Socket) => {
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    connections.push({ socket, closed });
  });
  server.on('secureConnection', (s: TLSSocket) => reused.push(s.isSessionReused()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const url = new URL(request.url);
  url.protocol = 'https:';
  url.hostname = HOST;
  url.port = String(port);
  const sender = createHttpSender({
    policy: { allowHttp: false, allowCidrs: ['127.0.0.0/8'] },
    ca: chain.root,
    lookup: async () => [{ address: '127.0.0.1', family: 4 }],
    ...(opts.keyExchange === undefined ? {} : { keyExchange: opts.keyExchange }),
    ...(opts.predictKeyShares === undefined ? {} : { predictKeyShares: opts.predictKeyShares }),
  });
  const samples: WireBytes[] = [];
  try {
    for (let i = 0; i <= (opts.resumedSamples ?? 5); i++) {
      const result = await sender.send({ ...request, url: url.toString() });
      if (result.kind !== 'response' || result.statusCode !== 200)
        throw new Error(
          `wire measurement: the receiver did not answer 200: ${JSON.stringify(result)}`,
        );
      const c = connections[connections.length - 1];
      if (!c || connections.length !== i + 1)
        throw new Error(`wire measurement: attempt ${i + 1} did not open its own connection`);
      await c.closed;
      samples.push(withPacketHeaders(c.socket.bytesWritten, c.socket.bytesRead));
    }
  } finally {
    await sender.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  // The first connection makes a full handshake; the resumed ones after it are the steady state
  // (a sender that changed its hello after the first handshake makes one more full one first).
  const [full] = samples as [WireBytes, ...WireBytes[]];
  const later = samples.filter((_, i) => i > 0 && reused[i]);
  const sessionResumed = later.length > 0;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  return {
    full,
    resumed: sessionResumed
      ? { both: median(later.map((s) => s.both)), outbound: median(later.map((s) => s.outbound)) }
      : full,
    sessionResumed,
    chainBytes: chain.chainBytes,
  };
}
