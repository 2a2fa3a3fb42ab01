import { useEffect, useState } from 'preact/hooks';
import { graph } from '../api';
import { Button, Checkbox, Dialog, ErrorBanner, Field, Loading, Notice, PageHeader, Select, Table } from '../ui/index';
import { href, navigate, useRoute } from '../router';
import {
  grantAdminConsent,
  permissionApis,
  permissionRows,
  type PermissionRow,
  type RequiredResourceAccess,
  type ServicePrincipal,
} from './app-permissions';
import './pages.css';

// App registrations as the Entra admin center shows them (Graph /v1.0/applications): the list, a new
// registration, and one app's pages: overview, authentication (redirect URIs by platform),
// certificates & secrets (a new secret's value shown once, with a copy button), API permissions and
// "Grant admin consent".

interface PasswordCredential {
  keyId: string;
  displayName: string | null;
  hint: string | null;
  startDateTime: string;
  endDateTime: string;
  secretText?: string | null;
}

export interface Application {
  id: string;
  appId: string;
  displayName: string;
  createdDateTime: string;
  signInAudience: string;
  publisherDomain?: string;
  identifierUris: string[];
  web: { redirectUris: string[] };
  spa: { redirectUris: string[] };
  publicClient: { redirectUris: string[] };
  passwordCredentials: PasswordCredential[];
  keyCredentials: unknown[];
  requiredResourceAccess: RequiredResourceAccess[];
}

type Platform = 'web' | 'spa' | 'publicClient';
const PLATFORMS: { key: Platform; label: string; hint: string }[] = [
  { key: 'web', label: 'Web', hint: 'A server-side app that keeps a secret: https, or http on localhost.' },
  {
    key: 'spa',
    label: 'Single-page application',
    hint: 'Browser code using the authorization code flow with PKCE (token requests from the browser are allowed).',
  },
  {
    key: 'publicClient',
    label: 'Mobile and desktop applications',
    hint: 'Public clients: http://localhost, a private-use scheme with a dot, or a documented native URI.',
  },
];
const AUDIENCES: { value: string; label: string }[] = [
  { value: 'AzureADMyOrg', label: 'Accounts in this organizational directory only (single tenant)' },
  { value: 'AzureADMultipleOrgs', label: 'Accounts in any organizational directory (multitenant)' },
  { value: 'AzureADandPersonalMicrosoftAccount', label: 'Any organizational directory and personal Microsoft accounts' },
];
const date = (iso: string) => new Date(iso).toLocaleDateString();

/** The route of one app's page: `/app-registrations/<object id>`. */
const BASE = '/app-registrations';

export function AppRegistrations() {
  const path = useRoute();
  const open = path.startsWith(`${BASE}/`) ? decodeURIComponent(path.slice(BASE.length + 1)) : null;
  return open ? <AppDetails id={open} /> : <AppList />;
}

function AppList() {
  const [apps, setApps] = useState<Application[] | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [creating, setCreating] = useState(false);
  useEffect(() => {
    graph<{ value: Application[] }>('/applications').then((r) => setApps(r.value), setError);
  }, []);
  return (
    <div>
      <PageHeader title="App registrations">
        <Button variant="primary" onClick={() => setCreating(true)}>
          New registration
        </Button>
      </PageHeader>
      <ErrorBanner error={error} />
      {apps === null && error === undefined && <Loading label="Loading app registrations…" />}
      {apps && (
        <Table
          caption="Applications registered in this tenant"
          rows={apps}
          rowKey={(a) => a.id}
          empty="No application is registered yet."
          columns={[
            { title: 'Display name', cell: (a) => <a href={href(`${BASE}/${a.id}`)}>{a.displayName}</a> },
            { title: 'Application (client) ID', cell: (a) => <code>{a.appId}</code> },
            { title: 'Created on', cell: (a) => date(a.createdDateTime) },
            { title: 'Client secrets', cell: (a) => String(a.passwordCredentials.length) },
            {
              title: 'Redirect URIs',
              cell: (a) => String(a.web.redirectUris.length + a.spa.redirectUris.length + a.publicClient.redirectUris.length),
            },
          ]}
        />
      )}
      <Dialog title="Register an application" open={creating} onClose={() => setCreating(false)}>
        <NewRegistration onCreated={(a) => navigate(`${BASE}/${a.id}`)} />
      </Dialog>
    </div>
  );
}

