/**
 * Receivers below HTTP, on 127.0.0.1, for faults node:http cannot produce on purpose: a
 * response cut by a TCP reset after its headers, and a peer that accepts and never reads.
 */
import net from 'node:net';

export interface RawReceiver {
  url: string;
  /** Connections accepted. */
  connections: number;
  /** Bytes read from clients (the never-reading receiver reads none). */
  bytesRead: number;
  /** Connections still open now. */
  open(): number;
  close(): Promise<void>;
}

async function listen(onSocket: (socket: net.Socket, state: RawReceiver) => void): Promise<RawReceiver> {
  const sockets = new Set<net.Socket>();
  const state: RawReceiver = { url: '', connections: 0, bytesRead: 0, open: () => sockets.size, close: async () => undefined };
  const server = net.createServer((socket) => {
    state.connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onSocket(socket, state);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  state.url = `http://127.0.0.1:${port}`;
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
      socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\npartial body', () => {
        setTimeout(() => socket.resetAndDestroy(), 20);
      });
    });
  });
}

/** Accepts connections and never reads from them (nor answers). */
export function neverReads(): Promise<RawReceiver> {
  return listen((socket) => {
    socket.pause();
  });
}
