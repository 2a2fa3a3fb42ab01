import { useEffect, useState } from 'preact/hooks';
import { arm, graph } from '../api';
import { Button, ErrorBanner } from '../ui';
import { clusterUrl, type ManagedCluster } from './azure-resources';
import { ClusterChooser } from './cluster-chooser';

// "Why was I refused?": one access decision of a cluster's Kubernetes API explained step by step by
// the cluster's checkAccess action (the same ARM call as `kentra aks check-access`, held by Owner and
// Contributor): which token check failed, where the groups came from, each authorizer's answer.

interface CheckStep {
  step: number;
  title: string;
  outcome: 'passed' | 'failed' | 'info' | 'allow' | 'deny' | 'no-opinion';
  details: string[];
}

export interface CheckAccessResult {
  allowed: boolean;
  authenticated: boolean;
  request: { description: string };
  identity: {
    source: 'token' | 'directory';
    checks?: { check: string; result: 'passed' | 'failed' | 'not checked'; detail?: string }[];
    error?: string;
  };
  kubectl: string;
  steps: CheckStep[];
}

const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection', 'impersonate'];
const OUTCOME: Record<CheckStep['outcome'], { label: string; mark: string }> = {
  passed: { label: 'Passed', mark: '✓' },
  allow: { label: 'Allow', mark: '✓' },
  failed: { label: 'Failed', mark: '✗' },
  deny: { label: 'Deny', mark: '✗' },
  'no-opinion': { label: 'No opinion', mark: '–' },
  info: { label: 'Information', mark: 'i' },
};

type Who = 'me' | 'other' | 'token';

