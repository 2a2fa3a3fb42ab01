// The webhook load of `npm run bench -- logs`, in a process of its own (wrk cannot present the client
// certificate the webhooks require). It keeps its keep-alive connections between runs, so a run
// measures decisions, not TLS handshakes: each stdin line `{"path": "...", "seconds": N}` starts a
// run of POSTs of rotating bodies from `connections` concurrent loops, answered on stdout by one line
// {requests, seconds, perSecond, p50, p99, errors}.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { createInterface } from 'node:readline';
import { percentile } from './_measure.js';

interface Config {
  urls: Record<string, string>;
  bodies: Record<string, string[]>;
  caFile: string;
  certPem: string;
  keyPem: string;
  connections: number;
}

const c = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Config;
const agent = new Agent({ keepAlive: true, maxSockets: c.connections, ca: readFileSync(c.caFile), cert: c.certPem, key: c.keyPem });
const post = (url: string, body: string) =>
  new Promise<number>((resolve) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });

async function run(path: string, seconds: number) {
  const url = c.urls[path]!;
  const bodies = c.bodies[path]!;
  const latencies: number[] = [];
  let errors = 0;
  let i = 0;
  const t0 = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: c.connections }, async () => {
      while (Date.now() < deadline) {
        const s = process.hrtime.bigint();
        const status = await post(url, bodies[i++ % bodies.length]!);
        latencies.push(Number(process.hrtime.bigint() - s) / 1e6);
        if (status !== 200) errors++;
      }
    }),
  );
  const took = Number(process.hrtime.bigint() - t0) / 1e9;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    seconds: took,
    perSecond: latencies.length / took,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
  };
}

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const { path, seconds } = JSON.parse(line) as { path: string; seconds: number };
  console.log(JSON.stringify(await run(path, seconds)));
}
agent.destroy();
