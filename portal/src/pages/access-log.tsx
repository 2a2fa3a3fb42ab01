import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { arm } from '../api';
import { Button, Dialog, ErrorBanner, Field, Loading, PageHeader, Select, Table } from '../ui/index';
import { ClusterChooser } from './cluster-chooser';
import type { ManagedCluster } from './azure-resources';
import './pages.css';

// A cluster's access log (docs/access-log.md): every authentication and authorization decision of
// its webhooks and built-in API, read through ARM's GET <cluster>/accessLogs with $filter on time,
// user and outcome, $top and nextLink paging. Reading it takes Microsoft.Insights/logs/AKSAudit/read.

const ACCESS_LOG_API = '2026-04-01';
const PAGE_SIZE = 50;

export interface AccessLogEntry {
  time: string;
  user: string;
  userObjectId?: string | null;
  groups: string[];
  groupsSource: string | null;
  verb: string | null;
  resource: string | null;
  subresource: string | null;
  apiGroup?: string | null;
  namespace: string | null;
  name: string | null;
  path: string | null;
  allowed: boolean;
  decision?: 'allowed' | 'denied' | 'noOpinion';
  reason: string;
  kind?: 'authentication' | 'authorization';
  source: string;
}

export interface AccessLogFilters {
  from: string;
  to: string;
  user: string;
  outcome: 'any' | 'allowed' | 'refused';
}
const EMPTY: AccessLogFilters = { from: '', to: '', user: '', outcome: 'any' };

export function accessLogFilter(f: AccessLogFilters): string | undefined {
  const clauses: string[] = [];
  if (f.from) clauses.push(`time ge ${new Date(f.from).toISOString()}`);
  if (f.to) clauses.push(`time le ${new Date(f.to).toISOString()}`);
  if (f.user.trim()) clauses.push(`user eq '${f.user.trim().replace(/'/g, "''")}'`);
  if (f.outcome !== 'any') clauses.push(`allowed eq ${f.outcome === 'allowed'}`);
  return clauses.length ? clauses.join(' and ') : undefined;
}

/** What the request was, as kubectl would name it. */
export function requestText(e: AccessLogEntry): string {
  if (e.kind === 'authentication') return 'sign-in (authentication)';
  if (e.path) return `${e.verb ?? ''} ${e.path}`.trim();
  const res = `${e.resource ?? ''}${e.subresource ? `/${e.subresource}` : ''}${e.apiGroup ? `.${e.apiGroup}` : ''}`;
  return `${e.verb ?? ''} ${res}${e.name ? ` ${e.name}` : ''}`.trim();
}

const when = (iso: string) => new Date(iso).toLocaleString();

