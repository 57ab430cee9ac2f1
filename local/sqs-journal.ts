/**
 * A journaling SQS endpoint for local mode. fauxqs keeps its queues in memory only; this thin
 * HTTP proxy in front of it makes accepted-but-undelivered messages survive a restart, while
 * handlers and SDK clients talk plain SQS (AWS_ENDPOINT_URL_SQS points here).
 *
 * Every request is forwarded unchanged; the answers to the JSON-protocol calls below are
 * journaled before the client sees them, so a message the client was told is queued is on disk:
 *   SendMessage / SendMessageBatch   -> 'send' (queue, message id, body and attributes)
 *   ReceiveMessage                   -> receipt handle -> message id (memory); 'recv' when a
 *                                       message comes back a second time or later (receive count)
 *                                       (an answer naming a message whose send is not journaled
 *                                       yet waits for the sends in flight; see sendsInFlight)
 *   DeleteMessage / DeleteMessageBatch -> 'del' (message id)
 *   PurgeQueue                       -> 'purge'
 * On start, replay() sends every message not deleted back into the fresh fauxqs queues (to the
 * dead-letter queue when it had already used up its receives) and rewrites the journal
 * compactly under the new message ids; their receive counts go on from the previous run's
 * (at least one: whatever held them died with it). A message can thus be delivered twice across a
 * restart (at-least-once, like SQS), never lost once acknowledged.
 */
import http from 'node:http';
import path from 'node:path';
import { required } from '../lambdas/core/required';
import { callAwsJson, sendAwsJsonError } from './aws-json';
import { Journal } from './journal';
import { listen } from './listen';

export interface JournaledQueue {
  /** Queue URL as the stand-in created it. */
  readonly url: string;
  /** Where messages go after maxReceiveCount receives (the queue's redrive policy). */
  readonly deadLetter?: { readonly queueName: string; readonly maxReceiveCount: number };
}

export interface SqsJournalOptions {
  /** The SQS endpoint messages really live in (fauxqs). */
  readonly target: string;
  readonly dataDir: string;
  /** Queue name -> its URL and redrive; messages of other queues pass through unjournaled. */
  readonly queues: Readonly<Record<string, JournaledQueue>>;
  readonly host?: string;
  readonly port?: number;
  readonly onError?: (message: string, err: unknown) => void;
}

export interface SqsJournal {
  /** http://host:port, for AWS_ENDPOINT_URL_SQS. */
  readonly url: string;
  /** Sends the messages left over from the previous run into the queues; how many per queue. */
  replay(): Promise<Record<string, number>>;
  /** Messages accepted and not yet deleted (all journaled queues). */
  pending(): number;
  stop(): Promise<void>;
}

interface StoredMessage {
  q: string;
  /** The SendMessage parameters other than QueueUrl (body, attributes, delay, ...). */
  entry: Record<string, unknown>;
  /** Epoch ms it was accepted; with DelaySeconds, when it becomes visible. */
  at: number;
  /** Highest ApproximateReceiveCount seen. */
  n: number;
}

type JournalRecord =
  | ({ t: 'send'; id: string } & StoredMessage)
  | { t: 'recv'; id: string; n: number }
  | { t: 'del'; id: string }
  | { t: 'purge'; q: string };

const JOURNALED = new Set([
  'SendMessage',
  'SendMessageBatch',
  'ReceiveMessage',
  'DeleteMessage',
  'DeleteMessageBatch',
  'PurgeQueue',
]);
/** Receipt handles older than SQS's longest visibility timeout can no longer delete anything. */
const HANDLE_TTL_MS = 12 * 3600 * 1000;

