// Loopback webhook receiver run as a separate process by the benchmarks, so its CPU is not
// charged to the process being measured. Answers 200 with an empty body as soon as the
// request body has arrived. Prints {"port":N} on stdout once listening. With --report it
// sends the receipt time (epoch ms, sub-millisecond) of each request to the parent over IPC,
// batched, keyed by the `webhook-id` header.
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

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    received++;
    if (report) {
      pending.push([String(req.headers['webhook-id'] ?? ''), performance.timeOrigin + performance.now()]);
      if (!flushScheduled) {
        flushScheduled = true;
        setTimeout(flush, 5);
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
