import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { parse } from 'yaml';
import { createCertificateAuthority } from '../../src/pki/index.js';
import { httpsFetch, postForm } from '../support/http.js';
import { kentraCli } from '../support/kentra-cli.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { clientCertificateOf, postJson, tokenReview } from '../support/webhook-client.js';

// `kentra aks attach`: a cluster Kentra does not run (the Arc story of source document 004), with the real
// kentra CLI against `kentra up`: its kubeconfig points at its own API server, Kentra's webhooks answer for
// it, `webhook-config` writes everything its kube-apiserver needs (and the structured
// AuthenticationConfiguration, checked against a real token), and bad input creates nothing.

const ALICE = '88888888-0000-4000-8000-000000000001';
const ADMINS = '88888888-0000-4000-8000-0000000000a1';
const SEED = `
tenants:
  - domain: kentra.onmicrosoft.com
    users:
      - { userPrincipalName: alice@kentra.onmicrosoft.com, password: 'Alice-Passw0rd!', id: ${ALICE} }
    groups:
      - { displayName: admins, id: ${ADMINS}, members: [${ALICE}] }
`;
const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
const AKS_CLIENT = '80faf920-1908-4b52-b5ef-a8e7bedfc67a';
const SERVER = 'https://10.20.30.40:6443';

