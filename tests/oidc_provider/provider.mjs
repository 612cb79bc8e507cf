// The OpenID provider the sign-in tests run on loopback: panva's certified oidc-provider with its
// development login form (any login, any password; the login is the e-mail).
//
//   node provider.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI POST_LOGOUT_REDIRECT_URI
//
// Prints "ready ISSUER" once it listens. Some logins get an ID token the app must refuse, so that
// the tests exercise the app's real callback with bad tokens:
//   tampered.*       the payload says exec@vendor.example, the signature is the original one's
//   expired.*        signed with the provider's key, expired two hours ago
//   other-audience.* signed with the provider's key, issued to another client (azp still names ours)
//   other-issuer.*   signed with the provider's key, naming another issuer
//   other-nonce.*    signed with the provider's key, answering another sign-in (a replay)
//   unverified.*     a valid token whose email_verified is false
import { randomBytes } from 'node:crypto';

import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK } from 'jose';
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri, postLogoutRedirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [postLogoutRedirectUri],
    response_types: ['code'],
    grant_types: ['authorization_code'],
  }],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  conformIdTokenClaims: false, // the e-mail in the ID token, as Google and Entra ID send it
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: id, email_verified: !id.startsWith('unverified.') };
      },
    };
  },
  async loadExistingGrant(ctx) { // a first-party app: no consent screen
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email');
    await grant.save();
    return grant;
  },
});

async function resigned(idToken, change) {
  const claims = { ...decodeJwt(idToken), ...change };
  const key = await importJWK(signingKey, 'RS256');
  return new SignJWT(claims).setProtectedHeader(decodeProtectedHeader(idToken)).sign(key);
}

async function badIdToken(idToken) {
  const { email } = decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  if (email.startsWith('tampered.')) {
    const [header, , signature] = idToken.split('.');
    const payload = Buffer.from(JSON.stringify({ ...decodeJwt(idToken), email: 'exec@vendor.example' }));
    return [header, payload.toString('base64url'), signature].join('.');
  }
  if (email.startsWith('expired.')) return resigned(idToken, { iat: now - 3 * 3600, exp: now - 2 * 3600 });
  if (email.startsWith('other-audience.')) return resigned(idToken, { aud: 'another-app', azp: clientId });
  if (email.startsWith('other-issuer.')) return resigned(idToken, { iss: 'http://127.0.0.1:1' });
  if (email.startsWith('other-nonce.')) return resigned(idToken, { nonce: 'from-another-sign-in' });
  return idToken;
}

provider.use(async (ctx, next) => {
  await next();
  if (ctx.oidc?.route === 'token' && ctx.body?.id_token) {
    ctx.body = { ...ctx.body, id_token: await badIdToken(ctx.body.id_token) };
  }
});

provider.listen(Number(port), '127.0.0.1', () => console.log(`ready ${issuer}`));
