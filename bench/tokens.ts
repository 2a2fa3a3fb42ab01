// npm run bench -- tokens
// Client-credentials token issuance over HTTPS against a real `kentra up` process, next to the raw
// RS256 signing rate of node:crypto measured in the same run on the same machine.
import { generateKeyPairSync, sign } from 'node:crypto';
import { startTestKentra } from '../test/support/kentra.js';
import { fmt, httpsClient, load, rate } from './_measure.js';

const k = await startTestKentra({ extraArgs: ['--log-level', 'warn'] });
try {
  const { authority, tenantId, caFile, servicePrincipal: sp } = k.endpoints;
  const post = httpsClient(caFile);
  const body = new URLSearchParams({ client_id: sp.appId, client_secret: sp.secret, grant_type: 'client_credentials', scope: 'https://management.azure.com/.default' }).toString();
  const url = `${authority}/${tenantId}/oauth2/v2.0/token`;
  const call = async () => (await post(url, body)).status === 200;
  if (!(await call())) throw new Error('the token request failed; is the bootstrap service principal intact?');
  await load(call, { workers: 4, count: 300, maxSeconds: 10 }); // warm up
  const tokens = await load(call, { workers: 8, count: 4000, maxSeconds: 20 });

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const data = Buffer.from('x'.repeat(900)); // about the size of a token's signing input
  const signs = rate(() => sign('sha256', data, privateKey), 3000);

  console.log('tokens: client-credentials issuance over HTTPS (real kentra up process, SQLite, keep-alive, 8 concurrent clients)');
  console.log(`  token endpoint          ${fmt(tokens.perSecond)} tokens/s   p50 ${fmt(tokens.p50, 2)} ms   p99 ${fmt(tokens.p99, 2)} ms   (${tokens.count} requests in ${fmt(tokens.seconds, 1)} s, ${tokens.errors} errors)`);
  console.log(`  raw RS256 sign          ${fmt(signs)} signs/s   (node:crypto, one core, same run)`);
  console.log(`  ratio                   ${fmt(tokens.perSecond / signs, 2)} of the raw signing rate`);
} finally {
  await k.close();
}
