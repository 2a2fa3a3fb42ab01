export type * from './types.js';
export type { Store, Updater, Page, ListOptions } from './store.js';
export { compareIds } from './store.js';
export { StoreError, isStoreUnavailable, type StoreErrorCode } from './errors.js';
export { openStore, storeKind, type OpenStoreOptions } from './open.js';
