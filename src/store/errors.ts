export type StoreErrorCode = 'conflict' | 'not_found' | 'invalid';

/** The only error the store throws on purpose; the protocol edges map `code` to their own shapes. */
export class StoreError extends Error {
  constructor(readonly code: StoreErrorCode, message: string) {
    super(message);
    this.name = 'StoreError';
  }
}
