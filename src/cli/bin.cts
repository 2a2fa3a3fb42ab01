#!/usr/bin/env node
// The `kentra` command. A CommonJS file so that it runs before node's ES module loader first uses libuv's
// thread pool, which fixes the pool's size: Kentra signs and verifies tokens on that pool, and node's
// default of four threads on a machine with fewer cores makes them contend with the event loop (on two
// cores, client-credentials tokens per second rose by about a sixth with two threads; docs/performance.md).
// UV_THREADPOOL_SIZE set by the user wins.
//
// It also turns off V8's allocation-site pretenuring before any of Kentra is loaded. V8 allocates objects
// straight into the old generation from a site whose objects it saw surviving; on PostgreSQL it came to
// do so for the `pg` driver's rows, and then every young object a request read from the store was
// promoted by the next scavenge: under ARM GETs each scavenge promoted 0.7 MB and paused 1.2 ms instead
// of 3 KB and 0.6 ms, and the GETs' p99 followed (docs/performance-history.md, "Stop 26"). A server's requests make
// short-lived objects; its long-lived ones (caches, keys) are few. `node --allocation-site-pretenuring`
// given by the user wins.
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';

if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = String(Math.min(128, Math.max(2, availableParallelism())));
if (!process.execArgv.some((a) => /^--(no-)?allocation[-_]site[-_]pretenuring$/.test(a)))
  setFlagsFromString('--no-allocation-site-pretenuring');
void import('./kentra.js');
