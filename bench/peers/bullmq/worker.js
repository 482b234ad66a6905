// BullMQ worker process (forked by bench.js). One Worker, concurrency C, on queue Q.
// Reports completions to the parent over IPC (coalesced once per event-loop turn).
'use strict';
const http = require('node:http');
const { Worker } = require('bullmq');

const QUEUE = process.env.QUEUE;
const CONC = Number(process.env.CONCURRENCY || 50);
const HTTP = process.env.HTTP === '1';
const REDIS_PORT = Number(process.env.REDIS_PORT);
const NGINX_PORT = Number(process.env.NGINX_PORT || 18080);

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

const processor = HTTP
  ? async (job) => { const r = await post(); return { ok: r.ok === true, n: job.name }; }
  : async (job) => ({ ok: true, n: job.name });

let completed = 0, failed = 0, pending = false;
function flush() {
  pending = false;
  if (completed || failed) { process.send({ completed, failed }); completed = 0; failed = 0; }
}
function bump() { if (!pending) { pending = true; setImmediate(flush); } }

const worker = new Worker(QUEUE, processor, {
  connection: { host: '127.0.0.1', port: REDIS_PORT, maxRetriesPerRequest: null },
  concurrency: CONC,
});
worker.on('completed', () => { completed++; bump(); });
worker.on('failed', (job, err) => {
  failed++; bump();
  if (failed < 5) console.error('job failed', job && job.name, err && err.message);
});
worker.on('error', (e) => console.error('worker error', e.message));

let closing = false;
async function shutdown() {
  if (closing) return; closing = true;
  try { await worker.close(true); } catch (_) { /* ignore */ }
  agent.destroy();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.on('disconnect', shutdown); // parent gone -> exit

worker.waitUntilReady().then(() => process.send({ ready: true }));
