import { useEffect, useState } from 'preact/hooks';
import { graph } from '../api';
import { Button, ErrorBanner, Loading, Panel, Table } from '../ui';
import {
  grantAdminConsent,
  permissionApis,
  permissionRows,
  type PermissionRow,
  type RequiredResourceAccess,
  type ServicePrincipal,
} from './app-permissions';

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

export function AppRegistrationsPage() {
  const [apps, setApps] = useState<Application[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);
  const [open, setOpen] = useState<string | null>(null);

  const load = async () => {
    setError(null);
    try {
      setApps((await graph<{ value: Application[] }>('/applications')).value);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    void load();
  }, []);

  if (open)
    return (
      <AppDetails
        id={open}
        onBack={() => {
          setOpen(null);
          void load();
        }}
      />
    );

  return (
    <section aria-labelledby="apps-title">
      <h1 id="apps-title">App registrations</h1>
      <div class="toolbar">
        <Button onClick={() => setCreating(true)}>New registration</Button>
      </div>
      {error !== null && <ErrorBanner error={error} />}
      {apps === null && error === null && <Loading label="Loading app registrations" />}
      {apps && (
        <Table
          caption="Applications registered in this tenant"
          columns={['Display name', 'Application (client) ID', 'Created on', 'Secrets', 'Redirect URIs']}
          rows={apps.map((a) => ({
            key: a.id,
            cells: [
              <Button variant="link" onClick={() => setOpen(a.id)}>
                {a.displayName}
              </Button>,
              <code>{a.appId}</code>,
              date(a.createdDateTime),
              String(a.passwordCredentials.length),
              String(a.web.redirectUris.length + a.spa.redirectUris.length + a.publicClient.redirectUris.length),
            ],
          }))}
          empty="No application is registered yet."
        />
      )}
      {creating && (
        <NewRegistration
          onClose={() => setCreating(false)}
          onCreated={(a) => {
            setCreating(false);
            setOpen(a.id);
          }}
        />
      )}
    </section>
  );
}

function NewRegistration(props: { onClose: () => void; onCreated: (a: Application) => void }) {
  const [name, setName] = useState('');
  const [audience, setAudience] = useState('AzureADMyOrg');
  const [platform, setPlatform] = useState<Platform>('web');
  const [uri, setUri] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
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
    <Panel title="Register an application" onClose={props.onClose}>
      <form onSubmit={submit} aria-label="Register an application">
        <label>
          Name
          <input name="displayName" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <fieldset>
          <legend>Supported account types</legend>
          {AUDIENCES.map((a) => (
            <label class="check" key={a.value}>
              <input
                type="radio"
                name="signInAudience"
                value={a.value}
                checked={audience === a.value}
                onChange={() => setAudience(a.value)}
              />
              {a.label}
            </label>
          ))}
        </fieldset>
        <fieldset>
          <legend>Redirect URI (optional)</legend>
          <label>
            Platform
            <select name="platform" value={platform} onChange={(e) => setPlatform(e.currentTarget.value as Platform)}>
              {PLATFORMS.map((p) => (
                <option key={p.key} value={p.key}>
                  {p.label}
                </option>
              ))}
            </select>
          </label>
          <label>
            URI
            <input
              name="redirectUri"
              type="url"
              value={uri}
              onInput={(e) => setUri(e.currentTarget.value)}
              placeholder="https://localhost:3000/auth"
            />
          </label>
        </fieldset>
        {error !== null && <ErrorBanner error={error} />}
        <Button type="submit" disabled={busy || !name.trim()}>
          Register
        </Button>
      </form>
    </Panel>
  );
}

function AppDetails(props: { id: string; onBack: () => void }) {
  const [app, setApp] = useState<Application | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = async () => {
    try {
      setApp(await graph<Application>(`/applications/${props.id}`));
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    void load();
  }, [props.id]);
  return (
    <section aria-labelledby="app-title">
      <Button variant="link" onClick={props.onBack}>
        ← All app registrations
      </Button>
      <h1 id="app-title">{app?.displayName ?? 'Application'}</h1>
      {error !== null && <ErrorBanner error={error} />}
      {!app && error === null && <Loading label="Loading the application" />}
      {app && (
        <>
          <dl class="details">
            <dt>Application (client) ID</dt>
            <dd>
              <code>{app.appId}</code>
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
          <RedirectUris app={app} onChange={load} />
          <Secrets app={app} onChange={load} />
          <ApiPermissions app={app} onChange={load} />
        </>
      )}
    </section>
  );
}

