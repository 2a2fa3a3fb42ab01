import { createConnection, createServer, type Server, type Socket } from 'node:net';

// A tiny TCP load balancer for tests: on 127.0.0.1, each NEW connection goes to the next backend in
// turn and its bytes pass through untouched (TLS included), as an L4 load balancer does. A test that
// must know where a request lands opens a fresh connection per request and may pick the next backend.

export interface RoundRobinProxy {
  port: number;
  /** Backend index per accepted connection, in order. */
  served: number[];
  /** Makes the next new connection go to backend `i` (the turn then goes on from there). */
  next(i: number): void;
  /** Points backend `i` at another port (a restarted instance). */
  setBackend(i: number, port: number): void;
  close(): Promise<void>;
}

export async function startRoundRobin(backendPorts: number[]): Promise<RoundRobinProxy> {
  const backends = [...backendPorts];
  let turn = 0;
  const served: number[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const i = turn;
    turn = (turn + 1) % backends.length;
    served.push(i);
    const upstream = createConnection({ host: '127.0.0.1', port: backends[i]! });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream);
    upstream.pipe(client);
    // A backend that refuses or dies resets the client's connection: the client sees a clean error.
    // Each side's error ends the other side once: a reset of an already closed socket errors again,
    // and answering that too would bounce between the two forever.
    // A client whose writable side `pipe` has already ended cannot be reset (libuv answers EINVAL and
    // the handle never closes, keeping the test process alive): destroy it plainly then.
    upstream.on('error', () => {
      if (client.destroyed) return;
      if (client.writableEnded) client.destroy();
      else client.resetAndDestroy();
    });
    client.on('error', () => {
      if (!upstream.destroyed) upstream.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    served,
    next(i) {
      turn = i % backends.length;
    },
    setBackend(i, port) {
      backends[i] = port;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
