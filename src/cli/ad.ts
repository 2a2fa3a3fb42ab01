import type { Command } from 'commander';
import { leaf, type Context } from './command.js';
import { CliError, GRAPH_SCOPE, type Session } from './session.js';
import { graphApplicationTable } from './table-formats.js';
import { isGuid } from '../shared/crypto.js';

// `kentra ad …`: az's `ad` commands over Kentra's Microsoft Graph, with az's resolution rules and
// output, plus the spellings of Microsoft's legacy Azure AD integration walkthrough (`--native-app`,
// `--reply-urls`, grant without --scope).

/** A Graph answer as the client reads it: an object, a page of a collection, or an error. */
interface GraphAnswerJson {
  value?: unknown;
  '@odata.nextLink'?: string;
  '@odata.context'?: string;
  error?: { message?: string };
  [key: string]: unknown;
}

class Graph {
  constructor(private readonly session: Session) {}

  async call(method: string, path: string, body?: unknown): Promise<any> {
    const { token } = await this.session.token(GRAPH_SCOPE);
    let url = `${this.session.authority}/v1.0${path}`;
    const items: unknown[] = [];
    for (;;) {
      const res = await this.session.http<GraphAnswerJson | null>(method, url, { token, json: body });
      if (res.status >= 400) {
        const message = res.body?.error?.message ?? `Graph answered HTTP ${res.status}`;
        throw new CliError(message, res.status === 404 ? 3 : 1);
      }
      if (res.body && Array.isArray(res.body.value) && method === 'GET') {
        items.push(...res.body.value);
        if (res.body['@odata.nextLink']) {
          url = res.body['@odata.nextLink'];
          continue;
        }
        return items;
      }
      if (res.body && typeof res.body === 'object') delete res.body['@odata.context'];
      return res.body;
    }
  }

  list(path: string, filter?: string): Promise<any[]> {
    return this.call('GET', filter ? `${path}?$filter=${encodeURIComponent(filter)}` : path);
  }
}

const quote = (s: string) => s.replace(/'/g, "''");

async function resolveApp(g: Graph, id: string): Promise<any> {
  if (isGuid(id)) {
    const [byAppId] = await g.list('/applications', `appId eq '${id}'`);
    return byAppId ?? g.call('GET', `/applications/${id}`);
  }
  const [byUri] = await g.list('/applications', `identifierUris/any(s:s eq '${quote(id)}')`);
  if (!byUri) throw new CliError(`Application with identifier URI '${id}' doesn't exist`, 3);
  return byUri;
}

async function resolveSp(g: Graph, id: string): Promise<any> {
  const [bySpn] = await g.list('/servicePrincipals', `servicePrincipalNames/any(c:c eq '${quote(id)}')`);
  if (bySpn) return bySpn;
  if (isGuid(id)) return g.call('GET', `/servicePrincipals/${id}`);
  throw new CliError(`Service principal '${id}' doesn't exist`, 3);
}

async function resolveGroup(g: Graph, id: string): Promise<string> {
  if (isGuid(id)) return id;
  const found = await g.list('/groups', `displayName eq '${quote(id)}'`);
  if (!found.length) throw new CliError(`Group ${id} is not found in Graph`, 3);
  if (found.length > 1) throw new CliError(`More than 1 group objects has the display name of ${id}`);
  return found[0].id;
}

const objectRef = (session: Session, id: string) => ({ '@odata.id': `${session.authority}/v1.0/directoryObjects/${id}` });

function endDate(opts: Record<string, any>): string {
  if (opts.years !== undefined && opts.endDate !== undefined) throw new CliError('usage error: --years | --end-date', 2);
  if (opts.endDate) {
    const d = new Date(opts.endDate);
    if (Number.isNaN(d.getTime())) throw new CliError(`usage error: --end-date '${opts.endDate}' is not a date`, 2);
    return d.toISOString();
  }
  const years = opts.years === undefined ? 1 : Number(opts.years);
  if (!Number.isInteger(years) || years < 1) throw new CliError('usage error: --years must be a whole number of years', 2);
  const d = new Date();
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d.toISOString();
}

/** `--set a.b=value` on a JSON body, as az's generic update does (values are parsed as JSON when they can be). */
function applySet(body: Record<string, any>, assignments: string[]): void {
  for (const a of assignments) {
    const eq = a.indexOf('=');
    if (eq < 1) throw new CliError(`usage error: --set expects KEY=VALUE, got '${a}'`, 2);
    const path = a.slice(0, eq).split('.');
    let value: unknown = a.slice(eq + 1);
    try {
      value = JSON.parse(String(value));
    } catch {
      /* a plain string */
    }
    let target = body;
    for (const key of path.slice(0, -1)) target = target[key] ??= {};
    target[path[path.length - 1]!] = value;
  }
}

const json = (text: string | undefined, flag: string) => {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new CliError(`usage error: ${flag} must be JSON`, 2);
  }
};

