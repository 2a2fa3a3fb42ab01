import { useEffect, useState } from 'preact/hooks';
import { arm } from '../api';
import { Button, ErrorBanner, Loading, Panel, Table } from '../ui';
import {
  API_VERSION,
  clusterUrl,
  entraMode,
  listClusters,
  listResourceGroups,
  listSubscriptions,
  resourceGroupOf,
  type AadProfile,
  type ManagedCluster,
  type ResourceGroup,
  type Subscription,
} from './azure-resources';
import { DirectoryPicker, namesByIds, type Principal } from './directory-picker';

// Kubernetes services as the Azure portal shows them (ARM Microsoft.ContainerService/managedClusters):
// the list; create with the Entra settings and watch the operation finish; edit the Entra settings
// (managed integration, admin groups, local accounts, Azure RBAC); download the user kubeconfig.

const TERMINAL = ['Succeeded', 'Failed', 'Canceled'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The Entra settings a form edits. */
interface EntraSettings {
  managed: boolean;
  adminGroups: Principal[];
  enableAzureRBAC: boolean;
  disableLocalAccounts: boolean;
}

/** Polls the cluster until its provisioning state is final, reporting each state seen. */
async function watch(id: string, onState: (state: string, seconds: number) => void): Promise<ManagedCluster> {
  const start = Date.now();
  for (;;) {
    const c = await arm<ManagedCluster>(clusterUrl(id));
    onState(c.properties.provisioningState, Math.round((Date.now() - start) / 1000));
    if (TERMINAL.includes(c.properties.provisioningState)) return c;
    await sleep(1000);
  }
}

/** The user kubeconfig (listClusterUserCredential), base64-decoded and saved as a file. */
async function downloadKubeconfig(c: ManagedCluster): Promise<void> {
  const res = await arm<{ kubeconfigs: { name: string; value: string }[] }>(clusterUrl(c.id, 'listClusterUserCredential'), {
    method: 'POST',
  });
  const first = res.kubeconfigs[0];
  if (!first) throw new Error('The service returned no kubeconfig.');
  const bytes = Uint8Array.from(atob(first.value), (ch) => ch.charCodeAt(0));
  const url = URL.createObjectURL(new Blob([bytes], { type: 'application/yaml' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = `${c.name}-kubeconfig.yaml`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function EntraFields(props: { value: EntraSettings; onChange: (v: EntraSettings) => void; creating: boolean; wasManaged: boolean }) {
  const v = props.value;
  const set = (patch: Partial<EntraSettings>) => props.onChange({ ...v, ...patch });
  return (
    <fieldset>
      <legend>Authentication and authorization</legend>
      <label class="check">
        <input
          type="checkbox"
          name="managed"
          checked={v.managed}
          disabled={props.wasManaged}
          onChange={(e) => set({ managed: e.currentTarget.checked })}
        />
        Microsoft Entra ID authentication (managed integration)
      </label>
      {props.wasManaged && <p class="hint">The managed integration cannot be turned off once enabled.</p>}
      {v.managed && (
        <>
          <label class="check">
            <input
              type="checkbox"
              name="enableAzureRBAC"
              checked={v.enableAzureRBAC}
              onChange={(e) => set({ enableAzureRBAC: e.currentTarget.checked })}
            />
            Azure RBAC for Kubernetes authorization
          </label>
          <div class="admin-groups">
            <p id="admin-groups-label">Cluster admin groups (members get cluster-admin)</p>
            <ul aria-labelledby="admin-groups-label">
              {v.adminGroups.length === 0 && <li class="muted">No admin group.</li>}
              {v.adminGroups.map((g) => (
                <li key={g.id}>
                  {g.displayName} <span class="muted">{g.id}</span>{' '}
                  <Button
                    type="button"
                    variant="link"
                    onClick={() => set({ adminGroups: v.adminGroups.filter((x) => x.id !== g.id) })}
                    aria-label={`Remove admin group ${g.displayName}`}
                  >
                    Remove
                  </Button>
                </li>
              ))}
            </ul>
            <DirectoryPicker
              label="Add an admin group"
              kinds={['group']}
              exclude={v.adminGroups.map((g) => g.id)}
              onPick={(g) => set({ adminGroups: [...v.adminGroups, g] })}
            />
          </div>
        </>
      )}
      <label class="check">
        <input
          type="checkbox"
          name="disableLocalAccounts"
          checked={v.disableLocalAccounts}
          disabled={!v.managed}
          onChange={(e) => set({ disableLocalAccounts: e.currentTarget.checked })}
        />
        Disable local accounts (no admin kubeconfig; Entra ID sign-in only)
      </label>
    </fieldset>
  );
}

const aadBody = (s: EntraSettings, tenantId?: string | null): AadProfile | null =>
  s.managed
    ? {
        managed: true,
        adminGroupObjectIDs: s.adminGroups.map((g) => g.id),
        enableAzureRBAC: s.enableAzureRBAC,
        ...(tenantId ? { tenantID: tenantId } : {}),
      }
    : null;

function CreateCluster(props: { subscription: Subscription; groups: ResourceGroup[]; onDone: () => void; onClose: () => void }) {
  const [name, setName] = useState('');
  const [rg, setRg] = useState(props.groups[0]?.name ?? '');
  const [newRg, setNewRg] = useState('');
  const [location, setLocation] = useState(props.groups[0]?.location ?? 'eastus');
  const [version, setVersion] = useState('');
  const [count, setCount] = useState('1');
  const [entra, setEntra] = useState<EntraSettings>({
    managed: true,
    adminGroups: [],
    enableAzureRBAC: false,
    disableLocalAccounts: false,
  });
  const [error, setError] = useState<unknown>(null);
  const [progress, setProgress] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const sub = props.subscription.subscriptionId;
      let group = rg;
      if (newRg.trim()) {
        group = newRg.trim();
        setProgress(`Creating resource group ${group}…`);
        await arm(`/subscriptions/${sub}/resourcegroups/${encodeURIComponent(group)}?api-version=${API_VERSION.resourceGroups}`, {
          method: 'PUT',
          body: JSON.stringify({ location }),
        });
      }
      const id = `/subscriptions/${sub}/resourceGroups/${encodeURIComponent(group)}/providers/Microsoft.ContainerService/managedClusters/${encodeURIComponent(name.trim())}`;
      const body = {
        location,
        properties: {
          ...(version.trim() ? { kubernetesVersion: version.trim() } : {}),
          enableRBAC: true,
          agentPoolProfiles: [{ name: 'nodepool1', count: Number(count), vmSize: 'Standard_DS2_v2', mode: 'System', osType: 'Linux' }],
          aadProfile: aadBody(entra),
          disableLocalAccounts: entra.managed && entra.disableLocalAccounts,
        },
      };
      setProgress('Submitting…');
      await arm(clusterUrl(id), { method: 'PUT', body: JSON.stringify(body) });
      const done = await watch(id, (state, s) => setProgress(`Deployment: ${state} (${s} s)`));
      setProgress(
        `Deployment ${done.properties.provisioningState === 'Succeeded' ? 'succeeded' : done.properties.provisioningState}: ${name}.`,
      );
      props.onDone();
    } catch (err) {
      setError(err);
      setProgress(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Panel title="Create Kubernetes cluster" onClose={props.onClose}>
      <form onSubmit={submit} aria-label="Create Kubernetes cluster">
        <label>
          Cluster name
          <input name="clusterName" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Resource group
          <select name="resourceGroup" value={rg} onChange={(e) => setRg(e.currentTarget.value)} disabled={!!newRg.trim()}>
            {props.groups.map((g) => (
              <option key={g.id} value={g.name}>
                {g.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Or a new resource group
          <input name="newResourceGroup" value={newRg} onInput={(e) => setNewRg(e.currentTarget.value)} />
        </label>
        <label>
          Region
          <input name="location" required value={location} onInput={(e) => setLocation(e.currentTarget.value)} />
        </label>
        <label>
          Kubernetes version (empty: the default)
          <input name="kubernetesVersion" value={version} onInput={(e) => setVersion(e.currentTarget.value)} />
        </label>
        <label>
          Node count
          <input name="nodeCount" type="number" min={0} max={1000} value={count} onInput={(e) => setCount(e.currentTarget.value)} />
        </label>
        <EntraFields value={entra} onChange={setEntra} creating wasManaged={false} />
        {error !== null && <ErrorBanner error={error} />}
        <p role="status" aria-live="polite">
          {progress}
        </p>
        <Button type="submit" disabled={busy || !name.trim()}>
          Create
        </Button>
      </form>
    </Panel>
  );
}

function EditEntra(props: { cluster: ManagedCluster; onDone: () => void; onClose: () => void }) {
  const c = props.cluster;
  const aad = c.properties.aadProfile;
  const [entra, setEntra] = useState<EntraSettings | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [progress, setProgress] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const ids = aad?.adminGroupObjectIDs ?? [];
    void namesByIds(ids)
      .catch(() => new Map<string, Principal>())
      .then((names) =>
        setEntra({
          managed: !!aad?.managed,
          adminGroups: ids.map((id) => names.get(id) ?? { id, kind: 'group', displayName: id, detail: '' }),
          enableAzureRBAC: !!aad?.enableAzureRBAC,
          disableLocalAccounts: !!c.properties.disableLocalAccounts,
        }),
      );
  }, [c.id]);

  const save = async (e: Event) => {
    e.preventDefault();
    if (!entra) return;
    setBusy(true);
    setError(null);
    try {
      // A full PUT of what GET returns, without the read-only properties, as `az aks update` sends.
      const current = await arm<ManagedCluster>(clusterUrl(c.id));
      const {
        provisioningState: _p,
        fqdn: _f,
        azurePortalFQDN: _a,
        currentKubernetesVersion: _c,
        maxAgentPools: _m,
        powerState: _w,
        ...writable
      } = current.properties;
      const nextAad = entra.managed
        ? { ...(current.properties.aadProfile ?? {}), ...aadBody(entra, current.properties.aadProfile?.tenantID) }
        : null;
      if (nextAad) delete nextAad.serverAppSecret;
      await arm(clusterUrl(c.id), {
        method: 'PUT',
        body: JSON.stringify({
          location: current.location,
          tags: current.tags,
          identity: current.identity,
          sku: current.sku,
          properties: { ...writable, aadProfile: nextAad, disableLocalAccounts: entra.disableLocalAccounts },
        }),
      });
      const done = await watch(c.id, (state, s) => setProgress(`Update: ${state} (${s} s)`));
      setProgress(`Update ${done.properties.provisioningState === 'Succeeded' ? 'succeeded' : done.properties.provisioningState}.`);
      props.onDone();
    } catch (err) {
      setError(err);
      setProgress(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Panel title={`Entra settings of ${c.name}`} onClose={props.onClose}>
      {!entra ? (
        <Loading label="Loading the settings" />
      ) : (
        <form onSubmit={save} aria-label={`Entra settings of ${c.name}`}>
          <EntraFields value={entra} onChange={setEntra} creating={false} wasManaged={!!aad?.managed} />
          {error !== null && <ErrorBanner error={error} />}
          <p role="status" aria-live="polite">
            {progress}
          </p>
          <Button type="submit" disabled={busy}>
            Save
          </Button>
        </form>
      )}
    </Panel>
  );
}

export function ClustersPage() {
  const [subs, setSubs] = useState<Subscription[] | null>(null);
  const [sub, setSub] = useState<Subscription | null>(null);
  const [clusters, setClusters] = useState<ManagedCluster[] | null>(null);
  const [groups, setGroups] = useState<ResourceGroup[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<ManagedCluster | null>(null);

  useEffect(() => {
    listSubscriptions()
      .then((s) => {
        setSubs(s);
        setSub(s[0] ?? null);
      })
      .catch(setError);
  }, []);

  const reload = async (s = sub) => {
    if (!s) return;
    try {
      setClusters(await listClusters(s.subscriptionId));
      setGroups(await listResourceGroups(s.subscriptionId));
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    void reload();
  }, [sub?.subscriptionId]);

  const download = async (c: ManagedCluster) => {
    setError(null);
    try {
      await downloadKubeconfig(c);
      setNotice(`Downloaded ${c.name}-kubeconfig.yaml. Use it with kubectl; kubelogin signs you in with Microsoft Entra ID.`);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <section aria-labelledby="clusters-title">
      <h1 id="clusters-title">Kubernetes services</h1>
      {subs && subs.length > 1 && (
        <label>
          Subscription
          <select
            value={sub?.subscriptionId}
            onChange={(e) => setSub(subs.find((s) => s.subscriptionId === e.currentTarget.value) ?? null)}
          >
            {subs.map((s) => (
              <option key={s.subscriptionId} value={s.subscriptionId}>
                {s.displayName}
              </option>
            ))}
          </select>
        </label>
      )}
      {subs && subs.length === 0 && <p>You have no subscription in this tenant.</p>}
      <div class="toolbar">
        <Button onClick={() => setCreating(true)} disabled={!sub}>
          Create cluster
        </Button>
        <Button variant="secondary" onClick={() => void reload()} disabled={!sub}>
          Refresh
        </Button>
      </div>
      {error !== null && <ErrorBanner error={error} />}
      {notice && (
        <p role="status" class="notice">
          {notice}
        </p>
      )}
      {clusters === null && error === null && <Loading label="Loading clusters" />}
      {clusters && (
        <Table
          caption="Clusters you can read in this subscription"
          columns={['Name', 'Resource group', 'Region', 'Kubernetes', 'State', 'Authentication', 'Azure RBAC', 'Local accounts', 'Actions']}
          rows={clusters.map((c) => ({
            key: c.id,
            cells: [
              c.name,
              resourceGroupOf(c.id),
              c.location,
              c.properties.kubernetesVersion,
              `${c.properties.provisioningState}${c.properties.powerState ? ` · ${c.properties.powerState.code}` : ''}`,
              entraMode(c.properties.aadProfile),
              c.properties.aadProfile?.enableAzureRBAC ? 'Enabled' : 'Disabled',
              c.properties.disableLocalAccounts ? 'Disabled' : 'Enabled',
              <span class="actions">
                <Button variant="link" onClick={() => setEditing(c)} aria-label={`Entra settings of ${c.name}`}>
                  Entra settings
                </Button>
                <Button variant="link" onClick={() => void download(c)} aria-label={`Download the kubeconfig of ${c.name}`}>
                  Download kubeconfig
                </Button>
              </span>,
            ],
          }))}
          empty="No cluster yet."
        />
      )}
      {creating && sub && (
        <CreateCluster subscription={sub} groups={groups} onClose={() => setCreating(false)} onDone={() => void reload()} />
      )}
      {editing && <EditEntra cluster={editing} onClose={() => setEditing(null)} onDone={() => void reload()} />}
    </section>
  );
}
