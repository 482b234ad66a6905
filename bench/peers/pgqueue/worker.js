// graphile-worker process (forked by bench.js): run() with concurrency C.
// Reports job successes to the parent over IPC (coalesced once per event-loop turn).
'use strict';
const http = require('node:http');
const { EventEmitter } = require('node:events');
const { run, Logger } = require('graphile-worker');

const CONC = Number(process.env.CONCURRENCY || 50);
const HTTP = process.env.HTTP === '1';
const NGINX_PORT = Number(process.env.NGINX_PORT || 18080);
const BATCHED = process.env.BATCHED === '1';

const agent = new http.Agent({ keepAlive: true, maxSockets: CONC });
const BODY = JSON.stringify({
  task: 'blog', parent: 'page-0000000001', id: 'blog-000123',
  url: 'https://example.invalid/blog/123',
  payload: { title: 'Hello world', author: 'someone', tags: ['a', 'b', 'c'], n: 123456 },
  attempt: 1, pad: 'xxxxxx',
});
function post() {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: NGINX_PORT, path: '/leaf', method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error('HTTP ' + res.statusCode));
        try { resolve(JSON.parse(Buffer.concat(chunks).toString())); } catch (e) { reject(e); }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(BODY);
  });
}

let completed = 0, failed = 0, pending = false;
function flush() {
  pending = false;
  if (completed || failed) { process.send({ completed, failed }); completed = 0; failed = 0; }
}
function bump() { if (!pending) { pending = true; setImmediate(flush); } }

const events = new EventEmitter();
events.on('job:success', () => { completed++; bump(); });
events.on('job:failed', ({ error }) => { failed++; bump(); if (failed < 5) console.error('job failed', error && error.message); });

// warnings and errors only (the default logger prints a line per job)
const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') console.error(`[${level}] ${message}`);
});

let runner = null, closing = false;
async function shutdown() {
  if (closing) return; closing = true;
  try { if (runner) await runner.stop(); } catch (_) { /* ignore */ }
  agent.destroy();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.on('disconnect', shutdown);

(async () => {
  runner = await run({
    connectionString: process.env.DATABASE_URL,
    concurrency: CONC,
    maxPoolSize: CONC + 2,
    noHandleSignals: true,
    pollInterval: 2000,
    logger,
    events,
    taskList: {
      noop: HTTP ? async () => { await post(); } : async () => {},
    },
    preset: BATCHED ? { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } } : undefined,
  });
  process.send({ ready: true });
})().catch((e) => { console.error(e); process.exit(1); });
