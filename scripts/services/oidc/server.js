// A throwaway OpenID Connect provider for pywire-auth's tests: panva's
// oidc-provider (OpenID Certified) configured by our own file, on loopback.
//
// Env: OIDC_PORT (default 59400), OIDC_HOST (default 127.0.0.1).
//
// * One confidential client, `pywire-test` / `pywire-test-secret`, that may
//   redirect to /auth/<name>/callback on 127.0.0.1 or localhost at ANY port:
//   it is a "native" client, for which RFC 8252 section 7.3 (and oidc-provider)
//   ignore the port of loopback redirect URIs. Extra exact redirect URIs can be
//   added with OIDC_REDIRECT_URIS (comma separated).
// * PKCE is required for every client (S256 is the only method this provider
//   supports).
// * Accounts (password is "secret" for all): alice@example.com (verified),
//   bob@example.com (NOT verified), carol@example.com (verified).
// * Login page: GET /interaction/<uid> shows an HTML form; POST
//   /interaction/<uid>/login with login=<email>&password=secret signs in;
//   then the consent page (native clients are always asked) is answered with
//   POST /interaction/<uid>/confirm; POST /interaction/<uid>/abort on either
//   page answers the client with error=access_denied.
// * Key rotation: two signing keys in the JWKS. POST /test/rotate (loopback
//   test hook) makes the next ID tokens be signed by a brand-new key that is
//   only published in the JWKS from then on.
// * POST /test/account (loopback test hook) changes an account's name, email
//   or email_verified, so a test can see claims refreshed at the next sign-in.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import http from 'node:http';
import { URLSearchParams } from 'node:url';

import Provider from 'oidc-provider';

const HOST = process.env.OIDC_HOST || '127.0.0.1';
const PORT = Number(process.env.OIDC_PORT || 59400);
const ISSUER = `http://${HOST}:${PORT}`;

const ACCOUNTS = {
  'alice@example.com': { sub: 'alice-0001', email: 'alice@example.com', email_verified: true, name: 'Alice Liddell' },
  'bob@example.com': { sub: 'bob-0002', email: 'bob@example.com', email_verified: false, name: 'Bob Unverified' },
  'carol@example.com': { sub: 'carol-0003', email: 'carol@example.com', email_verified: true, name: 'Carol Verified' },
};
const BY_SUB = Object.fromEntries(Object.values(ACCOUNTS).map((a) => [a.sub, a]));
const PASSWORD = 'secret';

function newKey(kind) {
  const options = kind === 'EC' ? { namedCurve: 'P-256' } : { modulusLength: 2048 };
  const { privateKey } = generateKeyPairSync(kind === 'EC' ? 'ec' : 'rsa', options);
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: randomUUID(), use: 'sig', alg: kind === 'EC' ? 'ES256' : 'RS256' };
}

const redirectUris = [
  'http://127.0.0.1/auth/oidc/callback',
  'http://localhost/auth/oidc/callback',
  'http://127.0.0.1/auth/other/callback',
  ...(process.env.OIDC_REDIRECT_URIS || '').split(',').filter(Boolean),
];

function configuration(keys) {
  return {
    clients: [
      {
        client_id: 'pywire-test',
        client_secret: 'pywire-test-secret',
        application_type: 'native',
        redirect_uris: redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'RS256',
      },
    ],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      // Lets a test ask for response_mode=form_post too.
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    async findAccount(ctx, sub) {
      const account = BY_SUB[sub];
      if (!account) return undefined;
      return { accountId: sub, async claims() { return { ...account }; } };
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    jwks: { keys },
    cookies: { keys: [randomUUID(), randomUUID()] },
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 },
    renderError(ctx, out) {
      ctx.type = 'text/plain';
      ctx.body = `error: ${out.error}\n${out.error_description || ''}\n`;
    },
  };
}

let keys = [newKey('RSA'), newKey('EC')];
let provider = build(keys);

function build(currentKeys) {
  const p = new Provider(ISSUER, configuration(currentKeys));
  p.on('server_error', (ctx, err) => console.error('server_error', err));
  return p;
}

function escape(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return Object.fromEntries(new URLSearchParams(body));
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, 'text/plain', 'interaction mismatch\n');
  if (action === undefined && req.method === 'GET' && details.prompt.name === 'consent') {
    return send(res, 200, 'text/html', `<!doctype html><title>Allow access</title>
<h1>Allow ${escape(details.params.client_id)} to see: ${escape(details.params.scope)}?</h1>
<form method="post" action="/interaction/${escape(uid)}/confirm"><button type="submit">Allow</button></form>
<form method="post" action="/interaction/${escape(uid)}/abort"><button type="submit">Cancel</button></form>`);
  }
  if (action === undefined && req.method === 'GET') {
    return send(res, 200, 'text/html', `<!doctype html><title>Sign in</title>
<h1>Sign in to the test provider (${escape(details.prompt.name)})</h1>
<form method="post" action="/interaction/${escape(uid)}/login">
<input name="login" type="email" autofocus> <input name="password" type="password">
<button type="submit">Sign in</button></form>
<form method="post" action="/interaction/${escape(uid)}/abort"><button type="submit">Cancel</button></form>`);
  }
  if (req.method !== 'POST') return send(res, 405, 'text/plain', 'method not allowed\n');
  const form = await readForm(req);
  if (action === 'abort') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }
  if (action === 'confirm' && details.prompt.name === 'consent') {
    const { prompt: { details: missing }, params, session } = details;
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, {
      mergeWithLastSubmission: true,
    });
  }
  if (action === 'login') {
    const account = ACCOUNTS[(form.login || '').toLowerCase()];
    if (!account || form.password !== PASSWORD) {
      return send(res, 401, 'text/plain', 'wrong login or password\n');
    }
    return provider.interactionFinished(req, res, { login: { accountId: account.sub } }, {
      mergeWithLastSubmission: false,
    });
  }
  return send(res, 404, 'text/plain', 'not found\n');
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, ISSUER);
    const match = url.pathname.match(/^\/interaction\/([^/]+)(?:\/(login|confirm|abort))?$/);
    if (match) return await interaction(req, res, match[1], match[2]);
    if (url.pathname === '/test/rotate' && req.method === 'POST') {
      // A new signing key first; the oldest one leaves the JWKS. Sessions and
      // grants live in the provider's memory adapter, so they are lost, which
      // is fine between two test sign-ins.
      keys = [newKey('RSA'), keys[0]];
      provider = build(keys);
      return send(res, 200, 'application/json', JSON.stringify({ kid: keys[0].kid }));
    }
    if (url.pathname === '/test/account' && req.method === 'POST') {
      // Loopback test hook: change an account's name or email between two
      // sign-ins (form fields sub, name, email, email_verified=true|false).
      const form = await readForm(req);
      const account = BY_SUB[form.sub];
      if (!account) return send(res, 404, 'text/plain', 'no such account\n');
      if (form.name !== undefined) account.name = form.name;
      if (form.email !== undefined) account.email = form.email;
      if (form.email_verified !== undefined) account.email_verified = form.email_verified === 'true';
      return send(res, 200, 'application/json', JSON.stringify(account));
    }
    if (url.pathname === '/test/health') return send(res, 200, 'text/plain', 'ok\n');
    return provider.callback()(req, res);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
  }
});

server.listen(PORT, HOST, () => {
  console.error(`oidc test provider listening on ${ISSUER}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
