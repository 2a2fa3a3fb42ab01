import { useEffect, useState } from 'preact/hooks';
import { arm } from '../api';
import { Button, Dialog, ErrorBanner, Loading, Panel, Table } from '../ui';
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

function AddAssignment(props: { scope: string; roles: RoleDefinition[]; onDone: () => void; onClose: () => void }) {
  const [roleId, setRoleId] = useState(props.roles.find((r) => r.properties.roleName === 'Reader')?.id ?? props.roles[0]?.id ?? '');
  const [principal, setPrincipal] = useState<Principal | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const role = props.roles.find((r) => r.id === roleId);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!principal || !role) return;
    setBusy(true);
    setError(null);
    try {
      const principalType = principal.kind === 'user' ? 'User' : principal.kind === 'group' ? 'Group' : 'ServicePrincipal';
      await arm(authz(props.scope, `roleAssignments/${uuid()}`), {
        method: 'PUT',
        body: JSON.stringify({ properties: { roleDefinitionId: role.id, principalId: principal.id, principalType } }),
      });
      props.onDone();
      props.onClose();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Panel title="Add role assignment" onClose={props.onClose}>
      <form onSubmit={submit} aria-label="Add role assignment">
        <p>
          Scope: <code>{props.scope}</code>
        </p>
        <label>
          Role
          <select name="role" value={roleId} onChange={(e) => setRoleId(e.currentTarget.value)}>
            {props.roles.map((r) => (
              <option key={r.id} value={r.id}>
                {r.properties.roleName}
              </option>
            ))}
          </select>
        </label>
        {role && <p class="hint">{role.properties.description}</p>}
        {principal ? (
          <p>
            Member: <strong>{principal.displayName}</strong> <span class="muted">({kindLabel(principal.kind)})</span>{' '}
            <Button type="button" variant="link" onClick={() => setPrincipal(null)}>
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
        {error !== null && <ErrorBanner error={error} />}
        <Button type="submit" disabled={busy || !principal}>
          Assign
        </Button>
      </form>
    </Panel>
  );
}

export function RoleAssignmentsPage() {
  const [subs, setSubs] = useState<Subscription[] | null>(null);
  const [sub, setSub] = useState('');
  const [groups, setGroups] = useState<ResourceGroup[]>([]);
  const [rg, setRg] = useState('');
  const [clusters, setClusters] = useState<ManagedCluster[]>([]);
  const [clusterId, setClusterId] = useState('');
  const [roles, setRoles] = useState<RoleDefinition[]>([]);
  const [rows, setRows] = useState<RoleAssignment[] | null>(null);
  const [names, setNames] = useState<Map<string, Principal>>(new Map());
  const [error, setError] = useState<unknown>(null);
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
    setError(null);
    setRows(null);
    try {
      const list = (await arm<{ value: RoleAssignment[] }>(authz(scope, 'roleAssignments'))).value;
      setRows(list);
      setNames(await namesByIds(list.map((a) => a.properties.principalId)).catch(() => new Map()));
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    void load();
  }, [scope]);

  const roleName = (id: string) => roles.find((r) => r.name === id.split('/').pop())?.properties.roleName ?? id.split('/').pop();

  const remove = async (a: RoleAssignment) => {
    setError(null);
    try {
      await arm(`${a.id}?api-version=${API_VERSION.authorization}`, { method: 'DELETE' });
      setNotice(
        `Removed the ${roleName(a.properties.roleDefinitionId)} assignment of ${names.get(a.properties.principalId)?.displayName ?? a.properties.principalId}.`,
      );
      await load();
    } catch (err) {
      setError(err);
    } finally {
      setRemoving(null);
    }
  };

  return (
    <section aria-labelledby="iam-title">
      <h1 id="iam-title">Access control (IAM)</h1>
      <div class="chooser" role="group" aria-label="Scope">
        {subs && (
          <label>
            Subscription
            <select name="subscription" value={sub} onChange={(e) => setSub(e.currentTarget.value)}>
              {subs.map((s) => (
                <option key={s.subscriptionId} value={s.subscriptionId}>
                  {s.displayName}
                </option>
              ))}
            </select>
          </label>
        )}
        <label>
          Resource group
          <select name="resourceGroup" value={rg} onChange={(e) => setRg(e.currentTarget.value)}>
            <option value="">(the whole subscription)</option>
            {groups.map((g) => (
              <option key={g.id} value={g.name}>
                {g.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Cluster
          <select name="cluster" value={clusterId} onChange={(e) => setClusterId(e.currentTarget.value)} disabled={!rg}>
            <option value="">(the whole resource group)</option>
            {clusters.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </label>
      </div>
      {scope && (
        <p>
          Scope: <code>{scope}</code>
        </p>
      )}
      <div class="toolbar">
        <Button onClick={() => setAdding(true)} disabled={!scope || !roles.length}>
          Add role assignment
        </Button>
      </div>
      {notice && (
        <p role="status" class="notice">
          {notice}
        </p>
      )}
      {error !== null && <ErrorBanner error={error} />}
      {rows === null && error === null && scope && <Loading label="Loading role assignments" />}
      {rows && (
        <Table
          caption="Role assignments that apply at this scope or below it"
          columns={['Name', 'Type', 'Role', 'Scope', 'Actions']}
          rows={rows.map((a) => {
            const who = names.get(a.properties.principalId);
            return {
              key: a.id,
              cells: [
                who ? `${who.displayName}${who.detail ? ` (${who.detail})` : ''}` : a.properties.principalId,
                a.properties.principalType,
                roleName(a.properties.roleDefinitionId) ?? '',
                relation(a.properties.scope, scope),
                <Button
                  variant="link"
                  onClick={() => setRemoving(a)}
                  aria-label={`Remove the ${roleName(a.properties.roleDefinitionId)} assignment of ${who?.displayName ?? a.properties.principalId}`}
                >
                  Remove
                </Button>,
              ],
            };
          })}
          empty="No role assignment applies here."
        />
      )}
      {adding && <AddAssignment scope={scope} roles={roles} onClose={() => setAdding(false)} onDone={() => void load()} />}
      {removing && (
        <Dialog
          title="Remove role assignment"
          onClose={() => setRemoving(null)}
          actions={
            <>
              <Button onClick={() => void remove(removing)}>Remove</Button>
              <Button variant="secondary" onClick={() => setRemoving(null)}>
                Cancel
              </Button>
            </>
          }
        >
          <p>
            Remove the {roleName(removing.properties.roleDefinitionId)} role of{' '}
            {names.get(removing.properties.principalId)?.displayName ?? removing.properties.principalId} at{' '}
            <code>{removing.properties.scope}</code>?
          </p>
        </Dialog>
      )}
    </section>
  );
}