export function AccessLog() {
  const [cluster, setCluster] = useState<ManagedCluster | null>(null);
  const [filters, setFilters] = useState<AccessLogFilters>(EMPTY);
  const [rows, setRows] = useState<AccessLogEntry[] | null>(null);
  const [next, setNext] = useState<string | undefined>();
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const [selected, setSelected] = useState<AccessLogEntry | null>(null);
  const set =
    <K extends keyof AccessLogFilters>(key: K) =>
    (value: string) =>
      setFilters((f) => ({ ...f, [key]: value }));

  const load = async (c: ManagedCluster, f: AccessLogFilters) => {
    setBusy(true);
    setError(undefined);
    try {
      const filter = accessLogFilter(f);
      const q = [`api-version=${ACCESS_LOG_API}`, `$top=${PAGE_SIZE}`, ...(filter ? [`$filter=${encodeURIComponent(filter)}`] : [])].join(
        '&',
      );
      const page = await arm<{ value: AccessLogEntry[]; nextLink?: string }>(`${c.id}/accessLogs?${q}`);
      setRows(page.value);
      setNext(page.nextLink);
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
      const page = await arm<{ value: AccessLogEntry[]; nextLink?: string }>(next);
      setRows((r) => [...(r ?? []), ...page.value]);
      setNext(page.nextLink);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    setRows(null);
    if (cluster) void load(cluster, filters);
  }, [cluster?.id]);

  return (
    <div>
      <PageHeader title="Cluster access log" />
      <p>
        Each decision of a cluster's webhooks and built-in API: who, with which groups and where they came from, what was asked and whether
        it was allowed. Reading it takes <code>Microsoft.Insights/logs/AKSAudit/read</code> on the cluster (Reader, Contributor or Owner).
      </p>
      <ClusterChooser onChange={setCluster} />
      {cluster && (
        <form
          class="inline-form filters"
          aria-label="Filter access log entries"
          onSubmit={(e) => {
            e.preventDefault();
            void load(cluster, filters);
          }}
        >
          <div class="field">
            <label for="access-from">From</label>
            <input id="access-from" type="datetime-local" value={filters.from} onInput={(e) => set('from')(e.currentTarget.value)} />
          </div>
          <div class="field">
            <label for="access-to">To</label>
            <input id="access-to" type="datetime-local" value={filters.to} onInput={(e) => set('to')(e.currentTarget.value)} />
          </div>
          <Field label="User name (exact)" name="user" value={filters.user} onValue={set('user')} autoComplete="off" />
          <Select
            label="Outcome"
            value={filters.outcome}
            onValue={set('outcome')}
            options={[
              { value: 'any', label: 'Any' },
              { value: 'allowed', label: 'Allowed' },
              { value: 'refused', label: 'Refused' },
            ]}
          />
          <div class="form-actions">
            <Button type="submit" variant="primary" disabled={busy}>
              Apply filters
            </Button>
          </div>
        </form>
      )}
      <ErrorBanner error={error} />
      {busy && rows === null && <Loading label="Loading the access log…" />}
      {rows && (
        <>
          <Table
            caption={`${rows.length} entr${rows.length === 1 ? 'y' : 'ies'} of ${cluster?.name ?? ''}${next ? ' (more available)' : ''}`}
            showCaption
            rows={rows.map((e, i) => ({ e, key: `${e.time}-${i}` }))}
            rowKey={(r) => r.key}
            empty="No entry matches these filters."
            columns={[
              {
                title: 'Time',
                cell: ({ e }) => (
                  <Button variant="link" onClick={() => setSelected(e)} aria-label={`Details of the decision at ${when(e.time)}`}>
                    {when(e.time)}
                  </Button>
                ),
              },
              { title: 'User', cell: ({ e }) => e.user || '(not authenticated)' },
              { title: 'Request', cell: ({ e }) => requestText(e) },
              { title: 'Namespace', cell: ({ e }) => e.namespace ?? '' },
              { title: 'Outcome', cell: ({ e }) => (e.allowed ? 'Allowed' : 'Refused') },
              { title: 'Groups from', cell: ({ e }) => e.groupsSource ?? '' },
              { title: 'Source', cell: ({ e }) => e.source },
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
      <Dialog title="Access decision" open={selected !== null} onClose={() => setSelected(null)}>
        {selected && (
          <dl class="facts" data-testid="access-decision">
            {(
              [
                ['Time', selected.time],
                ['Kind', selected.kind ?? ''],
                ['Outcome', `${selected.allowed ? 'Allowed' : 'Refused'}${selected.decision ? ` (${selected.decision})` : ''}`],
                ['Reason', selected.reason],
                ['User', selected.user],
                ['User object ID', selected.userObjectId ?? ''],
                ['Groups', selected.groups.join(', ')],
                ['Groups from', selected.groupsSource ?? ''],
                ['Request', requestText(selected)],
                ['Namespace', selected.namespace ?? ''],
                ['Source', selected.source],
              ] as [string, string][]
            ).map(([k, v]) => (
              <Fragment key={k}>
                <dt>{k}</dt>
                <dd>{v || '—'}</dd>
              </Fragment>
            ))}
          </dl>
        )}
      </Dialog>
    </div>
  );
}
