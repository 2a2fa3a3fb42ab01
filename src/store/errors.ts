export type StoreErrorCode = 'conflict' | 'not_found' | 'invalid';

/** The only error the store throws on purpose; the protocol edges map `code` to their own shapes. */
export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

// SQLSTATE classes and codes of a database that is down, restarting, overloaded or too slow: the request
// may succeed later, so the edges answer 503 with Retry-After rather than 500.
const PG_TRANSIENT_CLASSES = ['08']; // connection exception
const PG_TRANSIENT_CODES = new Set([
  '57P01',
  '57P02',
  '57P03', // admin_shutdown, crash_shutdown, cannot_connect_now
  '57014', // query_canceled (statement_timeout)
  '53300',
  '53400', // too_many_connections, configuration_limit_exceeded
  '40001',
  '40P01', // serialization_failure, deadlock_detected
  '55P03', // lock_not_available
  '25P03', // idle_in_transaction_session_timeout
]);
const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);
const PG_CLIENT_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'is not queryable',
  'Client was closed',
  'Connection terminated due to connection timeout',
];

/** Whether `err` says the store cannot be reached or answer now (not that the request was wrong). */
export function isStoreUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  const code = typeof e.code === 'string' ? e.code : '';
  if (/^[0-9A-Z]{5}$/.test(code) && (PG_TRANSIENT_CODES.has(code) || PG_TRANSIENT_CLASSES.includes(code.slice(0, 2)))) return true;
  if (NET_CODES.has(code)) return true;
  if (/^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|PROTOCOL)/.test(code)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return PG_CLIENT_MESSAGES.some((m) => message.includes(m));
}
