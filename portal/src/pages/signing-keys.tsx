import { useEffect, useState } from 'preact/hooks';
import { accessToken, GRAPH_SCOPE } from '../auth';
import { useSession } from '../session';
import { Button, ErrorBanner, Loading, Notice, PageHeader, Table } from '../ui/index';
import './pages.css';

// The tenant's token signing keys as relying parties see them: the JWKS at
// /<tenant>/discovery/v2.0/keys (public, as Entra's is), and which of them signed the portal's own
// token. Kentra rotates keys with `kentra keys rotate` where the store is; it has no HTTP endpoint that
// rotates them (Entra has none either), so this page shows the keys read-only, with the command.

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

/** The RSA modulus size in bits, from its base64url encoding (no padding). */
export function modulusBits(n: string | undefined): number | null {
  if (!n) return null;
  return Math.floor((n.length * 6) / 8) * 8;
}

/** The `kid` in a JWT's header (for display only). */
function kidOf(token: string): string | null {
  try {
    const header = JSON.parse(atob((token.split('.')[0] ?? '').replace(/-/g, '+').replace(/_/g, '/'))) as { kid?: unknown };
    return typeof header.kid === 'string' ? header.kid : null;
  } catch {
    return null;
  }
}

export const ROTATE_COMMAND = 'kentra keys rotate --data-dir <data directory of kentra up>';
export const LIST_COMMAND = 'kentra keys list --data-dir <data directory of kentra up>';

export function SigningKeys() {
  const session = useSession();
  const tenant = session.tenant?.id ?? session.account.tenantId;
  const url = `${window.location.origin}/${tenant}/discovery/v2.0/keys`;
  const [keys, setKeys] = useState<Jwk[] | null>(null);
  const [signedMine, setSignedMine] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [copied, setCopied] = useState<string | null>(null);

  const load = async () => {
    setError(undefined);
    try {
      const res = await fetch(url, { headers: { accept: 'application/json' }, credentials: 'omit', cache: 'no-store' });
      if (!res.ok) throw new Error(`GET ${url} answered ${res.status}.`);
      setKeys(((await res.json()) as { keys: Jwk[] }).keys);
      setSignedMine(kidOf(await accessToken(GRAPH_SCOPE)));
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    void load();
  }, [tenant]);

  const copy = async (text: string) => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(`Copied: ${text}`);
    } catch {
      setCopied('The browser refused the clipboard: select the command and copy it.');
    }
  };

  return (
    <div>
      <PageHeader title="Signing keys">
        <Button onClick={() => void load()}>Refresh</Button>
      </PageHeader>
      <p>
        The keys that sign this tenant's tokens, as every relying party reads them (kube-apiserver, Guard, MSAL, your APIs):{' '}
        <a href={url}>
          <code>{url}</code>
        </a>
        . A new key is published before it signs, and an old one stays published after it retires, until the tokens it signed have expired.
      </p>
      <ErrorBanner error={error} />
      {keys === null && error === undefined && <Loading label="Loading the keys…" />}
      {keys && (
        <Table
          caption={`${keys.length} published key${keys.length === 1 ? '' : 's'}`}
          showCaption
          rows={keys}
          rowKey={(k) => k.kid}
          empty="No key is published."
          columns={[
            { title: 'Key ID (kid)', cell: (k) => <code>{k.kid}</code> },
            { title: 'Signed your current token', cell: (k) => (k.kid === signedMine ? 'Yes' : 'No') },
            { title: 'Type', cell: (k) => `${k.kty}${modulusBits(k.n) ? ` ${modulusBits(k.n)} bits` : ''}` },
            { title: 'Use', cell: (k) => k.use ?? '' },
            { title: 'Thumbprint (x5t)', cell: (k) => <code>{k.x5t ?? ''}</code> },
            { title: 'Certificate', cell: (k) => (k.x5c?.length ? 'Included (x5c)' : 'None') },
          ]}
        />
      )}
      <section aria-labelledby="rotate-title" class="card">
        <h2 id="rotate-title">Rotation</h2>
        <p>
          Kentra does not rotate signing keys over HTTP: no Graph or ARM operation does it (none does in Entra either). An operator rotates
          them where the store is; every running Kentra publishes the new key within 5 seconds and signs with it after a short lead. The old
          keys stay published for 48 hours after they retire.
        </p>
        <ul class="commands">
          {[ROTATE_COMMAND, LIST_COMMAND].map((c) => (
            <li key={c}>
              <pre>{c}</pre>
              <Button onClick={() => void copy(c)} aria-label={`Copy the command ${c.split(' --')[0]}`}>
                Copy
              </Button>
            </li>
          ))}
        </ul>
        {copied && <Notice>{copied}</Notice>}
      </section>
    </div>
  );
}
