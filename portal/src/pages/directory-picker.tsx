import { useId, useState } from 'preact/hooks';
import { graph } from '../api';
import { Button, ErrorBanner } from '../ui/index';

// Finding directory objects by name through Graph, for the pages that pick a principal (role
// assignments) or groups (a cluster's admin groups): a search box, a result list of buttons.

export type PrincipalKind = 'user' | 'group' | 'servicePrincipal';

export interface Principal {
  id: string;
  kind: PrincipalKind;
  displayName: string;
  /** The UPN of a user, the appId of a service principal. */
  detail: string;
}

interface GraphObject {
  id: string;
  displayName?: string | null;
  userPrincipalName?: string;
  appId?: string;
  '@odata.type'?: string;
}

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
const COLLECTION: Record<PrincipalKind, string> = { user: 'users', group: 'groups', servicePrincipal: 'servicePrincipals' };
const KIND_LABEL: Record<PrincipalKind, string> = { user: 'User', group: 'Group', servicePrincipal: 'Service principal' };
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const kindLabel = (k: PrincipalKind) => KIND_LABEL[k];

function toPrincipal(kind: PrincipalKind, o: GraphObject): Principal {
  return { id: o.id, kind, displayName: o.displayName ?? o.id, detail: o.userPrincipalName ?? o.appId ?? '' };
}

/** Objects of these kinds whose name starts with the text (or whose id is it). */
export async function searchDirectory(text: string, kinds: PrincipalKind[]): Promise<Principal[]> {
  const t = text.trim();
  const found: Principal[] = [];
  for (const kind of kinds) {
    let filter: string;
    if (GUID.test(t)) filter = `id eq ${quote(t)}`;
    else if (kind === 'user') filter = `startswith(displayName,${quote(t)}) or startswith(userPrincipalName,${quote(t)})`;
    else filter = `startswith(displayName,${quote(t)})`;
    const page = await graph<{ value: GraphObject[] }>(`/${COLLECTION[kind]}?$filter=${encodeURIComponent(filter)}&$top=20`);
    found.push(...page.value.map((o) => toPrincipal(kind, o)));
  }
  return found;
}

/** Names of objects by id (Graph getByIds); ids it does not find are left out. */
export async function namesByIds(ids: string[]): Promise<Map<string, Principal>> {
  const out = new Map<string, Principal>();
  const unique = [...new Set(ids)];
  if (!unique.length) return out;
  const res = await graph<{ value: GraphObject[] }>('/directoryObjects/getByIds', {
    method: 'POST',
    body: JSON.stringify({ ids: unique, types: ['user', 'group', 'servicePrincipal'] }),
  });
  for (const o of res.value) {
    const type = (o['@odata.type'] ?? '').replace('#microsoft.graph.', '');
    const kind: PrincipalKind = type === 'group' ? 'group' : type === 'servicePrincipal' ? 'servicePrincipal' : 'user';
    out.set(o.id, toPrincipal(kind, o));
  }
  return out;
}

/** A search box and its results: choosing a result calls onPick. */
export function DirectoryPicker(props: { label: string; kinds: PrincipalKind[]; onPick: (p: Principal) => void; exclude?: string[] }) {
  const [text, setText] = useState('');
  const [results, setResults] = useState<Principal[] | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const id = useId();
  const run = async () => {
    if (!text.trim()) return;
    setBusy(true);
    setError(undefined);
    try {
      setResults((await searchDirectory(text, props.kinds)).filter((p) => !props.exclude?.includes(p.id)));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="field directory-picker">
      <label for={`${id}-input`}>{props.label}</label>
      <div class="picker-row">
        <input
          id={`${id}-input`}
          type="search"
          value={text}
          autoComplete="off"
          placeholder="Start of a name, a UPN or an object ID"
          onInput={(e) => setText(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              void run();
            }
          }}
        />
        <Button onClick={() => void run()} disabled={busy}>
          Search
        </Button>
      </div>
      <ErrorBanner error={error} />
      {results && (
        <ul class="picker-results" aria-label={`Results: ${props.label}`}>
          {results.length === 0 && <li>Nothing found.</li>}
          {results.map((p) => (
            <li key={`${p.kind}-${p.id}`}>
              <Button
                variant="link"
                onClick={() => {
                  props.onPick(p);
                  setResults(null);
                  setText('');
                }}
              >
                Select {p.displayName}
              </Button>{' '}
              <span class="muted">
                {KIND_LABEL[p.kind]}
                {p.detail ? ` · ${p.detail}` : ''}
              </span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
