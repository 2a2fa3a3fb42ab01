import { request } from 'node:https';

// A kube-apiserver's side of Kentra's access webhooks: the client certificate of a webhook kubeconfig,
// and a JSON POST over mutual TLS with it.

export interface WebhookReply {
  status: number;
  json: any;
}
export interface ClientCertificate {
  certPem: string;
  keyPem: string;
}

/** The client certificate and key in a webhook kubeconfig (parsed YAML), as the kube-apiserver reads them. */
export function clientCertificateOf(kubeconfig: any): ClientCertificate {
  const user = kubeconfig.users[0].user;
  return {
    certPem: Buffer.from(user['client-certificate-data'], 'base64').toString(),
    keyPem: Buffer.from(user['client-key-data'], 'base64').toString(),
  };
}

/** POSTs a JSON body to `url`, trusting `caPem`, presenting `cert` when given. */
export function postJson(url: string, body: unknown, caPem: string, cert?: ClientCertificate): Promise<WebhookReply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: `${u.pathname}${u.search}`,
        method: 'POST',
        ca: caPem,
        ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}),
        headers: { 'content-type': 'application/json', accept: 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => {
          text += d.toString();
        });
        res.on('end', () => {
          let json: any;
          try {
            json = JSON.parse(text);
          } catch {
            json = { text };
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** The TokenReview body a kube-apiserver sends for a bearer token. */
export const tokenReview = (token: string, version = 'v1') => ({
  apiVersion: `authentication.k8s.io/${version}`,
  kind: 'TokenReview',
  spec: { token },
});
