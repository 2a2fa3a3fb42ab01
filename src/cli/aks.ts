import { Option, type Command } from 'commander';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import type { JsonObject } from '../shared/json.js';
import { Arm } from './arm.js';
import { leaf, type Context } from './command.js';
import { CliError, GRAPH_SCOPE, Session } from './session.js';
import {
  aksTable,
  aksVersionsTable,
  featureTable,
  resourceGroupListTable,
  roleAssignmentTable,
  roleDefinitionTable,
} from './table-formats.js';
import { isGuid } from '../shared/crypto.js';

// `kentra group`, `kentra aks`, `kentra feature`, `kentra provider` and `kentra role`: az's commands
// over Kentra's ARM, with az's client-side checks, output names and kubeconfig merging.

const RG_API = '2021-04-01';
const AKS_API = '2022-11-01';
const FEATURE_API = '2021-07-01';
const AUTHZ_API = '2022-04-01';

const clusterPath = (sub: string, rg: string, name: string) =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.ContainerService/managedClusters/${name}`;

/** The names of a Graph user, group or service principal that az shows as a role assignment's principalName. */
interface PrincipalJson {
  userPrincipalName?: string;
  servicePrincipalNames?: string[];
  displayName?: string;
}

/** A cluster as az prints it: properties flattened, with the SDK's attribute names. */
export function clusterView(c: any): any {
  const { properties = {}, ...rest } = c;
  const out: any = { ...rest, ...properties, resourceGroup: String(c.id).split('/')[4] };
  if ('enableRBAC' in out) {
    out.enableRbac = out.enableRBAC;
    delete out.enableRBAC;
  }
  const aad = properties.aadProfile;
  out.aadProfile = aad
    ? {
        adminGroupObjectIDs: aad.adminGroupObjectIDs ?? null,
        clientAppId: aad.clientAppID ?? null,
        enableAzureRbac: aad.enableAzureRBAC ?? null,
        managed: aad.managed ?? null,
        serverAppId: aad.serverAppID ?? null,
        serverAppSecret: null,
        tenantId: aad.tenantID ?? null,
      }
    : null;
  return out;
}

/** A role assignment as az prints it: ARM's properties flattened onto the resource (the SDK model's `todict`). */
export function roleAssignmentView(x: any): any {
  const p = x.properties ?? {};
  const out: any = {
    canDelegate: p.canDelegate ?? null,
    condition: p.condition ?? null,
    conditionVersion: p.conditionVersion ?? null,
    createdBy: p.createdBy ?? null,
    createdOn: p.createdOn ?? null,
    delegatedManagedIdentityResourceId: p.delegatedManagedIdentityResourceId ?? null,
    description: p.description ?? null,
    id: x.id,
    name: x.name,
    principalId: p.principalId ?? null,
    principalType: p.principalType ?? null,
  };
  const rg = /\/resourceGroups\/([^/]+)/i.exec(String(p.scope ?? ''));
  if (rg) out.resourceGroup = rg[1];
  Object.assign(out, {
    roleDefinitionId: p.roleDefinitionId ?? null,
    scope: p.scope ?? null,
    type: x.type,
    updatedBy: p.updatedBy ?? null,
    updatedOn: p.updatedOn ?? null,
  });
  return out;
}

/** A role definition as az prints it: ARM's properties flattened (`properties.type` is the SDK's `roleType`), keys sorted. */
export function roleDefinitionView(x: any): any {
  const p = x.properties ?? {};
  return {
    assignableScopes: p.assignableScopes ?? [],
    createdBy: p.createdBy ?? null,
    createdOn: p.createdOn ?? null,
    description: p.description ?? null,
    id: x.id,
    name: x.name,
    permissions: (p.permissions ?? []).map((q: JsonObject) => ({
      actions: q.actions ?? [],
      condition: q.condition ?? null,
      conditionVersion: q.conditionVersion ?? null,
      dataActions: q.dataActions ?? [],
      notActions: q.notActions ?? [],
      notDataActions: q.notDataActions ?? [],
    })),
    roleName: p.roleName ?? null,
    roleType: p.type ?? null,
    type: x.type,
    updatedBy: p.updatedBy ?? null,
    updatedOn: p.updatedOn ?? null,
  };
}

function splitIds(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(/[,\s]+/).filter(Boolean);
}

/** A role definition's ID from its name or GUID, as `role assignment create --role` and `ad sp create-for-rbac --role` take it. */
export async function roleDefinitionId(a: Arm, name: string): Promise<string> {
  if (isGuid(name)) return `/subscriptions/${a.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${name}`;
  const defs = (
    await a.call('GET', `/subscriptions/${a.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions`, AUTHZ_API, undefined, {
      $filter: `roleName eq '${name}'`,
    })
  ).body.value;
  if (!defs.length) throw new CliError(`Role '${name}' doesn't exist.`, 3);
  return defs[0].id;
}

/** Assigns a role at a scope (a new assignment name each time, as az does). */
export async function createRoleAssignment(a: Arm, role: string, principalId: string, scope: string): Promise<any> {
  const { randomUUID } = await import('node:crypto');
  return roleAssignmentView(
    (
      await a.call('PUT', `${scope.replace(/\/+$/, '')}/providers/Microsoft.Authorization/roleAssignments/${randomUUID()}`, AUTHZ_API, {
        properties: { roleDefinitionId: await roleDefinitionId(a, role), principalId },
      })
    ).body,
  );
}

/**
 * az's `--generate-ssh-keys` / `--ssh-key-value`: the public key of ~/.ssh/id_rsa.pub (made, with its
 * private key, when it does not exist yet), as the cluster's linuxProfile.
 */
async function linuxProfile(ctx: Context, o: Record<string, any>): Promise<Record<string, unknown> | undefined> {
  let keyData: string | undefined;
  const given = o.sshKeyValue as string | undefined;
  if (given) keyData = existsSync(given) ? readFileSync(given, 'utf8').trim() : given.trim();
  else if (o.generateSshKeys) {
    const pub = join(homedir(), '.ssh', 'id_rsa.pub');
    if (!existsSync(pub)) {
      const { generateKeyPairSync } = await import('node:crypto');
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const jwk = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
      const field = (b: Buffer) => {
        const len = Buffer.alloc(4);
        len.writeUInt32BE(b.length);
        return Buffer.concat([len, b]);
      };
      const mpint = (b64: string) => {
        const b = Buffer.from(b64, 'base64url');
        return field(b[0]! & 0x80 ? Buffer.concat([Buffer.alloc(1), b]) : b);
      };
      const blob = Buffer.concat([field(Buffer.from('ssh-rsa')), mpint(jwk.e), mpint(jwk.n)]);
      mkdirSync(dirname(pub), { recursive: true, mode: 0o700 });
      writeFileSync(pub.slice(0, -4), privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
      writeFileSync(pub, `ssh-rsa ${blob.toString('base64')}\n`, { mode: 0o644 });
      ctx.warn(
        `SSH key files '${pub.slice(0, -4)}' and '${pub}' have been generated under ~/.ssh to allow SSH access to the VM. If using machines without permanent storage like Azure Cloud Shell without an attached file share, back up your keys to a safe location`,
      );
    }
    keyData = readFileSync(pub, 'utf8').trim();
  }
  if (keyData === undefined) return undefined;
  if (!/^(ssh-rsa|ecdsa-sha2-\S+|ssh-ed25519) [A-Za-z0-9+/=]+/.test(keyData))
    throw new CliError('Provided ssh key has an invalid format: an OpenSSH public key (ssh-rsa AAAA…) is expected.', 2);
  return { adminUsername: 'azureuser', ssh: { publicKeys: [{ keyData }] } };
}

/**
 * A warning for each admin group ID that is not a group of the signed-in tenant: ARM accepts any GUID,
 * and a mistyped one leaves the cluster with no admin (Entra tokens carry only real group IDs).
 */
async function warnUnknownAdminGroups(ctx: Context, ids: string[] | undefined, tenantId: string | undefined): Promise<void> {
  if (!ids?.length) return;
  const { token, tenant } = await ctx.session.token(GRAPH_SCOPE);
  if (tenantId && tenantId.toLowerCase() !== tenant.toLowerCase()) return; // another tenant's directory: not ours to read
  for (const id of ids) {
    const res = await ctx.session.http('GET', `${ctx.session.authority}/v1.0/groups/${encodeURIComponent(id)}?$select=id`, { token });
    if (res.status === 404)
      ctx.warn(
        `The admin group '${id}' is not a group in tenant ${tenant}: its members will not be cluster admins. Check the ID with 'kentra ad group show --group ${id}'.`,
      );
  }
}

/** PUT and wait (unless --no-wait), then read the cluster back, as az does. */
async function putCluster(ctx: Context, arm: Arm, path: string, body: unknown): Promise<unknown> {
  const res = await arm.call('PUT', path, AKS_API, body);
  if (ctx.opts.wait === false) return undefined;
  const status = res.headers['azure-asyncoperation'];
  if (typeof status === 'string') await arm.wait(status);
  return clusterView((await arm.call('GET', path, AKS_API)).body);
}

/** Merges a kubeconfig into a file the way az does (admin contexts get -admin; clashes need --overwrite-existing). */
function mergeKubeconfig(ctx: Context, text: string, admin: boolean): void {
  const incoming = parse(text);
  if (ctx.opts.context) {
    incoming.contexts[0].name = ctx.opts.context;
    incoming['current-context'] = ctx.opts.context;
  } else if (admin) {
    incoming.contexts[0].name = `${incoming.contexts[0].name}-admin`;
    incoming['current-context'] = incoming.contexts[0].name;
  }
  if (ctx.opts.file === '-') {
    process.stdout.write(stringify(incoming));
    return;
  }
  const file = resolve(ctx.opts.file ?? (process.env.KUBECONFIG?.split(':')[0] || join(homedir(), '.kube', 'config')));
  const existing =
    existsSync(file) && readFileSync(file, 'utf8').trim()
      ? parse(readFileSync(file, 'utf8'))
      : { apiVersion: 'v1', kind: 'Config', clusters: [], contexts: [], users: [], preferences: {} };
  for (const key of ['clusters', 'users', 'contexts'] as const) {
    existing[key] ??= [];
    for (const item of incoming[key] ?? []) {
      const i = existing[key].findIndex((x: { name?: string }) => x.name === item.name);
      if (i >= 0 && JSON.stringify(existing[key][i]) !== JSON.stringify(item)) {
        // az's `_handle_merge` with no TTY to ask "Overwrite?" (Kentra never prompts): --overwrite-existing replaces.
        if (!ctx.opts.overwriteExisting)
          throw new CliError(`A different object named ${item.name} already exists in ${key} in your kubeconfig file.`);
        existing[key][i] = item;
      } else if (i < 0) {
        existing[key].push(item);
      }
    }
  }
  existing['current-context'] = incoming['current-context'];
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, stringify(existing), { mode: 0o600 });
  ctx.warn(`Merged "${incoming['current-context']}" as current context in ${file}`);
}

export function registerAksCommands(program: Command): void {
  const arm = (ctx: Context) => new Arm(ctx.session);

  // ---- resource groups ------------------------------------------------------------------------
  const group = program.command('group').description('Manage resource groups.');
  const rgPath = (a: Arm, name: string) => `/subscriptions/${a.subscriptionId}/resourcegroups/${name}`;
  leaf(
    group,
    'create',
    'Create a resource group.',
    (c) => c.requiredOption('-n, --name <name>').requiredOption('-l, --location <location>').option('--tags <k=v...>'),
    async (ctx) => {
      const a = arm(ctx);
      const tags = Object.fromEntries(((ctx.opts.tags ?? []) as string[]).map((t) => t.split('=') as [string, string]));
      return (await a.call('PUT', rgPath(a, ctx.opts.name), RG_API, { location: ctx.opts.location, tags })).body;
    },
  );
  leaf(
    group,
    'show',
    'Show a resource group.',
    (c) => c.requiredOption('-n, --name <name>'),
    async (ctx) => {
      const a = arm(ctx);
      return (await a.call('GET', rgPath(a, ctx.opts.name), RG_API)).body;
    },
  );
  leaf(
    group,
    'list',
    'List resource groups.',
    (c) => c,
    async (ctx) => {
      const a = arm(ctx);
      return (await a.call('GET', `/subscriptions/${a.subscriptionId}/resourcegroups`, RG_API)).body.value;
    },
    resourceGroupListTable,
  );
  leaf(
    group,
    'delete',
    'Delete a resource group and everything in it.',
    (c) => c.requiredOption('-n, --name <name>').option('-y, --yes', 'do not ask for confirmation').option('--no-wait'),
    async (ctx) => {
      if (!ctx.opts.yes)
        throw new CliError('Are you sure you want to perform this operation? Pass --yes to confirm (no terminal to ask on).', 2);
      const a = arm(ctx);
      const res = await a.call('DELETE', rgPath(a, ctx.opts.name), RG_API);
      if (ctx.opts.wait !== false && typeof res.headers.location === 'string') await a.wait(res.headers.location);
      return undefined;
    },
  );

  // ---- aks -------------------------------------------------------------------------------------
  const aks = program.command('aks').description('Manage Azure Kubernetes Service clusters.');
  const target = (c: Command) => c.requiredOption('-g, --resource-group <rg>').requiredOption('-n, --name <name>');
  leaf(
    aks,
    'create',
    'Create a managed cluster.',
    (c) =>
      target(c)
        .option('-l, --location <location>', "default: the resource group's")
        .option('--enable-aad', 'managed Microsoft Entra integration')
        .option('--aad-admin-group-object-ids <ids>', 'comma-separated admin group object IDs')
        .option('--aad-tenant-id <tenant>')
        .option('--enable-azure-rbac')
        .option('--disable-rbac')
        .option('--enable-rbac')
        .option('--disable-local-accounts')
        .option('--aad-server-app-id <appId>')
        .option('--aad-server-app-secret <secret>')
        .option('--aad-client-app-id <appId>')
        .option('--generate-ssh-keys', 'use ~/.ssh/id_rsa.pub, made if missing')
        .option('--ssh-key-value <key-or-file>')
        .option('-c, --node-count <n>', 'nodes in the first pool', '3')
        .option('-k, --kubernetes-version <version>')
        .option('--dns-name-prefix <prefix>')
        .option('--no-wait'),
    async (ctx) => {
      const o = ctx.opts;
      const a = arm(ctx);
      if (o.enableAzureRbac && o.disableRbac) throw new CliError('--enable-azure-rbac cannot be used together with --disable-rbac', 2);
      if (!o.enableAad && (o.aadAdminGroupObjectIds || o.enableAzureRbac))
        throw new CliError('"--aad-admin-group-object-ids" and "--enable-azure-rbac" can only be used together with "--enable-aad"', 2);
      const legacy = o.aadServerAppId || o.aadServerAppSecret || o.aadClientAppId;
      if (o.enableAad && legacy)
        throw new CliError(
          '"--enable-aad" cannot be used together with "--aad-client-app-id", "--aad-server-app-id" or "--aad-server-app-secret"',
          2,
        );
      const rg = (await a.call('GET', `/subscriptions/${a.subscriptionId}/resourcegroups/${o.resourceGroup}`, RG_API)).body;
      const nodeCount = Number(o.nodeCount);
      if (!Number.isInteger(nodeCount) || nodeCount < 0) throw new CliError('usage error: --node-count must be a whole number', 2);
      const ssh = await linuxProfile(ctx, o);
      if (o.enableAad) await warnUnknownAdminGroups(ctx, splitIds(o.aadAdminGroupObjectIds), o.aadTenantId);
      const aadProfile = o.enableAad
        ? {
            managed: true,
            enableAzureRBAC: !!o.enableAzureRbac,
            adminGroupObjectIDs: splitIds(o.aadAdminGroupObjectIds) ?? null,
            ...(o.aadTenantId ? { tenantID: o.aadTenantId } : {}),
          }
        : legacy
          ? {
              clientAppID: o.aadClientAppId,
              serverAppID: o.aadServerAppId,
              serverAppSecret: o.aadServerAppSecret,
              ...(o.aadTenantId ? { tenantID: o.aadTenantId } : {}),
            }
          : undefined;
      return putCluster(ctx, a, clusterPath(a.subscriptionId, o.resourceGroup, o.name), {
        location: o.location ?? rg.location,
        identity: { type: 'SystemAssigned' },
        properties: {
          kubernetesVersion: o.kubernetesVersion ?? '',
          dnsPrefix: o.dnsNamePrefix,
          enableRBAC: !o.disableRbac,
          disableLocalAccounts: !!o.disableLocalAccounts,
          agentPoolProfiles: [{ name: 'nodepool1', count: nodeCount, vmSize: 'Standard_DS2_v2', mode: 'System', osType: 'Linux' }],
          ...(aadProfile ? { aadProfile } : {}),
          ...(ssh ? { linuxProfile: ssh } : {}),
        },
      });
    },
  );
  leaf(
    aks,
    'update',
    'Update a managed cluster.',
    (c) =>
      target(c)
        .option('--enable-aad')
        .option('--aad-admin-group-object-ids <ids>')
        .option('--aad-tenant-id <tenant>')
        .option('--enable-azure-rbac')
        .option('--disable-azure-rbac')
        .option('--enable-local-accounts')
        .option('--disable-local-accounts')
        .option('--no-wait')
        .option('-y, --yes'),
    async (ctx) => {
      const o = ctx.opts;
      const a = arm(ctx);
      const path = clusterPath(a.subscriptionId, o.resourceGroup, o.name);
      const cluster = (await a.call('GET', path, AKS_API)).body;
      const p = cluster.properties;
      const managed = !!p.aadProfile?.managed;
      if (o.enableAad && managed) throw new CliError('Cannot specify "--enable-aad" if managed AAD is already enabled', 2);
      if (!o.enableAad && !managed) {
        for (const [flag, set] of [
          ['--aad-tenant-id', o.aadTenantId],
          ['--aad-admin-group-object-ids', o.aadAdminGroupObjectIds],
          ['--enable-azure-rbac', o.enableAzureRbac],
          ['--disable-azure-rbac', o.disableAzureRbac],
        ] as const) {
          if (set) throw new CliError(`Cannot specify "${flag}" if managed AAD is not enabled`, 2);
        }
      }
      if (o.enableLocalAccounts && o.disableLocalAccounts)
        throw new CliError('Cannot specify --disable-local-accounts and --enable-local-accounts at the same time.', 2);
      if (o.enableAzureRbac && o.disableAzureRbac)
        throw new CliError('Cannot specify "--enable-azure-rbac" and "--disable-azure-rbac" at the same time', 2);
      if (
        !o.enableAad &&
        !o.aadTenantId &&
        !o.aadAdminGroupObjectIds &&
        !o.enableAzureRbac &&
        !o.disableAzureRbac &&
        !o.enableLocalAccounts &&
        !o.disableLocalAccounts
      ) {
        throw new CliError(
          'Please specify one or more of "--enable-aad", "--aad-admin-group-object-ids", "--aad-tenant-id", "--enable-azure-rbac", "--disable-azure-rbac", "--enable-local-accounts" or "--disable-local-accounts".',
          2,
        );
      }
      const aad = o.enableAad
        ? {
            managed: true,
            adminGroupObjectIDs: splitIds(o.aadAdminGroupObjectIds) ?? null,
            ...(o.aadTenantId ? { tenantID: o.aadTenantId } : {}),
          }
        : p.aadProfile
          ? { ...p.aadProfile }
          : undefined;
      if (aad && !o.enableAad) {
        if (o.aadAdminGroupObjectIds !== undefined) aad.adminGroupObjectIDs = splitIds(o.aadAdminGroupObjectIds);
        if (o.aadTenantId) aad.tenantID = o.aadTenantId;
      }
      if (o.aadAdminGroupObjectIds !== undefined && aad)
        await warnUnknownAdminGroups(ctx, aad.adminGroupObjectIDs ?? undefined, aad.tenantID);
      if (aad && o.enableAzureRbac) aad.enableAzureRBAC = true;
      if (aad && o.disableAzureRbac) aad.enableAzureRBAC = false;
      if (aad) delete aad.serverAppSecret;
      const {
        provisioningState: _p,
        fqdn: _f,
        azurePortalFQDN: _a,
        currentKubernetesVersion: _c,
        maxAgentPools: _m,
        powerState: _w,
        ...writable
      } = p;
      return putCluster(ctx, a, path, {
        location: cluster.location,
        tags: cluster.tags,
        identity: cluster.identity,
        sku: cluster.sku,
        properties: {
          ...writable,
          aadProfile: aad,
          disableLocalAccounts: o.disableLocalAccounts ? true : o.enableLocalAccounts ? false : p.disableLocalAccounts,
        },
      });
    },
  );
  leaf(
    aks,
    'show',
    'Show a managed cluster.',
    target,
    async (ctx) => {
      const a = arm(ctx);
      return clusterView((await a.call('GET', clusterPath(a.subscriptionId, ctx.opts.resourceGroup, ctx.opts.name), AKS_API)).body);
    },
    aksTable,
  );
  leaf(
    aks,
    'list',
    'List managed clusters.',
    (c) => c.option('-g, --resource-group <rg>'),
    async (ctx) => {
      const a = arm(ctx);
      const path = ctx.opts.resourceGroup
        ? `/subscriptions/${a.subscriptionId}/resourceGroups/${ctx.opts.resourceGroup}/providers/Microsoft.ContainerService/managedClusters`
        : `/subscriptions/${a.subscriptionId}/providers/Microsoft.ContainerService/managedClusters`;
      return (await a.call('GET', path, AKS_API)).body.value.map(clusterView);
    },
    aksTable,
  );
  leaf(
    aks,
    'delete',
    'Delete a managed cluster.',
    (c) => target(c).option('-y, --yes').option('--no-wait'),
    async (ctx) => {
      if (!ctx.opts.yes)
        throw new CliError('Are you sure you want to perform this operation? Pass --yes to confirm (no terminal to ask on).', 2);
      const a = arm(ctx);
      const res = await a.call('DELETE', clusterPath(a.subscriptionId, ctx.opts.resourceGroup, ctx.opts.name), AKS_API);
      if (ctx.opts.wait !== false && typeof res.headers['azure-asyncoperation'] === 'string')
        await a.wait(res.headers['azure-asyncoperation']);
      return undefined;
    },
  );
  leaf(
    aks,
    'get-versions',
    'List the Kubernetes versions clusters can use in a location.',
    (c) => c.requiredOption('-l, --location <location>'),
    async (ctx) => {
      const a = arm(ctx);
      return (
        await a.call(
          'GET',
          `/subscriptions/${a.subscriptionId}/providers/Microsoft.ContainerService/locations/${encodeURIComponent(ctx.opts.location)}/kubernetesVersions`,
          '2024-02-01',
        )
      ).body;
    },
    aksVersionsTable,
  );
  leaf(
    aks,
    'get-credentials',
    'Get the kubeconfig and merge it into ~/.kube/config (or --file).',
    (c) =>
      target(c)
        .option('-a, --admin', 'the local admin credential')
        .option('--format <format>', 'exec (kubelogin) or azure (legacy auth-provider)')
        .option('-f, --file <path>', 'kubeconfig file to merge into, or - for stdout')
        .option('--context <name>', 'the context name')
        .option('--overwrite-existing'),
    async (ctx) => {
      const o = ctx.opts;
      if (o.admin && o.format) throw new CliError('--format can only be specified when requesting clusterUser credential.', 2);
      if (o.format && !['exec', 'azure'].includes(String(o.format).toLowerCase()))
        throw new CliError("usage error: --format must be 'exec' or 'azure'", 2);
      const a = arm(ctx);
      const path = `${clusterPath(a.subscriptionId, o.resourceGroup, o.name)}/${o.admin ? 'listClusterAdminCredential' : 'listClusterUserCredential'}`;
      const res = await a.call('POST', path, AKS_API, undefined, o.format ? { format: String(o.format).toLowerCase() } : {});
      mergeKubeconfig(ctx, Buffer.from(res.body.kubeconfigs[0].value, 'base64').toString('utf8'), !!o.admin);
      return undefined;
    },
  );

  // `kentra aks attach` (Kentra's own, no az counterpart): a cluster Kentra does not run, registered as a
  // managedCluster with properties.attachedClusterProfile (its API server URL and CA) and managed Entra
  // integration. Its users get the exec kubeconfig for that server; its kube-apiserver calls Kentra's webhooks.
  const attach = leaf(
    aks,
    'attach',
    'Register an existing Kubernetes cluster that Kentra does not run, with managed Microsoft Entra integration (Kentra only).',
    (c) =>
      target(c)
        .requiredOption('--server <url>', "the https URL of the cluster's API server, e.g. https://10.0.0.4:6443")
        .requiredOption('--ca-file <file>', "PEM file with the CA certificate(s) that sign the API server's serving certificate")
        .option('--tenant-id <tenant>', "the Entra tenant of the cluster's users (default: the signed-in tenant)")
        .option('--aad-admin-group-object-ids <ids>', 'comma-separated admin group object IDs (bound to cluster-admin: see webhook-config)')
        .option('--enable-azure-rbac', 'Azure RBAC decides access through the authorization webhook')
        .option(
          '-k, --kubernetes-version <version>',
          "the cluster's Kubernetes version (decides the kubeconfig format and the AuthenticationConfiguration apiVersion)",
        )
        .option('-l, --location <location>', "default: the resource group's")
        .option('--no-wait'),
    async (ctx) => {
      const o = ctx.opts;
      let url: URL;
      try {
        url = new URL(String(o.server));
      } catch {
        throw new CliError(`usage error: --server '${o.server}' is not a URL; pass the https URL of the API server`, 2);
      }
      if (url.protocol !== 'https:')
        throw new CliError(
          `usage error: --server must be an https URL (got '${o.server}'): Kentra only attaches API servers that serve TLS`,
          2,
        );
      let pem: string;
      try {
        pem = readFileSync(resolve(String(o.caFile)), 'utf8');
      } catch (err) {
        throw new CliError(`cannot read the CA file '${o.caFile}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 2);
      }
      if (!pem.includes('-----BEGIN CERTIFICATE-----'))
        throw new CliError(`the CA file '${o.caFile}' holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, 2);
      const a = arm(ctx);
      const rg = (await a.call('GET', `/subscriptions/${a.subscriptionId}/resourcegroups/${o.resourceGroup}`, RG_API)).body;
      return putCluster(ctx, a, clusterPath(a.subscriptionId, o.resourceGroup, o.name), {
        location: o.location ?? rg.location,
        identity: { type: 'SystemAssigned' },
        properties: {
          kubernetesVersion: o.kubernetesVersion ?? '',
          enableRBAC: true,
          disableLocalAccounts: true,
          attachedClusterProfile: { serverUrl: String(o.server), certificateAuthorityData: Buffer.from(pem).toString('base64') },
          aadProfile: {
            managed: true,
            enableAzureRBAC: !!o.enableAzureRbac,
            adminGroupObjectIDs: splitIds(o.aadAdminGroupObjectIds) ?? null,
            ...(o.tenantId ? { tenantID: o.tenantId } : {}),
          },
        },
      });
    },
  );
  attach.addHelpText(
    'after',
    `
The cluster is a managedCluster whose properties.attachedClusterProfile (Kentra's own property, not
Azure's) holds the server URL and CA. Then:
  kentra aks get-credentials    the exec (kubelogin) kubeconfig for that server; --admin is refused
                                (Kentra holds no admin credential of a cluster it does not run)
  kentra aks webhook-config     the files and flags its kube-apiserver needs to use Kentra's webhooks
  kentra aks update / show / list / delete   as for any cluster; start and stop are refused

Example:
  kentra aks attach -g myResourceGroup -n onprem --server https://10.0.0.4:6443 --ca-file ca.crt --aad-admin-group-object-ids <gid>
  kentra aks webhook-config -g myResourceGroup -n onprem --dir ./kentra-webhooks`,
  );

  for (const [verb, what] of [
    ['start', 'Start'],
    ['stop', 'Stop'],
  ] as const) {
    leaf(
      aks,
      verb,
      `${what} a managed cluster (its power state; refused for an attached cluster).`,
      (c) => target(c).option('--no-wait'),
      async (ctx) => {
        const a = arm(ctx);
        const res = await a.call('POST', `${clusterPath(a.subscriptionId, ctx.opts.resourceGroup, ctx.opts.name)}/${verb}`, AKS_API);
        if (ctx.opts.wait !== false && typeof res.headers['azure-asyncoperation'] === 'string')
          await a.wait(res.headers['azure-asyncoperation']);
        return undefined;
      },
    );
  }

  const webhookConfig = leaf(
    aks,
    'webhook-config',
    'Write the kube-apiserver webhook config files (who a token belongs to; Azure RBAC decisions) and print the flags to use.',
    (c) =>
      target(c).requiredOption(
        '--dir <dir>',
        'folder to write authn-webhook.kubeconfig and authz-webhook.kubeconfig into (they hold a private key: written 0600), and authentication-config.yaml',
      ),
    async (ctx) => {
      const o = ctx.opts;
      const a = arm(ctx);
      const res = await a.call('POST', `${clusterPath(a.subscriptionId, o.resourceGroup, o.name)}/listWebhookCredential`, AKS_API);
      const dir = resolve(String(o.dir));
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const file = (name: string) => {
        const path = join(dir, `${name === 'tokenReview' ? 'authn' : 'authz'}-webhook.kubeconfig`);
        const kc = (res.body.kubeconfigs as { name: string; value: string }[]).find((x) => x.name === name);
        if (!kc) throw new CliError(`the server sent no ${name} webhook config`);
        writeFileSync(path, Buffer.from(kc.value, 'base64'), { mode: 0o600 });
        return path;
      };
      const authn = file('tokenReview');
      const authz = file('subjectAccessReview');
      if (typeof res.body.authenticationConfiguration === 'string') {
        // The structured alternative to the TokenReview webhook (no secret in it).
        const alt = join(dir, 'authentication-config.yaml');
        writeFileSync(alt, Buffer.from(res.body.authenticationConfiguration, 'base64'), { mode: 0o644 });
        const minor = Number(String(res.body.kubernetesVersion ?? '').split('.')[1]);
        ctx.warn(
          `Alternative for kube-apiserver 1.30 and later${minor < 30 ? ` (not this cluster: it runs ${res.body.kubernetesVersion})` : ''}: in place of the three --authentication-token-webhook-* flags, --authentication-config=${alt} makes the API server validate Entra tokens itself (keys from Kentra's discovery; keep the authorization flags). What it cannot do: group overage (a token with _claim_names and no groups claim gets no groups; the webhook resolves them from the directory); the oid extra (extra keys must be domain-prefixed, so Azure RBAC, which reads extra.oid, has no opinion on such users); Guard's error messages (the API server logs its own); a token whose issuer is neither https://sts.windows.net/<tenant>/ (v1) nor Kentra's v2 issuer at this origin is refused, so Kentra must be reached at the same origin by kubelogin and the API server for v2 tokens.`,
        );
      }
      const cluster = (await a.call('GET', clusterPath(a.subscriptionId, o.resourceGroup, o.name), AKS_API)).body;
      const groups: string[] = cluster.properties?.aadProfile?.adminGroupObjectIDs ?? [];
      if (cluster.properties?.attachedClusterProfile && groups.length) {
        // AKS binds the admin groups in the clusters it runs; in an attached cluster someone has to apply it.
        const binding = join(dir, 'admin-group-binding.yaml');
        writeFileSync(
          binding,
          stringify({
            apiVersion: 'rbac.authorization.k8s.io/v1',
            kind: 'ClusterRoleBinding',
            metadata: { name: 'aks-cluster-admin-binding-aad' },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
            subjects: groups.map((g) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: g })),
          }),
          { mode: 0o644 },
        );
        ctx.warn(`The cluster is attached: bind its admin groups in it with its own admin credential: kubectl apply -f ${binding}`);
      }
      // As in AKS, the authorization webhook (Guard's Azure RBAC) is configured only when Azure RBAC is on;
      // otherwise the API server's RBAC decides alone (a webhook saying no would add its reason to every 403).
      const azureRbac = !!cluster.properties?.aadProfile?.enableAzureRBAC;
      return {
        files: [authn, authz],
        flags: [
          `--authentication-token-webhook-config-file=${authn}`,
          '--authentication-token-webhook-version=v1',
          '--authentication-token-webhook-cache-ttl=2m',
          ...(azureRbac
            ? [
                '--authorization-mode=Node,RBAC,Webhook',
                `--authorization-webhook-config-file=${authz}`,
                '--authorization-webhook-version=v1',
                '--authorization-webhook-cache-authorized-ttl=5m',
                '--authorization-webhook-cache-unauthorized-ttl=30s',
              ]
            : ['--authorization-mode=Node,RBAC']),
        ],
      };
    },
  );

  webhookConfig.addHelpText(
    'after',
    `
Writes authn-webhook.kubeconfig and authz-webhook.kubeconfig (the webhook URL on Kentra, Kentra's CA,
and a client certificate bound to this cluster) and prints the kube-apiserver flags (webhook
versions v1, which kube-apiserver 1.20 and later read). For a cluster with Entra integration it also
writes authentication-config.yaml: the structured AuthenticationConfiguration (v1beta1 for 1.30-1.33,
v1 from 1.34) to use with --authentication-config in place of the token webhook flags; what it
cannot do (group overage, the oid extra, Guard's messages) is printed and in the README. For an
attached cluster with admin groups, admin-group-binding.yaml binds them to cluster-admin.`,
  );

  // `kentra aks access-log`: the cluster access log (docs/access-log.md) through ARM's accessLogs.
  const accessLog = leaf(
    aks,
    'access-log',
    "Show the cluster's access log: each authentication and authorization decision of its webhooks and built-in API, newest first.",
    (c) =>
      target(c)
        .option('--top <n>', 'how many entries (1-1000, default 100)')
        .option('--user <name>', 'only the decisions about this user name (exact, e.g. alice@contoso.com)')
        .option('--denied', 'only the decisions that did not let the request through (denied or no opinion)'),
    async (ctx) => {
      const o = ctx.opts;
      let top = 100;
      if (o.top !== undefined) {
        if (!/^\d{1,4}$/.test(String(o.top)) || Number(o.top) < 1 || Number(o.top) > 1000)
          throw new CliError(`argument --top: invalid value '${String(o.top)}': use a whole number from 1 to 1000`, 2);
        top = Number(o.top);
      }
      const clauses: string[] = [];
      if (o.user !== undefined) clauses.push(`user eq '${String(o.user).replace(/'/g, "''")}'`);
      if (o.denied) clauses.push('allowed eq false');
      const a = arm(ctx);
      const query: Record<string, string> = { $top: String(top) };
      if (clauses.length) query.$filter = clauses.join(' and ');
      const res = await a.call('GET', `${clusterPath(a.subscriptionId, o.resourceGroup, o.name)}/accessLogs`, AKS_API, undefined, query);
      return (res.body as { value: unknown[] }).value;
    },
    (result) =>
      (result as JsonObject[]).map((e) => ({
        time: e.time,
        kind: e.kind,
        source: e.source,
        user: e.user,
        verb: e.verb ?? '',
        resource: e.resource
          ? [e.apiGroup ? `${String(e.resource)}.${String(e.apiGroup)}` : e.resource, e.subresource].filter(Boolean).join('/')
          : (e.path ?? ''),
        namespace: e.namespace ?? '',
        decision: e.decision,
        reason: e.reason,
      })),
  );
  accessLog.addHelpText(
    'after',
    `
Needs the action Microsoft.Insights/logs/AKSAudit/read on the cluster (Owner, Contributor or Reader of
the cluster, its resource group or subscription); the AKS credential and RBAC roles do not grant it.

Examples:
  kentra aks access-log -g myResourceGroup -n myManagedCluster -o table
  kentra aks access-log -g myResourceGroup -n myManagedCluster --user alice@contoso.com --denied --top 20`,
  );

  // `kentra aks check-access`: one access decision of the cluster's API, explained step by step by the
  // checkAccess action (the cluster API's own chains). Exit 0 allowed, 1 not (as `kubectl auth can-i`),
  // 2 when the question cannot be answered (bad input, no such cluster, not authorized to ask).
  const check = aks
    .command('check-access')
    .description(
      "Explain a cluster access decision step by step: the token checks (or how a directory user's identity is derived), the groups and where they came from, each authorizer's answer and what allowed it or why nothing did.",
    )
    .requiredOption('-g, --resource-group <rg>')
    .requiredOption('-n, --name <name>')
    .option(
      '--user <upn-or-object-id>',
      "a directory user (or service principal object id) of the cluster's tenant; groups from the directory",
    )
    .option('--token <file>', 'a file holding the bearer token kubectl would send (- for stdin); it is never printed')
    .option('--verb <verb>', 'get, list, watch, create, update, patch, delete, …')
    .option('--resource <resource>', 'pods, deployments.apps, pods/log, …')
    .option('--namespace <namespace>')
    .option('--object-name <name>', 'the object name (kubectl auth can-i VERB RESOURCE/NAME); -n/--name is the cluster')
    .option('--subresource <subresource>')
    .option('--api-group <group>')
    .option('--path <path>', 'a non-resource request instead of --resource, e.g. /metrics')
    .addOption(
      new Option('-o, --output <format>', 'text (numbered steps) or json (the structured result)')
        .choices(['text', 'json'])
        .default('text'),
    )
    .option('--debug', 'increase logging verbosity to show all debug logs');
  check.addHelpText(
    'after',
    `
Exit status: 0 allowed, 1 not allowed (as kubectl auth can-i), 2 and an ERROR: line when the question
cannot be answered. Needs Owner or Contributor on the cluster (action
Microsoft.ContainerService/managedClusters/checkAccess/action); a Reader is refused.

Examples:
  kentra aks check-access -g myResourceGroup -n myManagedCluster --user alice@contoso.com --verb list --resource pods --namespace default
  kentra aks check-access -g myResourceGroup -n myManagedCluster --token token.txt --verb get --path /metrics
  kubelogin get-token ... | jq -r .status.token | kentra aks check-access -g rg -n c --token - --verb get --resource nodes -o json`,
  );
  check.action(async (opts: Record<string, any>) => {
    const session = new Session();
    if (opts.debug) session.debug = (line) => process.stderr.write(`DEBUG: ${line}\n`);
    try {
      if (!!opts.user === !!opts.token) throw new CliError('usage error: exactly one of --user UPN_OR_OBJECT_ID or --token FILE', 2);
      if (!opts.verb) throw new CliError('usage error: --verb is required', 2);
      if (!!opts.resource === !!opts.path) throw new CliError('usage error: exactly one of --resource RESOURCE or --path PATH', 2);
      let token: string | undefined;
      if (opts.token) {
        try {
          token = (opts.token === '-' ? readFileSync(0, 'utf8') : readFileSync(resolve(String(opts.token)), 'utf8'))
            .trim()
            .replace(/^Bearer\s+/i, '');
        } catch (err) {
          throw new CliError(
            `cannot read the token file '${opts.token}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
            2,
          );
        }
        if (!token) throw new CliError(`the token file '${opts.token}' is empty`, 2);
      }
      const a = new Arm(session);
      const objectName = opts.objectName;
      const body = {
        ...(token ? { token } : { user: String(opts.user) }),
        verb: String(opts.verb),
        ...(opts.path ? { path: String(opts.path) } : { resource: String(opts.resource) }),
        ...(opts.namespace ? { namespace: String(opts.namespace) } : {}),
        ...(objectName ? { name: String(objectName) } : {}),
        ...(opts.subresource ? { subresource: String(opts.subresource) } : {}),
        ...(opts.apiGroup !== undefined ? { apiGroup: String(opts.apiGroup) } : {}),
      };
      let res;
      try {
        res = await a.call('POST', `${clusterPath(a.subscriptionId, opts.resourceGroup, opts.name)}/checkAccess`, AKS_API, body);
      } catch (err) {
        throw new CliError((err as Error).message, 2);
      }
      const result = res.body as {
        allowed: boolean;
        request: { description: string };
        steps: { step: number; title: string; details: string[] }[];
      };
      if (opts.output === 'json') {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      } else {
        const lines = [`Access check on cluster ${opts.name} (resource group ${opts.resourceGroup}): ${result.request.description}`];
        for (const s of result.steps) {
          lines.push(`${s.step}. ${s.title}`);
          for (const d of s.details) lines.push(`   ${d}`);
        }
        lines.push(`allowed: ${result.allowed ? 'yes' : 'no'}`);
        process.stdout.write(`${lines.join('\n')}\n`);
      }
      process.exitCode = result.allowed ? 0 : 1;
    } catch (err) {
      process.stderr.write(`ERROR: ${(err as Error).message}\n`);
      process.exitCode = 2;
    }
  });

  // ---- aksarc (AKS enabled by Azure Arc) ------------------------------------------------------------------
  const ARC_API = '2024-01-01';
  const ccPath = (a: Arm, rg: string, name: string) =>
    `/subscriptions/${a.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Kubernetes/connectedClusters/${name}`;
  const arcView = (cc: any, instance: any) => ({
    ...cc,
    properties: { ...cc.properties, ...(instance?.properties ?? {}) },
    resourceGroup: String(cc.id).split('/')[4],
  });
  const aksarc = program.command('aksarc').description('Manage AKS clusters enabled by Azure Arc (provisioned cluster instances).');
  leaf(
    aksarc,
    'create',
    'Create an AKS Arc cluster.',
    (c) =>
      target(c)
        .option('--custom-location <id>')
        .option('--vnet-ids <ids>')
        .option('--aad-admin-group-object-ids <ids>')
        .option('--enable-azure-rbac')
        .option('--generate-ssh-keys')
        .option('--control-plane-ip <ip>')
        .option('--kubernetes-version <version>')
        .option('-c, --node-count <n>', 'nodes in the first pool', '1')
        .option('--no-wait'),
    async (ctx) => {
      const o = ctx.opts;
      if (o.enableAzureRbac && !o.aadAdminGroupObjectIds) throw new CliError('--enable-azure-rbac needs --aad-admin-group-object-ids', 2);
      const a = arm(ctx);
      const rg = (await a.call('GET', `/subscriptions/${a.subscriptionId}/resourcegroups/${o.resourceGroup}`, RG_API)).body;
      const ssh = await linuxProfile(ctx, o);
      const path = ccPath(a, o.resourceGroup, o.name);
      const cc = (
        await a.call('PUT', path, ARC_API, {
          location: rg.location,
          identity: { type: 'SystemAssigned' },
          kind: 'ProvisionedCluster',
          properties: o.aadAdminGroupObjectIds
            ? { aadProfile: { adminGroupObjectIDs: splitIds(o.aadAdminGroupObjectIds), enableAzureRBAC: !!o.enableAzureRbac } }
            : {},
        })
      ).body;
      const instance = (
        await a.call('PUT', `${path}/providers/Microsoft.HybridContainerService/provisionedClusterInstances/default`, ARC_API, {
          extendedLocation: o.customLocation ? { type: 'CustomLocation', name: o.customLocation } : null,
          properties: {
            kubernetesVersion: o.kubernetesVersion,
            controlPlane: { count: 1, ...(o.controlPlaneIp ? { controlPlaneEndpoint: { hostIP: o.controlPlaneIp } } : {}) },
            agentPoolProfiles: [{ name: 'nodepool1', count: Number(o.nodeCount), osType: 'Linux' }],
            cloudProviderProfile: o.vnetIds ? { infraNetworkProfile: { vnetSubnetIds: splitIds(o.vnetIds) } } : null,
            ...(ssh ? { linuxProfile: ssh } : {}),
          },
        })
      ).body;
      return o.wait === false ? undefined : arcView(cc, instance);
    },
  );
  leaf(
    aksarc,
    'update',
    'Update an AKS Arc cluster (admin groups; the integration cannot be removed).',
    (c) => target(c).option('--aad-admin-group-object-ids <ids>').option('--enable-azure-rbac').option('--disable-azure-rbac'),
    async (ctx) => {
      const o = ctx.opts;
      if (!o.aadAdminGroupObjectIds && !o.enableAzureRbac && !o.disableAzureRbac)
        throw new CliError('Please specify "--aad-admin-group-object-ids", "--enable-azure-rbac" or "--disable-azure-rbac".', 2);
      const a = arm(ctx);
      const path = ccPath(a, o.resourceGroup, o.name);
      const current = (await a.call('GET', path, ARC_API)).body;
      const aad = { ...(current.properties.aadProfile ?? {}) };
      if (o.aadAdminGroupObjectIds) aad.adminGroupObjectIDs = splitIds(o.aadAdminGroupObjectIds);
      if (o.enableAzureRbac) aad.enableAzureRBAC = true;
      if (o.disableAzureRbac) aad.enableAzureRBAC = false;
      const cc = (await a.call('PUT', path, ARC_API, { location: current.location, tags: current.tags, properties: { aadProfile: aad } }))
        .body;
      const instance = (
        await a.call('GET', `${path}/providers/Microsoft.HybridContainerService/provisionedClusterInstances/default`, ARC_API)
      ).body;
      return arcView(cc, instance);
    },
  );
  leaf(aksarc, 'show', 'Show an AKS Arc cluster.', target, async (ctx) => {
    const a = arm(ctx);
    const path = ccPath(a, ctx.opts.resourceGroup, ctx.opts.name);
    const cc = (await a.call('GET', path, ARC_API)).body;
    const instance = (
      await a.call('GET', `${path}/providers/Microsoft.HybridContainerService/provisionedClusterInstances/default`, ARC_API)
    ).body;
    return arcView(cc, instance);
  });
  leaf(
    aksarc,
    'get-credentials',
    'Get the kubeconfig of an AKS Arc cluster (needs the Arc Cluster User role).',
    (c) => target(c).option('-a, --admin').option('-f, --file <path>').option('--context <name>').option('--overwrite-existing'),
    async (ctx) => {
      const a = arm(ctx);
      const action = ctx.opts.admin ? 'listAdminKubeconfig' : 'listUserKubeconfig';
      const res = await a.call(
        'POST',
        `${ccPath(a, ctx.opts.resourceGroup, ctx.opts.name)}/providers/Microsoft.HybridContainerService/provisionedClusterInstances/default/${action}`,
        ARC_API,
      );
      mergeKubeconfig(ctx, Buffer.from(res.body.kubeconfigs[0].value, 'base64').toString('utf8'), !!ctx.opts.admin);
      return undefined;
    },
  );

  // ---- features and providers -----------------------------------------------------------------------
  const feature = program.command('feature').description('Manage preview features.');
  const featurePath = (a: Arm, ns: string, name: string) =>
    `/subscriptions/${a.subscriptionId}/providers/Microsoft.Features/providers/${ns}/features/${name}`;
  const nsName = (c: Command) => c.requiredOption('--namespace <ns>').requiredOption('-n, --name <name>');
  leaf(feature, 'register', 'Register a preview feature.', nsName, async (ctx) => {
    const a = arm(ctx);
    const body = (await a.call('POST', `${featurePath(a, ctx.opts.namespace, ctx.opts.name)}/register`, FEATURE_API)).body;
    ctx.warn(
      `Once the feature '${ctx.opts.name}' is registered, invoking 'kentra provider register -n ${ctx.opts.namespace}' is required to get the change propagated`,
    );
    return body;
  });
  leaf(feature, 'unregister', 'Unregister a preview feature.', nsName, async (ctx) => {
    const a = arm(ctx);
    return (await a.call('POST', `${featurePath(a, ctx.opts.namespace, ctx.opts.name)}/unregister`, FEATURE_API)).body;
  });
  leaf(
    feature,
    'show',
    'Show a preview feature.',
    nsName,
    async (ctx) => {
      const a = arm(ctx);
      return (await a.call('GET', featurePath(a, ctx.opts.namespace, ctx.opts.name), FEATURE_API)).body;
    },
    featureTable,
  );
  leaf(
    feature,
    'list',
    'List preview features.',
    (c) => c.option('--namespace <ns>'),
    async (ctx) => {
      const a = arm(ctx);
      const path = ctx.opts.namespace
        ? `/subscriptions/${a.subscriptionId}/providers/Microsoft.Features/providers/${ctx.opts.namespace}/features`
        : `/subscriptions/${a.subscriptionId}/providers/Microsoft.Features/features`;
      return (await a.call('GET', path, FEATURE_API)).body.value;
    },
    featureTable,
  );
  const provider = program.command('provider').description('Manage resource providers.');
  leaf(
    provider,
    'register',
    'Register a resource provider.',
    (c) => c.requiredOption('-n, --namespace <ns>').option('--wait'),
    async (ctx) => {
      const a = arm(ctx);
      await a.call('POST', `/subscriptions/${a.subscriptionId}/providers/${ctx.opts.namespace}/register`, RG_API);
      return undefined;
    },
  );
  leaf(
    provider,
    'show',
    'Show a resource provider.',
    (c) => c.requiredOption('-n, --namespace <ns>'),
    async (ctx) => {
      const a = arm(ctx);
      return (await a.call('GET', `/subscriptions/${a.subscriptionId}/providers/${ctx.opts.namespace}`, RG_API)).body;
    },
  );

  // ---- role assignments and definitions ----------------------------------------------------------------
  const role = program.command('role').description('Manage Azure role assignments and definitions.');
  const assignment = role.command('assignment').description('Manage role assignments.');
  const resolveAssignee = async (ctx: Context, assignee: string): Promise<string> => {
    if (isGuid(assignee)) {
      const { token } = await ctx.session.token(GRAPH_SCOPE);
      const sps = await ctx.session.http<{ value?: { id?: string }[] } | null>(
        'GET',
        `${ctx.session.authority}/v1.0/servicePrincipals?$filter=${encodeURIComponent(`appId eq '${assignee}'`)}`,
        { token },
      );
      return sps.body?.value?.[0]?.id ?? assignee.toLowerCase();
    }
    const { token } = await ctx.session.token(GRAPH_SCOPE);
    const user = await ctx.session.http<{ id: string }>('GET', `${ctx.session.authority}/v1.0/users/${encodeURIComponent(assignee)}`, {
      token,
    });
    if (user.status !== 200)
      throw new CliError(
        `Cannot find user or service principal in graph database for '${assignee}'. If the assignee is an appId, make sure the corresponding service principal is created with 'kentra ad sp create --id ${assignee}'.`,
      );
    return user.body.id;
  };
  // az's `list_role_assignments` adds roleDefinitionName (from the role definitions) and principalName
  // (the principal's userPrincipalName, first servicePrincipalName or displayName, from Graph).
  const withNames = async (ctx: Context, a: Arm, found: any[]): Promise<any[]> => {
    if (!found.length) return found;
    const defs = (await a.call('GET', `/subscriptions/${a.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions`, AUTHZ_API))
      .body.value as any[];
    const roleNames = new Map(defs.map((d) => [String(d.name).toLowerCase(), d.properties?.roleName as string]));
    const { token } = await ctx.session.token(GRAPH_SCOPE);
    const principalNames = new Map<string, string>();
    const collection = { User: 'users', Group: 'groups', ServicePrincipal: 'servicePrincipals' } as Record<string, string>;
    for (const x of found) {
      const key = String(x.principalId);
      if (principalNames.has(key) || !collection[x.principalType]) continue;
      const o = await ctx.session.http<PrincipalJson>(
        'GET',
        `${ctx.session.authority}/v1.0/${collection[x.principalType]}/${encodeURIComponent(key)}`,
        { token },
      );
      const b: PrincipalJson = o.status === 200 ? o.body : {};
      principalNames.set(key, b.userPrincipalName || b.servicePrincipalNames?.[0] || b.displayName || '');
    }
    return found.map((x) => {
      const { roleDefinitionId: rd, ...rest } = x;
      const out: any = {
        ...rest,
        principalName: principalNames.get(String(x.principalId)) ?? '',
        roleDefinitionId: rd,
        roleDefinitionName: roleNames.get(String(rd).split('/').pop()!.toLowerCase()) ?? '',
      };
      return Object.fromEntries(
        Object.keys(out)
          .sort()
          .map((k2) => [k2, out[k2]]),
      );
    });
  };
  leaf(
    assignment,
    'create',
    'Assign a role to a user, group or service principal at a scope.',
    (c) =>
      c
        .requiredOption('--role <name-or-id>')
        .option('--assignee <upn-or-appid>')
        .option('--assignee-object-id <id>')
        .option('--scope <scope>', 'default: the subscription'),
    async (ctx) => {
      const a = arm(ctx);
      const principalId = ctx.opts.assigneeObjectId ?? (ctx.opts.assignee ? await resolveAssignee(ctx, ctx.opts.assignee) : undefined);
      if (!principalId) throw new CliError('usage error: --assignee STRING | --assignee-object-id GUID', 2);
      const scope = (ctx.opts.scope ?? `/subscriptions/${a.subscriptionId}`).replace(/\/+$/, '');
      return createRoleAssignment(a, ctx.opts.role, principalId, scope);
    },
  );
  leaf(
    assignment,
    'list',
    'List role assignments.',
    (c) =>
      c
        .option('--assignee <upn-or-appid>')
        .option('--scope <scope>')
        .option('--include-inherited', 'with --scope, also the assignments at its parent scopes')
        .option('--all'),
    async (ctx) => {
      const a = arm(ctx);
      const scope = (ctx.opts.scope ?? `/subscriptions/${a.subscriptionId}`).replace(/\/+$/, '');
      const filter = ctx.opts.assignee ? { $filter: `principalId eq '${await resolveAssignee(ctx, ctx.opts.assignee)}'` } : undefined;
      let found = (
        (await a.call('GET', `${scope}/providers/Microsoft.Authorization/roleAssignments`, AUTHZ_API, undefined, filter)).body
          .value as any[]
      ).map(roleAssignmentView);
      // az: with --scope, only the assignments at that scope, unless --include-inherited.
      if (ctx.opts.scope && !ctx.opts.includeInherited) found = found.filter((x) => String(x.scope).toLowerCase() === scope.toLowerCase());
      return withNames(ctx, a, found);
    },
    roleAssignmentTable,
  );
  leaf(
    assignment,
    'delete',
    'Delete role assignments.',
    (c) => c.option('--ids <ids...>').option('--assignee <upn-or-appid>').option('--role <name-or-id>').option('--scope <scope>'),
    async (ctx) => {
      const a = arm(ctx);
      let ids: string[] = ctx.opts.ids ?? [];
      if (!ids.length) {
        const scope = (ctx.opts.scope ?? `/subscriptions/${a.subscriptionId}`).replace(/\/+$/, '');
        const filter = ctx.opts.assignee ? { $filter: `principalId eq '${await resolveAssignee(ctx, ctx.opts.assignee)}'` } : undefined;
        const all = (await a.call('GET', `${scope}/providers/Microsoft.Authorization/roleAssignments`, AUTHZ_API, undefined, filter)).body
          .value as any[];
        const wanted = ctx.opts.role ? (await roleDefinitionId(a, ctx.opts.role)).split('/').pop() : undefined;
        ids = all
          .filter(
            (x) => x.properties.scope.toLowerCase() === scope.toLowerCase() && (!wanted || x.properties.roleDefinitionId.endsWith(wanted)),
          )
          .map((x) => x.id);
        if (!ids.length) throw new CliError('No matched assignments were found to delete', 3);
      }
      for (const id of ids) await a.call('DELETE', id, AUTHZ_API);
      return undefined;
    },
  );
  leaf(
    role.command('definition').description('Role definitions.'),
    'list',
    'List role definitions.',
    (c) => c.option('-n, --name <role>'),
    async (ctx) => {
      const a = arm(ctx);
      return (
        (
          await a.call(
            'GET',
            `/subscriptions/${a.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions`,
            AUTHZ_API,
            undefined,
            ctx.opts.name ? { $filter: `roleName eq '${ctx.opts.name}'` } : undefined,
          )
        ).body.value as any[]
      ).map(roleDefinitionView);
    },
    roleDefinitionTable,
  );
}
