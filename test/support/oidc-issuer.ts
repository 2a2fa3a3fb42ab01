import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { signJwt } from '../../src/identity/index.js';
import { createCertificateAuthority } from '../../src/pki/index.js';

/** A minimal external OIDC issuer (as a Kubernetes cluster or GitHub Actions would be) for federated credentials. */
export interface TestIssuer {
  url: string;
  /** The CA of the issuer's TLS certificate, for the relying party's NODE_EXTRA_CA_CERTS. */
  caFile: string;
  sign(claims: { sub: string; aud: string; lifetimeSeconds?: number }): string;
  close(): Promise<void>;
}

export async function startTestIssuer(dir: string): Promise<TestIssuer> {
  const ca = await createCertificateAuthority('Test Issuer CA');
  const tls = await ca.issue({ commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server' });
  const caFile = join(dir, 'issuer-ca.pem');
  writeFileSync(caFile, ca.certPem);
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomUUID();
  const jwk = { ...createPublicKey(privateKey).export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
  let url = '';
  const server: Server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration')
      return res.end(
        JSON.stringify({
          issuer: url,
          jwks_uri: `${url}/openid/v1/jwks`,
          response_types_supported: ['id_token'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
        }),
      );
    if (req.url === '/openid/v1/jwks') return res.end(JSON.stringify({ keys: [jwk] }));
    res.statusCode = 404;
    return res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://localhost:${(server.address() as { port: number }).port}`;
  const key = createPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return {
    url,
    caFile,
    sign: ({ sub, aud, lifetimeSeconds = 600 }) => {
      const now = Math.floor(Date.now() / 1000);
      return signJwt(
        { alg: 'RS256', typ: 'JWT', kid },
        { iss: url, sub, aud: [aud], iat: now, nbf: now, exp: now + lifetimeSeconds, jti: randomUUID() },
        key,
      );
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