export async function startSqsJournal(opts: SqsJournalOptions): Promise<SqsJournal> {
  const target = new URL(opts.target);
  const onError = opts.onError ?? (() => {});
  const journal = new Journal<JournalRecord>(path.join(opts.dataDir, 'sqs-journal.jsonl'));
  const agent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });

  // What is still owed: message id -> message. Loaded from the journal, replayed by replay().
  let live = new Map<string, StoredMessage>();
  const leftovers = load(journal.read());
  /**
   * Replayed message id -> receives it counts from before the restart (at least one). fauxqs
   * counts from zero again; a message owed at a restart was, or may have been, held by a
   * consumer that died with the process, so it comes back as a redelivery (count 2 or more),
   * as SQS hands out a message again after its consumer died. The delivery handler then sends
   * at once instead of waiting for a first attempt that no process is making any more.
   */
  const carried = new Map<string, number>();
  const handles = new Map<string, { id: string; at: number }>();
  let handleSweepAt = Date.now() + HANDLE_TTL_MS;

  /**
   * Sends forwarded to fauxqs whose answers are not journaled yet. fauxqs can hand a message to
   * a waiting long poll before the send's own answer is back on its connection; a receive answer
   * that names a message not yet in `live` waits for these, so a received message always has its
   * send journaled first (its MessageGroupId, its receive count, a later delete all need it).
   */
  const sendsInFlight = new Set<Promise<void>>();
  const trackSend = (): (() => void) => {
    let settle: () => void = () => {};
    const settled = new Promise<void>((resolve) => {
      settle = () => {
        sendsInFlight.delete(settled);
        resolve();
      };
    });
    sendsInFlight.add(settled);
    return settle;
  };
  /** The sends a receive answer has to wait for: all in flight, when it names an unknown message. */
  const sendsBefore = (
    request: Record<string, unknown>,
    answer: Record<string, unknown>,
  ): Promise<unknown> | undefined => {
    if (sendsInFlight.size === 0 || !queueName(request.QueueUrl)) return undefined;
    const messages = (answer.Messages as Record<string, unknown>[] | undefined) ?? [];
    const unknown = messages.some((m) => typeof m.MessageId === 'string' && !live.has(m.MessageId));
    return unknown ? Promise.all([...sendsInFlight]) : undefined;
  };

  const queueName = (url: unknown): string | undefined => {
    if (typeof url !== 'string') return undefined;
    const name = url.slice(url.lastIndexOf('/') + 1);
    return opts.queues[name] ? name : undefined;
  };

  const write = (records: JournalRecord[]): void => {
    journal.append(records);
    if (journal.size > 50_000 && journal.size > 4 * live.size) {
      journal.rewrite([...live].map(([id, m]) => ({ t: 'send' as const, id, ...m })));
    }
  };

  const rememberHandle = (handle: string, id: string): void => {
    const now = Date.now();
    handles.set(handle, { id, at: now });
    if (now > handleSweepAt) {
      for (const [h, v] of handles) if (now - v.at > HANDLE_TTL_MS) handles.delete(h);
      handleSweepAt = now + HANDLE_TTL_MS;
    }
  };

  /**
   * Journals what a successful answer means; runs before the answer is passed on. true when it
   * changed the answer (received messages get back the MessageGroupId they were sent with).
   */
  const record = (
    operation: string,
    request: Record<string, unknown>,
    response: Record<string, unknown>,
  ): boolean => {
    const q = queueName(request.QueueUrl);
    if (!q) return false;
    const now = Date.now();
    const records: JournalRecord[] = [];
    let rewritten = false;
    const accept = (id: unknown, params: Record<string, unknown>) => {
      if (typeof id !== 'string') return;
      const { QueueUrl: _url, Id: _id, ...entry } = params;
      const delay = typeof params.DelaySeconds === 'number' ? params.DelaySeconds * 1000 : 0;
      const m: StoredMessage = { q, entry, at: now + delay, n: 0 };
      live.set(id, m);
      records.push({ t: 'send', id, ...m });
    };
    const forget = (handle: unknown) => {
      if (typeof handle !== 'string') return;
      const known = handles.get(handle);
      if (!known) return;
      handles.delete(handle);
      carried.delete(known.id);
      if (live.delete(known.id)) records.push({ t: 'del', id: known.id });
    };
    switch (operation) {
      case 'SendMessage':
        accept(response.MessageId, request);
        break;
      case 'SendMessageBatch': {
        const entries = new Map<string, Record<string, unknown>>();
        for (const e of (request.Entries as Record<string, unknown>[] | undefined) ?? [])
          entries.set(String(e.Id), e);
        for (const ok of (response.Successful as Record<string, unknown>[] | undefined) ?? []) {
          const e = entries.get(String(ok.Id));
          if (e) accept(ok.MessageId, e);
        }
        break;
      }
      case 'ReceiveMessage':
        for (const m of (response.Messages as Record<string, unknown>[] | undefined) ?? []) {
          if (typeof m.MessageId !== 'string' || typeof m.ReceiptHandle !== 'string') continue;
          rememberHandle(m.ReceiptHandle, m.MessageId);
          const stored = live.get(m.MessageId);
          // fauxqs drops MessageGroupId on standard queues; SQS (a fair queue) returns it.
          const group = stored?.entry.MessageGroupId;
          if (typeof group === 'string') {
            m.Attributes = {
              ...(m.Attributes as Record<string, string> | undefined),
              MessageGroupId: group,
            };
            rewritten = true;
          }
          const attributes = m.Attributes as Record<string, string> | undefined;
          let n = Number(attributes?.ApproximateReceiveCount);
          const before = carried.get(m.MessageId);
          if (before !== undefined && Number.isFinite(n)) {
            n += before;
            m.Attributes = { ...attributes, ApproximateReceiveCount: String(n) };
            rewritten = true;
          }
          // First receives are the common case and need no record; redeliveries count towards the DLQ.
          if (stored && Number.isFinite(n) && n > stored.n) {
            stored.n = n;
            if (n > 1) records.push({ t: 'recv', id: m.MessageId, n });
          }
        }
        break;
      case 'DeleteMessage':
        forget(request.ReceiptHandle);
        break;
      case 'DeleteMessageBatch': {
        const byId = new Map<string, unknown>();
        for (const e of (request.Entries as Record<string, unknown>[] | undefined) ?? [])
          byId.set(String(e.Id), e.ReceiptHandle);
        for (const ok of (response.Successful as Record<string, unknown>[] | undefined) ?? [])
          forget(byId.get(String(ok.Id)));
        break;
      }
      case 'PurgeQueue':
        for (const [id, m] of live)
          if (m.q === q) {
            live.delete(id);
            carried.delete(id);
          }
        records.push({ t: 'purge', q });
        break;
    }
    write(records);
    return rewritten;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const target_ = String(req.headers['x-amz-target'] ?? '');
      const operation = target_.startsWith('AmazonSQS.') ? target_.slice('AmazonSQS.'.length) : '';
      // Settled once the send's answer is journaled, or when the exchange ends without one.
      const sendSettled =
        operation === 'SendMessage' || operation === 'SendMessageBatch' ? trackSend() : undefined;
      if (sendSettled) res.on('close', sendSettled);
      const headers = { ...req.headers, host: target.host };
      const upstream = http.request(
        {
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers,
          agent,
        },
        (up) => {
          const out: Buffer[] = [];
          up.on('data', (c: Buffer) => out.push(c));
          up.on('error', () => res.destroy());
          up.on('end', async () => {
            const status = up.statusCode ?? 502;
            let payload = Buffer.concat(out);
            if (status === 200 && JOURNALED.has(operation)) {
              try {
                const request = JSON.parse(body.toString('utf8') || '{}');
                const answer = JSON.parse(payload.toString('utf8') || '{}');
                const sends = operation === 'ReceiveMessage' && sendsBefore(request, answer);
                if (sends) await sends;
                if (record(operation, request, answer))
                  payload = Buffer.from(JSON.stringify(answer));
              } catch (err) {
                // Not journaled means not acknowledged: the client sees a failure and retries.
                onError(`could not journal ${operation}`, err);
                sendAwsJsonError(res, 'sqs', 500, 'InternalFailure', 'journal write failed');
                return;
              }
            }
            sendSettled?.();
            if (res.destroyed) return;
            const {
              'transfer-encoding': _te,
              connection: _c,
              'keep-alive': _ka,
              ...rest
            } = up.headers;
            res.writeHead(status, { ...rest, 'content-length': String(payload.length) });
            res.end(payload);
          });
        },
      );
      upstream.on('error', (err) => {
        if (res.headersSent || res.destroyed) return;
        sendAwsJsonError(res, 'sqs', 502, 'ServiceUnavailable', err.message);
      });
      // A client that gives up (e.g. a long poll aborted at shutdown) frees the upstream request.
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      upstream.end(body);
    });
  });
  server.keepAliveTimeout = 65_000;
  const address = await listen(server, opts.port, opts.host);
  const url = `http://${address.address}:${address.port}`;

  let replayed = false;
  return {
    url,
    pending: () => live.size,
    replay: async () => {
      if (replayed) throw new Error('replay() runs once, at start');
      replayed = true;
      const counts: Record<string, number> = {};
      const now = Date.now();
      const byQueue = new Map<string, StoredMessage[]>();
      for (const m of leftovers.values()) {
        const q = opts.queues[m.q];
        if (!q) continue;
        // A message that had used up its receives would have moved to the DLQ on the next one.
        const dest =
          q.deadLetter && m.n >= q.deadLetter.maxReceiveCount && opts.queues[q.deadLetter.queueName]
            ? q.deadLetter.queueName
            : m.q;
        const list = byQueue.get(dest) ?? [];
        list.push({ ...m, q: dest, n: dest === m.q ? m.n : 0 });
        byQueue.set(dest, list);
      }
      const fresh = new Map<string, StoredMessage>();
      for (const [q, messages] of byQueue) {
        const queueUrl = required(opts.queues[q], `queue ${q}`).url;
        for (let i = 0; i < messages.length; i += 10) {
          const chunk = messages.slice(i, i + 10);
          const entries = chunk.map((m, j) => {
            const { DelaySeconds: _d, ...entry } = m.entry;
            const delay = Math.min(900, Math.max(0, Math.ceil((m.at - now) / 1000)));
            return { ...entry, Id: String(j), ...(delay > 0 ? { DelaySeconds: delay } : {}) };
          });
          const out = await callAwsJson(target, agent, 'AmazonSQS.SendMessageBatch', {
            QueueUrl: queueUrl,
            Entries: entries,
          });
          const failed = (out.Failed as unknown[] | undefined) ?? [];
          if (failed.length > 0)
            throw new Error(
              `replaying the SQS journal failed: ${JSON.stringify(failed).slice(0, 300)}`,
            );
          for (const ok of (out.Successful as Record<string, unknown>[] | undefined) ?? []) {
            const m = chunk[Number(ok.Id)];
            if (m && typeof ok.MessageId === 'string') {
              fresh.set(ok.MessageId, { ...m, at: Math.max(m.at, now) });
              carried.set(ok.MessageId, Math.max(m.n, 1));
            }
          }
        }
        counts[q] = messages.length;
      }
      // Messages sent since start (none are expected before replay) stay owed too.
      for (const [id, m] of live) fresh.set(id, m);
      live = fresh;
      journal.rewrite([...live].map(([id, m]) => ({ t: 'send' as const, id, ...m })));
      leftovers.clear();
      return counts;
    },
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      agent.destroy();
    },
  };

  /** Folds the journal into the messages still owed. */
  function load(records: JournalRecord[]): Map<string, StoredMessage> {
    const owed = new Map<string, StoredMessage>();
    const deleted = new Set<string>();
    for (const r of records) if (r.t === 'del') deleted.add(r.id);
    for (const r of records) {
      if (r.t === 'send') {
        // A delete can be journaled before its send: the answers of two connections race.
        if (deleted.has(r.id)) continue;
        owed.set(r.id, { q: r.q, entry: r.entry, at: r.at, n: r.n });
      } else if (r.t === 'recv') {
        const m = owed.get(r.id);
        if (m) m.n = Math.max(m.n, r.n);
      } else if (r.t === 'purge') {
        // As record() does: the messages journaled before the purge go, delayed ones too (their
        // `at` lies ahead), while a send journaled after it stays owed, even in the same millisecond.
        for (const [id, m] of owed) if (m.q === r.q) owed.delete(id);
      }
    }
    return owed;
  }
}
