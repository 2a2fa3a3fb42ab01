import { useEffect, useState } from 'preact/hooks';
import { graph } from '../api';
import { Button, ErrorBanner, Loading, Panel, Table } from '../ui';

// The sign-in log as Entra's admin center shows it: Graph GET /v1.0/auditLogs/signIns with $filter on
// time, user, app, status and kind of sign-in, $top and @odata.nextLink paging, and one row's details.

interface SignIn {
  id: string;
  createdDateTime: string;
  userDisplayName: string | null;
  userPrincipalName: string | null;
  userId: string;
  appId: string;
  appDisplayName: string | null;
  ipAddress: string | null;
  clientAppUsed: string | null;
  correlationId: string | null;
  isInteractive: boolean;
  resourceDisplayName: string | null;
  resourceId: string | null;
  status: { errorCode: number; failureReason: string | null; additionalDetails: string | null };
  signInEventTypes?: string[];
  servicePrincipalName?: string;
}

interface SignInPage {
  value: SignIn[];
  '@odata.nextLink'?: string;
}

interface Filters {
  from: string;
  to: string;
  user: string;
  app: string;
  status: 'any' | 'success' | 'code';
  errorCode: string;
  eventType: 'interactiveUser' | 'nonInteractiveUser' | 'servicePrincipal' | 'all';
}

const PAGE_SIZE = 25;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** The $filter Graph takes for these filters (security.md §8.1); a value that cannot be sent is an error shown before asking. */
export function signInFilter(f: Filters): string | undefined {
  const clauses: string[] = [];
  if (f.from) clauses.push(`createdDateTime ge ${new Date(f.from).toISOString()}`);
  if (f.to) clauses.push(`createdDateTime le ${new Date(f.to).toISOString()}`);
  const user = f.user.trim();
  if (user) clauses.push(GUID.test(user) ? `userId eq ${quote(user)}` : `userPrincipalName eq ${quote(user)}`);
  const app = f.app.trim();
  if (app) {
    if (!GUID.test(app)) throw new Error('The application filter takes an application (client) ID, a GUID.');
    clauses.push(`appId eq ${quote(app)}`);
  }
  if (f.status === 'success') clauses.push('status/errorCode eq 0');
  if (f.status === 'code') {
    if (!/^\d{1,9}$/.test(f.errorCode.trim())) throw new Error('The error code is a number, such as 50126.');
    clauses.push(`status/errorCode eq ${f.errorCode.trim()}`);
  }
  if (f.eventType === 'all')
    clauses.push("signInEventTypes/any(t: t eq 'interactiveUser' or t eq 'nonInteractiveUser' or t eq 'servicePrincipal')");
  else if (f.eventType !== 'interactiveUser') clauses.push(`signInEventTypes/any(t: t eq '${f.eventType}')`);
  return clauses.length ? clauses.join(' and ') : undefined;
}

const EMPTY: Filters = { from: '', to: '', user: '', app: '', status: 'any', errorCode: '', eventType: 'interactiveUser' };

const when = (iso: string) => new Date(iso).toLocaleString();
const statusText = (s: SignIn['status']) => (s.errorCode === 0 ? 'Success' : `Failure (${s.errorCode})`);