describe('kentra aks attach: a cluster Kentra does not run', { timeout: 300_000 }, () => {
  let k: TestKentra;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const cli = kentraCli(() => env);
  let caFile: string;
  let clusterCaPem: string;
  let kentraCaPem: string;
  let tenantId: string;
  let aliceToken: string;
  const token = async (fields: Record<string, string>) => {
    const res = await postForm(`${k.endpoints.authority}/${tenantId}/oauth2/v2.0/token`, fields, k.endpoints.caFile);
    assert.equal(res.status, 200, res.text);
    return res.json().access_token as string;
  };
  const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString());

  before(async () => {
    k = await startTestKentra({ seed: SEED, extraArgs: ['--provisioning-delay', '100'] });
    tenantId = k.endpoints.tenantId;
    dir = mkdtempSync(join(tmpdir(), 'kentra-cli-attach-'));
    env = {
      PATH: process.env.PATH,
      HOME: dir,
      KENTRA_CONFIG_DIR: join(dir, 'config'),
      KENTRA_DATA_DIR: k.dataDir,
      KUBECONFIG: join(dir, 'kube', 'config'),
    };
    await cli.json('login', '-u', k.endpoints.admin.userPrincipalName, '-p', k.endpoints.admin.password);
    await cli.json('group', 'create', '--name', 'onprem-rg', '--location', 'westeurope');
    // The attached cluster's own CA (a real kube-apiserver's serving CA in production).
    clusterCaPem = (await createCertificateAuthority('kubernetes')).certPem;
    caFile = join(dir, 'cluster-ca.crt');
    writeFileSync(caFile, clusterCaPem);
    kentraCaPem = readFileSync(k.endpoints.caFile, 'utf8');
    aliceToken = await token({
      client_id: AKS_CLIENT,
      grant_type: 'password',
      username: 'alice@kentra.onmicrosoft.com',
      password: 'Alice-Passw0rd!',
      scope: `${AKS_SERVER}/.default`,
    });
  });
  after(async () => {
    await k?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  let uid: string;

  it('attach registers it as a managedCluster with attachedClusterProfile and managed Entra integration; show and list have it', async () => {
    const attached = await cli.json(
      'aks',
      'attach',
      '-g',
      'onprem-rg',
      '-n',
      'onprem',
      '--server',
      SERVER,
      '--ca-file',
      caFile,
      '--aad-admin-group-object-ids',
      ADMINS,
      '--tenant-id',
      tenantId,
      '--kubernetes-version',
      '1.20.2',
    );
    assert.equal(attached.provisioningState, 'Succeeded');
    assert.equal(attached.type, 'Microsoft.ContainerService/managedClusters');
    assert.deepEqual(attached.attachedClusterProfile, {
      serverUrl: SERVER,
      certificateAuthorityData: Buffer.from(clusterCaPem).toString('base64'),
    });
    assert.deepEqual(attached.aadProfile, {
      adminGroupObjectIDs: [ADMINS],
      clientAppId: null,
      enableAzureRbac: false,
      managed: true,
      serverAppId: null,
      serverAppSecret: null,
      tenantId,
    });
    assert.equal(attached.kubernetesVersion, '1.20.2');
    assert.equal(attached.disableLocalAccounts, true, 'Kentra holds no local account of it');
    assert.deepEqual(attached.agentPoolProfiles, [], 'Kentra invents no nodes');
    assert.equal(attached.fqdn, '10.20.30.40');
    assert.equal(attached.powerState, undefined, 'Kentra does not know its power state');
    const shown = await cli.json('aks', 'show', '-g', 'onprem-rg', '-n', 'onprem');
    assert.deepEqual(shown.attachedClusterProfile, attached.attachedClusterProfile);
    const listed = await cli.json('aks', 'list', '-g', 'onprem-rg', '--query', '[].name');
    assert.deepEqual(listed, ['onprem']);
    // Admin groups can be changed as on any cluster; the profile stays.
    const updated = await cli.json('aks', 'update', '-g', 'onprem-rg', '-n', 'onprem', '--aad-admin-group-object-ids', ADMINS);
    assert.deepEqual(updated.attachedClusterProfile, attached.attachedClusterProfile);
    const local = await cli.run(['aks', 'update', '-g', 'onprem-rg', '-n', 'onprem', '--enable-local-accounts']);
    assert.equal(local.code, 1);
    assert.match(local.stderr, /^ERROR: \(OperationNotAllowed\) Kentra holds no local account of an attached cluster/);
  });

  it('get-credentials gives the exec (kubelogin) kubeconfig for its own server and CA; --admin is refused', async () => {
    const config = parse(await cli.ok('aks', 'get-credentials', '-g', 'onprem-rg', '-n', 'onprem', '--file', '-'));
    assert.equal(config.clusters[0].cluster.server, SERVER);
    assert.equal(Buffer.from(config.clusters[0].cluster['certificate-authority-data'], 'base64').toString(), clusterCaPem);
    const exec = config.users[0].user.exec;
    assert.equal(exec.command, 'kubelogin');
    assert.equal(exec.apiVersion, 'client.authentication.k8s.io/v1beta1');
    assert.deepEqual(exec.args, [
      'get-token',
      '--environment',
      'AzurePublicCloud',
      '--server-id',
      AKS_SERVER,
      '--client-id',
      AKS_CLIENT,
      '--tenant-id',
      tenantId,
      '--login',
      'devicecode',
      '--authority-host',
      `${k.endpoints.authority}/`,
      '--disable-instance-discovery',
    ]);
    assert.equal(config.users[0].name, 'clusterUser_onprem-rg_onprem');
    const admin = await cli.run(['aks', 'get-credentials', '-g', 'onprem-rg', '-n', 'onprem', '--admin', '--file', '-']);
    assert.equal(admin.code, 1);
    assert.equal(admin.stdout, '');
    assert.match(
      admin.stderr,
      /^ERROR: \(OperationNotAllowed\) The cluster 'onprem' is attached: Kentra does not run it and holds no admin or local credential for it\./,
    );
  });

  it('start and stop are refused: Kentra does not run it', async () => {
    for (const verb of ['start', 'stop']) {
      const r = await cli.run(['aks', verb, '-g', 'onprem-rg', '-n', 'onprem']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^ERROR: \\(OperationNotAllowed\\) The cluster 'onprem' is attached: Kentra does not run it, so it cannot ${verb} it\\.`,
        ),
      );
    }
  });

  let files: { authn: string; authz: string; alt: string; binding: string };

  it('webhook-config writes both webhook kubeconfigs, the AuthenticationConfiguration and the admin binding, and prints the flags (versions v1 for kube-apiserver 1.20)', async () => {
    const out = join(dir, 'hooks');
    files = {
      authn: join(out, 'authn-webhook.kubeconfig'),
      authz: join(out, 'authz-webhook.kubeconfig'),
      alt: join(out, 'authentication-config.yaml'),
      binding: join(out, 'admin-group-binding.yaml'),
    };
    const r = await cli.run(['aks', 'webhook-config', '-g', 'onprem-rg', '-n', 'onprem', '--dir', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      files: [files.authn, files.authz],
      flags: [
        `--authentication-token-webhook-config-file=${files.authn}`,
        '--authentication-token-webhook-version=v1',
        '--authentication-token-webhook-cache-ttl=2m',
        '--authorization-mode=Node,RBAC',
      ],
    });
    assert.equal(statSync(files.authn).mode & 0o777, 0o600);
    assert.equal(statSync(files.authz).mode & 0o777, 0o600);
    const authn = parse(readFileSync(files.authn, 'utf8'));
    const m = /^(.+)\/clusters\/([^/]+)\/webhooks\/tokenreviews$/.exec(authn.clusters[0].cluster.server);
    assert.ok(m, authn.clusters[0].cluster.server);
    assert.equal(m[1], k.endpoints.authority);
    uid = m[2]!;
    assert.equal(
      Buffer.from(authn.clusters[0].cluster['certificate-authority-data'], 'base64').toString(),
      kentraCaPem,
      "the webhook is on Kentra: Kentra's CA",
    );
    assert.equal(
      parse(readFileSync(files.authz, 'utf8')).clusters[0].cluster.server,
      `${k.endpoints.authority}/clusters/${uid}/webhooks/subjectaccessreviews`,
    );
    // The alternative, printed with what it cannot do.
    assert.match(
      r.stderr,
      new RegExp(
        `WARNING: Alternative for kube-apiserver 1\\.30 and later \\(not this cluster: it runs 1\\.20\\.2\\): in place of the three --authentication-token-webhook-\\* flags, --authentication-config=${files.alt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `,
      ),
    );
    assert.match(r.stderr, /group overage \(a token with _claim_names and no groups claim gets no groups/);
    assert.match(r.stderr, /the oid extra/);
    assert.match(r.stderr, /Guard's error messages/);
    // The binding AKS makes in the clusters it runs, to apply in this one.
    assert.match(r.stderr, new RegExp(`kubectl apply -f ${files.binding.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.deepEqual(parse(readFileSync(files.binding, 'utf8')), {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'aks-cluster-admin-binding-aad' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: ADMINS }],
    });
  });

  it("the written AuthenticationConfiguration: v1beta1 below 1.34, the tenant's v1 and v2 issuers, the server app's audiences, tid pinned", () => {
    const cfg = parse(readFileSync(files.alt, 'utf8'));
    assert.equal(cfg.apiVersion, 'apiserver.config.k8s.io/v1beta1');
    assert.equal(cfg.kind, 'AuthenticationConfiguration');
    assert.equal(cfg.jwt.length, 2);
    const audiences = [AKS_SERVER, `https://${AKS_SERVER}`, `spn:${AKS_SERVER}`, `spn:https://${AKS_SERVER}`];
    const rest = {
      claimValidationRules: [{ claim: 'tid', requiredValue: tenantId }],
      claimMappings: {
        username: { expression: "has(claims.upn) && claims.upn != '' ? claims.upn : claims.oid" },
        groups: { claim: 'groups', prefix: '' },
      },
      userValidationRules: [
        {
          expression: "!user.username.startsWith('system:')",
          message: 'usernames starting with system: are reserved for Kubernetes components',
        },
      ],
    };
    assert.deepEqual(cfg.jwt[0], {
      issuer: {
        url: `https://sts.windows.net/${tenantId}/`,
        discoveryURL: `${k.endpoints.authority}/${tenantId}/.well-known/openid-configuration`,
        certificateAuthority: kentraCaPem,
        audiences,
        audienceMatchPolicy: 'MatchAny',
      },
      ...rest,
    });
    assert.deepEqual(cfg.jwt[1], {
      issuer: {
        url: `${k.endpoints.authority}/${tenantId}/v2.0`,
        certificateAuthority: kentraCaPem,
        audiences,
        audienceMatchPolicy: 'MatchAny',
      },
      ...rest,
    });
  });

  it('a real token Kentra issues for the AKS server app satisfies the config (issuer via its discovery, signature, audience, claim rules) and maps to the user the webhook answers', async () => {
    const cfg = parse(readFileSync(files.alt, 'utf8'));
    const cert = clientCertificateOf(parse(readFileSync(files.authn, 'utf8')));
    const hook = `${k.endpoints.authority}/clusters/${uid}/webhooks/tokenreviews`;
    const caFileOf = (pem: string) => {
      const f = join(dir, 'issuer-ca.pem');
      writeFileSync(f, pem);
      return f;
    };
    const spToken = await token({
      client_id: k.endpoints.servicePrincipal.appId,
      client_secret: k.endpoints.servicePrincipal.secret,
      grant_type: 'client_credentials',
      scope: `${AKS_SERVER}/.default`,
    });
    for (const jwt of [aliceToken, spToken]) {
      const claims = claimsOf(jwt);
      // What the kube-apiserver does: the authenticator whose issuer.url is the token's iss...
      const authenticator = cfg.jwt.find((j: any) => j.issuer.url === claims.iss);
      assert.ok(authenticator, `no authenticator for iss ${claims.iss}`);
      const issuer = authenticator.issuer;
      // ...discovery from discoveryURL (else {url}/.well-known/openid-configuration) over certificateAuthority,
      // whose issuer must be issuer.url...
      const discovery = (
        await httpsFetch(issuer.discoveryURL ?? `${issuer.url}/.well-known/openid-configuration`, {
          caFile: caFileOf(issuer.certificateAuthority),
        })
      ).json();
      assert.equal(discovery.issuer, issuer.url);
      const jwks = (await httpsFetch(discovery.jwks_uri, { caFile: caFileOf(issuer.certificateAuthority) })).json();
      // ...the signature, iss and one of the audiences (MatchAny)...
      const { payload } = await jwtVerify(jwt, createLocalJWKSet(jwks), { issuer: issuer.url, audience: issuer.audiences });
      // ...the claim validation rules...
      for (const rule of authenticator.claimValidationRules) assert.equal(payload[rule.claim], rule.requiredValue);
      // ...and the mappings (the CEL expression above, evaluated by hand), equal to the webhook's answer.
      assert.equal(authenticator.claimMappings.username.expression, "has(claims.upn) && claims.upn != '' ? claims.upn : claims.oid");
      const username = typeof payload.upn === 'string' && payload.upn !== '' ? payload.upn : payload.oid;
      const groups = (payload.groups as string[] | undefined) ?? [];
      assert.ok(!String(username).startsWith('system:'));
      const review = await postJson(hook, tokenReview(jwt), kentraCaPem, cert);
      assert.equal(review.status, 200, JSON.stringify(review.json));
      assert.equal(review.json.status.authenticated, true);
      assert.equal(review.json.status.user.username, username);
      assert.deepEqual(review.json.status.user.groups ?? [], groups);
    }
    assert.equal(claimsOf(aliceToken).ver, '1.0', 'the AKS server app gets v1 tokens');
    assert.equal(claimsOf(spToken).upn, undefined, 'an application token has no upn: the username is its oid');
  });

  it("the webhook of kentra up answers a TokenReview for the attached cluster's uid with the user and groups", async () => {
    const cert = clientCertificateOf(parse(readFileSync(files.authn, 'utf8')));
    const r = await postJson(`${k.endpoints.authority}/clusters/${uid}/webhooks/tokenreviews`, tokenReview(aliceToken), kentraCaPem, cert);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json.status, {
      authenticated: true,
      user: { username: 'alice@kentra.onmicrosoft.com', uid: '', groups: [ADMINS], extra: { oid: [ALICE] } },
    });
    const sar = await postJson(
      `${k.endpoints.authority}/clusters/${uid}/webhooks/subjectaccessreviews`,
      {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          resourceAttributes: { verb: 'list', resource: 'pods', namespace: 'default' },
          user: 'alice@kentra.onmicrosoft.com',
          groups: [ADMINS],
          extra: { oid: [ALICE] },
        },
      },
      kentraCaPem,
      cert,
    );
    assert.deepEqual([sar.status, sar.json.status], [200, { allowed: false, reason: 'Azure RBAC is not enabled for this cluster.' }]);
  });

  it('a 1.34 cluster gets AuthenticationConfiguration v1 and no "not this cluster" note', async () => {
    await cli.json(
      'aks',
      'attach',
      '-g',
      'onprem-rg',
      '-n',
      'new',
      '--server',
      `${SERVER}/`,
      '--ca-file',
      caFile,
      '--kubernetes-version',
      '1.34.1',
      '--enable-azure-rbac',
    );
    const out = join(dir, 'hooks-new');
    const r = await cli.run(['aks', 'webhook-config', '-g', 'onprem-rg', '-n', 'new', '--dir', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(parse(readFileSync(join(out, 'authentication-config.yaml'), 'utf8')).apiVersion, 'apiserver.config.k8s.io/v1');
    assert.doesNotMatch(r.stderr, /not this cluster/);
    assert.doesNotMatch(r.stderr, /kubectl apply/, 'no admin groups: no binding to apply');
    assert.equal(
      (await cli.json('aks', 'show', '-g', 'onprem-rg', '-n', 'new')).attachedClusterProfile.serverUrl,
      SERVER,
      'the URL without its trailing slash',
    );
  });

  it('the built-in sandbox does not serve an attached cluster', async () => {
    const r = await httpsFetch(`${k.endpoints.authority}/clusters/${uid}/api`, { caFile: k.endpoints.caFile });
    assert.equal(r.status, 404, r.text);
    assert.match(r.json().message, /has its own API server/);
  });

  it("bad input: an http URL, a missing or non-PEM CA file, a bad certificate, a bad name, an emulated cluster's name: ERROR, exit code, nothing created", async () => {
    const notPem = join(dir, 'not-pem.txt');
    writeFileSync(notPem, 'just some text\n');
    const badCert = join(dir, 'bad-cert.pem');
    writeFileSync(badCert, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');
    const cases: [string, string[], number, RegExp][] = [
      [
        'http1',
        ['--server', 'http://10.0.0.1:6443', '--ca-file', caFile],
        2,
        /^ERROR: usage error: --server must be an https URL \(got 'http:\/\/10\.0\.0\.1:6443'\)/,
      ],
      ['nourl', ['--server', 'not a url', '--ca-file', caFile], 2, /^ERROR: usage error: --server 'not a url' is not a URL/],
      ['noca', ['--server', SERVER, '--ca-file', join(dir, 'missing.crt')], 2, /^ERROR: cannot read the CA file '.+missing\.crt': ENOENT/],
      ['notpem', ['--server', SERVER, '--ca-file', notPem], 2, /^ERROR: the CA file '.+not-pem\.txt' holds no PEM certificate/],
      [
        'badcert',
        ['--server', SERVER, '--ca-file', badCert],
        1,
        /^ERROR: \(InvalidAttachedClusterCA\) The certificateAuthorityData holds a CERTIFICATE block that is not an X\.509 certificate\./,
      ],
      ['-bad', ['--server', SERVER, '--ca-file', caFile], 1, /^ERROR: \(InvalidParameter\) The cluster name '-bad' is invalid/],
      ['oldver', ['--server', SERVER, '--ca-file', caFile, '--kubernetes-version', '1.19.0'], 1, /^ERROR: \(K8sVersionNotSupported\)/],
    ];
    for (const [name, args, code, message] of cases) {
      const r = await cli.run(['aks', 'attach', '-g', 'onprem-rg', '-n', name, ...args]);
      assert.equal(r.code, code, `${name}: ${r.stderr}`);
      assert.match(r.stderr, message, name);
      assert.equal((await cli.run(['aks', 'show', '-g', 'onprem-rg', '-n', name])).code, 3, `${name} was not created`);
    }
    // The server checks too (ARM error shape), whatever the client sends.
    const owner = await token({
      client_id: k.endpoints.servicePrincipal.appId,
      client_secret: k.endpoints.servicePrincipal.secret,
      grant_type: 'client_credentials',
      scope: 'https://management.azure.com/.default',
    });
    const put = (name: string, body: unknown) =>
      httpsFetch(
        `${k.endpoints.armEndpoint}subscriptions/${k.endpoints.subscriptionId}/resourceGroups/onprem-rg/providers/Microsoft.ContainerService/managedClusters/${name}?api-version=2022-11-01`,
        {
          method: 'PUT',
          caFile: k.endpoints.caFile,
          body: JSON.stringify(body),
          headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/json' },
        },
      );
    const aadProfile = { managed: true, adminGroupObjectIDs: [ADMINS] };
    const ca = Buffer.from(clusterCaPem).toString('base64');
    const http = await put('raw', {
      location: 'westeurope',
      properties: { attachedClusterProfile: { serverUrl: 'http://10.0.0.1:6443', certificateAuthorityData: ca }, aadProfile },
    });
    assert.equal(http.status, 400);
    assert.deepEqual(http.json().error, {
      code: 'InvalidAttachedClusterServer',
      message: "The server URL 'http://10.0.0.1:6443' must use https: Kentra only attaches API servers that serve TLS.",
    });
    const text = await put('raw', {
      location: 'westeurope',
      properties: {
        attachedClusterProfile: { serverUrl: SERVER, certificateAuthorityData: Buffer.from('hello').toString('base64') },
        aadProfile,
      },
    });
    assert.deepEqual([text.status, text.json().error.code], [400, 'InvalidAttachedClusterCA']);
    const noAad = await put('raw', {
      location: 'westeurope',
      properties: { attachedClusterProfile: { serverUrl: SERVER, certificateAuthorityData: ca } },
    });
    assert.deepEqual([noAad.status, noAad.json().error.code], [400, 'AttachedClusterNeedsManagedAAD']);
    assert.equal((await cli.run(['aks', 'show', '-g', 'onprem-rg', '-n', 'raw'])).code, 3);
    // A cluster Kentra runs cannot become attached, nor the other way round.
    await cli.json('aks', 'create', '-g', 'onprem-rg', '-n', 'emulated', '--enable-aad', '--aad-admin-group-object-ids', ADMINS);
    const over = await cli.run(['aks', 'attach', '-g', 'onprem-rg', '-n', 'emulated', '--server', SERVER, '--ca-file', caFile]);
    assert.equal(over.code, 1);
    assert.match(over.stderr, /^ERROR: \(OperationNotAllowed\) The cluster 'emulated' exists and Kentra runs it: it cannot be attached\./);
    assert.equal((await cli.json('aks', 'show', '-g', 'onprem-rg', '-n', 'emulated')).attachedClusterProfile, undefined);
  });

  it('an emulated cluster stops and starts (its power state)', async () => {
    await cli.ok('aks', 'stop', '-g', 'onprem-rg', '-n', 'emulated');
    assert.deepEqual(
      await cli.json('aks', 'show', '-g', 'onprem-rg', '-n', 'emulated', '--query', '[provisioningState, powerState.code]'),
      ['Succeeded', 'Stopped'],
    );
    const updated = await cli.json('aks', 'update', '-g', 'onprem-rg', '-n', 'emulated', '--aad-admin-group-object-ids', ADMINS);
    assert.equal(updated.powerState.code, 'Stopped', 'an update keeps it stopped');
    await cli.ok('aks', 'start', '-g', 'onprem-rg', '-n', 'emulated');
    assert.equal(await cli.json('aks', 'show', '-g', 'onprem-rg', '-n', 'emulated', '--query', 'powerState.code'), 'Running');
  });

  it('delete removes it: show is not found and its webhooks answer 404', async () => {
    await cli.ok('aks', 'delete', '-g', 'onprem-rg', '-n', 'onprem', '--yes');
    assert.equal((await cli.run(['aks', 'show', '-g', 'onprem-rg', '-n', 'onprem'])).code, 3);
    const cert = clientCertificateOf(parse(readFileSync(files.authn, 'utf8')));
    // The webhooks re-read a cluster's settings every 10 s.
    let status = 0;
    for (let i = 0; i < 30 && status !== 404; i++) {
      status = (
        await postJson(`${k.endpoints.authority}/clusters/${uid}/webhooks/tokenreviews`, tokenReview(aliceToken), kentraCaPem, cert)
      ).status;
      if (status !== 404) await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal(status, 404);
    assert.deepEqual(await cli.json('aks', 'list', '-g', 'onprem-rg', '--query', 'sort([].name)'), ['emulated', 'new']);
  });
});
