import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { signJwt } from '../../src/identity/index.js';
import { createCertificateAuthority } from '../../src/pki/index.js';

// A FAKE of Azure DevOps' pipeline OIDC endpoint (Azure DevOps cannot run here): what a pipeline job's
// SYSTEM_OIDCREQUESTURI answers. POST <uri>?api-version=7.1&serviceConnectionId=<id> with
// `Authorization: Bearer <SYSTEM_ACCESSTOKEN>` returns {"oidcToken": <JWT>} for that service connection,
// signed with its own key; it serves its own discovery and JWKS, so Kentra checks the token as Entra
// checks Azure DevOps' (a federated credential with this issuer and subject `sc://<org>/<project>/<connection>`).

export interface FakeAzureDevOpsOidc {
  /** The issuer (and discovery base) URL. */
  url: string;
  /** What a pipeline job gets as SYSTEM_OIDCREQUESTURI. */
  requestUri: string;
  /** The job's SYSTEM_ACCESSTOKEN. */
  systemAccessToken: string;
  caFile: string;
  /** Every OIDC token request seen: query, the Authorization header, the status answered. */
  requests: { query: URLSearchParams; authorization: string | undefined; method: string; status: number }[];
  close(): Promise<void>;
}

/** `connections`: service connection id → the subject its tokens carry. */
export async function startFakeAzureDevOpsOidc(dir: string, connections: Record<string, string>): Promise<FakeAzureDevOpsOidc> {
  const ca = await createCertificateAuthority('Fake Azure DevOps CA');
  const tls = await ca.issue({ commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server' });
  const caFile = join(dir, 'fake-azure-devops-ca.pem');
  writeFileSync(caFile, ca.certPem);
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = createPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const kid = randomUUID();
  const jwk = { ...createPublicKey(privateKey).export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
  const systemAccessToken = `ado-job-${randomUUID()}`;
  const requests: FakeAzureDevOpsOidc['requests'] = [];
  let url = '';
  const oidcPath = '/org/project/_apis/distributedtask/hubs/build/plans/plan1/jobs/job1/oidctoken';
  const server: Server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    const u = new URL(req.url ?? '/', url);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      return status;
    };
    if (u.pathname === '/.well-known/openid-configuration')
      return send(200, {
        issuer: url,
        jwks_uri: `${url}/.well-known/jwks`,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
      });
    if (u.pathname === '/.well-known/jwks') return send(200, { keys: [jwk] });
    if (u.pathname !== oidcPath) return send(404, { message: 'not found' });
    const record = { query: u.searchParams, authorization: req.headers.authorization, method: req.method ?? '', status: 0 };
    requests.push(record);
    const subject = connections[u.searchParams.get('serviceConnectionId') ?? ''];
    if (req.method !== 'POST') record.status = send(405, { message: 'POST only' });
    else if (req.headers.authorization !== `Bearer ${systemAccessToken}`)
      record.status = send(401, { message: 'TF400813: The user is not authorized to access this resource.' });
    else if (u.searchParams.get('api-version') !== '7.1') record.status = send(400, { message: 'api-version 7.1 is required' });
    else if (!subject) record.status = send(404, { message: `service connection ${u.searchParams.get('serviceConnectionId')} not found` });
    else {
      const now = Math.floor(Date.now() / 1000);
      const oidcToken = signJwt(
        { alg: 'RS256', typ: 'JWT', kid },
        { iss: url, sub: subject, aud: 'api://AzureADTokenExchange', iat: now, nbf: now, exp: now + 600, jti: randomUUID() },
        key,
      );
      record.status = send(200, { oidcToken });
    }
    return undefined;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://localhost:${(server.address() as { port: number }).port}`;
  return {
    url,
    requestUri: `${url}${oidcPath}`,
    systemAccessToken,
    caFile,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