function NewRegistration(props: { onCreated: (a: Application) => void }) {
  const [name, setName] = useState('');
  const [audience, setAudience] = useState('AzureADMyOrg');
  const [platform, setPlatform] = useState<Platform>('web');
  const [uri, setUri] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const body: Record<string, unknown> = { displayName: name.trim(), signInAudience: audience };
      if (uri.trim()) body[platform] = { redirectUris: [uri.trim()] };
      props.onCreated(await graph<Application>('/applications', { method: 'POST', body: JSON.stringify(body) }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit}>
      <Field label="Name" name="displayName" value={name} onValue={setName} required autoComplete="off" />
      <Select label="Supported account types" value={audience} onValue={setAudience} options={AUDIENCES} />
      <Select
        label="Redirect URI platform"
        value={platform}
        onValue={(v) => setPlatform(v as Platform)}
        options={PLATFORMS.map((p) => ({ value: p.key, label: p.label }))}
      />
      <Field
        label="Redirect URI"
        name="redirectUri"
        type="url"
        value={uri}
        onValue={setUri}
        hint="Optional: more can be added later, by platform."
        placeholder="https://localhost:3000/auth"
      />
      <ErrorBanner error={error} />
      <div class="form-actions">
        <Button type="submit" variant="primary" disabled={busy || !name.trim()}>
          Register
        </Button>
      </div>
    </form>
  );
}

function AppDetails(props: { id: string }) {
  const [app, setApp] = useState<Application | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const load = async () => {
    try {
      setApp(await graph<Application>(`/applications/${encodeURIComponent(props.id)}`));
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    void load();
  }, [props.id]);
  return (
    <div>
      <p>
        <a href={href(BASE)}>← All app registrations</a>
      </p>
      <PageHeader title={app?.displayName ?? 'App registration'} />
      <ErrorBanner error={error} />
      {!app && error === undefined && <Loading label="Loading the application…" />}
      {app && (
        <>
          <section class="card" aria-labelledby="app-essentials">
            <h2 id="app-essentials">Essentials</h2>
            <dl class="facts">
              <dt>Application (client) ID</dt>
              <dd>
                <code data-testid="app-id">{app.appId}</code>
              </dd>
              <dt>Object ID</dt>
              <dd>
                <code>{app.id}</code>
              </dd>
              <dt>Supported account types</dt>
              <dd>{AUDIENCES.find((a) => a.value === app.signInAudience)?.label ?? app.signInAudience}</dd>
              <dt>Application ID URIs</dt>
              <dd>{app.identifierUris.join(', ') || '—'}</dd>
            </dl>
          </section>
          <RedirectUris app={app} onChange={load} />
          <Secrets app={app} onChange={load} />
          <ApiPermissions app={app} onChange={load} />
        </>
      )}
    </div>
  );
}

