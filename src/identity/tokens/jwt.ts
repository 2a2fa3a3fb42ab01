// JWT signing and verification live in src/shared/jwt.ts: identity, access and kubelogin all use them.
export * from '../../shared/jwt.js';
