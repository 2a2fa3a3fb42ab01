import { CliError, type Session } from './session.js';

// ARM from the CLI: authenticated requests, ARM errors as az prints them, and long-running
// operations polled as az polls them (a spinner on a terminal).

export const ARM_TOKEN_SCOPE = 'https://management.core.windows.net//.default';

/** ARM's error answer, and an operation status answer. */
interface ArmErrorJson {
  error?: { code?: string; message?: string };
  status?: string;
}

export class Arm {
  constructor(private readonly session: Session) {}

  get subscriptionId(): string {
    const sub = this.session.currentSubscription();
    if (!sub) throw new CliError("No subscription found. Run 'kentra account list' or log in again.");
    return sub.id;
  }

  url(path: string, apiVersion: string, query: Record<string, string> = {}): string {
    const params = new URLSearchParams({ 'api-version': apiVersion, ...query });
    return `${this.session.authority}${path}?${params}`;
  }

  async call(
    method: string,
    path: string,
    apiVersion: string,
    body?: unknown,
    query?: Record<string, string>,
  ): Promise<{ status: number; body: any; headers: Record<string, string | string[] | undefined> }> {
    const { token } = await this.session.token(ARM_TOKEN_SCOPE);
    const res = await this.session.http<ArmErrorJson>(method, this.url(path, apiVersion, query), { token, json: body });
    if (res.status >= 400) {
      const e = res.body?.error ?? {};
      throw new CliError(
        `(${e.code ?? res.status}) ${e.message ?? res.text}\nCode: ${e.code ?? res.status}\nMessage: ${e.message ?? res.text}`,
        res.status === 404 ? 3 : 1,
      );
    }
    return res;
  }

  /** Waits for an operation as az does: polls the status URL, with a spinner on a terminal. */
  async wait(statusUrl: string): Promise<void> {
    const spinner = process.stderr.isTTY ? ['\\', '|', '/', '-'] : null;
    let i = 0;
    for (;;) {
      const { token } = await this.session.token(ARM_TOKEN_SCOPE);
      const res = await this.session.http<ArmErrorJson | null>('GET', statusUrl, { token });
      const status = String(res.body?.status ?? (res.status === 202 ? 'InProgress' : 'Succeeded'));
      if (/fail|cancel/i.test(status))
        throw new CliError(`(${res.body?.error?.code ?? status}) ${res.body?.error?.message ?? 'The operation failed.'}`);
      if (!/inprogress|running|accepted/i.test(status)) break;
      if (spinner) process.stderr.write(`\r${spinner[i++ % 4]} Running ..`);
      await new Promise((r) => setTimeout(r, 500));
    }
    if (spinner) process.stderr.write('\r             \r');
  }
}
