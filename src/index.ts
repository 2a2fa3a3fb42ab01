// Kentra's programmatic API, for tests and for users' own test suites.
export { startKentra, defaultDataDir, type KentraOptions, type RunningKentra, type Endpoints } from './kentra.js';
export { applySeed, parseSeed, loadSeedFile, type SeedFile } from './seed/seed.js';
export { openStore, type Store } from './store/index.js';
