import { useEffect, useState } from 'preact/hooks';
import { ErrorBanner, Loading } from '../ui';
import { listClusters, listSubscriptions, resourceGroupOf, type ManagedCluster, type Subscription } from './azure-resources';

// Choosing one cluster the signed-in user can read: its subscription, then the cluster.

export function ClusterChooser(props: { onChange: (c: ManagedCluster | null) => void }) {
  const [subs, setSubs] = useState<Subscription[] | null>(null);
  const [sub, setSub] = useState<string>('');
  const [clusters, setClusters] = useState<ManagedCluster[] | null>(null);
  const [chosen, setChosen] = useState<string>('');
  const [error, setError] = useState<unknown>(null);

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

  if (error !== null) return <ErrorBanner error={error} />;
  if (!subs) return <Loading label="Loading subscriptions" />;
  return (
    <div class="chooser">
      {subs.length > 1 && (
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
      {subs.length === 0 && <p>You have no subscription in this tenant.</p>}
      {clusters === null && sub && <Loading label="Loading clusters" />}
      {clusters && clusters.length === 0 && <p>No cluster you can read in this subscription.</p>}
      {clusters && clusters.length > 0 && (
        <label>
          Cluster
          <select
            name="cluster"
            value={chosen}
            onChange={(e) => {
              setChosen(e.currentTarget.value);
              props.onChange(clusters.find((c) => c.id === e.currentTarget.value) ?? null);
            }}
          >
            {clusters.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name} ({resourceGroupOf(c.id)})
              </option>
            ))}
          </select>
        </label>
      )}
    </div>
  );
}
