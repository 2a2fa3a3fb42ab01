// HTTPS load from a Node process of its own, for servers that only answer a client certificate
// (Kentra's TokenReview webhook, Guard): wrk cannot present one. Each connection is kept alive and
// carries one request at a time, as the kube-apiserver's webhook client does; requests are pre-encoded
// bytes written straight to the TLS socket and responses are parsed only as far as the status line
// and Content-Length, so that the generator costs as little as possible per request. Whether it is
// the bottleneck is measured, not assumed: the bench runs it and wrk against the same bare HTTPS
// server and prints both rates.
//
// As a module: `runLoad(options)` spawns `node dist/bench/_load-worker.js <options.json>` and returns
// its result. As a process: runs the load described by the file and prints the result as JSON.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { percentile } from './_measure.js';

export interface LoadOptions {
  url: string;
  /** Request bodies (POST), used in turn across every connection. */
  bodies: string[];
  headers?: Record<string, string>;
  /** Trusted CA (PEM) for the server's certificate; the certificate is verified. */
  caPem: string;
  /** Client certificate and key (PEM). */
  certPem?: string;
  keyPem?: string;
  connections?: number;
  /** Stop after this long… */
  seconds?: number;
  /** …or after this many requests (e.g. each body once), whichever comes first. */
  count?: number;
  /** Server name for SNI and the certificate check (default: the URL's host). */
  servername?: string;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  /** Responses that were not 2xx, plus connection errors. */
  errors: number;
  /** Count per status code. */
  statuses: Record<string, number>;
  /** CPU time the generator used (user + system), seconds. */
  cpuSeconds: number;
}

/** Runs the load in a process of its own and returns what it measured. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'kentra-load-'));
  try {
    const file = join(dir, 'load.json');
    writeFileSync(file, JSON.stringify(o));
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, [fileURLToPath(import.meta.url), file], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      p.stdout.on('data', (c: Buffer) => (text += c.toString()));
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`the load worker exited ${code}`))));
    });
    return JSON.parse(out) as LoadResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const CRLF2 = Buffer.from('\r\n\r\n');

async function main(file: string): Promise<void> {
  const o = JSON.parse(readFileSync(file, 'utf8')) as LoadOptions;
  const url = new URL(o.url);
  const port = Number(url.port || 443);
  const headerText = Object.entries(o.headers ?? {})
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  // Every request pre-encoded once: the generator only writes bytes during the run.
  const requests = o.bodies.map((b) =>
    Buffer.from(
      `POST ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n${headerText}content-length: ${Buffer.byteLength(b)}\r\n\r\n${b}`,
    ),
  );
  const connections = o.connections ?? 32;
  const count = o.count ?? Infinity;
  const deadlineMs = (o.seconds ?? 5) * 1000;
  const latencies = new Float64Array(Math.min(count, 5_000_000));
  let n = 0;
  let started = 0;
  let errors = 0;
  let next = 0;
  const statuses: Record<string, number> = {};
  let stop = false;
  // Every connection is made (TLS handshake with the client certificate) before the clock starts,
  // and a duration-bound run first warms up for a second (JIT, both ends) without counting.
  const warmupMs = o.count === undefined ? 1000 : 0;
  let counting = warmupMs === 0;
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  let ready = 0;
  const tStart = t0;
  let allReady!: () => void;
  const connected = new Promise<void>((r) => (allReady = r));
  const startClock = () => {
    cpu0 = process.cpuUsage();
    t0 = performance.now();
    n = 0;
    errors = 0;
    for (const k of Object.keys(statuses)) delete statuses[k];
  };

  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const socket: TLSSocket = connect({
        host: url.hostname,
        port,
        servername: o.servername ?? (/^[\d.]+$/.test(url.hostname) ? undefined : url.hostname),
        ca: o.caPem,
        cert: o.certPem,
        key: o.keyPem,
        rejectUnauthorized: true,
      });
      socket.setNoDelay(true);
      let buf: Buffer = Buffer.alloc(0);
      let sentAt = 0;
      const send = () => {
        if (!counting && performance.now() - t0 >= warmupMs) {
          counting = true;
          startClock();
        }
        if (stop || (counting && (started >= count || performance.now() - t0 >= deadlineMs))) {
          stop = true;
          socket.end();
          return;
        }
        started++;
        sentAt = performance.now();
        socket.write(requests[next++ % requests.length]!);
      };
      let counted = false;
      const isReady = () => {
        if (!counted && (counted = true) && ++ready === connections) allReady();
      };
      socket.on('secureConnect', () => {
        isReady();
        void connected.then(() => {
          if (ready === connections && t0 === tStart) {
            // the first connection to see all of them ready starts the clock
            t0 = performance.now();
            if (counting) startClock();
          }
          send();
        });
      });
      socket.on('data', (chunk: Buffer) => {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        for (;;) {
          const end = buf.indexOf(CRLF2);
          if (end < 0) return;
          const head = buf.toString('latin1', 0, end);
          const status = head.slice(9, 12);
          let length = 0;
          const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
          if (m) length = Number(m[1]);
          else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
            const term = buf.indexOf('0\r\n\r\n', end + 4);
            if (term < 0) return;
            length = term + 5 - (end + 4);
          }
          if (buf.length < end + 4 + length) return;
          buf = buf.subarray(end + 4 + length);
          if (n < latencies.length) latencies[n] = performance.now() - sentAt;
          n++;
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (status[0] !== '2') errors++;
          send();
        }
      });
      socket.on('error', () => {
        isReady();
        errors++;
        resolve();
      });
      socket.on('close', () => resolve());
    });

  await Promise.all(Array.from({ length: connections }, one));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const sorted = Array.from(latencies.subarray(0, Math.min(n, latencies.length))).sort((a, b) => a - b);
  const result: LoadResult = {
    requests: n,
    seconds,
    perSecond: n / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    errors,
    statuses,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
  process.stdout.write(JSON.stringify(result));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main(process.argv[2]!);
}
