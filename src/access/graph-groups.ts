import type { Clock } from '../shared/clock.js';
import type { GroupLookup } from './entra.js';
import { appOnlyTokens, describeError, send } from './https-client.js';

// Group look-ups over Microsoft Graph, for the access layer running apart from the directory
// (`kentra webhook`), as Guard's client-credential mode does (reference/guard-rbac.md §1.4): an
// app-only token from `<authority>/<tenant>/oauth2/v2.0/token` with the client's secret and scope
// `https://graph.microsoft.com/.default`, kept until five minutes before it expires (Guard's
// margin), then `POST <graph>/v1.0/users/<oid>/getMemberGroups {"securityEnabledOnly": false}`
// (transitive, every group type) → `{"value": [ids…]}`. Errors name the endpoint and what it
// answered, never the secret or a token. Wrap it in `cachedGroupLookup` for bursts.

export interface GraphGroupLookupOptions {
  /** The identity provider's origin, e.g. `https://kentra.example:8443` (or `https://login.microsoftonline.com`). */
  authority: string;
  tenantId: string;
  /** The app with an application permission to read group memberships (GroupMember.Read.All or Directory.Read.All). */
  clientId: string;
  clientSecret: string;
  /** Graph's origin, e.g. `https://kentra.example:8443` (or `https://graph.microsoft.com`). */
  graphEndpoint: string;
  /** Extra CA (PEM) to trust for both endpoints; the system store otherwise. */
  caPem?: string;
  clock: Clock;
  timeoutMs?: number;
}

export interface GraphGroupLookup extends GroupLookup {
  /** How many app-only tokens have been requested (for tests and metrics). */
  tokenRequests(): number;
  /** How many getMemberGroups calls have been made. */
  lookups(): number;
}

const trim = (s: string) => s.replace(/\/+$/, '');

export function graphGroupLookup(opts: GraphGroupLookupOptions): GraphGroupLookup {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const graph = trim(opts.graphEndpoint);
  const tokens = appOnlyTokens({ ...opts, scope: 'https://graph.microsoft.com/.default', timeoutMs });
  const token = () => tokens.token();
  let lookupCount = 0;

  return {
    tokenRequests: () => tokens.requests(),
    lookups: () => lookupCount,
    async memberGroups(tenantId, objectId) {
      if (tenantId !== opts.tenantId) throw new Error(`the Graph look-up is set up for tenant ${opts.tenantId}, not ${tenantId}`);
      const url = `${graph}/v1.0/users/${encodeURIComponent(objectId)}/getMemberGroups`;
      const call = async (bearer: string) => {
        lookupCount++;
        try {
          return await send(url, {
            body: JSON.stringify({ securityEnabledOnly: false }),
            contentType: 'application/json',
            authorization: `Bearer ${bearer}`,
            caPem: opts.caPem,
            timeoutMs,
          });
        } catch (err) {
          throw new Error(`cannot reach Microsoft Graph at ${graph}: ${(err as Error).message}`, { cause: err });
        }
      };
      let answer = await call(await token());
      if (answer.status === 401) {
        // the token was revoked or the keys rolled: one fresh token, once
        tokens.reset();
        answer = await call(await token());
      }
      const value = (answer.json as { value?: unknown } | null)?.value;
      if (answer.status !== 200 || !Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
        throw new Error(`Microsoft Graph getMemberGroups for ${objectId} failed (HTTP ${answer.status}): ${describeError(answer.json)}`);
      }
      return value as string[];
    },
  };
}
