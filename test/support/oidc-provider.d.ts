// oidc-provider ships no types; the SSO e2e test uses it as an untyped IdP.
declare module 'oidc-provider';
