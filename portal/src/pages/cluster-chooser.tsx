import { useEffect, useState } from 'preact/hooks';
import { ErrorBanner, Loading, Select } from '../ui/index';
import { listClusters, listSubscriptions, resourceGroupOf, type ManagedCluster, type Subscription } from './azure-resources';

// Choosing one cluster the signed-in user can read: its subscription, then the cluster.

export function ClusterChooser(props: { onChange: (c: ManagedCluster | null) => void }) {
  const [subs, setSubs] = useState<Subscription[] | null>(null);
  const [sub, setSub] = useState<string>('');
  const [clusters, setClusters] = useState<ManagedCluster[] | null>(null);
  const [chosen, setChosen] = useState<string>('');
  const [error, setError] = useState<unknown>(undefined);

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
    setClusters(null);
    listClusters(sub)
      .then((c) => {
        setClusters(c);
        const first = c[0] ?? null;
        setChosen(first?.id ?? '');
        props.onChange(first);
      })
      .catch(setError);
  }, [sub]);

  if (error !== undefined) return <ErrorBanner error={error} />;
  if (!subs) return <Loading label="Loading subscriptions…" />;
  return (
    <div class="inline-form chooser">
      {subs.length > 1 && (
        <Select
          label="Subscription"
          value={sub}
          onValue={setSub}
          options={subs.map((s) => ({ value: s.subscriptionId, label: s.displayName }))}
        />
      )}
      {subs.length === 0 && <p>You have no subscription in this tenant.</p>}
      {clusters === null && sub && <Loading label="Loading clusters…" />}
      {clusters && clusters.length === 0 && <p>No cluster you can read in this subscription.</p>}
      {clusters && clusters.length > 0 && (
        <Select
          label="Cluster"
          value={chosen}
          onValue={(id) => {
            setChosen(id);
            props.onChange(clusters.find((c) => c.id === id) ?? null);
          }}
          options={clusters.map((c) => ({ value: c.id, label: `${c.name} (${resourceGroupOf(c.id)})` }))}
        />
      )}
    </div>
  );
}
