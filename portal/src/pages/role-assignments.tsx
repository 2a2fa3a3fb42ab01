import { useEffect, useState } from 'preact/hooks';
import { arm } from '../api';
import { Button, Dialog, ErrorBanner, Loading, Notice, PageHeader, Select, Table } from '../ui/index';
import {
  API_VERSION,
  listClusters,
  listResourceGroups,
  listSubscriptions,
  type ManagedCluster,
  type ResourceGroup,
  type Subscription,
} from './azure-resources';
import { DirectoryPicker, kindLabel, namesByIds, type Principal } from './directory-picker';
import './pages.css';

// Access control (IAM) as the Azure portal shows it, at a subscription, a resource group or a
// cluster: the role assignments that apply there (ARM Microsoft.Authorization/roleAssignments), add
// one (a role definition and a principal found through Graph), remove one.

interface RoleDefinition {
  id: string;
  name: string;
  properties: { roleName: string; description: string };
}

interface RoleAssignment {
  id: string;
  name: string;
  properties: { roleDefinitionId: string; principalId: string; principalType: string; scope: string; createdOn?: string };
}

const authz = (scope: string, tail: string) =>
  `${scope}/providers/Microsoft.Authorization/${tail}${tail.includes('?') ? '&' : '?'}api-version=${API_VERSION.authorization}`;
const norm = (s: string) => s.toLowerCase().replace(/\/+$/, '');

/** Where an assignment sits relative to the scope shown: at it, above it (inherited) or below it. */
export function relation(assignmentScope: string, shown: string): string {
  const a = norm(assignmentScope);
  const s = norm(shown);
  if (a === s) return 'This resource';
  if (s.startsWith(`${a}/`)) return `Inherited (${a.split('/').length <= 3 ? 'subscription' : 'resource group'})`;
  return 'Below this scope';
}

const uuid = () =>
  typeof crypto.randomUUID === 'function'
    ? crypto.randomUUID()
    : '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) =>
        (Number(c) ^ (crypto.getRandomValues(new Uint8Array(1))[0]! & (15 >> (Number(c) / 4)))).toString(16),
      );

function AddAssignment(props: { scope: string; roles: RoleDefinition[]; onDone: (what: string) => void }) {
  const [roleId, setRoleId] = useState(props.roles.find((r) => r.properties.roleName === 'Reader')?.id ?? props.roles[0]?.id ?? '');
  const [principal, setPrincipal] = useState<Principal | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const role = props.roles.find((r) => r.id === roleId);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!principal || !role) return;
    setBusy(true);
    setError(undefined);
    try {
      const principalType = principal.kind === 'user' ? 'User' : principal.kind === 'group' ? 'Group' : 'ServicePrincipal';
      await arm(authz(props.scope, `roleAssignments/${uuid()}`), {
        method: 'PUT',
        body: JSON.stringify({ properties: { roleDefinitionId: role.id, principalId: principal.id, principalType } }),
      });
      props.onDone(`Assigned ${role.properties.roleName} to ${principal.displayName}.`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit}>
      <p>
        Scope: <code>{props.scope}</code>
      </p>
      <Select
        label="Role"
        value={roleId}
        onValue={setRoleId}
        options={props.roles.map((r) => ({ value: r.id, label: r.properties.roleName }))}
      />
      {role && <p class="hint">{role.properties.description}</p>}
      {principal ? (
        <p>
          Member: <strong>{principal.displayName}</strong> ({kindLabel(principal.kind)}
          {principal.detail ? `, ${principal.detail}` : ''}){' '}
          <Button variant="link" onClick={() => setPrincipal(null)}>
            Change member
          </Button>
        </p>
      ) : (
        <DirectoryPicker
          label="Member (user, group or service principal)"
          kinds={['user', 'group', 'servicePrincipal']}
          onPick={setPrincipal}
        />
      )}
      <ErrorBanner error={error} />
      <div class="form-actions">
        <Button type="submit" variant="primary" disabled={busy || !principal}>
          Assign
        </Button>
      </div>
    </form>
  );
}

