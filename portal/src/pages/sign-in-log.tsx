import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { graph } from '../api';
import { Button, Dialog, ErrorBanner, Field, Loading, PageHeader, Select, Table } from '../ui/index';
import './pages.css';

// The sign-in log as Entra's admin center shows it: Graph GET /v1.0/auditLogs/signIns with $filter on
// time, user, app, status and kind of sign-in, $top and @odata.nextLink paging, and one row's details.

export interface SignIn {
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

export interface SignInFilters {
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

/** The $filter Graph takes for these filters (reference/security.md §8.1); a value Graph would refuse is refused here first. */
export function signInFilter(f: SignInFilters): string | undefined {
  const clauses: string[] = [];
  if (f.from) clauses.push(`createdDateTime ge ${new Date(f.from).toISOString()}`);
  if (f.to) clauses.push(`createdDateTime le ${new Date(f.to).toISOString()}`);
  const user = f.user.trim();
  if (user) clauses.push(GUID.test(user) ? `userId eq ${quote(user)}` : `userPrincipalName eq ${quote(user)}`);
  const app = f.app.trim();
  if (app) {
    if (!GUID.test(app)) throw new Error('The application filter takes an application (client) ID: a GUID.');
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

const EMPTY: SignInFilters = { from: '', to: '', user: '', app: '', status: 'any', errorCode: '', eventType: 'interactiveUser' };
const when = (iso: string) => new Date(iso).toLocaleString();
const statusText = (s: SignIn['status']) => (s.errorCode === 0 ? 'Success' : `Failure (${s.errorCode})`);

export function SignInLog() {
  const [filters, setFilters] = useState<SignInFilters>(EMPTY);
  const [rows, setRows] = useState<SignIn[] | null>(null);
  const [next, setNext] = useState<string | undefined>();
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const [selected, setSelected] = useState<SignIn | null>(null);
  const set =
    <K extends keyof SignInFilters>(key: K) =>
    (value: string) =>
      setFilters((f) => ({ ...f, [key]: value }));

  const search = async (f: SignInFilters) => {
    setError(undefined);
    let filter: string | undefined;
    try {
      filter = signInFilter(f);
    } catch (err) {
      setError(err);
      return;
    }
    setBusy(true);
    try {
      const q = [`$top=${PAGE_SIZE}`, ...(filter ? [`$filter=${encodeURIComponent(filter)}`] : [])].join('&');
      const page = await graph<SignInPage>(`/auditLogs/signIns?${q}`);
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

  return (
    <div>
      <PageHeader title="Sign-in logs" />
      <p>
        Sign-ins and token requests of this tenant, newest first, from Microsoft Graph (<code>GET /v1.0/auditLogs/signIns</code>). Reading
        them takes a reader role: Global Administrator, Global Reader, Reports Reader or a Security role.
      </p>
      <form
        class="inline-form filters"
        aria-label="Filter sign-ins"
        onSubmit={(e) => {
          e.preventDefault();
          void search(filters);
        }}
      >
        <div class="field">
          <label for="signins-from">From</label>
          <input id="signins-from" type="datetime-local" value={filters.from} onInput={(e) => set('from')(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="signins-to">To</label>
          <input id="signins-to" type="datetime-local" value={filters.to} onInput={(e) => set('to')(e.currentTarget.value)} />
        </div>
        <Field label="User (UPN or object ID)" value={filters.user} onValue={set('user')} autoComplete="off" name="user" />
        <Field label="Application (client) ID" value={filters.app} onValue={set('app')} autoComplete="off" name="app" />
        <Select
          label="Status"
          value={filters.status}
          onValue={set('status')}
          options={[
            { value: 'any', label: 'Any' },
            { value: 'success', label: 'Success' },
            { value: 'code', label: 'Failure with error code…' },
          ]}
        />
        {filters.status === 'code' && (
          <Field label="Error code (AADSTS number)" value={filters.errorCode} onValue={set('errorCode')} name="errorCode" />
        )}
        <Select
          label="Kind of sign-in"
          value={filters.eventType}
          onValue={set('eventType')}
          options={[
            { value: 'interactiveUser', label: 'User sign-ins (interactive)' },
            { value: 'nonInteractiveUser', label: 'User sign-ins (non-interactive)' },
            { value: 'servicePrincipal', label: 'Service principal sign-ins' },
            { value: 'all', label: 'All kinds' },
          ]}
        />
        <div class="form-actions">
          <Button type="submit" variant="primary" disabled={busy}>
            Apply filters
          </Button>
          <Button
            onClick={() => {
              setFilters(EMPTY);
              void search(EMPTY);
            }}
          >
            Reset
          </Button>
        </div>
      </form>
      <ErrorBanner error={error} />
      {busy && rows === null && <Loading label="Loading sign-ins…" />}
      {rows && (
        <>
          <Table
            caption={`${rows.length} sign-in${rows.length === 1 ? '' : 's'}${next ? ' (more available)' : ''}`}
            showCaption
            rows={rows}
            rowKey={(s) => s.id}
            empty="No sign-in matches these filters."
            columns={[
              {
                title: 'Date',
                cell: (s) => (
                  <Button variant="link" onClick={() => setSelected(s)} aria-label={`Details of the sign-in at ${when(s.createdDateTime)}`}>
                    {when(s.createdDateTime)}
                  </Button>
                ),
              },
              { title: 'User', cell: (s) => s.userPrincipalName ?? s.servicePrincipalName ?? '' },
              { title: 'Application', cell: (s) => s.appDisplayName ?? s.appId },
              { title: 'Resource', cell: (s) => s.resourceDisplayName ?? '' },
              { title: 'Status', cell: (s) => statusText(s.status) },
              { title: 'IP address', cell: (s) => s.ipAddress ?? '' },
              { title: 'Client app', cell: (s) => s.clientAppUsed ?? '' },
            ]}
          />
          {next && (
            <div class="form-actions">
              <Button onClick={() => void more()} disabled={busy}>
                Load more
              </Button>
            </div>
          )}
        </>
      )}
      <Dialog title="Sign-in details" open={selected !== null} onClose={() => setSelected(null)}>
        {selected && <SignInDetails s={selected} />}
      </Dialog>
    </div>
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
    ['Kind of sign-in', (s.signInEventTypes ?? []).join(', ')],
  ];
  return (
    <dl class="facts" data-testid="sign-in-details">
      {rows.map(([k, v]) => (
        <Fragment key={k}>
          <dt>{k}</dt>
          <dd>{v || '—'}</dd>
        </Fragment>
      ))}
    </dl>
  );
}