/** The application body from create/update flags (az 2.45 flags, plus the legacy --native-app/--reply-urls). */
function applicationBody(opts: Record<string, any>): Record<string, any> {
  const body: Record<string, any> = {};
  if (opts.displayName) body.displayName = opts.displayName;
  if (opts.identifierUris) body.identifierUris = opts.identifierUris;
  if (opts.signInAudience) body.signInAudience = opts.signInAudience;
  const publicClient = opts.nativeApp || opts.isFallbackPublicClient === 'true' || opts.isFallbackPublicClient === true;
  if (opts.isFallbackPublicClient !== undefined || opts.nativeApp) body.isFallbackPublicClient = publicClient;
  const publicUris = [...(opts.publicClientRedirectUris ?? []), ...(opts.nativeApp ? (opts.replyUrls ?? []) : [])];
  const webUris = [...(opts.webRedirectUris ?? []), ...(!opts.nativeApp ? (opts.replyUrls ?? []) : [])];
  if (publicUris.length) body.publicClient = { redirectUris: publicUris };
  if (webUris.length || opts.webHomePageUrl)
    body.web = {
      ...(webUris.length ? { redirectUris: webUris } : {}),
      ...(opts.webHomePageUrl ? { homePageUrl: opts.webHomePageUrl } : {}),
    };
  if (opts.appRoles) body.appRoles = json(opts.appRoles, '--app-roles');
  if (opts.requiredResourceAccesses) body.requiredResourceAccess = json(opts.requiredResourceAccesses, '--required-resource-accesses');
  if (opts.optionalClaims) body.optionalClaims = json(opts.optionalClaims, '--optional-claims');
  applySet(body, opts.set ?? []);
  return body;
}

function appFlags(c: Command): Command {
  return c
    .option('--display-name <name>', 'display name')
    .option('--identifier-uris <uri...>', 'identifier URIs')
    .option('--sign-in-audience <audience>', 'AzureADMyOrg, AzureADMultipleOrgs, …')
    .option('--is-fallback-public-client <bool>', 'a public client (no secret needed)')
    .option('--native-app', 'legacy: a public (native) client, as AAD Graph had it')
    .option('--public-client-redirect-uris <uri...>', 'public client redirect URIs')
    .option('--web-redirect-uris <uri...>', 'web redirect URIs')
    .option('--web-home-page-url <url>', 'web home page')
    .option('--reply-urls <uri...>', 'legacy: redirect URIs (public client ones with --native-app)')
    .option('--app-roles <json>', 'app roles as JSON')
    .option('--required-resource-accesses <json>', 'required resource access as JSON')
    .option('--optional-claims <json>', 'optional claims as JSON')
    .option('--set <key=value...>', 'set a property, e.g. groupMembershipClaims=All');
}

