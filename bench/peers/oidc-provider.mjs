/* global process, console */
// The token bench's first peer: panva's oidc-provider (OpenID Certified) issuing client-credentials
// tokens as RS256 JWT access tokens for one resource (resource indicators), on its default in-memory
// adapter, over HTTPS with the certificate it is given. Prints `<port>` when it listens.
//   node bench/peers/oidc-provider.mjs <key.pem> <cert.pem> <client_id> <client_secret> <resource>
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import Provider from 'oidc-provider';

const [keyFile, certFile, clientId, clientSecret, resource] = process.argv.slice(2);
const server = createServer({ key: readFileSync(keyFile), cert: readFileSync(certFile) });
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
const signing = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const provider = new Provider(`https://localhost:${port}`, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
    },
  ],
  jwks: { keys: [{ ...signing, alg: 'RS256', use: 'sig', kid: 'bench' }] },
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: 'read', audience: resource, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
    },
  },
});
server.on('request', provider.callback());
console.log(port);
