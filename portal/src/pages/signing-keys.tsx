import { useEffect, useState } from 'preact/hooks';
import { Button, ErrorBanner, Loading, Table } from '../ui';
import { currentTenantId } from './tenant';

// The tenant's token signing keys as relying parties see them: the JWKS at
// /<tenant>/discovery/v2.0/keys (public, as Entra's is). Kentra rotates keys with `kentra keys
// rotate` on a host that opens the store; it offers no HTTP endpoint for it, so this page shows the
// keys read-only, with the command.

interface Jwk {
  kty: string;
  use?: string;
  kid: string;
  x5t?: string;
  n?: string;
  e?: string;
  x5c?: string[];
  issuer?: string;
}

/** The RSA modulus size in bits, from its base64url encoding. */
export function modulusBits(n: string | undefined): number | null {
  if (!n) return null;
  const bytes = Math.floor((n.length * 6) / 8);
  return bytes * 8;
}

const ROTATE = 'kentra keys rotate --data-dir <the data directory of kentra up>';
const LIST = 'kentra keys list --data-dir <the data directory of kentra up>';

export function SigningKeysPage() {
  const [keys, setKeys] = useState<Jwk[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [copied, setCopied] = useState<string | null>(null);
  const tenant = currentTenantId();
  const url = `${location.origin}/${tenant}/discovery/v2.0/keys`;

  const load = async () => {
    setError(null);
    try {
      const res = await fetch(url, { headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error(`GET ${url} answered ${res.status}.`);
      setKeys(((await res.json()) as { keys: Jwk[] }).keys);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    void load();
  }, [tenant]);

  const copy = async (text: string) => {
    await navigator.clipboard.writeText(text);
    setCopied(text);
  };

  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">Signing keys</h1>
      <p>
        The keys that sign this tenant's tokens, as every relying party reads them (Guard, kube-apiserver, msal, your APIs):{' '}
        <a href={url}>
          <code>{url}</code>
        </a>
        . A key is published before it signs, and stays published after it retires until the tokens it signed have expired.
      </p>
      <div class="toolbar">
        <Button variant="secondary" onClick={() => void load()}>
          Refresh
        </Button>
      </div>
      {error !== null && <ErrorBanner error={error} />}
      {keys === null && error === null && <Loading label="Loading the keys" />}
      {keys && (
        <Table
          caption={`${keys.length} published key${keys.length === 1 ? '' : 's'}`}
          columns={['Key ID (kid)', 'Type', 'Use', 'Size', 'Thumbprint (x5t)', 'Certificate']}
          rows={keys.map((k) => ({
            key: k.kid,
            cells: [
              <code>{k.kid}</code>,
              k.kty,
              k.use ?? '',
              modulusBits(k.n) ? `${modulusBits(k.n)} bits` : '',
              <code>{k.x5t ?? ''}</code>,
              k.x5c?.length ? 'Included (x5c)' : 'None',
            ],
          }))}
          empty="No key is published."
        />
      )}
      <section aria-labelledby="rotate-title" class="card">
        <h2 id="rotate-title">Rotation</h2>
        <p>
          Kentra does not rotate signing keys over HTTP: no Graph or ARM endpoint does it, in Entra either. An operator rotates them where
          the store is, and every running instance picks the new key up within 5 seconds. Old keys stay published for 48 hours after they
          retire.
        </p>
        <ul class="commands">
          {[ROTATE, LIST].map((c) => (
            <li key={c}>
              <pre>{c}</pre>
              <Button variant="secondary" onClick={() => void copy(c)} aria-label={`Copy the command ${c.split(' --')[0]}`}>
                Copy
              </Button>
            </li>
          ))}
        </ul>
        <p role="status">{copied ? 'Copied.' : ''}</p>
      </section>
    </section>
  );
}
