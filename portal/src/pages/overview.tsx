import { graph, graphAll } from '../api';
import { useSession } from '../session';
import { ErrorBanner, Loading, PageHeader, useAsync } from '../ui/index';
import { ROLE_NAMES } from './roles';

interface Me {
  id: string;
  displayName: string;
  userPrincipalName: string;
  userType?: string;
}

/** A count, or the reason the user may not see it (the service's own refusal). */
type Count = { n: number } | { refused: string };

async function count(path: string): Promise<Count> {
  try {
    return { n: (await graphAll<{ id: string }>(path)).length };
  } catch (err) {
    return { refused: err instanceof Error ? err.message : String(err) };
  }
}

export function Overview() {
  const session = useSession();
  const me = useAsync(async () => {
    const [user, objects] = await Promise.all([
      graph<Me>('/me'),
      graph<{ value: string[] }>('/me/getMemberObjects', { method: 'POST', body: JSON.stringify({ securityEnabledOnly: false }) }),
    ]);
    const roles = objects.value.filter((id) => ROLE_NAMES[id]).map((id) => ROLE_NAMES[id]!);
    return { user, roles };
  });
  const counts = useAsync(async () => {
    const [users, groups, apps] = await Promise.all([
      count('/users?$select=id&$top=999'),
      count('/groups?$select=id&$top=999'),
      count('/applications?$select=id&$top=999'),
    ]);
    return { users, groups, apps };
  });
  const t = session.tenant;
  return (
    <div>
      <PageHeader title="Overview" />
      <section aria-labelledby="ov-tenant" class="card">
        <h2 id="ov-tenant">Tenant</h2>
        {!t ? (
          <Loading label="Reading the tenant…" />
        ) : (
          <dl class="facts">
            <dt>Name</dt>
            <dd data-testid="overview-tenant-name">{t.displayName}</dd>
            <dt>Tenant ID</dt>
            <dd>
              <code>{t.id}</code>
            </dd>
            <dt>Domains</dt>
            <dd>
              <ul class="plain">
                {t.domains.map((d) => (
                  <li key={d.name}>
                    {d.name}
                    {d.isDefault ? ' (default)' : ''}
                  </li>
                ))}
              </ul>
            </dd>
          </dl>
        )}
      </section>
      <section aria-labelledby="ov-counts" class="card">
        <h2 id="ov-counts">In this directory</h2>
        {counts.loading && <Loading />}
        <ErrorBanner error={counts.error} />
        {counts.data && (
          <ul class="tiles">
            {(
              [
                ['Users', counts.data.users],
                ['Groups', counts.data.groups],
                ['App registrations', counts.data.apps],
              ] as const
            ).map(([label, c]) => (
              <li key={label} class="tile">
                <span class="tile-label">{label}</span>
                {'n' in c ? (
                  <span class="tile-number" data-testid={`count-${label}`}>
                    {c.n}
                  </span>
                ) : (
                  <span class="tile-refused">Not visible to you: {c.refused}</span>
                )}
              </li>
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="ov-me" class="card">
        <h2 id="ov-me">Signed in as</h2>
        {me.loading && <Loading />}
        <ErrorBanner error={me.error} />
        {me.data && (
          <dl class="facts">
            <dt>Name</dt>
            <dd>{me.data.user.displayName}</dd>
            <dt>User principal name</dt>
            <dd data-testid="overview-upn">{me.data.user.userPrincipalName}</dd>
            <dt>Object ID</dt>
            <dd>
              <code>{me.data.user.id}</code>
            </dd>
            <dt>Directory roles</dt>
            <dd data-testid="overview-roles">{me.data.roles.length ? me.data.roles.join(', ') : 'None (a member of the directory)'}</dd>
          </dl>
        )}
      </section>
    </div>
  );
}
