import { useEffect, useState } from 'preact/hooks';
import { arm } from '../api';
import { Button, ErrorBanner, Loading, Panel, Table } from '../ui';
import { ClusterChooser } from './cluster-chooser';
import type { ManagedCluster } from './azure-resources';

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

interface Filters {
  from: string;
  to: string;
  user: string;
  outcome: 'any' | 'allowed' | 'refused';
}
const EMPTY: Filters = { from: '', to: '', user: '', outcome: 'any' };

export function accessLogFilter(f: Filters): string | undefined {
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

export function AccessLogPage() {
  const [cluster, setCluster] = useState<ManagedCluster | null>(null);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [rows, setRows] = useState<AccessLogEntry[] | null>(null);
  const [next, setNext] = useState<string | undefined>();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [selected, setSelected] = useState<AccessLogEntry | null>(null);

  const load = async (c: ManagedCluster, f: Filters) => {
    setBusy(true);
    setError(null);
    try {
      const q = new URLSearchParams({ 'api-version': ACCESS_LOG_API, $top: String(PAGE_SIZE) });
      const filter = accessLogFilter(f);
      if (filter) q.set('$filter', filter);
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
    if (cluster) void load(cluster, filters);
  }, [cluster?.id]);

  const set =
    <K extends keyof Filters>(key: K) =>
    (e: Event) =>
      setFilters({ ...filters, [key]: (e.currentTarget as HTMLInputElement).value });

  return (
    <section aria-labelledby="access-log-title">
      <h1 id="access-log-title">Cluster access log</h1>
      <p>
        Each decision of a cluster's webhooks and built-in API: who, with which groups and from where they came, what they asked and whether
        it was allowed. Reading it takes <code>Microsoft.Insights/logs/AKSAudit/read</code> on the cluster (Reader, Contributor or Owner).
      </p>
      <ClusterChooser onChange={setCluster} />
      {cluster && (
        <form
          class="filters"
          aria-label="Filter access log entries"
          onSubmit={(e) => {
            e.preventDefault();
            void load(cluster, filters);
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
            User name (exact)
            <input type="text" name="user" value={filters.user} onInput={set('user')} autoComplete="off" />
          </label>
          <label>
            Outcome
            <select name="outcome" value={filters.outcome} onChange={set('outcome')}>
              <option value="any">Any</option>
              <option value="allowed">Allowed</option>
              <option value="refused">Refused</option>
            </select>
          </label>
          <Button type="submit" disabled={busy}>
            Apply filters
          </Button>
        </form>
      )}
      {error !== null && <ErrorBanner error={error} />}
      {busy && rows === null && <Loading label="Loading the access log" />}
      {rows && (
        <>
          <Table
            caption={`${rows.length} entr${rows.length === 1 ? 'y' : 'ies'} of ${cluster?.name ?? ''}${next ? ' (more available)' : ''}`}
            columns={['Time', 'User', 'Request', 'Namespace', 'Outcome', 'Groups from', 'Source']}
            rows={rows.map((e, i) => ({
              key: `${e.time}-${i}`,
              cells: [
                <Button variant="link" onClick={() => setSelected(e)} aria-label={`Details of the entry at ${when(e.time)}`}>
                  {when(e.time)}
                </Button>,
                e.user || '(not authenticated)',
                requestText(e),
                e.namespace ?? '',
                e.allowed ? 'Allowed' : 'Refused',
                e.groupsSource ?? '',
                e.source,
              ],
            }))}
            empty="No entry matches these filters."
          />
          {next && (
            <Button onClick={() => void more()} disabled={busy}>
              Load more
            </Button>
          )}
        </>
      )}
      {selected && (
        <Panel title="Access decision" onClose={() => setSelected(null)}>
          <dl class="details">
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
              <>
                <dt>{k}</dt>
                <dd>{v || '—'}</dd>
              </>
            ))}
          </dl>
        </Panel>
      )}
    </section>
  );
}
