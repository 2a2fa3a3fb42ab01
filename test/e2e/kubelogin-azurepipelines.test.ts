import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { startFakeAzureDevOpsOidc, type FakeAzureDevOpsOidc } from '../support/fake-azure-devops-oidc.js';
import { startTestKentra, type TestKentra } from '../support/kentra.js';
import { KUBELOGIN_BIN } from '../support/kubectl.js';

// Issue 13: `kubelogin get-token -l azurepipelines` as azidentity's AzurePipelinesCredential does it: the
// job's OIDC token from SYSTEM_OIDCREQUESTURI (a FAKE Azure DevOps endpoint: Azure DevOps cannot run here),
// exchanged at Kentra's token endpoint as the client assertion of an app with a federated credential.

const AKS_SERVER = '6dae42f8-4368-4678-94ff-3960e28e3630';
const TENANT = '66666666-6666-4666-8666-66666666a16a';
const PIPELINE = '66666666-0000-4000-8000-00000000a16b';
const CONNECTION = '0f0e0d0c-0b0a-4908-8706-050403020100';
const UNTRUSTED_CONNECTION = '1f1e1d1c-1b1a-4918-8716-151413121110';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('kubelogin -l azurepipelines (issue 13)', { timeout: 120_000 }, () => {
  let k: TestKentra;
  let ado: FakeAzureDevOpsOidc;
  let dir: string;

  const kubelogin = (args: string[], env: NodeJS.ProcessEnv): Promise<Run> =>
    new Promise((done) => {
      const child = spawn(
        process.execPath,
        [
          KUBELOGIN_BIN,
          'get-token',
          '--login',
          'azurepipelines',
          '--server-id',
          AKS_SERVER,
          '--authority-host',
          `${k.endpoints.authority}/`,
          '--cache-dir',
          join(dir, `cache-${Math.random()}`),
          ...args,
        ],
        {
          // Kentra's own CA is trusted through KENTRA_DATA_DIR; the fake Azure DevOps endpoint's through NODE_EXTRA_CA_CERTS.
          env: { PATH: process.env.PATH, HOME: dir, KENTRA_DATA_DIR: k.dataDir, NODE_EXTRA_CA_CERTS: ado.caFile, ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.on('close', (code) => done({ code: code ?? -1, stdout, stderr }));
    });
  const jobEnv = () => ({ SYSTEM_ACCESSTOKEN: ado.systemAccessToken, SYSTEM_OIDCREQUESTURI: ado.requestUri });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kentra-azurepipelines-'));
    ado = await startFakeAzureDevOpsOidc(dir, {
      [CONNECTION]: 'sc://org/project/aks-deploy',
      [UNTRUSTED_CONNECTION]: 'sc://org/project/someone-else',
    });
    k = await startTestKentra({
      env: { NODE_EXTRA_CA_CERTS: ado.caFile },
      seed: `
tenants:
  - id: ${TENANT}
    domain: pipelines.onmicrosoft.com
    applications:
      - displayName: aks-deploy
        appId: ${PIPELINE}
        federatedIdentityCredentials:
          - { name: azure-devops, issuer: '${ado.url}', subject: 'sc://org/project/aks-deploy' }
`,
    });
  });
  after(async () => {
    await k?.close();
    await ado?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("asks SYSTEM_OIDCREQUESTURI for the service connection's token and signs in with it as the app's federated credential", async () => {
    const r = await kubelogin(
      ['--client-id', PIPELINE, '--tenant-id', TENANT, '--azure-pipelines-service-connection-id', CONNECTION],
      jobEnv(),
    );
    assert.equal(r.code, 0, r.stderr);
    const claims = decodeJwt(JSON.parse(r.stdout).status.token as string);
    assert.equal(claims.appid, PIPELINE);
    assert.equal(claims.aud, AKS_SERVER);
    assert.equal(claims.tid, TENANT);
    assert.equal(claims.idtyp, 'app');
    const seen = ado.requests.at(-1)!;
    assert.equal(seen.method, 'POST');
    assert.equal(seen.query.get('api-version'), '7.1');
    assert.equal(seen.query.get('serviceConnectionId'), CONNECTION);
    assert.equal(seen.authorization, `Bearer ${ado.systemAccessToken}`);
  });

  it('takes the client, tenant and connection from AZURESUBSCRIPTION_* when the flags leave them out (the AzureCLI task sets them)', async () => {
    const r = await kubelogin([], {
      ...jobEnv(),
      AZURESUBSCRIPTION_CLIENT_ID: PIPELINE,
      AZURESUBSCRIPTION_TENANT_ID: TENANT,
      AZURESUBSCRIPTION_SERVICE_CONNECTION_ID: CONNECTION,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(decodeJwt(JSON.parse(r.stdout).status.token as string).appid, PIPELINE);
  });

  it('fails as upstream does outside a pipeline, and with what Azure DevOps or Entra said inside one', async () => {
    const args = ['--client-id', PIPELINE, '--tenant-id', TENANT, '--azure-pipelines-service-connection-id', CONNECTION];
    const noToken = await kubelogin(args, { SYSTEM_OIDCREQUESTURI: ado.requestUri });
    assert.deepEqual([noToken.code, noToken.stderr], [1, 'Error: SYSTEM_ACCESSTOKEN environment variable not set\n']);
    const noUri = await kubelogin(args, { SYSTEM_ACCESSTOKEN: ado.systemAccessToken });
    assert.deepEqual(
      [noUri.code, noUri.stderr],
      [
        1,
        'Error: failed to create azure pipelines credential: no value for environment variable SYSTEM_OIDCREQUESTURI. This should be set by Azure Pipelines\n',
      ],
    );
    // A job token Azure DevOps does not accept: its refusal, and no token.
    const wrongJob = await kubelogin(args, { ...jobEnv(), SYSTEM_ACCESSTOKEN: 'stolen-or-expired' });
    assert.equal(wrongJob.code, 1);
    assert.match(
      wrongJob.stderr,
      /^Error: failed to get token: AzurePipelinesCredential: the OIDC token request for service connection 0f0e0d0c-0b0a-4908-8706-050403020100 answered HTTP 401: .*TF400813/,
    );
    assert.equal(wrongJob.stdout, '');
    // A real token for a service connection the app does not trust: Entra's AADSTS70021.
    const untrusted = await kubelogin(
      ['--client-id', PIPELINE, '--tenant-id', TENANT, '--azure-pipelines-service-connection-id', UNTRUSTED_CONNECTION],
      jobEnv(),
    );
    assert.equal(untrusted.code, 1);
    assert.match(
      untrusted.stderr,
      /^Error: failed to get token: AADSTS70021: No matching federated identity record found for presented assertion/,
    );
    assert.equal(untrusted.stdout, '');
  });
});
