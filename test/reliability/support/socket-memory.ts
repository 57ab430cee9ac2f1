/**
 * Memory the kernel holds for TCP connections, as it lists them (/proc/net/tcp): bytes queued
 * and not yet acknowledged by the peer (tx_queue) plus bytes received and not yet read by the
 * application (rx_queue), of every connection with an end at 127.0.0.1:port. A connection the
 * sender gave up on but did not reset keeps its unsent body here (in the sender's orphaned
 * socket and in the receiver's unread buffer) for minutes, while the process's own memory (heap,
 * external, RSS) does not change: the socket's buffers are the kernel's, not the process's.
 */
import { readFileSync } from 'node:fs';

export interface QueuedOnPorts {
  /** Connections listed with an end at one of the ports (listening sockets not counted). */
  readonly connections: number;
  /** tx_queue + rx_queue of those connections, in bytes. */
  readonly bytes: number;
}

const LISTEN = '0A';

export function queuedOnPorts(ports: readonly number[]): QueuedOnPorts {
  const ends = new Set(
    ports.map((p) => `0100007F:${p.toString(16).toUpperCase().padStart(4, '0')}`),
  );
  let connections = 0;
  let bytes = 0;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    // sl local_address rem_address st tx_queue:rx_queue ...
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5 || fields[3] === LISTEN) continue;
    if (!ends.has(fields[1]!) && !ends.has(fields[2]!)) continue;
    const [tx, rx] = fields[4]!.split(':').map((hex) => Number.parseInt(hex, 16));
    connections += 1;
    bytes += (tx ?? 0) + (rx ?? 0);
  }
  return { connections, bytes };
}
