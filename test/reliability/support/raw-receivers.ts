/**
 * Receivers below HTTP, on 127.0.0.1, for faults node:http cannot produce on purpose: a
 * response cut by a TCP reset after its headers, and a peer that accepts and never reads.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';

/**
 * Established TCP connections whose local end is 127.0.0.1:port, as the kernel lists them.
 * A paused socket never learns that its peer reset the connection, so the receiver's own
 * socket set can't tell a connection the client gave up from one it still holds.
 */
function establishedTo(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const lines = readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1);
  return lines.filter((line) => {
    const fields = line.trim().split(/\s+/);
    return fields[1] === `0100007F:${hexPort}` && fields[3] === '01';
  }).length;
}

export interface RawReceiver {
  url: string;
  /** Connections accepted. */
  connections: number;
  /** Bytes read from clients (the never-reading receiver reads none). */
  bytesRead: number;
  /** Connections still established now (the kernel's view, see establishedTo). */
  open(): number;
  close(): Promise<void>;
}

async function listen(
  onSocket: (socket: net.Socket, state: RawReceiver) => void,
  serverOptions: net.ServerOpts = {},
): Promise<RawReceiver> {
  const sockets = new Set<net.Socket>();
  const state: RawReceiver = {
    url: '',
    connections: 0,
    bytesRead: 0,
    open: () => 0,
    close: async () => undefined,
  };
  const server = net.createServer(serverOptions, (socket) => {
    state.connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onSocket(socket, state);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  state.url = `http://127.0.0.1:${port}`;
  state.open = () => establishedTo(port);
  state.close = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  return state;
}

/** Reads the request head, answers `200` headers and part of a promised body, then resets. */
export function resetAfterHeaders(): Promise<RawReceiver> {
  return listen((socket, state) => {
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      state.bytesRead += chunk.length;
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.removeAllListeners('data');
      socket.write(
        'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\npartial body',
        () => {
          setTimeout(() => socket.resetAndDestroy(), 20);
        },
      );
    });
  });
}

/**
 * Accepts connections and never reads from them (nor answers). Its sockets never start reading
 * (pauseOnConnect): what a client sends stays in the kernel's receive buffer, none of it in this
 * process's memory, so the process's memory figures are the sender's alone.
 */
export function neverReads(): Promise<RawReceiver> {
  return listen(() => undefined, { pauseOnConnect: true });
}