export function SignInLogPage() {
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [rows, setRows] = useState<SignIn[] | null>(null);
  const [next, setNext] = useState<string | undefined>();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [selected, setSelected] = useState<SignIn | null>(null);

  const search = async (f: Filters) => {
    setError(null);
    let filter: string | undefined;
    try {
      filter = signInFilter(f);
    } catch (err) {
      setError(err);
      return;
    }
    setBusy(true);
    try {
      const q = new URLSearchParams({ $top: String(PAGE_SIZE) });
      if (filter) q.set('$filter', filter);
      const page = await graph<SignInPage>(`/auditLogs/signIns?${q.toString().replace(/%24/g, '$')}`);
      setRows(page.value);
      setNext(page['@odata.nextLink']);
    } catch (err) {
      setRows(null);
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const more = async () => {
    if (!next) return;
    setBusy(true);
    try {
      const page = await graph<SignInPage>(next);
      setRows((r) => [...(r ?? []), ...page.value]);
      setNext(page['@odata.nextLink']);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    void search(EMPTY);
  }, []);

  const set =
    <K extends keyof Filters>(key: K) =>
    (e: Event) =>
      setFilters({ ...filters, [key]: (e.currentTarget as HTMLInputElement).value });

  return (
    <section aria-labelledby="sign-in-log-title">
      <h1 id="sign-in-log-title">Sign-in logs</h1>
      <p>
        Every sign-in and token request of this tenant, newest first, read through Microsoft Graph (<code>GET /v1.0/auditLogs/signIns</code>
        ). Reading it takes a reader role: Global Administrator, Global Reader, Reports Reader or a Security role.
      </p>
      <form
        class="filters"
        aria-label="Filter sign-ins"
        onSubmit={(e) => {
          e.preventDefault();
          void search(filters);
        }}
      >
        <label>
          From
          <input type="datetime-local" name="from" value={filters.from} onInput={set('from')} />
        </label>
        <label>
          To
          <input type="datetime-local" name="to" value={filters.to} onInput={set('to')} />
        </label>
        <label>
          User (UPN or object ID)
          <input type="text" name="user" value={filters.user} onInput={set('user')} autoComplete="off" />
        </label>
        <label>
          Application (client) ID
          <input type="text" name="app" value={filters.app} onInput={set('app')} autoComplete="off" />
        </label>
        <label>
          Status
          <select name="status" value={filters.status} onChange={set('status')}>
            <option value="any">Any</option>
            <option value="success">Success</option>
            <option value="code">Failure with error code…</option>
          </select>
        </label>
        {filters.status === 'code' && (
          <label>
            Error code (AADSTS number)
            <input type="text" inputMode="numeric" name="errorCode" value={filters.errorCode} onInput={set('errorCode')} />
          </label>
        )}
        <label>
          Kind of sign-in
          <select name="eventType" value={filters.eventType} onChange={set('eventType')}>
            <option value="interactiveUser">User sign-ins (interactive)</option>
            <option value="nonInteractiveUser">User sign-ins (non-interactive)</option>
            <option value="servicePrincipal">Service principal sign-ins</option>
            <option value="all">All kinds</option>
          </select>
        </label>
        <Button type="submit" disabled={busy}>
          Apply filters
        </Button>
        <Button
          type="button"
          variant="secondary"
          onClick={() => {
            setFilters(EMPTY);
            void search(EMPTY);
          }}
        >
          Reset
        </Button>
      </form>
      {error !== null && <ErrorBanner error={error} />}
      {busy && rows === null && <Loading label="Loading sign-ins" />}
      {rows && (
        <>
          <Table
            caption={`${rows.length} sign-in${rows.length === 1 ? '' : 's'}${next ? ' (more available)' : ''}`}
            columns={['Date', 'User', 'Application', 'Resource', 'Status', 'IP address', 'Client app']}
            rows={rows.map((s) => ({
              key: s.id,
              cells: [
                <Button variant="link" onClick={() => setSelected(s)} aria-label={`Details of the sign-in at ${when(s.createdDateTime)}`}>
                  {when(s.createdDateTime)}
                </Button>,
                s.userPrincipalName ?? s.servicePrincipalName ?? '',
                s.appDisplayName ?? s.appId,
                s.resourceDisplayName ?? '',
                statusText(s.status),
                s.ipAddress ?? '',
                s.clientAppUsed ?? '',
              ],
            }))}
            empty="No sign-in matches these filters."
          />
          {next && (
            <Button onClick={() => void more()} disabled={busy}>
              Load more
            </Button>
          )}
        </>
      )}
      {selected && (
        <Panel title="Sign-in details" onClose={() => setSelected(null)}>
          <SignInDetails s={selected} />
        </Panel>
      )}
    </section>
  );
}

function SignInDetails({ s }: { s: SignIn }) {
  const rows: [string, string][] = [
    ['Date', `${when(s.createdDateTime)} (${s.createdDateTime})`],
    ['Request ID', s.id],
    ['Correlation ID', s.correlationId ?? ''],
    ['Status', s.status.errorCode === 0 ? 'Success' : 'Failure'],
    ['Sign-in error code', String(s.status.errorCode)],
    ['Failure reason', s.status.failureReason ?? ''],
    ['Additional details', s.status.additionalDetails ?? ''],
    ['User', s.userDisplayName ?? ''],
    ['Username', s.userPrincipalName ?? ''],
    ['User ID', s.userId],
    ['Application', s.appDisplayName ?? ''],
    ['Application ID', s.appId],
    ['Resource', s.resourceDisplayName ?? ''],
    ['Resource ID', s.resourceId ?? ''],
    ['Client app', s.clientAppUsed ?? ''],
    ['IP address', s.ipAddress ?? ''],
    ['Interactive', s.isInteractive ? 'Yes' : 'No'],
    ['Kind', (s.signInEventTypes ?? []).join(', ')],
  ];
  return (
    <dl class="details">
      {rows.map(([k, v]) => (
        <>
          <dt>{k}</dt>
          <dd>{v || '—'}</dd>
        </>
      ))}
    </dl>
  );
}