function RedirectUris({ app, onChange }: { app: Application; onChange: () => Promise<void> }) {
  const [drafts, setDrafts] = useState<Record<Platform, string>>({ web: '', spa: '', publicClient: '' });
  const [error, setError] = useState<unknown>(undefined);
  const [notice, setNotice] = useState<string | null>(null);
  const save = async (platform: Platform, uris: string[], what: string) => {
    setError(undefined);
    setNotice(null);
    try {
      await graph(`/applications/${app.id}`, { method: 'PATCH', body: JSON.stringify({ [platform]: { redirectUris: uris } }) });
      setDrafts((d) => ({ ...d, [platform]: '' }));
      await onChange();
      setNotice(what);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section aria-labelledby="auth-title" class="card">
      <h2 id="auth-title">Authentication: redirect URIs</h2>
      {notice && <Notice>{notice}</Notice>}
      <ErrorBanner error={error} />
      {PLATFORMS.map((p) => {
        const uris = app[p.key].redirectUris;
        return (
          <div class="platform" key={p.key}>
            <h3 id={`platform-${p.key}`}>{p.label}</h3>
            <p class="hint">{p.hint}</p>
            <ul aria-labelledby={`platform-${p.key}`} class="uri-list">
              {uris.length === 0 && <li class="hint">No redirect URI.</li>}
              {uris.map((u) => (
                <li key={u}>
                  <code>{u}</code>{' '}
                  <Button
                    variant="link"
                    aria-label={`Remove ${u} from ${p.label}`}
                    onClick={() =>
                      void save(
                        p.key,
                        uris.filter((x) => x !== u),
                        `Removed ${u}.`,
                      )
                    }
                  >
                    Remove
                  </Button>
                </li>
              ))}
            </ul>
            <form
              class="inline-form"
              onSubmit={(e) => {
                e.preventDefault();
                const uri = drafts[p.key].trim();
                void save(p.key, [...uris, uri], `Added ${uri}.`);
              }}
            >
              <Field
                label={`New ${p.label} redirect URI`}
                name={`redirect-${p.key}`}
                value={drafts[p.key]}
                required
                onValue={(v) => setDrafts((d) => ({ ...d, [p.key]: v }))}
              />
              <Button type="submit">Add URI</Button>
            </form>
          </div>
        );
      })}
    </section>
  );
}

function Secrets({ app, onChange }: { app: Application; onChange: () => Promise<void> }) {
  const [description, setDescription] = useState('');
  const [months, setMonths] = useState('6');
  const [created, setCreated] = useState<PasswordCredential | null>(null);
  const [copied, setCopied] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const add = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const end = new Date();
      end.setMonth(end.getMonth() + Number(months));
      const cred = await graph<PasswordCredential>(`/applications/${app.id}/addPassword`, {
        method: 'POST',
        body: JSON.stringify({ passwordCredential: { displayName: description.trim() || null, endDateTime: end.toISOString() } }),
      });
      setCreated(cred);
      setCopied(null);
      setDescription('');
      await onChange();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (keyId: string) => {
    setError(undefined);
    try {
      await graph(`/applications/${app.id}/removePassword`, { method: 'POST', body: JSON.stringify({ keyId }) });
      if (created?.keyId === keyId) setCreated(null);
      await onChange();
    } catch (err) {
      setError(err);
    }
  };
  const copy = async () => {
    if (!created?.secretText) return;
    try {
      await navigator.clipboard.writeText(created.secretText);
      setCopied('Copied to the clipboard.');
    } catch {
      setCopied('The browser refused the clipboard: select the value and copy it.');
    }
  };
  return (
    <section aria-labelledby="secrets-title" class="card">
      <h2 id="secrets-title">Certificates &amp; secrets: client secrets</h2>
      <ErrorBanner error={error} />
      {created?.secretText && (
        <div class="secret-once" data-testid="new-secret">
          <p>
            <strong>Copy the new client secret value now.</strong> It is shown this once: it cannot be read again after you leave this page.
          </p>
          <div class="field">
            <label for="secret-value">Value of {created.displayName ?? 'the new secret'}</label>
            <input id="secret-value" readOnly value={created.secretText} onFocus={(e) => e.currentTarget.select()} />
          </div>
          <div class="form-actions">
            <Button onClick={() => void copy()}>Copy to clipboard</Button>
            <span role="status">{copied}</span>
          </div>
        </div>
      )}
      <Table
        caption="Client secrets"
        rows={app.passwordCredentials}
        rowKey={(c) => c.keyId}
        empty="No client secret."
        columns={[
          { title: 'Description', cell: (c) => c.displayName ?? '' },
          { title: 'Expires', cell: (c) => date(c.endDateTime) },
          { title: 'Value', cell: (c) => (c.hint ? `${c.hint}${'*'.repeat(8)}` : '(hidden)') },
          { title: 'Secret ID', cell: (c) => <code>{c.keyId}</code> },
          {
            title: 'Actions',
            cell: (c) => (
              <Button variant="danger" aria-label={`Delete the secret ${c.displayName ?? c.keyId}`} onClick={() => void remove(c.keyId)}>
                Delete
              </Button>
            ),
          },
        ]}
      />
      <form class="inline-form" onSubmit={add}>
        <Field label="New secret's description" name="secretDescription" value={description} onValue={setDescription} />
        <Select
          label="Expires in"
          value={months}
          onValue={setMonths}
          options={['3', '6', '12', '24'].map((m) => ({ value: m, label: `${m} months` }))}
        />
        <Button type="submit" variant="primary">
          New client secret
        </Button>
      </form>
    </section>
  );
}

function ApiPermissions({ app, onChange }: { app: Application; onChange: () => Promise<void> }) {
  const [rows, setRows] = useState<PermissionRow[] | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [notice, setNotice] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const [busy, setBusy] = useState(false);
  const load = async () => {
    try {
      setRows(await permissionRows(app.appId, app.requiredResourceAccess));
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    void load();
  }, [app]);
  const save = async (next: RequiredResourceAccess[]) => {
    await graph(`/applications/${app.id}`, { method: 'PATCH', body: JSON.stringify({ requiredResourceAccess: next }) });
    await onChange();
  };
  const remove = async (r: PermissionRow) => {
    setError(undefined);
    try {
      await save(
        app.requiredResourceAccess
          .map((x) =>
            x.resourceAppId === r.resourceAppId
              ? { ...x, resourceAccess: x.resourceAccess.filter((a) => a.id !== r.id || a.type !== r.type) }
              : x,
          )
          .filter((x) => x.resourceAccess.length),
      );
    } catch (err) {
      setError(err);
    }
  };
  const consent = async () => {
    setBusy(true);
    setError(undefined);
    setNotice(null);
    try {
      const done = await grantAdminConsent(app);
      setNotice(done.length ? `Admin consent granted for this tenant: ${done.join('; ')}.` : 'Nothing to consent to.');
      await load();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="perm-title" class="card">
      <h2 id="perm-title">API permissions</h2>
      <div class="form-actions">
        <Button onClick={() => setAdding(true)}>Add a permission</Button>
        <Button variant="primary" onClick={() => void consent()} disabled={busy || !app.requiredResourceAccess.length}>
          Grant admin consent for this tenant
        </Button>
      </div>
      {notice && <Notice>{notice}</Notice>}
      <ErrorBanner error={error} />
      {rows === null && error === undefined && <Loading label="Loading permissions…" />}
      {rows && (
        <Table
          caption="Configured permissions"
          rows={rows}
          rowKey={(r) => `${r.resourceAppId}-${r.type}-${r.id}`}
          empty="No permission is configured."
          columns={[
            { title: 'API / permission', cell: (r) => `${r.resourceName}: ${r.value}` },
            { title: 'Type', cell: (r) => (r.type === 'Scope' ? 'Delegated' : 'Application') },
            { title: 'Description', cell: (r) => r.description },
            { title: 'Admin consent required', cell: (r) => (r.adminConsentRequired ? 'Yes' : 'No') },
            { title: 'Status', cell: (r) => (r.granted ? 'Granted for this tenant' : 'Not granted') },
            {
              title: 'Actions',
              cell: (r) => (
                <Button variant="link" aria-label={`Remove the permission ${r.value}`} onClick={() => void remove(r)}>
                  Remove
                </Button>
              ),
            },
          ]}
        />
      )}
      <Dialog title="Request API permissions" open={adding} onClose={() => setAdding(false)}>
        <AddPermission
          app={app}
          onAdd={async (next) => {
            await save(next);
            setAdding(false);
          }}
        />
      </Dialog>
    </section>
  );
}

function AddPermission(props: { app: Application; onAdd: (next: RequiredResourceAccess[]) => Promise<void> }) {
  const [apis, setApis] = useState<ServicePrincipal[] | null>(null);
  const [apiId, setApiId] = useState('');
  const [type, setType] = useState<'Scope' | 'Role'>('Scope');
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    permissionApis().then((a) => {
      setApis(a);
      setApiId(a[0]?.appId ?? '');
    }, setError);
  }, []);
  const api = apis?.find((a) => a.appId === apiId);
  const options =
    type === 'Scope'
      ? (api?.oauth2PermissionScopes ?? []).map((s) => ({ id: s.id, value: s.value, text: s.adminConsentDisplayName ?? '' }))
      : (api?.appRoles ?? [])
          .filter((r) => r.allowedMemberTypes?.includes('Application'))
          .map((r) => ({ id: r.id, value: r.value, text: r.displayName ?? '' }));
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!api || !chosen.size) return;
    const next = props.app.requiredResourceAccess.map((x) => ({ ...x, resourceAccess: [...x.resourceAccess] }));
    let entry = next.find((x) => x.resourceAppId === api.appId);
    if (!entry) next.push((entry = { resourceAppId: api.appId, resourceAccess: [] }));
    for (const id of chosen) if (!entry.resourceAccess.some((a) => a.id === id && a.type === type)) entry.resourceAccess.push({ id, type });
    setError(undefined);
    try {
      await props.onAdd(next);
    } catch (err) {
      setError(err);
    }
  };
  if (!apis) return error === undefined ? <Loading label="Loading APIs…" /> : <ErrorBanner error={error} />;
  return (
    <form onSubmit={submit}>
      <Select
        label="API"
        value={apiId}
        onValue={(v) => {
          setApiId(v);
          setChosen(new Set());
        }}
        options={apis.map((a) => ({ value: a.appId, label: a.displayName }))}
      />
      <Select
        label="Type of permissions"
        value={type}
        onValue={(v) => {
          setType(v as 'Scope' | 'Role');
          setChosen(new Set());
        }}
        options={[
          { value: 'Scope', label: 'Delegated permissions (the app acts as the signed-in user)' },
          { value: 'Role', label: 'Application permissions (the app acts as itself)' },
        ]}
      />
      <fieldset class="permission-list">
        <legend>Permissions</legend>
        {options.length === 0 && <p class="hint">This API has no permission of this type.</p>}
        {options.map((o) => (
          <Checkbox
            key={o.id}
            label={`${o.value}${o.text ? ` — ${o.text}` : ''}`}
            checked={chosen.has(o.id)}
            onChecked={(on) => {
              const next = new Set(chosen);
              if (on) next.add(o.id);
              else next.delete(o.id);
              setChosen(next);
            }}
          />
        ))}
      </fieldset>
      <ErrorBanner error={error} />
      <div class="form-actions">
        <Button type="submit" variant="primary" disabled={!chosen.size}>
          Add permissions
        </Button>
      </div>
    </form>
  );
}
