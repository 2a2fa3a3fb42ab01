import { useEffect, useState } from 'preact/hooks';
import { graph } from '../api';
import { ErrorBanner, Field, Loading, Notice, PageHeader, Select, Table } from '../ui/index';
import { href, useRoute } from '../router';
import type { AppRoleAssignment, ServicePrincipal } from './app-permissions';
import { DirectoryPicker, type Principal } from './directory-picker';
import './pages.css';

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

const BASE = '/enterprise-apps';

export function EnterpriseApps() {
  const path = useRoute();
  const open = path.startsWith(`${BASE}/`) ? decodeURIComponent(path.slice(BASE.length + 1)) : null;
  return open ? <EnterpriseApp id={open} /> : <EnterpriseAppList />;
}

function EnterpriseAppList() {
  const [sps, setSps] = useState<ServicePrincipal[] | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [filter, setFilter] = useState('');
  useEffect(() => {
    graph<{ value: ServicePrincipal[] }>('/servicePrincipals').then((r) => setSps(r.value), setError);
  }, []);
  const shown = (sps ?? []).filter((s) => !filter.trim() || s.displayName.toLowerCase().includes(filter.trim().toLowerCase()));
  return (
    <div>
      <PageHeader title="Enterprise applications" />
      <div class="inline-form">
        <Field label="Search by name" type="search" name="search" value={filter} onValue={setFilter} autoComplete="off" />
      </div>
      <ErrorBanner error={error} />
      {sps === null && error === undefined && <Loading label="Loading enterprise applications…" />}
      {sps && (
        <Table
          caption="Service principals in this tenant"
          rows={shown}
          rowKey={(s) => s.id}
          empty="No enterprise application matches."
          columns={[
            { title: 'Name', cell: (s) => <a href={href(`${BASE}/${s.id}`)}>{s.displayName}</a> },
            { title: 'Application ID', cell: (s) => <code>{s.appId}</code> },
            { title: 'Type', cell: (s) => (s.servicePrincipalType === 'ManagedIdentity' ? 'Managed identity' : 'Application') },
            { title: 'Publisher', cell: (s) => (s.appOwnerOrganizationId === MICROSOFT_TENANT ? 'Microsoft' : 'This tenant') },
            { title: 'Enabled', cell: (s) => (s.accountEnabled === false ? 'No' : 'Yes') },
          ]}
        />
      )}
    </div>
  );
}