async function resetCredential(ctx: Context, kind: 'applications' | 'servicePrincipals', obj: any, appId: string): Promise<unknown> {
  const g = new Graph(ctx.session);
  if (!ctx.opts.append) {
    for (const c of obj.passwordCredentials ?? []) await g.call('POST', `/${kind}/${obj.id}/removePassword`, { keyId: c.keyId });
  }
  const added = await g.call('POST', `/${kind}/${obj.id}/addPassword`, {
    passwordCredential: { displayName: ctx.opts.displayName ?? null, endDateTime: endDate(ctx.opts) },
  });
  ctx.warn(
    'The output includes credentials that you must protect. Be sure that you do not include these credentials in your code or check the credentials into your source control.',
  );
  return { appId, password: added.secretText, tenant: (await ctx.session.token(GRAPH_SCOPE)).tenant };
}

export function registerAdCommands(program: Command): void {
  const ad = program
    .command('ad')
    .description('Manage the directory (users, groups, applications, service principals) through Microsoft Graph.');
  const graph = (ctx: Context) => new Graph(ctx.session);

  // ---- users ------------------------------------------------------------------------------
  const user = ad.command('user').description('Manage users.');
  leaf(
    user,
    'create',
    'Create a user.',
    (c) =>
      c
        .requiredOption('--display-name <name>')
        .requiredOption('--password <password>')
        .requiredOption('--user-principal-name <upn>')
        .option('--mail-nickname <alias>')
        .option('--force-change-password-next-sign-in'),
    async (ctx) =>
      graph(ctx).call('POST', '/users', {
        accountEnabled: true,
        displayName: ctx.opts.displayName,
        mailNickname: ctx.opts.mailNickname ?? String(ctx.opts.userPrincipalName).split('@')[0],
        userPrincipalName: ctx.opts.userPrincipalName,
        passwordProfile: { password: ctx.opts.password, forceChangePasswordNextSignIn: !!ctx.opts.forceChangePasswordNextSignIn },
      }),
  );
  leaf(
    user,
    'list',
    'List users.',
    (c) => c.option('--upn <upn>').option('--display-name <prefix>').option('--filter <odata>'),
    async (ctx) => {
      const f = [
        ctx.opts.filter,
        ctx.opts.upn && `userPrincipalName eq '${quote(ctx.opts.upn)}'`,
        ctx.opts.displayName && `startswith(displayName,'${quote(ctx.opts.displayName)}')`,
      ].filter(Boolean);
      return graph(ctx).list('/users', f.length ? f.join(' and ') : undefined);
    },
  );
  leaf(
    user,
    'show',
    'Show a user.',
    (c) => c.requiredOption('--id <upn-or-object-id>'),
    async (ctx) => graph(ctx).call('GET', `/users/${encodeURIComponent(ctx.opts.id)}`),
  );
  leaf(
    user,
    'update',
    'Update a user.',
    (c) =>
      c
        .requiredOption('--id <upn-or-object-id>')
        .option('--display-name <name>')
        .option('--password <password>')
        .option('--account-enabled <bool>')
        .option('--mail-nickname <alias>')
        .option('--force-change-password-next-sign-in <bool>'),
    async (ctx) => {
      const o = ctx.opts;
      const body: Record<string, unknown> = {};
      if (o.displayName) body.displayName = o.displayName;
      if (o.mailNickname) body.mailNickname = o.mailNickname;
      if (o.accountEnabled !== undefined) body.accountEnabled = o.accountEnabled === 'true';
      if (o.password)
        body.passwordProfile = { password: o.password, forceChangePasswordNextSignIn: o.forceChangePasswordNextSignIn === 'true' };
      await graph(ctx).call('PATCH', `/users/${encodeURIComponent(o.id)}`, body);
      return undefined;
    },
  );
  leaf(
    user,
    'delete',
    'Delete a user.',
    (c) => c.requiredOption('--id <upn-or-object-id>'),
    async (ctx) => {
      await graph(ctx).call('DELETE', `/users/${encodeURIComponent(ctx.opts.id)}`);
      return undefined;
    },
  );

  // ---- groups -----------------------------------------------------------------------------
  const group = ad.command('group').description('Manage security groups.');
  leaf(
    group,
    'create',
    'Create a security group (or return the one with the same names).',
    (c) =>
      c
        .requiredOption('--display-name <name>')
        .requiredOption('--mail-nickname <alias>')
        .option('--description <text>')
        .option('--force', 'create even if one with the same names exists'),
    async (ctx) => {
      const g = graph(ctx);
      const o = ctx.opts;
      if (!o.force) {
        const matches = await g.list('/groups', `displayName eq '${quote(o.displayName)}' and mailNickname eq '${quote(o.mailNickname)}'`);
        if (matches.length > 1)
          throw new CliError(
            `There is more than one group with the same display and nick names: "${matches.map((m) => m.id).join(', ')}". Please delete them first.`,
          );
        if (matches.length === 1) {
          ctx.warn('A group with the same display name and mail nickname already exists, returning.');
          return matches[0];
        }
      }
      return g.call('POST', '/groups', {
        displayName: o.displayName,
        mailNickname: o.mailNickname,
        description: o.description,
        mailEnabled: false,
        securityEnabled: true,
      });
    },
  );
  leaf(
    group,
    'list',
    'List groups.',
    (c) => c.option('--display-name <prefix>').option('--filter <odata>'),
    async (ctx) => {
      const f = [ctx.opts.filter, ctx.opts.displayName && `startswith(displayName,'${quote(ctx.opts.displayName)}')`].filter(Boolean);
      return graph(ctx).list('/groups', f.length ? f.join(' and ') : undefined);
    },
  );
  leaf(
    group,
    'show',
    'Show a group.',
    (c) => c.requiredOption('-g, --group <name-or-id>'),
    async (ctx) => {
      const g = graph(ctx);
      return g.call('GET', `/groups/${await resolveGroup(g, ctx.opts.group)}`);
    },
  );
  leaf(
    group,
    'delete',
    'Delete a group.',
    (c) => c.requiredOption('-g, --group <name-or-id>'),
    async (ctx) => {
      const g = graph(ctx);
      await g.call('DELETE', `/groups/${await resolveGroup(g, ctx.opts.group)}`);
      return undefined;
    },
  );
  const member = group.command('member').description('Manage group members.');
  const memberFlags = (c: Command) => c.requiredOption('-g, --group <name-or-id>').requiredOption('--member-id <object-id>');
  leaf(member, 'add', 'Add a member.', memberFlags, async (ctx) => {
    const g = graph(ctx);
    await g.call('POST', `/groups/${await resolveGroup(g, ctx.opts.group)}/members/$ref`, objectRef(ctx.session, ctx.opts.memberId));
    return undefined;
  });
  leaf(member, 'remove', 'Remove a member.', memberFlags, async (ctx) => {
    const g = graph(ctx);
    await g.call('DELETE', `/groups/${await resolveGroup(g, ctx.opts.group)}/members/${ctx.opts.memberId}/$ref`);
    return undefined;
  });
  leaf(
    member,
    'list',
    'List the direct members.',
    (c) => c.requiredOption('-g, --group <name-or-id>'),
    async (ctx) => {
      const g = graph(ctx);
      return g.list(`/groups/${await resolveGroup(g, ctx.opts.group)}/members`);
    },
  );
  leaf(member, 'check', 'Check whether an object is a (transitive) member.', memberFlags, async (ctx) => {
    const g = graph(ctx);
    const groupId = await resolveGroup(g, ctx.opts.group);
    const res = await g.call('POST', `/directoryObjects/${ctx.opts.memberId}/checkMemberGroups`, { groupIds: [groupId] });
    return { value: (res.value as string[]).includes(groupId) };
  });

  // ---- applications -------------------------------------------------------------------------
  const app = ad.command('app').description('Manage application registrations.');
  leaf(
    app,
    'create',
    'Create an application (az patches an existing one with the same display name).',
    (c) => appFlags(c),
    async (ctx) => {
      const g = graph(ctx);
      if (!ctx.opts.displayName) throw new CliError('the following arguments are required: --display-name', 2);
      const body = applicationBody(ctx.opts);
      let existing = await g.list('/applications', `startswith(displayName,'${quote(ctx.opts.displayName)}')`);
      if (ctx.opts.identifierUris)
        existing = existing.filter((a) => (ctx.opts.identifierUris as string[]).every((u) => a.identifierUris.includes(u)));
      existing = existing.filter((a) => a.displayName === ctx.opts.displayName);
      if (existing.length > 1)
        throw new CliError(
          `More than one application have the same display name '${ctx.opts.displayName}': (id) ${existing.map((a) => a.id).join(', ')}, please remove them first.`,
        );
      if (existing.length === 1) {
        ctx.warn(`Found an existing application instance: (id) ${existing[0].id}. We will patch it.`);
        await g.call('PATCH', `/applications/${existing[0].id}`, body);
        return g.call('GET', `/applications/${existing[0].id}`);
      }
      return g.call('POST', '/applications', body);
    },
  );
  leaf(
    app,
    'update',
    'Update an application.',
    (c) => appFlags(c.requiredOption('--id <app-id-or-object-id-or-uri>')),
    async (ctx) => {
      const g = graph(ctx);
      const a = await resolveApp(g, ctx.opts.id);
      await g.call('PATCH', `/applications/${a.id}`, applicationBody(ctx.opts));
      return undefined;
    },
  );
  leaf(
    app,
    'show',
    'Show an application.',
    (c) => c.requiredOption('--id <app-id-or-object-id-or-uri>'),
    async (ctx) => resolveApp(graph(ctx), ctx.opts.id),
  );
  leaf(
    app,
    'list',
    'List applications.',
    (c) =>
      c
        .option('--display-name <prefix>')
        .option('--app-id <guid>')
        .option('--identifier-uri <uri>')
        .option('--filter <odata>')
        .option('--all', 'list all, not only the first 100'),
    async (ctx) => {
      const o = ctx.opts;
      const f = [
        o.filter,
        o.appId && `appId eq '${quote(o.appId)}'`,
        o.displayName && `startswith(displayName,'${quote(o.displayName)}')`,
        o.identifierUri && `identifierUris/any(s:s eq '${quote(o.identifierUri)}')`,
      ].filter(Boolean);
      const result = await graph(ctx).list('/applications', f.length ? f.join(' and ') : undefined);
      if (!f.length && !o.all && result.length > 100) {
        ctx.warn(
          "The result is not complete. You can still use '--all' to get all of them with long latency expected, or provide a filter through command arguments",
        );
        return result.slice(0, 100);
      }
      return result;
    },
    graphApplicationTable,
  );
  leaf(
    app,
    'delete',
    'Delete an application.',
    (c) => c.requiredOption('--id <app-id-or-object-id-or-uri>'),
    async (ctx) => {
      const g = graph(ctx);
      await g.call('DELETE', `/applications/${(await resolveApp(g, ctx.opts.id)).id}`);
      return undefined;
    },
  );
  const credential = app.command('credential').description('Manage client secrets.');
  leaf(
    credential,
    'reset',
    'Add a new secret, removing the others unless --append.',
    (c) =>
      c.requiredOption('--id <app>').option('--append').option('--display-name <name>').option('--years <n>').option('--end-date <date>'),
    async (ctx) => {
      const a = await resolveApp(graph(ctx), ctx.opts.id);
      return resetCredential(ctx, 'applications', a, a.appId);
    },
  );
  leaf(
    credential,
    'list',
    'List the secrets (their hints, never the text).',
    (c) => c.requiredOption('--id <app>'),
    async (ctx) => (await resolveApp(graph(ctx), ctx.opts.id)).passwordCredentials,
  );
  leaf(
    credential,
    'delete',
    'Delete a secret.',
    (c) => c.requiredOption('--id <app>').requiredOption('--key-id <guid>'),
    async (ctx) => {
      const g = graph(ctx);
      const a = await resolveApp(g, ctx.opts.id);
      await g.call('POST', `/applications/${a.id}/removePassword`, { keyId: ctx.opts.keyId });
      return undefined;
    },
  );
  const permission = app.command('permission').description('Manage the API permissions an application asks for, and consent.');
  leaf(
    permission,
    'add',
    'Ask for permissions on an API.',
    (c) => c.requiredOption('--id <app>').requiredOption('--api <app-id>').requiredOption('--api-permissions <id=Scope|Role...>'),
    async (ctx) => {
      const access = (ctx.opts.apiPermissions as string[]).map((p) => {
        const [id, type] = p.split('=');
        if (!id || (type !== 'Scope' && type !== 'Role'))
          throw new CliError(
            'Usage error: Please provide both permission id and type, such as `--api-permissions e1fe6dd8-ba31-4d61-89e7-88639da4683d=Scope`',
            2,
          );
        return { id, type };
      });
      const g = graph(ctx);
      const a = await resolveApp(g, ctx.opts.id);
      const list = a.requiredResourceAccess as { resourceAppId: string; resourceAccess: { id: string; type: string }[] }[];
      const existing = list.find((r) => r.resourceAppId === ctx.opts.api);
      if (existing) existing.resourceAccess.push(...access.filter((x) => !existing.resourceAccess.some((y) => y.id === x.id)));
      else list.push({ resourceAppId: ctx.opts.api, resourceAccess: access });
      await g.call('PATCH', `/applications/${a.id}`, { requiredResourceAccess: list });
      ctx.warn(
        `Invoking \`kentra ad app permission grant --id ${ctx.opts.id} --api ${ctx.opts.api}\` is needed to make the change effective`,
      );
      return undefined;
    },
  );
  leaf(
    permission,
    'list',
    'List the permissions the application asks for.',
    (c) => c.requiredOption('--id <app>'),
    async (ctx) => (await resolveApp(graph(ctx), ctx.opts.id)).requiredResourceAccess,
  );
  leaf(
    permission,
    'grant',
    'Grant delegated permissions on an API for the whole tenant.',
    (c) =>
      c
        .requiredOption('--id <app>')
        .requiredOption('--api <app-id>')
        .option('--scope <scope...>', 'scopes to grant (default: the delegated permissions the app asks for on the API)')
        .option('--consent-type <type>', 'AllPrincipals or Principal', 'AllPrincipals')
        .option('--principal-id <object-id>'),
    async (ctx) => {
      const g = graph(ctx);
      const clientSp = await resolveSp(g, ctx.opts.id);
      const resourceSp = await resolveSp(g, ctx.opts.api);
      let scopes = ctx.opts.scope as string[] | undefined;
      if (!scopes) {
        const a = await resolveApp(g, ctx.opts.id);
        const ids = new Set(
          ((a.requiredResourceAccess as any[]).find((r) => r.resourceAppId === resourceSp.appId)?.resourceAccess ?? [])
            .filter((x: any) => x.type === 'Scope')
            .map((x: any) => x.id),
        );
        scopes = (resourceSp.oauth2PermissionScopes as any[]).filter((s) => ids.has(s.id)).map((s) => s.value);
        if (!scopes.length) scopes = ['user_impersonation'];
      }
      for (const old of await g.list('/oauth2PermissionGrants', `clientId eq '${clientSp.id}'`)) {
        if (old.resourceId === resourceSp.id) await g.call('DELETE', `/oAuth2PermissionGrants/${old.id}`);
      }
      return g.call('POST', '/oauth2PermissionGrants', {
        clientId: clientSp.id,
        consentType: ctx.opts.consentType,
        principalId: ctx.opts.principalId ?? null,
        resourceId: resourceSp.id,
        scope: scopes.join(' '),
      });
    },
  );
  leaf(
    permission,
    'admin-consent',
    'Grant every permission the application asks for, for the whole tenant (needs a Global Administrator).',
    (c) => c.requiredOption('--id <app>'),
    async (ctx) => {
      const g = graph(ctx);
      const a = await resolveApp(g, ctx.opts.id);
      const clientSp = await resolveSp(g, a.appId);
      for (const rra of a.requiredResourceAccess as { resourceAppId: string; resourceAccess: { id: string; type: string }[] }[]) {
        const resourceSp = await resolveSp(g, rra.resourceAppId);
        const scopes = (resourceSp.oauth2PermissionScopes as any[])
          .filter((s) => rra.resourceAccess.some((x) => x.type === 'Scope' && x.id === s.id))
          .map((s) => s.value);
        if (scopes.length) {
          const existing = (await g.list('/oauth2PermissionGrants', `clientId eq '${clientSp.id}'`)).find(
            (x) => x.resourceId === resourceSp.id && x.consentType === 'AllPrincipals',
          );
          if (existing)
            await g.call('PATCH', `/oauth2PermissionGrants/${existing.id}`, {
              scope: [...new Set([...String(existing.scope).split(' ').filter(Boolean), ...scopes])].join(' '),
            });
          else
            await g.call('POST', '/oauth2PermissionGrants', {
              clientId: clientSp.id,
              consentType: 'AllPrincipals',
              principalId: null,
              resourceId: resourceSp.id,
              scope: scopes.join(' '),
            });
        }
        const held = new Set(
          (await g.list(`/servicePrincipals/${clientSp.id}/appRoleAssignments`)).map((x) => `${x.resourceId}|${x.appRoleId}`),
        );
        for (const role of rra.resourceAccess.filter((x) => x.type === 'Role')) {
          if (held.has(`${resourceSp.id}|${role.id}`)) continue;
          await g.call('POST', `/servicePrincipals/${clientSp.id}/appRoleAssignments`, {
            principalId: clientSp.id,
            resourceId: resourceSp.id,
            appRoleId: role.id,
          });
        }
      }
      return undefined;
    },
  );

  // ---- service principals ----------------------------------------------------------------------
  const sp = ad.command('sp').description('Manage service principals.');
  leaf(
    sp,
    'create',
    'Create the service principal of an application.',
    (c) => c.requiredOption('--id <app-id-or-uri>'),
    async (ctx) => {
      const g = graph(ctx);
      const a = await resolveApp(g, ctx.opts.id).catch(() => null);
      return g.call('POST', '/servicePrincipals', { appId: a?.appId ?? ctx.opts.id, accountEnabled: true });
    },
  );
  leaf(
    sp,
    'create-for-rbac',
    'Create an application, its service principal and a secret; with --role and --scopes, assign it that role.',
    (c) =>
      c
        .option('-n, --name <display-name>', 'display name of the application (default: azure-cli-<time>)')
        .option('--role <name-or-id>')
        .option('--scopes <scopes...>', 'scopes of the role assignment')
        .option('--years <n>', 'years the secret is valid (default 1)'),
    async (ctx) => {
      const o = ctx.opts;
      if (!o.role !== !o.scopes) throw new CliError('usage error: To create role assignments, specify both --role and --scopes.', 2);
      const g = graph(ctx);
      const name = String(o.name ?? `azure-cli-${new Date().toISOString().slice(0, 19).replace(/[T:]/g, '-')}`);
      const existing = (await g.list('/applications', `displayName eq '${quote(name)}'`)).filter((a) => a.displayName === name);
      if (existing.length > 1)
        throw new CliError(
          `More than one application have the same display name '${name}': (id) ${existing.map((a) => a.id).join(', ')}, please remove them first.`,
        );
      let app = existing[0];
      if (app) ctx.warn(`Found an existing application instance: (id) ${app.id}. We will patch it.`);
      else app = await g.call('POST', '/applications', { displayName: name });
      const sps = await g.list('/servicePrincipals', `appId eq '${app.appId}'`);
      const principal = sps[0] ?? (await g.call('POST', '/servicePrincipals', { appId: app.appId, accountEnabled: true }));
      const credential = (await resetCredential({ ...ctx, opts: { years: o.years } }, 'applications', app, app.appId)) as {
        appId: string;
        password: string;
        tenant: string;
      };
      if (o.role) {
        const { Arm } = await import('./arm.js');
        const { createRoleAssignment } = await import('./aks.js');
        for (const scope of o.scopes as string[]) {
          ctx.warn(`Creating '${o.role}' role assignment under scope '${scope}'`);
          await createRoleAssignment(new Arm(ctx.session), String(o.role), principal.id, scope);
        }
      }
      return { appId: credential.appId, displayName: name, password: credential.password, tenant: credential.tenant };
    },
  );
  leaf(
    sp,
    'show',
    'Show a service principal.',
    (c) => c.requiredOption('--id <app-id-or-object-id-or-spn>'),
    async (ctx) => resolveSp(graph(ctx), ctx.opts.id),
  );
  leaf(
    sp,
    'list',
    'List service principals.',
    (c) => c.option('--display-name <prefix>').option('--spn <name>').option('--filter <odata>').option('--all'),
    async (ctx) => {
      const o = ctx.opts;
      const f = [
        o.filter,
        o.spn && `servicePrincipalNames/any(c:c eq '${quote(o.spn)}')`,
        o.displayName && `startswith(displayName,'${quote(o.displayName)}')`,
      ].filter(Boolean);
      const result = await graph(ctx).list('/servicePrincipals', f.length ? f.join(' and ') : undefined);
      return !f.length && !o.all ? result.slice(0, 100) : result;
    },
    graphApplicationTable,
  );
  leaf(
    sp,
    'delete',
    'Delete a service principal.',
    (c) => c.requiredOption('--id <app-id-or-object-id-or-spn>'),
    async (ctx) => {
      const g = graph(ctx);
      await g.call('DELETE', `/servicePrincipals/${(await resolveSp(g, ctx.opts.id)).id}`);
      return undefined;
    },
  );
  const spCredential = sp.command('credential').description("Manage a service principal's own secrets.");
  leaf(
    spCredential,
    'reset',
    'Add a new secret to the service principal, removing the others unless --append.',
    (c) =>
      c
        .option('--id <sp>')
        .option('--name <sp>', 'legacy spelling of --id')
        .option('--append')
        .option('--display-name <name>')
        .option('--credential-description <name>', 'legacy spelling of --display-name')
        .option('--years <n>')
        .option('--end-date <date>'),
    async (ctx) => {
      const id = ctx.opts.id ?? ctx.opts.name;
      if (!id) throw new CliError('the following arguments are required: --id', 2);
      ctx.opts.displayName ??= ctx.opts.credentialDescription;
      const s = await resolveSp(graph(ctx), id);
      return resetCredential(ctx, 'servicePrincipals', s, s.appId);
    },
  );

  // ---- signed-in user -------------------------------------------------------------------------
  const me = ad.command('signed-in-user').description('The signed-in user.');
  leaf(
    me,
    'show',
    'Show the signed-in user.',
    (c) => c,
    async (ctx) => graph(ctx).call('GET', '/me'),
  );
  leaf(
    me,
    'list-owned-objects',
    'List what the signed-in user owns.',
    (c) => c.option('--type <type>', 'application, servicePrincipal or group'),
    async (ctx) => {
      const owned = await graph(ctx).call('GET', '/me/ownedObjects');
      const list = Array.isArray(owned) ? owned : owned.value;
      return ctx.opts.type
        ? list.filter((o: any) => String(o['@odata.type']).toLowerCase() === `#microsoft.graph.${String(ctx.opts.type).toLowerCase()}`)
        : list;
    },
  );
}