export function RoleAssignments() {
  const [subs, setSubs] = useState<Subscription[] | null>(null);
  const [sub, setSub] = useState('');
  const [groups, setGroups] = useState<ResourceGroup[]>([]);
  const [rg, setRg] = useState('');
  const [clusters, setClusters] = useState<ManagedCluster[]>([]);
  const [clusterId, setClusterId] = useState('');
  const [roles, setRoles] = useState<RoleDefinition[]>([]);
  const [rows, setRows] = useState<RoleAssignment[] | null>(null);
  const [names, setNames] = useState<Map<string, Principal>>(new Map());
  const [error, setError] = useState<unknown>(undefined);
  const [actionError, setActionError] = useState<unknown>(undefined);
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<RoleAssignment | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const scope = clusterId || (rg ? `/subscriptions/${sub}/resourceGroups/${rg}` : sub ? `/subscriptions/${sub}` : '');

  useEffect(() => {
    listSubscriptions()
      .then((s) => {
        setSubs(s);
        setSub(s[0]?.subscriptionId ?? '');
      })
      .catch(setError);
  }, []);
  useEffect(() => {
    if (!sub) return;
    setRg('');
    setClusterId('');
    listResourceGroups(sub).then(setGroups, () => setGroups([]));
    arm<{ value: RoleDefinition[] }>(authz(`/subscriptions/${sub}`, 'roleDefinitions')).then((r) => setRoles(r.value), setError);
  }, [sub]);
  useEffect(() => {
    setClusterId('');
    if (!sub || !rg) return setClusters([]);
    listClusters(sub, rg).then(setClusters, () => setClusters([]));
  }, [rg]);

  const load = async () => {
    if (!scope) return;
    setError(undefined);
    setRows(null);
    try {
      const list = (await arm<{ value: RoleAssignment[] }>(authz(scope, 'roleAssignments'))).value;
      setNames(await namesByIds(list.map((a) => a.properties.principalId)).catch(() => new Map<string, Principal>()));
      setRows(list);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    void load();
  }, [scope]);

  const roleName = (id: string) => roles.find((r) => r.name === id.split('/').pop())?.properties.roleName ?? id.split('/').pop() ?? id;
  const who = (a: RoleAssignment) => names.get(a.properties.principalId)?.displayName ?? a.properties.principalId;

  const remove = async (a: RoleAssignment) => {
    setActionError(undefined);
    setNotice(null);
    try {
      await arm(`${a.id}?api-version=${API_VERSION.authorization}`, { method: 'DELETE' });
      await load();
      setNotice(`Removed the ${roleName(a.properties.roleDefinitionId)} role of ${who(a)}.`);
    } catch (err) {
      setActionError(err);
    } finally {
      setRemoving(null);
    }
  };

  return (
    <div>
      <PageHeader title="Access control (IAM)">
        <Button variant="primary" onClick={() => setAdding(true)} disabled={!scope || !roles.length}>
          Add role assignment
        </Button>
      </PageHeader>
      <div class="inline-form chooser" role="group" aria-label="Scope">
        {subs && subs.length > 0 && (
          <Select
            label="Subscription"
            value={sub}
            onValue={setSub}
            options={subs.map((s) => ({ value: s.subscriptionId, label: s.displayName }))}
          />
        )}
        <Select
          label="Resource group"
          value={rg}
          onValue={setRg}
          options={[{ value: '', label: '(the whole subscription)' }, ...groups.map((g) => ({ value: g.name, label: g.name }))]}
        />
        {rg && (
          <Select
            label="Cluster"
            value={clusterId}
            onValue={setClusterId}
            options={[{ value: '', label: '(the whole resource group)' }, ...clusters.map((c) => ({ value: c.id, label: c.name }))]}
          />
        )}
      </div>
      {subs && subs.length === 0 && <p>You have no subscription in this tenant.</p>}
      {scope && (
        <p>
          Scope: <code data-testid="iam-scope">{scope}</code>
        </p>
      )}
      {notice && <Notice>{notice}</Notice>}
      <ErrorBanner error={actionError} />
      <ErrorBanner error={error} />
      {rows === null && error === undefined && scope && <Loading label="Loading role assignments…" />}
      {rows && (
        <Table
          caption="Role assignments that apply at this scope, above it or below it"
          rows={rows}
          rowKey={(a) => a.id}
          empty="No role assignment applies here."
          columns={[
            {
              title: 'Name',
              cell: (a) => {
                const p = names.get(a.properties.principalId);
                return p ? `${p.displayName}${p.detail ? ` (${p.detail})` : ''}` : a.properties.principalId;
              },
            },
            { title: 'Type', cell: (a) => a.properties.principalType },
            { title: 'Role', cell: (a) => roleName(a.properties.roleDefinitionId) },
            { title: 'Scope', cell: (a) => relation(a.properties.scope, scope) },
            {
              title: 'Actions',
              cell: (a) => (
                <Button
                  variant="danger"
                  onClick={() => setRemoving(a)}
                  aria-label={`Remove the ${roleName(a.properties.roleDefinitionId)} role of ${who(a)}`}
                >
                  Remove
                </Button>
              ),
            },
          ]}
        />
      )}
      <Dialog title="Add role assignment" open={adding} onClose={() => setAdding(false)}>
        <AddAssignment
          scope={scope}
          roles={roles}
          onDone={(what) => {
            setAdding(false);
            void load().then(() => setNotice(what));
          }}
        />
      </Dialog>
      <Dialog title="Remove role assignment" open={removing !== null} onClose={() => setRemoving(null)}>
        {removing && (
          <div>
            <p>
              Remove the {roleName(removing.properties.roleDefinitionId)} role of {who(removing)} at{' '}
              <code>{removing.properties.scope}</code>?
            </p>
            <div class="form-actions">
              <Button variant="danger" onClick={() => void remove(removing)}>
                Remove
              </Button>
              <Button onClick={() => setRemoving(null)}>Cancel</Button>
            </div>
          </div>
        )}
      </Dialog>
    </div>
  );
}
