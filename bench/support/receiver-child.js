// Loopback webhook receiver run as a separate process by the benchmarks, so its CPU is not
// charged to the process being measured. Answers 200 with an empty body as soon as the
// request body has arrived. Prints {"port":N} on stdout once listening. With --report it
// sends the receipt time (epoch ms, sub-millisecond) of each request to the parent over IPC,
// batched, keyed by the `webhook-id` header. A path containing /fail-N/ answers 500 (with a
// 300-byte JSON error body) to the first N requests of each webhook-id, then 200 (the cost
// model's failure scenarios).
const http = require('node:http');

const report = process.argv.includes('--report');
let pending = [];
let flushScheduled = false;
let received = 0;

function flush() {
  flushScheduled = false;
  if (pending.length === 0 || !process.send) return;
  const batch = pending;
  pending = [];
  process.send({ type: 'receipts', receipts: batch });
}

const failures = new Map();
const ERROR_BODY = JSON.stringify({
  error: 'upstream ledger unavailable',
  detail: 'x'.repeat(240),
}).slice(0, 300);

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    received++;
    if (report) {
      pending.push([
        String(req.headers['webhook-id'] ?? ''),
        performance.timeOrigin + performance.now(),
      ]);
      if (!flushScheduled) {
        flushScheduled = true;
        setTimeout(flush, 5);
      }
    }
    const fail = /\/fail-(\d+)\//.exec(req.url ?? '');
    if (fail) {
      const id = String(req.headers['webhook-id'] ?? '');
      const seen = failures.get(id) ?? 0;
      failures.set(id, seen + 1);
      if (seen < Number(fail[1])) {
        res.writeHead(500, {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(ERROR_BODY)),
        });
        res.end(ERROR_BODY);
        return;
      }
    }
    res.writeHead(200, { 'content-length': '0' });
    res.end();
  });
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.maxRequestsPerSocket = 0;

process.on('message', (msg) => {
  if (msg && msg.type === 'count' && process.send) process.send({ type: 'count', received });
});
process.on('SIGTERM', () => process.exit(0));
// The parent closing our stdin means it is gone: do not outlive it.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
