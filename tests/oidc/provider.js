// A real OpenID Connect provider for the SSO tests: panva's oidc-provider (OpenID certified),
// listening on 127.0.0.1. Started and stopped by tests/test_oidc.py; never used outside tests.
//
// Environment:
//   OIDC_PORT           port to listen on (required)
//   OIDC_REDIRECT_URIS  the app's callback URLs, comma-separated, registered for both clients
//                       (required)
//   OIDC_CLIENT_SECRET  secret of both clients (default "test-client-secret")
//   OIDC_SHORT_CODE_TTL lifetime in seconds of the codes issued to logins that start with
//                       "shortcode" (default 2), so a test can let a code expire quickly
//                       while every other login keeps a comfortable 60 seconds
//
// Accounts: any login name is accepted by the development login form (any password). The login
// name is the e-mail address; it is verified unless the name starts with "unverified".
//
// Clients: "passeport" gets userinfo as JSON; "passeport-signed" gets it as a signed JWT, as
// ProConnect sends it. Both need PKCE, and both only get the e-mail through userinfo (the ID
// token carries claims only when no access token is issued, oidc-provider's default).

import { generateKeyPairSync } from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const redirectUris = (process.env.OIDC_REDIRECT_URIS || '').split(',').filter(Boolean);
if (!port || redirectUris.length === 0) {
  console.error('OIDC_PORT and OIDC_REDIRECT_URIS are required');
  process.exit(2);
}
const clientSecret = process.env.OIDC_CLIENT_SECRET || 'test-client-secret';
const shortCodeTtl = Number(process.env.OIDC_SHORT_CODE_TTL || 2);
const issuer = `http://127.0.0.1:${port}`;

// A fresh signing key per run: the app must fetch it from jwks_uri, as with a real provider.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: `test-${Date.now()}`,
  use: 'sig',
  alg: 'RS256',
};

const client = (clientId, extra = {}) => ({
  client_id: clientId,
  client_secret: clientSecret,
  redirect_uris: redirectUris,
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  ...extra,
});

const configuration = {
  clients: [
    client('passeport'),
    client('passeport-signed', { userinfo_signed_response_alg: 'RS256' }),
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: ['test-cookie-key-not-secret'] },
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name'],
  },
  features: {
    devInteractions: { enabled: true },
    jwtUserinfo: { enabled: true },
  },
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        const local = sub.split('@')[0];
        return {
          sub,
          email: sub,
          email_verified: !sub.startsWith('unverified'),
          name: `Agent ${local}`,
          given_name: 'Agent',
          family_name: local,
        };
      },
    };
  },
  ttl: {
    AccessToken: 300,
    AuthorizationCode: (ctx, code) => (code.accountId.startsWith('shortcode') ? shortCodeTtl : 60),
    Grant: 600,
    IdToken: 300,
    Interaction: 600,
    Session: 600,
  },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, error) => console.error('server_error', error));

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