export function CheckAccessPage() {
  const [cluster, setCluster] = useState<ManagedCluster | null>(null);
  const [me, setMe] = useState<string>('');
  const [who, setWho] = useState<Who>('me');
  const [other, setOther] = useState('');
  const [token, setToken] = useState('');
  const [verb, setVerb] = useState('list');
  const [kind, setKind] = useState<'resource' | 'path'>('resource');
  const [resource, setResource] = useState('pods');
  const [namespace, setNamespace] = useState('default');
  const [name, setName] = useState('');
  const [path, setPath] = useState('/metrics');
  const [result, setResult] = useState<CheckAccessResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    graph<{ userPrincipalName: string }>('/me?$select=userPrincipalName')
      .then((u) => setMe(u.userPrincipalName))
      .catch(() => setMe(''));
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!cluster) return;
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const body = {
        ...(who === 'token' ? { token: token.trim().replace(/^Bearer\s+/i, '') } : { user: who === 'me' ? me : other.trim() }),
        verb,
        ...(kind === 'path'
          ? { path }
          : {
              resource: resource.trim(),
              ...(namespace.trim() ? { namespace: namespace.trim() } : {}),
              ...(name.trim() ? { name: name.trim() } : {}),
            }),
      };
      setResult(await arm<CheckAccessResult>(clusterUrl(cluster.id, 'checkAccess'), { method: 'POST', body: JSON.stringify(body) }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="check-access-title">
      <h1 id="check-access-title">Why was I refused?</h1>
      <p>
        Ask a cluster how it decides a request: the token checks (or the directory user), the groups and where they come from, and each
        authorizer's answer. This is the cluster's <code>checkAccess</code> action, as <code>kentra aks check-access</code> calls it; asking
        takes Owner or Contributor on the cluster.
      </p>
      <ClusterChooser onChange={setCluster} />
      <form onSubmit={submit} aria-label="Check access">
        <fieldset>
          <legend>Who</legend>
          <label class="check">
            <input type="radio" name="who" value="me" checked={who === 'me'} onChange={() => setWho('me')} />
            Me{me ? ` (${me})` : ''}
          </label>
          <label class="check">
            <input type="radio" name="who" value="other" checked={who === 'other'} onChange={() => setWho('other')} />
            Another user or service principal
          </label>
          {who === 'other' && (
            <label>
              User principal name or object ID
              <input name="user" value={other} required onInput={(e) => setOther(e.currentTarget.value)} autoComplete="off" />
            </label>
          )}
          <label class="check">
            <input type="radio" name="who" value="token" checked={who === 'token'} onChange={() => setWho('token')} />
            The token kubectl sent
          </label>
          {who === 'token' && (
            <label>
              Bearer token (sent to the cluster's checkAccess action only, never shown)
              <textarea name="token" rows={3} required value={token} onInput={(e) => setToken(e.currentTarget.value)} spellcheck={false} />
            </label>
          )}
        </fieldset>
        <fieldset>
          <legend>Request</legend>
          <label>
            Verb
            <select name="verb" value={verb} onChange={(e) => setVerb(e.currentTarget.value)}>
              {VERBS.map((v) => (
                <option key={v} value={v}>
                  {v}
                </option>
              ))}
            </select>
          </label>
          <label class="check">
            <input type="radio" name="kind" value="resource" checked={kind === 'resource'} onChange={() => setKind('resource')} />A resource
          </label>
          <label class="check">
            <input type="radio" name="kind" value="path" checked={kind === 'path'} onChange={() => setKind('path')} />A non-resource path
          </label>
          {kind === 'resource' ? (
            <>
              <label>
                Resource (pods, deployments.apps, pods/log)
                <input name="resource" required value={resource} onInput={(e) => setResource(e.currentTarget.value)} />
              </label>
              <label>
                Namespace (empty: cluster-wide)
                <input name="namespace" value={namespace} onInput={(e) => setNamespace(e.currentTarget.value)} />
              </label>
              <label>
                Object name (optional)
                <input name="objectName" value={name} onInput={(e) => setName(e.currentTarget.value)} />
              </label>
            </>
          ) : (
            <label>
              Path
              <input name="path" required value={path} onInput={(e) => setPath(e.currentTarget.value)} />
            </label>
          )}
        </fieldset>
        <Button type="submit" disabled={busy || !cluster || (who === 'me' && !me)}>
          Check access
        </Button>
      </form>
      {error !== null && <ErrorBanner error={error} />}
      {result && <Explanation result={result} cluster={cluster?.name ?? ''} />}
    </section>
  );
}

/** The decision drawn as a flow: one box per step, in order, each with its outcome in words and a mark. */
export function Explanation({ result, cluster }: { result: CheckAccessResult; cluster: string }) {
  return (
    <section class="explanation" aria-labelledby="explanation-title" aria-live="polite">
      <h2 id="explanation-title">
        <span class={`verdict ${result.allowed ? 'ok' : 'bad'}`}>{result.allowed ? 'Allowed' : 'Refused'}</span>{' '}
        {result.request.description} on {cluster}
      </h2>
      {result.identity.checks && (
        <ol class="token-checks" aria-label="Token checks, in the order Guard makes them">
          {result.identity.checks.map((c) => (
            <li key={c.check} class={`chip ${c.result.replace(' ', '-')}`}>
              <span aria-hidden="true">{c.result === 'passed' ? '✓' : c.result === 'failed' ? '✗' : '·'}</span> {c.check}:{' '}
              <strong>{c.result}</strong>
            </li>
          ))}
        </ol>
      )}
      <ol class="flow" aria-label="How the cluster decided, step by step">
        {result.steps.map((s) => (
          <li key={s.step} class={`flow-step ${s.outcome}`}>
            <div class="flow-head">
              <span class="flow-mark" aria-hidden="true">
                {OUTCOME[s.outcome].mark}
              </span>
              <span class="flow-title">
                {s.step}. {s.title}
              </span>
              <span class="flow-outcome">{OUTCOME[s.outcome].label}</span>
            </div>
            {s.details.length > 0 && (
              <ul class="flow-details">
                {s.details.map((d, i) => (
                  <li key={i}>{d}</li>
                ))}
              </ul>
            )}
          </li>
        ))}
      </ol>
      <p>kubectl would say:</p>
      <pre class="kubectl">{result.kubectl}</pre>
    </section>
  );
}
