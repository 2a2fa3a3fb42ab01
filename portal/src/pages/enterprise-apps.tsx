import { useEffect, useState } from 'preact/hooks';
import { graph } from '../api';
import { Button, ErrorBanner, Loading, Table } from '../ui';
import type { AppRoleAssignment, ServicePrincipal } from './app-permissions';
import { DirectoryPicker, type Principal } from './directory-picker';

// Enterprise applications (Graph /v1.0/servicePrincipals): every application's instance in this
// tenant, Microsoft's first-party ones included; one app's properties, the users and groups assigned
// to it (appRoleAssignedTo), and the permissions the tenant granted it.

const MICROSOFT_TENANT = 'f8cdef31-a31e-4b4a-93e4-5f571e91255a';
const DEFAULT_ACCESS = '00000000-0000-0000-0000-000000000000';

interface Grant {
  id: string;
  resourceId: string;
  consentType: string;
  principalId: string | null;
  scope: string;
}

export function EnterpriseAppsPage() {
  const [sps, setSps] = useState<ServicePrincipal[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [open, setOpen] = useState<ServicePrincipal | null>(null);
  const [filter, setFilter] = useState('');
  useEffect(() => {
    graph<{ value: ServicePrincipal[] }>('/servicePrincipals').then((r) => setSps(r.value), setError);
  }, []);
  if (open) return <EnterpriseApp sp={open} onBack={() => setOpen(null)} />;
  const shown = (sps ?? []).filter((s) => !filter.trim() || s.displayName.toLowerCase().includes(filter.trim().toLowerCase()));
  return (
    <section aria-labelledby="ent-title">
      <h1 id="ent-title">Enterprise applications</h1>
      <label>
        Search by name
        <input type="search" name="search" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
      </label>
      {error !== null && <ErrorBanner error={error} />}
      {sps === null && error === null && <Loading label="Loading enterprise applications" />}
      {sps && (
        <Table
          caption="Service principals in this tenant"
          columns={['Name', 'Application ID', 'Object ID', 'Type', 'Publisher', 'Enabled']}
          rows={shown.map((s) => ({
            key: s.id,
            cells: [
              <Button variant="link" onClick={() => setOpen(s)}>
                {s.displayName}
              </Button>,
              <code>{s.appId}</code>,
              <code>{s.id}</code>,
              s.servicePrincipalType === 'ManagedIdentity' ? 'Managed identity' : 'Application',
              s.appOwnerOrganizationId === MICROSOFT_TENANT ? 'Microsoft' : 'This tenant',
              s.accountEnabled === false ? 'No' : 'Yes',
            ],
          }))}
          empty="No enterprise application."
        />
      )}
    </section>
  );
}

function EnterpriseApp({ sp, onBack }: { sp: ServicePrincipal; onBack: () => void }) {
  const [assigned, setAssigned] = useState<AppRoleAssignment[] | null>(null);
  const [granted, setGranted] = useState<{ grants: Grant[]; roles: AppRoleAssignment[]; names: Map<string, string> } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [roleId, setRoleId] = useState(DEFAULT_ACCESS);
  const userRoles = sp.appRoles.filter((r) => r.allowedMemberTypes?.includes('User'));

  const load = async () => {
    try {
      setAssigned((await graph<{ value: AppRoleAssignment[] }>(`/servicePrincipals/${sp.id}/appRoleAssignedTo`)).value);
      const grants = (await graph<{ value: Grant[] }>(`/oauth2PermissionGrants?$filter=${encodeURIComponent(`clientId eq '${sp.id}'`)}`))
        .value;
      const roles = (await graph<{ value: AppRoleAssignment[] }>(`/servicePrincipals/${sp.id}/appRoleAssignments`)).value;
      const names = new Map<string, string>();
      for (const id of new Set(grants.map((g) => g.resourceId))) {
        names.set(id, (await graph<ServicePrincipal>(`/servicePrincipals/${id}`).catch(() => null))?.displayName ?? id);
      }
      setGranted({ grants, roles, names });
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    void load();
  }, [sp.id]);

  const assign = async (p: Principal) => {
    setError(null);
    try {
      await graph(`/servicePrincipals/${sp.id}/appRoleAssignedTo`, {
        method: 'POST',
        body: JSON.stringify({ principalId: p.id, resourceId: sp.id, appRoleId: roleId }),
      });
      setNotice(`Assigned ${p.displayName}.`);
      await load();
    } catch (err) {
      setError(err);
    }
  };
  const roleName = (id: string) => (id === DEFAULT_ACCESS ? 'Default Access' : (sp.appRoles.find((r) => r.id === id)?.displayName ?? id));

  return (
    <section aria-labelledby="ent-app-title">
      <Button variant="link" onClick={onBack}>
        ← All enterprise applications
      </Button>
      <h1 id="ent-app-title">{sp.displayName}</h1>
      <dl class="details">
        <dt>Application ID</dt>
        <dd>
          <code>{sp.appId}</code>
        </dd>
        <dt>Object ID</dt>
        <dd>
          <code>{sp.id}</code>
        </dd>
        <dt>Enabled for users to sign in</dt>
        <dd>{sp.accountEnabled === false ? 'No' : 'Yes'}</dd>
        <dt>Assignment required</dt>
        <dd>{sp.appRoleAssignmentRequired ? 'Yes' : 'No'}</dd>
        <dt>Service principal names</dt>
        <dd>{(sp.servicePrincipalNames ?? []).join(', ') || '—'}</dd>
        <dt>Reply URLs</dt>
        <dd>{(sp.replyUrls ?? []).join(', ') || '—'}</dd>
      </dl>
      {error !== null && <ErrorBanner error={error} />}
      {notice && (
        <p role="status" class="notice">
          {notice}
        </p>
      )}
      <section aria-labelledby="ent-users-title" class="card">
        <h2 id="ent-users-title">Users and groups</h2>
        {assigned === null && error === null && <Loading label="Loading assignments" />}
        {assigned && (
          <Table
            caption="Users, groups and apps assigned to this application"
            columns={['Name', 'Type', 'Role assigned']}
            rows={assigned.map((a) => ({
              key: a.id,
              cells: [a.principalDisplayName ?? a.principalId, a.principalType ?? '', roleName(a.appRoleId)],
            }))}
            empty="Nobody is assigned."
          />
        )}
        <div class="assign">
          {userRoles.length > 0 && (
            <label>
              Role
              <select name="appRole" value={roleId} onChange={(e) => setRoleId(e.currentTarget.value)}>
                <option value={DEFAULT_ACCESS}>Default Access</option>
                {userRoles.map((r) => (
                  <option key={r.id} value={r.id}>
                    {r.displayName ?? r.value}
                  </option>
                ))}
              </select>
            </label>
          )}
          <DirectoryPicker label="Add a user or group" kinds={['user', 'group']} onPick={(p) => void assign(p)} />
        </div>
      </section>
      <section aria-labelledby="ent-perm-title" class="card">
        <h2 id="ent-perm-title">Permissions granted to this application</h2>
        {granted && (
          <Table
            caption="Delegated and application permissions"
            columns={['API', 'Permission', 'Type', 'Granted by']}
            rows={[
              ...granted.grants.flatMap((g) =>
                g.scope
                  .split(/\s+/)
                  .filter(Boolean)
                  .map((s) => ({
                    key: `${g.id}-${s}`,
                    cells: [
                      granted.names.get(g.resourceId) ?? g.resourceId,
                      s,
                      'Delegated',
                      g.consentType === 'AllPrincipals' ? 'An administrator, for everyone' : 'A user, for themselves',
                    ],
                  })),
              ),
              ...granted.roles.map((r) => ({
                key: r.id,
                cells: [r.resourceDisplayName ?? r.resourceId, r.appRoleId, 'Application', 'An administrator'],
              })),
            ]}
            empty="No permission has been granted."
          />
        )}
      </section>
    </section>
  );
}
