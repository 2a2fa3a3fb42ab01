#!/usr/bin/env node
// The `kentra` command. A CommonJS file so that it runs before node's ES module loader first uses libuv's
// thread pool, which fixes the pool's size: Kentra signs and verifies tokens on that pool, and node's
// default of four threads on a machine with fewer cores makes them contend with the event loop (on two
// cores, client-credentials tokens per second rose by about a sixth with two threads; docs/performance.md).
// UV_THREADPOOL_SIZE set by the user wins.
import { availableParallelism } from 'node:os';

if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = String(Math.min(128, Math.max(2, availableParallelism())));
void import('./kentra.js');
