// A tiny webhook receiver for the e2e run: records every request on
// 127.0.0.1 and answers 200, so a scenario can see what Conveyor sent.
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';

export async function startReceiver(log) {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method, path: req.url, headers: req.headers, body, at: Date.now() });
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok from the e2e receiver');
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  log(`webhook receiver on http://127.0.0.1:${port}`);
  return {
    url: (p = '/hook') => `http://127.0.0.1:${port}${p}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Whether `request` carries a valid `Conveyor-Signature` for `secret`:
 *  `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`. */
export function signatureValid(request, secret) {
  const header = String(request.headers['conveyor-signature'] ?? '');
  const parts = Object.fromEntries(header.split(',').map((kv) => kv.split('=', 2)));
  if (!parts.t || !parts.v1) return false;
  const expected = createHmac('sha256', secret).update(`${parts.t}.${request.body}`).digest('hex');
  return expected.length === parts.v1.length && timingSafeEqual(Buffer.from(expected), Buffer.from(parts.v1));
}
