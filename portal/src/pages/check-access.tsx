import { useEffect, useRef, useState } from 'preact/hooks';
import { arm, graph } from '../api';
import { Button, ErrorBanner, Field, PageHeader, Select } from '../ui/index';
import { clusterUrl, type ManagedCluster } from './azure-resources';
import { ClusterChooser } from './cluster-chooser';
import './pages.css';

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

export function CheckAccess() {
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
  const [error, setError] = useState<unknown>(undefined);
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
    setError(undefined);
    setResult(null);
    try {
      const body = {
        ...(who === 'token' ? { token: token.trim().replace(/^Bearer\s+/i, '') } : { user: who === 'me' ? me : other.trim() }),
        verb,
        ...(kind === 'path'
          ? { path: path.trim() }
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
    <div>
      <PageHeader title="Why was I refused?" />
      <p>
        Ask a cluster how it decides a request: the token checks (or the directory user), the groups and where they come from, and each
        authorizer's answer. This is the cluster's <code>checkAccess</code> action, the one <code>kentra aks check-access</code> calls;
        asking takes Owner or Contributor on the cluster, since the answer tells who may do what.
      </p>
      <ClusterChooser onChange={setCluster} />
      <form onSubmit={submit} aria-label="Check access" class="card">
        <fieldset class="plain-fieldset">
          <legend>Who</legend>
          <div class="field field-check">
            <input id="who-me" type="radio" name="who" value="me" checked={who === 'me'} onChange={() => setWho('me')} />
            <label for="who-me">Me{me ? ` (${me})` : ''}</label>
          </div>
          <div class="field field-check">
            <input id="who-other" type="radio" name="who" value="other" checked={who === 'other'} onChange={() => setWho('other')} />
            <label for="who-other">Another user or service principal</label>
          </div>
          {who === 'other' && (
            <Field label="User principal name or object ID" name="user" value={other} onValue={setOther} required autoComplete="off" />
          )}
          <div class="field field-check">
            <input id="who-token" type="radio" name="who" value="token" checked={who === 'token'} onChange={() => setWho('token')} />
            <label for="who-token">The token kubectl sent</label>
          </div>
          {who === 'token' && (
            <div class="field">
              <label for="check-token">Bearer token</label>
              <textarea
                id="check-token"
                name="token"
                rows={3}
                required
                value={token}
                spellcheck={false}
                aria-describedby="check-token-hint"
                onInput={(e) => setToken(e.currentTarget.value)}
              />
              <small id="check-token-hint" class="hint">
                Sent to the cluster's checkAccess action only; the answer never shows it.
              </small>
            </div>
          )}
        </fieldset>
        <fieldset class="plain-fieldset">
          <legend>Request</legend>
          <Select label="Verb" value={verb} onValue={setVerb} options={VERBS.map((v) => ({ value: v, label: v }))} />
          <div class="field field-check">
            <input
              id="kind-resource"
              type="radio"
              name="kind"
              value="resource"
              checked={kind === 'resource'}
              onChange={() => setKind('resource')}
            />
            <label for="kind-resource">A resource</label>
          </div>
          <div class="field field-check">
            <input id="kind-path" type="radio" name="kind" value="path" checked={kind === 'path'} onChange={() => setKind('path')} />
            <label for="kind-path">A non-resource path</label>
          </div>
          {kind === 'resource' ? (
            <>
              <Field
                label="Resource"
                name="resource"
                value={resource}
                onValue={setResource}
                required
                hint="pods, deployments.apps, pods/log…"
              />
              <Field label="Namespace" name="namespace" value={namespace} onValue={setNamespace} hint="Empty: cluster-wide." />
              <Field label="Object name" name="objectName" value={name} onValue={setName} hint="Optional." />
            </>
          ) : (
            <Field label="Path" name="path" value={path} onValue={setPath} required />
          )}
        </fieldset>
        <div class="form-actions">
          <Button type="submit" variant="primary" disabled={busy || !cluster || (who === 'me' && !me)}>
            Check access
          </Button>
        </div>
      </form>
      <ErrorBanner error={error} />
      {result && <Explanation result={result} cluster={cluster?.name ?? ''} />}
    </div>
  );
}

/** The decision drawn as a flow: one box per step, in order, each with its outcome in words and a mark. */
export function Explanation({ result, cluster }: { result: CheckAccessResult; cluster: string }) {
  const heading = useRef<HTMLHeadingElement>(null);
  // The answer replaces the form's focus: keyboard and screen-reader users land on it.
  useEffect(() => heading.current?.focus(), [result]);
  return (
    <section class="explanation card" aria-labelledby="explanation-title" data-testid="explanation">
      <h2 id="explanation-title" ref={heading} tabIndex={-1}>
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
