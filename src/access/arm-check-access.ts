import type { Clock } from '../shared/clock.js';
import { appOnlyTokens, describeError, send } from './https-client.js';
import type { DataActionAnswer, DataActionCheck } from './ports.js';

// Azure RBAC's data-action check over ARM, as Guard makes it (reference/guard-rbac.md §2.3), for the
// access layer running apart from Kentra (`kentra webhook`): an app-only ARM token, then
//   POST <arm><scope>/providers/Microsoft.Authorization/checkaccess?api-version=2018-09-01-preview
//   {"Subject":{"Attributes":{"ObjectId":…,"Groups":[…]}},"Actions":[{"Id":…,"IsDataAction":true}],"Resource":{"Id":<scope>}}
// → `[{accessDecision, actionId, roleAssignment{id, roleDefinitionId, …}}]`. Allowed iff every
// decision is `Allowed`. A 4xx is a denial with Guard's "check failure" reason; a 5xx, a timeout or a
// network failure throws (the SubjectAccessReview then answers 500, which the API server does not cache).

export interface ArmDataActionCheckOptions {
  /** The identity provider's origin, for the app-only token. */
  authority: string;
  /** ARM's origin, e.g. `https://kentra.example:8443` (or `https://management.azure.com`). */
  armEndpoint: string;
  tenantId: string;
  /** The app that may read role assignments at the cluster's scope (e.g. Reader on the cluster). */
  clientId: string;
  clientSecret: string;
  caPem?: string;
  clock: Clock;
  timeoutMs?: number;
}

export const CHECK_ACCESS_API_VERSION = '2018-09-01-preview';

export function armDataActionCheck(opts: ArmDataActionCheckOptions): DataActionCheck & { calls(): number } {
  const timeoutMs = opts.timeoutMs ?? 23_000;
  const arm = opts.armEndpoint.replace(/\/+$/, '');
  const tokens = appOnlyTokens({ ...opts, scope: 'https://management.azure.com/.default', timeoutMs });
  let calls = 0;
  return {
    calls: () => calls,
    async checkDataAction(q): Promise<DataActionAnswer> {
      if (q.tenantId !== opts.tenantId) throw new Error(`the ARM check is set up for tenant ${opts.tenantId}, not ${q.tenantId}`);
      const url = `${arm}${q.scope}/providers/Microsoft.Authorization/checkaccess?api-version=${CHECK_ACCESS_API_VERSION}`;
      const body = JSON.stringify({
        Subject: { Attributes: { ObjectId: q.subject.objectId, Groups: q.subject.groups } },
        Actions: [{ Id: q.action, IsDataAction: true }],
        Resource: { Id: q.scope },
      });
      const call = async (bearer: string) => {
        calls++;
        try {
          return await send(url, {
            body,
            contentType: 'application/json',
            authorization: `Bearer ${bearer}`,
            caPem: opts.caPem,
            timeoutMs,
          });
        } catch (err) {
          throw new Error(`cannot reach ARM's checkaccess at ${arm}: ${(err as Error).message}`, { cause: err });
        }
      };
      let answer = await call(await tokens.token());
      if (answer.status === 401) {
        tokens.reset();
        answer = await call(await tokens.token());
      }
      if (answer.status >= 400 && answer.status < 500) {
        return {
          allowed: false,
          reason: `Access denied due to Azure RBAC check failure. Please retry later. (statusCode ${answer.status}): ${describeError(answer.json)}`,
        };
      }
      const decisions = answer.json as
        { accessDecision?: unknown; roleAssignment?: { id?: unknown; roleDefinitionId?: unknown } | null }[] | null;
      if (answer.status !== 200 || !Array.isArray(decisions) || decisions.length === 0) {
        throw new Error(`ARM's checkaccess at ${arm} failed (HTTP ${answer.status}): ${describeError(answer.json)}`);
      }
      if (!decisions.every((d) => String(d.accessDecision).toLowerCase() === 'allowed')) return { allowed: false };
      const ra = decisions[0]!.roleAssignment ?? {};
      return { allowed: true, roleAssignmentId: String(ra.id ?? ''), roleDefinitionId: String(ra.roleDefinitionId ?? '') };
    },
  };
}
