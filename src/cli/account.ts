import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { leaf, type Context } from './command.js';
import { ARM_SCOPE, AZURE_CLI_CLIENT, CliError, defaultServer, type Session } from './session.js';

function subscriptionsView(session: Session) {
  const account = session.account!;
  return account.subscriptions.map((s) => ({
    cloudName: 'Kentra',
    homeTenantId: s.homeTenantId,
    id: s.id,
    isDefault: s.isDefault,
    managedByTenants: [],
    name: s.name,
    state: s.state,
    tenantId: s.tenantId,
    user: { name: account.name, type: account.type },
  }));
}

/** The device authorization answer (or an OAuth error). */
interface DeviceCodeJson {
  message: string;
  expires_in: number;
  interval: number;
  device_code: string;
  error_description?: string;
}

async function deviceCodeSignIn(ctx: Context, tenant: string): Promise<void> {
  const { session } = ctx;
  const res = await session.http<DeviceCodeJson>('POST', `${session.authority}/${tenant}/oauth2/v2.0/devicecode`, {
    form: { client_id: AZURE_CLI_CLIENT, scope: `${ARM_SCOPE} offline_access openid profile` },
  });
  if (res.status !== 200) throw new CliError(String(res.body?.error_description ?? res.text).split('\r\n')[0]!);
  process.stderr.write(`${res.body.message}\n`);
  const deadline = Date.now() + Number(res.body.expires_in) * 1000;
  for (;;) {
    await new Promise((r) => setTimeout(r, Number(res.body.interval) * 1000));
    if (Date.now() > deadline) throw new CliError('The device code expired before the sign-in was completed. Run the command again.');
    try {
      await session.signIn('user', tenant, {
        client_id: AZURE_CLI_CLIENT,
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        device_code: res.body.device_code,
      });
      return;
    } catch (err) {
      if (!/AADSTS70016/.test((err as Error).message)) throw err;
    }
  }
}

export function registerAccountCommands(program: Command): void {
  leaf(
    program,
    'login',
    'Log in to Kentra (device code by default, like `az login --use-device-code`).',
    (c) =>
      c
        .option('-u, --username <name>', 'user name, or the app id of a service principal')
        .option('-p, --password <secret>', "the user's password, or the service principal's secret")
        .option('--service-principal', 'the credential is a service principal')
        .option('--certificate <pem>', "PEM file with the service principal's certificate and private key")
        .option('-t, --tenant <tenant>', 'tenant id or domain (required for service principals)')
        .option('--use-device-code', 'use the device code flow')
        .option('--authority <url>', "Kentra's URL [env KENTRA_AUTHORITY; default from ~/.kentra/endpoints.json]")
        .option('--ca-file <pem>', "the CA that signs Kentra's certificate [env KENTRA_CA_FILE]")
        .option('--allow-no-subscriptions', 'accepted for az compatibility'),
    async (ctx) => {
      const { session, opts } = ctx;
      const server = opts.authority ? { authority: String(opts.authority), caFile: opts.caFile } : defaultServer();
      if (!server)
        throw new CliError(
          'Where is Kentra? Pass --authority https://host:port (and --ca-file), set KENTRA_AUTHORITY, or start it locally with `kentra up`.',
          2,
        );
      session.useServer(server.authority, opts.caFile ?? server.caFile);
      if (opts.servicePrincipal) {
        if (!opts.username || !opts.tenant || (!opts.password && !opts.certificate))
          throw new CliError(
            'usage error: --service-principal --username APP_ID (--password SECRET | --certificate PEM) --tenant TENANT',
            2,
          );
        const sp = {
          appId: String(opts.username),
          tenantId: String(opts.tenant),
          secret: opts.password,
          certificatePem: opts.certificate ? readFileSync(opts.certificate, 'utf8') : undefined,
        };
        await session.signIn(
          'servicePrincipal',
          sp.tenantId,
          { ...session.clientCredential(sp.tenantId, sp), grant_type: 'client_credentials' },
          sp,
        );
      } else if (opts.username) {
        if (!opts.password) throw new CliError('usage error: --username requires --password', 2);
        await session.signIn('user', opts.tenant ?? 'organizations', {
          client_id: AZURE_CLI_CLIENT,
          grant_type: 'password',
          username: opts.username,
          password: opts.password,
        });
      } else {
        await deviceCodeSignIn(ctx, opts.tenant ?? 'organizations');
      }
      if (!session.account!.subscriptions.length) ctx.warn('No subscriptions found for this account.');
      return subscriptionsView(session);
    },
  );

  leaf(
    program,
    'logout',
    'Log out: forget the account and its tokens.',
    (c) => c,
    async ({ session }) => {
      if (!session.account) throw new CliError('There are no active accounts.');
      session.logout();
      return undefined;
    },
  );

  const account = program.command('account').description('Manage the signed-in account and its subscriptions.');
  leaf(
    account,
    'show',
    'Show the current subscription.',
    (c) => c,
    async ({ session }) => {
      if (!session.account) throw new CliError("Please run 'kentra login' to setup account.");
      const current = subscriptionsView(session).find((s) => s.isDefault);
      if (!current) throw new CliError('No subscriptions found for this account.');
      return { environmentName: 'Kentra', ...current };
    },
  );
  leaf(
    account,
    'list',
    'List the subscriptions of the signed-in account.',
    (c) => c,
    async ({ session }) => {
      if (!session.account) throw new CliError("Please run 'kentra login' to setup account.");
      return subscriptionsView(session);
    },
  );
  leaf(
    account,
    'get-access-token',
    'Get a token for a resource, as `az account get-access-token` does.',
    (c) =>
      c
        .option('--resource <uri>', 'resource (e.g. 6dae42f8-4368-4678-94ff-3960e28e3630 for AKS)')
        .option('--scope <scope...>', 'scopes (instead of --resource)')
        .option('-t, --tenant <tenant>', 'tenant to get the token for'),
    async ({ session, opts }) => {
      if (opts.resource && opts.scope) throw new CliError('usage error: --resource | --scope', 2);
      const scope = opts.scope ? (opts.scope as string[]).join(' ') : opts.resource ? `${opts.resource}/.default` : ARM_SCOPE;
      const t = await session.token(scope, opts.tenant);
      const sub = session.account!.subscriptions.find((s) => s.isDefault);
      return {
        accessToken: t.token,
        expiresOn: new Date(t.expiresOn * 1000)
          .toISOString()
          .replace('T', ' ')
          .replace(/\.\d+Z$/, '.000000'),
        ...(opts.tenant ? {} : { subscription: sub?.id }),
        tenant: t.tenant,
        tokenType: 'Bearer',
      };
    },
  );
}
