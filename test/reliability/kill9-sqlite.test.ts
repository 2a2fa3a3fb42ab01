import { killDuringWritesTest } from './kill9.js';

killDuringWritesTest({ name: 'SQLite' });
