import { aad } from '../errors.js';

/** Request parameters with duplicates refused, as Entra refuses them. */
export class Params {
  private constructor(private readonly values: Map<string, string>) {}

  static fromSearch(search: URLSearchParams): Params {
    const values = new Map<string, string>();
    for (const [key, value] of search) {
      if (values.has(key)) throw aad.duplicateParameter(key);
      values.set(key, value);
    }
    return new Params(values);
  }

  static fromBody(body: unknown): Params {
    if (typeof body === 'string') return Params.fromSearch(new URLSearchParams(body));
    if (body instanceof URLSearchParams) return Params.fromSearch(body);
    if (body === undefined || body === null) return new Params(new Map());
    throw aad.malformed("The request body must be 'application/x-www-form-urlencoded'.");
  }

  get(name: string): string | undefined {
    const v = this.values.get(name);
    return v === undefined || v === '' ? undefined : v;
  }

  require(name: string): string {
    const v = this.get(name);
    if (v === undefined) throw aad.missingParameter(name);
    return v;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  entries(): [string, string][] {
    return [...this.values];
  }
}