function RedirectUris({ app, onChange }: { app: Application; onChange: () => Promise<void> }) {
  const [drafts, setDrafts] = useState<Record<Platform, string>>({ web: '', spa: '', publicClient: '' });
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const save = async (platform: Platform, uris: string[], what: string) => {
    setError(null);
    try {
      await graph(`/applications/${app.id}`, { method: 'PATCH', body: JSON.stringify({ [platform]: { redirectUris: uris } }) });
      setNotice(what);
      setDrafts({ ...drafts, [platform]: '' });
      await onChange();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section aria-labelledby="auth-title" class="card">
      <h2 id="auth-title">Authentication: redirect URIs</h2>
      {error !== null && <ErrorBanner error={error} />}
      {notice && (
        <p role="status" class="notice">
          {notice}
        </p>
      )}
      {PLATFORMS.map((p) => {
        const uris = app[p.key].redirectUris;
        return (
          <div class="platform" key={p.key}>
            <h3 id={`platform-${p.key}`}>{p.label}</h3>
            <p class="hint">{p.hint}</p>
            <ul aria-labelledby={`platform-${p.key}`}>
              {uris.length === 0 && <li class="muted">No redirect URI.</li>}
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
              class="inline"
              aria-label={`Add a ${p.label} redirect URI`}
              onSubmit={(e) => {
                e.preventDefault();
                void save(p.key, [...uris, drafts[p.key].trim()], `Added ${drafts[p.key].trim()}.`);
              }}
            >
              <label>
                New {p.label} redirect URI
                <input
                  name={`redirect-${p.key}`}
                  value={drafts[p.key]}
                  required
                  onInput={(e) => setDrafts({ ...drafts, [p.key]: e.currentTarget.value })}
                />
              </label>
              <Button type="submit" variant="secondary">
                Add URI
              </Button>
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
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const add = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const end = new Date();
      end.setMonth(end.getMonth() + Number(months));
      const cred = await graph<PasswordCredential>(`/applications/${app.id}/addPassword`, {
        method: 'POST',
        body: JSON.stringify({ passwordCredential: { displayName: description.trim() || null, endDateTime: end.toISOString() } }),
      });
      setCreated(cred);
      setCopied(false);
      setDescription('');
      await onChange();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (keyId: string) => {
    setError(null);
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
    await navigator.clipboard.writeText(created.secretText);
    setCopied(true);
  };
  return (
    <section aria-labelledby="secrets-title" class="card">
      <h2 id="secrets-title">Certificates &amp; secrets: client secrets</h2>
      {error !== null && <ErrorBanner error={error} />}
      {created?.secretText && (
        <div class="secret-once" role="alert">
          <p>
            <strong>Copy the new client secret value now.</strong> It is shown once: it is never shown again after you leave this page.
          </p>
          <label>
            Value of {created.displayName ?? 'the new secret'}
            <input readOnly name="secretValue" value={created.secretText} onFocus={(e) => e.currentTarget.select()} />
          </label>
          <Button variant="secondary" onClick={() => void copy()}>
            Copy to clipboard
          </Button>{' '}
          <span role="status">{copied ? 'Copied.' : ''}</span>
        </div>
      )}
      <Table
        caption="Client secrets"
        columns={['Description', 'Expires', 'Value', 'Secret ID', 'Actions']}
        rows={app.passwordCredentials.map((c) => ({
          key: c.keyId,
          cells: [
            c.displayName ?? '',
            date(c.endDateTime),
            c.hint ? `${c.hint}${'*'.repeat(8)}` : '(hidden)',
            <code>{c.keyId}</code>,
            <Button variant="link" aria-label={`Delete the secret ${c.displayName ?? c.keyId}`} onClick={() => void remove(c.keyId)}>
              Delete
            </Button>,
          ],
        }))}
        empty="No client secret."
      />
      <form class="inline" onSubmit={add} aria-label="Add a client secret">
        <label>
          Description
          <input name="secretDescription" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        </label>
        <label>
          Expires in
          <select name="secretExpiry" value={months} onChange={(e) => setMonths(e.currentTarget.value)}>
            <option value="3">3 months</option>
            <option value="6">6 months</option>
            <option value="12">12 months</option>
            <option value="24">24 months</option>
          </select>
        </label>
        <Button type="submit">New client secret</Button>
      </form>
    </section>
  );
}

function ApiPermissions({ app, onChange }: { app: Application; onChange: () => Promise<void> }) {
  const [rows, setRows] = useState<PermissionRow[] | null>(null);
  const [error, setError] = useState<unknown>(null);
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
    setError(null);
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
    setError(null);
    setNotice(null);
    try {
      const done = await grantAdminConsent(app);
      setNotice(done.length ? `Admin consent granted: ${done.join('; ')}.` : 'Nothing to consent to.');
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
      <div class="toolbar">
        <Button variant="secondary" onClick={() => setAdding(true)}>
          Add a permission
        </Button>
        <Button onClick={() => void consent()} disabled={busy || !app.requiredResourceAccess.length}>
          Grant admin consent for this tenant
        </Button>
      </div>
      {error !== null && <ErrorBanner error={error} />}
      {notice && (
        <p role="status" class="notice">
          {notice}
        </p>
      )}
      {rows === null && error === null && <Loading label="Loading permissions" />}
      {rows && (
        <Table
          caption="Configured permissions"
          columns={['API / permission', 'Type', 'Description', 'Admin consent required', 'Status', 'Actions']}
          rows={rows.map((r) => ({
            key: `${r.resourceAppId}-${r.type}-${r.id}`,
            cells: [
              `${r.resourceName}: ${r.value}`,
              r.type === 'Scope' ? 'Delegated' : 'Application',
              r.description,
              r.adminConsentRequired ? 'Yes' : 'No',
              r.granted ? 'Granted for this tenant' : 'Not granted',
              <Button variant="link" aria-label={`Remove the permission ${r.value}`} onClick={() => void remove(r)}>
                Remove
              </Button>,
            ],
          }))}
          empty="No permission is configured."
        />
      )}
      {adding && (
        <AddPermission
          app={app}
          onClose={() => setAdding(false)}
          onAdd={async (next) => {
            await save(next);
            setAdding(false);
          }}
        />
      )}
    </section>
  );
}

function AddPermission(props: { app: Application; onClose: () => void; onAdd: (next: RequiredResourceAccess[]) => Promise<void> }) {
  const [apis, setApis] = useState<ServicePrincipal[] | null>(null);
  const [apiId, setApiId] = useState('');
  const [type, setType] = useState<'Scope' | 'Role'>('Scope');
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [error, setError] = useState<unknown>(null);
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
    try {
      await props.onAdd(next);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Panel title="Request API permissions" onClose={props.onClose}>
      {!apis && error === null && <Loading label="Loading APIs" />}
      {error !== null && <ErrorBanner error={error} />}
      {apis && (
        <form onSubmit={submit} aria-label="Request API permissions">
          <label>
            API
            <select
              name="api"
              value={apiId}
              onChange={(e) => {
                setApiId(e.currentTarget.value);
                setChosen(new Set());
              }}
            >
              {apis.map((a) => (
                <option key={a.appId} value={a.appId}>
                  {a.displayName}
                </option>
              ))}
            </select>
          </label>
          <fieldset>
            <legend>Type of permissions</legend>
            <label class="check">
              <input
                type="radio"
                name="permissionType"
                checked={type === 'Scope'}
                onChange={() => (setType('Scope'), setChosen(new Set()))}
              />
              Delegated permissions (the app acts as the signed-in user)
            </label>
            <label class="check">
              <input
                type="radio"
                name="permissionType"
                checked={type === 'Role'}
                onChange={() => (setType('Role'), setChosen(new Set()))}
              />
              Application permissions (the app acts as itself)
            </label>
          </fieldset>
          <fieldset class="permission-list">
            <legend>Permissions</legend>
            {options.length === 0 && <p class="muted">This API has no permission of this type.</p>}
            {options.map((o) => (
              <label class="check" key={o.id}>
                <input
                  type="checkbox"
                  name="permission"
                  value={o.value}
                  checked={chosen.has(o.id)}
                  onChange={(e) => {
                    const next = new Set(chosen);
                    if (e.currentTarget.checked) next.add(o.id);
                    else next.delete(o.id);
                    setChosen(next);
                  }}
                />
                <span>
                  <strong>{o.value}</strong> <span class="muted">{o.text}</span>
                </span>
              </label>
            ))}
          </fieldset>
          <Button type="submit" disabled={!chosen.size}>
            Add permissions
          </Button>
        </form>
      )}
    </Panel>
  );
}
