// The webhook load of `npm run bench -- logs`, in a process of its own (wrk cannot present the client
// certificate the webhooks require): keep-alive HTTPS POSTs of rotating bodies from `connections`
// concurrent loops for `seconds`, printing {requests, seconds, perSecond, p50, p99, errors} as JSON.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { percentile } from './_measure.js';

interface Config {
  url: string;
  bodies: string[];
  caFile: string;
  certPem: string;
  keyPem: string;
  connections: number;
  seconds: number;
}

const c = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Config;
const agent = new Agent({ keepAlive: true, maxSockets: c.connections, ca: readFileSync(c.caFile), cert: c.certPem, key: c.keyPem });
const post = (body: string) =>
  new Promise<number>((resolve) => {
    const req = request(c.url, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });

const latencies: number[] = [];
let errors = 0;
let i = 0;
const t0 = process.hrtime.bigint();
const deadline = Date.now() + c.seconds * 1000;
await Promise.all(
  Array.from({ length: c.connections }, async () => {
    while (Date.now() < deadline) {
      const s = process.hrtime.bigint();
      const status = await post(c.bodies[i++ % c.bodies.length]!);
      latencies.push(Number(process.hrtime.bigint() - s) / 1e6);
      if (status !== 200) errors++;
    }
  }),
);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
latencies.sort((a, b) => a - b);
agent.destroy();
console.log(
  JSON.stringify({
    requests: latencies.length,
    seconds,
    perSecond: latencies.length / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
  }),
);