function EnterpriseApp({ id }: { id: string }) {
  const [sp, setSp] = useState<ServicePrincipal | null>(null);
  const [assigned, setAssigned] = useState<AppRoleAssignment[] | null>(null);
  const [granted, setGranted] = useState<{
    grants: Grant[];
    roles: AppRoleAssignment[];
    apis: Map<string, ServicePrincipal | null>;
  } | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [actionError, setActionError] = useState<unknown>(undefined);
  const [notice, setNotice] = useState<string | null>(null);
  const [roleId, setRoleId] = useState(DEFAULT_ACCESS);

  const load = async () => {
    try {
      const s = await graph<ServicePrincipal>(`/servicePrincipals/${encodeURIComponent(id)}`);
      setSp(s);
      setAssigned((await graph<{ value: AppRoleAssignment[] }>(`/servicePrincipals/${s.id}/appRoleAssignedTo`)).value);
      const grants = (await graph<{ value: Grant[] }>(`/oauth2PermissionGrants?$filter=${encodeURIComponent(`clientId eq '${s.id}'`)}`))
        .value;
      const roles = (await graph<{ value: AppRoleAssignment[] }>(`/servicePrincipals/${s.id}/appRoleAssignments`)).value;
      const apis = new Map<string, ServicePrincipal | null>();
      for (const rid of new Set([...grants.map((g) => g.resourceId), ...roles.map((r) => r.resourceId)])) {
        apis.set(rid, await graph<ServicePrincipal>(`/servicePrincipals/${rid}`).catch(() => null));
      }
      setGranted({ grants, roles, apis });
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    void load();
  }, [id]);

  const assign = async (p: Principal) => {
    if (!sp) return;
    setActionError(undefined);
    setNotice(null);
    try {
      await graph(`/servicePrincipals/${sp.id}/appRoleAssignedTo`, {
        method: 'POST',
        body: JSON.stringify({ principalId: p.id, resourceId: sp.id, appRoleId: roleId }),
      });
      await load();
      setNotice(`Assigned ${p.displayName} to ${sp.displayName}.`);
    } catch (err) {
      setActionError(err);
    }
  };
  const roleName = (rid: string) =>
    rid === DEFAULT_ACCESS ? 'Default Access' : (sp?.appRoles.find((r) => r.id === rid)?.displayName ?? rid);
  const userRoles = sp?.appRoles.filter((r) => r.allowedMemberTypes?.includes('User')) ?? [];

  return (
    <div>
      <p>
        <a href={href(BASE)}>← All enterprise applications</a>
      </p>
      <PageHeader title={sp?.displayName ?? 'Enterprise application'} />
      <ErrorBanner error={error} />
      {!sp && error === undefined && <Loading label="Loading the application…" />}
      {sp && (
        <>
          <section class="card" aria-labelledby="ent-props">
            <h2 id="ent-props">Properties</h2>
            <dl class="facts">
              <dt>Application ID</dt>
              <dd>
                <code>{sp.appId}</code>
              </dd>
              <dt>Object ID</dt>
              <dd>
                <code>{sp.id}</code>
              </dd>
              <dt>Publisher</dt>
              <dd>{sp.appOwnerOrganizationId === MICROSOFT_TENANT ? 'Microsoft' : 'This tenant'}</dd>
              <dt>Enabled for users to sign in</dt>
              <dd>{sp.accountEnabled === false ? 'No' : 'Yes'}</dd>
              <dt>Assignment required</dt>
              <dd>{sp.appRoleAssignmentRequired ? 'Yes' : 'No'}</dd>
              <dt>Service principal names</dt>
              <dd>{(sp.servicePrincipalNames ?? []).join(', ') || '—'}</dd>
              <dt>Reply URLs</dt>
              <dd>{(sp.replyUrls ?? []).join(', ') || '—'}</dd>
            </dl>
          </section>
          <section aria-labelledby="ent-users-title" class="card">
            <h2 id="ent-users-title">Users and groups</h2>
            {notice && <Notice>{notice}</Notice>}
            <ErrorBanner error={actionError} />
            {assigned && (
              <Table
                caption="Users, groups and applications assigned to this application"
                rows={assigned}
                rowKey={(a) => a.id}
                empty="Nobody is assigned."
                columns={[
                  { title: 'Name', cell: (a) => a.principalDisplayName ?? a.principalId },
                  { title: 'Type', cell: (a) => a.principalType ?? '' },
                  { title: 'Role assigned', cell: (a) => roleName(a.appRoleId) },
                ]}
              />
            )}
            <div class="assign">
              {userRoles.length > 0 && (
                <Select
                  label="Role"
                  value={roleId}
                  onValue={setRoleId}
                  options={[
                    { value: DEFAULT_ACCESS, label: 'Default Access' },
                    ...userRoles.map((r) => ({ value: r.id, label: r.displayName ?? r.value })),
                  ]}
                />
              )}
              <DirectoryPicker label="Add a user or group" kinds={['user', 'group']} onPick={(p) => void assign(p)} />
            </div>
          </section>
          <section aria-labelledby="ent-perm-title" class="card">
            <h2 id="ent-perm-title">Permissions granted to this application</h2>
            {granted && (
              <Table
                caption="Delegated and application permissions"
                rows={[
                  ...granted.grants.flatMap((g) =>
                    g.scope
                      .split(/\s+/)
                      .filter(Boolean)
                      .map((value) => ({
                        key: `${g.id}-${value}`,
                        api: granted.apis.get(g.resourceId)?.displayName ?? g.resourceId,
                        value,
                        type: 'Delegated',
                        by: g.consentType === 'AllPrincipals' ? 'An administrator, for all users' : 'A user, for themselves',
                      })),
                  ),
                  ...granted.roles.map((r) => {
                    const api = granted.apis.get(r.resourceId);
                    return {
                      key: r.id,
                      api: api?.displayName ?? r.resourceDisplayName ?? r.resourceId,
                      value: api?.appRoles.find((x) => x.id === r.appRoleId)?.value ?? r.appRoleId,
                      type: 'Application',
                      by: 'An administrator',
                    };
                  }),
                ]}
                rowKey={(r) => r.key}
                empty="No permission has been granted."
                columns={[
                  { title: 'API', cell: (r) => r.api },
                  { title: 'Permission', cell: (r) => r.value },
                  { title: 'Type', cell: (r) => r.type },
                  { title: 'Granted by', cell: (r) => r.by },
                ]}
              />
            )}
          </section>
        </>
      )}
    </div>
  );
}
