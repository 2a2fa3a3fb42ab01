import type { DecodedJwt } from '../shared/jwt.js';

// Authentication for a cluster's API: authenticators answer a bearer token with a user, no answer
// (not theirs to judge), or an error; a chain asks each in turn, as the kube-apiserver's union
// authenticator does.

/** What the kube-apiserver receives in `TokenReview.status.user`. */
/**
 * Marks a user whose groups the directory gave (Entra's overage), for the access log's groups source.
 * A symbol key: JSON never carries it to the kube-apiserver, and a spread copy of the user keeps it.
 */
export const GROUPS_FROM_DIRECTORY = Symbol('groupsFromDirectory');

export interface UserInfo {
  username: string;
  uid: string;
  groups: string[];
  extra: Record<string, string[]>;
  [GROUPS_FROM_DIRECTORY]?: true;
}

export type AuthnResult =
  | { kind: 'user'; user: UserInfo; /** When the credential stops being valid (ms since the epoch). */ expiresAt?: number }
  | { kind: 'none' }
  | {
      kind: 'error';
      message: string;
      /** The HTTP status a Guard-style webhook answers with (401 unless said). */
      httpStatus?: number;
      /** Which check refused the token, for callers that explain it (check-access); never read from the message. */
      code?: TokenFailureCode;
    };

/** The checks an Entra token can fail, in the order Guard makes them. */
export type TokenFailureCode =
  | 'issuer'
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'audience'
  | 'tenant'
  | 'user_claims'
  | 'groups'
  | 'app_overage';

export interface TokenRequest {
  token: string;
  /** The audiences the API server wants (TokenReview `spec.audiences`), when it is audience-limited. */
  audiences?: string[];
  /** `token` decoded, when an authenticator in front already decoded it as a JWT (pop.ts hands it on): not decoded twice. */
  jwt?: DecodedJwt;
}

export type TokenAuthenticator = (req: TokenRequest) => Promise<AuthnResult>;

export const NO_ANSWER: AuthnResult = Object.freeze({ kind: 'none' });

/** The first authenticator to name a user wins; if none does, the errors are joined; else no answer. */
export function authenticatorChain(...authenticators: TokenAuthenticator[]): TokenAuthenticator {
  return async (req) => {
    const errors: Extract<AuthnResult, { kind: 'error' }>[] = [];
    for (const authenticate of authenticators) {
      const result = await authenticate(req);
      if (result.kind === 'user') return result;
      if (result.kind === 'error') errors.push(result);
    }
    if (errors.length === 0) return NO_ANSWER;
    if (errors.length === 1) return errors[0]!;
    return { kind: 'error', message: `[${errors.map((e) => e.message).join(', ')}]`, httpStatus: errors[0]!.httpStatus };
  };
}
