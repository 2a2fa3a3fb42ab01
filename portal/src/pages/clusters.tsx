import { useEffect, useState } from 'preact/hooks';
import { arm } from '../api';
import { Button, Checkbox, Dialog, ErrorBanner, Field, Loading, Notice, PageHeader, Select, Table } from '../ui/index';
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
import './pages.css';

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

function EntraFields(props: { value: EntraSettings; onChange: (v: EntraSettings) => void; wasManaged: boolean }) {
  const v = props.value;
  const set = (patch: Partial<EntraSettings>) => props.onChange({ ...v, ...patch });
  return (
    <fieldset class="card">
      <legend>Authentication and authorization</legend>
      <Checkbox
        label="Microsoft Entra ID authentication (managed integration)"
        checked={v.managed}
        disabled={props.wasManaged}
        onChecked={(managed) => set({ managed, ...(managed ? {} : { enableAzureRBAC: false, disableLocalAccounts: false }) })}
      />
      {props.wasManaged && <p class="hint">The managed integration cannot be turned off once enabled.</p>}
      {v.managed && (
        <>
          <Checkbox
            label="Azure RBAC for Kubernetes authorization"
            checked={v.enableAzureRBAC}
            onChecked={(enableAzureRBAC) => set({ enableAzureRBAC })}
          />
          <div class="admin-groups">
            <h3 id="admin-groups-label">Cluster admin groups</h3>
            <p class="hint">Their members are cluster-admin in the cluster.</p>
            <ul aria-labelledby="admin-groups-label">
              {v.adminGroups.length === 0 && <li class="hint">No admin group.</li>}
              {v.adminGroups.map((g) => (
                <li key={g.id}>
                  {g.displayName} <code>{g.id}</code>{' '}
                  <Button
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
          <Checkbox
            label="Disable local accounts (no admin kubeconfig: Microsoft Entra ID sign-in only)"
            checked={v.disableLocalAccounts}
            onChecked={(disableLocalAccounts) => set({ disableLocalAccounts })}
          />
        </>
      )}
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

function CreateCluster(props: { subscription: Subscription; groups: ResourceGroup[]; onDone: (name: string) => void }) {
  const [name, setName] = useState('');
  const [rg, setRg] = useState(props.groups[0]?.name ?? '');
  const [newRg, setNewRg] = useState(props.groups.length ? '' : 'rg1');
  const [location, setLocation] = useState(props.groups[0]?.location ?? 'eastus');
  const [version, setVersion] = useState('');
  const [count, setCount] = useState('1');
  const [entra, setEntra] = useState<EntraSettings>({
    managed: true,
    adminGroups: [],
    enableAzureRBAC: false,
    disableLocalAccounts: false,
  });
  const [error, setError] = useState<unknown>(undefined);
  const [progress, setProgress] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setBusy(true);
    try {
      const sub = props.subscription.subscriptionId;
      let group = rg;
      if (newRg.trim()) {
        group = newRg.trim();
        setProgress(`Creating the resource group ${group}…`);
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
      setProgress('Submitting the deployment…');
      await arm(clusterUrl(id), { method: 'PUT', body: JSON.stringify(body) });
      const done = await watch(id, (state, s) => setProgress(`Deployment in progress: ${state} (${s} s)`));
      if (done.properties.provisioningState !== 'Succeeded') throw new Error(`The deployment ended ${done.properties.provisioningState}.`);
      props.onDone(name.trim());
    } catch (err) {
      setError(err);
      setProgress(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit}>
      <Field label="Cluster name" name="clusterName" value={name} onValue={setName} required autoComplete="off" />
      {props.groups.length > 0 && (
        <Select label="Resource group" value={rg} onValue={setRg} options={props.groups.map((g) => ({ value: g.name, label: g.name }))} />
      )}
      <Field
        label={props.groups.length ? 'Or a new resource group' : 'New resource group'}
        name="newResourceGroup"
        value={newRg}
        onValue={setNewRg}
        autoComplete="off"
        required={!props.groups.length}
      />
      <Field label="Region" name="location" value={location} onValue={setLocation} required />
      <Field label="Kubernetes version" name="kubernetesVersion" value={version} onValue={setVersion} hint="Empty: the default version." />
      <Field label="Node count" name="nodeCount" type="number" value={count} onValue={setCount} required />
      <EntraFields value={entra} onChange={setEntra} wasManaged={false} />
      <ErrorBanner error={error} />
      <p role="status" aria-live="polite">
        {progress}
      </p>
      <div class="form-actions">
        <Button type="submit" variant="primary" disabled={busy || !name.trim()}>
          Create
        </Button>
      </div>
    </form>
  );
}

function EditEntra(props: { cluster: ManagedCluster; onDone: () => void }) {
  const c = props.cluster;
  const aad = c.properties.aadProfile;
  const [entra, setEntra] = useState<EntraSettings | null>(null);
  const [error, setError] = useState<unknown>(undefined);
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
    setError(undefined);
    try {
      // A full PUT of what GET returns, without its read-only properties, as `az aks update` sends it.
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
      const before = current.properties.aadProfile;
      const nextAad = entra.managed ? { ...(before ?? {}), ...aadBody(entra, before?.tenantID) } : (before ?? null);
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
      const done = await watch(c.id, (state, s) => setProgress(`Update in progress: ${state} (${s} s)`));
      if (done.properties.provisioningState !== 'Succeeded') throw new Error(`The update ended ${done.properties.provisioningState}.`);
      props.onDone();
    } catch (err) {
      setError(err);
      setProgress(null);
    } finally {
      setBusy(false);
    }
  };

  if (!entra) return <Loading label="Loading the settings…" />;
  return (
    <form onSubmit={save}>
      <EntraFields value={entra} onChange={setEntra} wasManaged={!!aad?.managed} />
      <ErrorBanner error={error} />
      <p role="status" aria-live="polite">
        {progress}
      </p>
      <div class="form-actions">
        <Button type="submit" variant="primary" disabled={busy}>
          Save
        </Button>
      </div>
    </form>
  );
}

export function Clusters() {
  const [subs, setSubs] = useState<Subscription[] | null>(null);
  const [sub, setSub] = useState<Subscription | null>(null);
  const [clusters, setClusters] = useState<ManagedCluster[] | null>(null);
  const [groups, setGroups] = useState<ResourceGroup[]>([]);
  const [error, setError] = useState<unknown>(undefined);
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
      const [c, g] = await Promise.all([listClusters(s.subscriptionId), listResourceGroups(s.subscriptionId)]);
      setClusters(c);
      setGroups(g);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    void reload();
  }, [sub?.subscriptionId]);

  const download = async (c: ManagedCluster) => {
    setError(undefined);
    try {
      await downloadKubeconfig(c);
      setNotice(`Downloaded ${c.name}-kubeconfig.yaml: use it with kubectl; kubelogin signs you in with Microsoft Entra ID.`);
    } catch (err) {
      setError(err);
    }
  };

  return (
    <div>
      <PageHeader title="Kubernetes services">
        <Button variant="primary" onClick={() => setCreating(true)} disabled={!sub}>
          Create cluster
        </Button>
        <Button onClick={() => void reload()} disabled={!sub}>
          Refresh
        </Button>
      </PageHeader>
      {subs && subs.length > 1 && (
        <div class="inline-form">
          <Select
            label="Subscription"
            value={sub?.subscriptionId ?? ''}
            onValue={(id) => setSub(subs.find((s) => s.subscriptionId === id) ?? null)}
            options={subs.map((s) => ({ value: s.subscriptionId, label: s.displayName }))}
          />
        </div>
      )}
      {subs && subs.length === 0 && <p>You have no subscription in this tenant.</p>}
      {notice && <Notice>{notice}</Notice>}
      <ErrorBanner error={error} />
      {clusters === null && error === undefined && <Loading label="Loading clusters…" />}
      {clusters && (
        <Table
          caption="Clusters you can read in this subscription"
          rows={clusters}
          rowKey={(c) => c.id}
          empty="No cluster yet."
          columns={[
            { title: 'Name', cell: (c) => c.name },
            { title: 'Resource group', cell: (c) => resourceGroupOf(c.id) },
            { title: 'Region', cell: (c) => c.location },
            { title: 'Kubernetes', cell: (c) => c.properties.kubernetesVersion },
            {
              title: 'State',
              cell: (c) => `${c.properties.provisioningState}${c.properties.powerState ? ` · ${c.properties.powerState.code}` : ''}`,
            },
            { title: 'Authentication', cell: (c) => entraMode(c.properties.aadProfile) },
            { title: 'Azure RBAC', cell: (c) => (c.properties.aadProfile?.enableAzureRBAC ? 'Enabled' : 'Disabled') },
            { title: 'Local accounts', cell: (c) => (c.properties.disableLocalAccounts ? 'Disabled' : 'Enabled') },
            {
              title: 'Actions',
              cell: (c) => (
                <div class="row-actions">
                  <Button onClick={() => setEditing(c)} aria-label={`Entra settings of ${c.name}`}>
                    Entra settings
                  </Button>
                  <Button onClick={() => void download(c)} aria-label={`Download kubeconfig of ${c.name}`}>
                    Download kubeconfig
                  </Button>
                </div>
              ),
            },
          ]}
        />
      )}
      <Dialog title="Create Kubernetes cluster" open={creating && !!sub} onClose={() => setCreating(false)}>
        {sub && (
          <CreateCluster
            subscription={sub}
            groups={groups}
            onDone={(name) => {
              setCreating(false);
              void reload().then(() => setNotice(`Deployment succeeded: the cluster ${name} is ready.`));
            }}
          />
        )}
      </Dialog>
      <Dialog
        title={editing ? `Entra settings of ${editing.name}` : 'Entra settings'}
        open={editing !== null}
        onClose={() => setEditing(null)}
      >
        {editing && (
          <EditEntra
            cluster={editing}
            onDone={() => {
              const name = editing.name;
              setEditing(null);
              void reload().then(() => setNotice(`Saved the Entra settings of ${name}.`));
            }}
          />
        )}
      </Dialog>
    </div>
  );
}
