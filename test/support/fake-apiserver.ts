import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { createCertificateAuthority } from '../../src/pki/index.js';
import { httpsFetch } from './http.js';

// A FAKE Kubernetes API server for the kubelogin tests, until the cluster-access issue brings the real
// endpoint: it checks the bearer token against Kentra's JWKS (issuer, audience = the AKS server app,
// expiry) and serves just enough discovery and `nodes` for `kubectl get nodes`. 401s carry the
// kube-apiserver's Status body so kubectl prints its usual refusal.

export interface FakeApiServer {
  url: string;
  caPem: string;
  /** Every accepted token's claims, in order. */
  accepted: Record<string, unknown>[];
  kubeconfig(dir: string, user: Record<string, unknown>, name?: string): string;
  close(): Promise<void>;
}

const unauthorized = {
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message: 'Unauthorized',
  reason: 'Unauthorized',
  code: 401,
};

export async function startFakeApiServer(opts: {
  authority: string;
  caFile: string;
  tenantId: string;
  audience: string;
}): Promise<FakeApiServer> {
  const jwks = createLocalJWKSet(
    (await httpsFetch(`${opts.authority}/${opts.tenantId}/discovery/v2.0/keys`, { caFile: opts.caFile })).json<JSONWebKeySet>(),
  );
  const ca = await createCertificateAuthority('fake-apiserver-ca');
  const tls = await ca.issue({ commonName: 'kube-apiserver', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], usage: 'server' });
  const accepted: Record<string, unknown>[] = [];
  const send = (res: import('node:http').ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server: Server = createServer({ key: tls.keyPem, cert: tls.certPem }, async (req, res) => {
    const token = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    try {
      if (!token) throw new Error('no token');
      const { payload } = await jwtVerify(token, jwks, {
        issuer: `https://sts.windows.net/${opts.tenantId}/`,
        audience: opts.audience,
        clockTolerance: 60,
      });
      accepted.push(payload);
    } catch {
      return send(res, 401, unauthorized);
    }
    const path = (req.url ?? '').split('?')[0];
    if (path === '/version') return send(res, 200, { major: '1', minor: '32', gitVersion: 'v1.32.0', platform: 'linux/amd64' });
    if (path === '/api')
      return send(res, 200, {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }],
      });
    if (path === '/apis') return send(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] });
    if (path === '/api/v1') {
      return send(res, 200, {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: [{ name: 'nodes', singularName: 'node', namespaced: false, kind: 'Node', verbs: ['get', 'list'], shortNames: ['no'] }],
      });
    }
    if (path === '/api/v1/nodes') {
      return send(res, 200, {
        kind: 'Table',
        apiVersion: 'meta.k8s.io/v1',
        metadata: { resourceVersion: '1' },
        columnDefinitions: [
          { name: 'Name', type: 'string', format: 'name', description: '', priority: 0 },
          { name: 'Status', type: 'string', format: '', description: '', priority: 0 },
        ],
        rows: [
          {
            cells: ['aks-nodepool1-12345678-vmss000000', 'Ready'],
            object: {
              kind: 'PartialObjectMetadata',
              apiVersion: 'meta.k8s.io/v1',
              metadata: { name: 'aks-nodepool1-12345678-vmss000000' },
            },
          },
        ],
      });
    }
    return send(res, 404, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'the server could not find the requested resource',
      reason: 'NotFound',
      code: 404,
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    caPem: ca.certPem,
    accepted,
    kubeconfig(dir, user, name = 'fake-cluster') {
      const file = join(dir, `${name}.kubeconfig`);
      writeFileSync(
        file,
        JSON.stringify(
          {
            apiVersion: 'v1',
            kind: 'Config',
            'current-context': name,
            clusters: [{ name, cluster: { server: url, 'certificate-authority-data': Buffer.from(ca.certPem).toString('base64') } }],
            contexts: [{ name, context: { cluster: name, user: `clusterUser_rg_${name}` } }],
            users: [{ name: `clusterUser_rg_${name}`, user }],
          },
          null,
          2,
        ),
      );
      return file;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
