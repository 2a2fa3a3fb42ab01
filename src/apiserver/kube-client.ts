import { Agent } from 'node:https';
import { requestJson } from '../shared/https-json.js';

// A small JSON client for one kube-apiserver, as Kentra's own control-plane identity (a client
// certificate from the cluster's internal CA, in system:masters): enough to seed and reconcile the
// objects AKS keeps in a cluster.

export interface KubeResponse {
  status: number;
  body: any;
}

export class KubeClient {
  private readonly agent: Agent;

  constructor(
    private readonly server: string,
    tls: { caPem: string; certPem: string; keyPem: string },
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: 4, ca: tls.caPem, cert: tls.certPem, key: tls.keyPem });
  }

  async call(method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<KubeResponse> {
    const answer = await requestJson(`${this.server}${path}`, {
      method,
      agent: this.agent,
      timeoutMs,
      ...(body === undefined ? {} : { json: body }),
    });
    // A body that is not JSON (a proxy's error page) is kept as text.
    return { status: answer.status, body: answer.text ? (answer.json ?? answer.text) : null };
  }

  /** Creates the object unless it exists; returns the stored object. */
  async ensure(collection: string, body: any): Promise<any> {
    const created = await this.call('POST', collection, body);
    if (created.status === 201 || created.status === 200) return created.body;
    if (created.status === 409) {
      const got = await this.call('GET', `${collection}/${encodeURIComponent(body.metadata.name)}`);
      if (got.status === 200) return got.body;
      throw new KubeClientError('GET', `${collection}/${body.metadata.name}`, got);
    }
    throw new KubeClientError('POST', collection, created);
  }

  /** Replaces the object (or its status), retrying on a resourceVersion conflict. */
  async replace(path: string, change: (current: any) => any): Promise<any> {
    for (let attempt = 0; ; attempt++) {
      const got = await this.call('GET', path);
      if (got.status !== 200) throw new KubeClientError('GET', path, got);
      const put = await this.call('PUT', path, change(got.body));
      if (put.status === 200 || put.status === 201) return put.body;
      if (put.status !== 409 || attempt >= 4) throw new KubeClientError('PUT', path, put);
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

export class KubeClientError extends Error {
  constructor(
    method: string,
    path: string,
    readonly response: KubeResponse,
  ) {
    super(
      `${method} ${path}: ${response.status} ${typeof response.body === 'object' && response.body?.message ? response.body.message : String(response.body).slice(0, 200)}`,
    );
  }
}
