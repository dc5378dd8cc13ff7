// The benchmark peer: node's oidc-provider (OpenID Certified) set up like ciam.
//
// Same client (`bench`, client_secret_basic, the three grants), same signing
// algorithm (RS256, a 2048-bit RSA key), same lifetimes, argon2id passwords with
// ciam's parameters (m=19 MiB, t=2, p=1), a login form, no consent for the
// first-party client, refresh tokens that rotate on every use, and PostgreSQL
// storage (a small adapter below; PEER_ADAPTER=memory uses oidc-provider's
// in-process LRU store instead).
//
// Access tokens: oidc-provider only issues JWT access tokens for a resource server
// (features.resourceIndicators, accessTokenFormat 'jwt'), and its userinfo endpoint
// only accepts opaque tokens with no audience. So client_credentials tokens are
// RS256 JWTs (like ciam's), while tokens from the code and refresh grants are
// opaque (stored), which is the only kind its userinfo and introspection accept.
//
// Started by bench/run.py; configured through the environment:
//   PEER_PORT, PEER_DATABASE_URL, PEER_CLIENT_SECRET, PEER_USER_EMAIL,
//   PEER_USER_PASSWORD, PEER_REDIRECT_URI, PEER_ADAPTER (postgres|memory),
//   PEER_PG_POOL (connections, default 4).
import crypto from 'node:crypto';
import http from 'node:http';

import argon2 from 'argon2';
import Provider, { errors } from 'oidc-provider';
import pg from 'pg';

const env = process.env;
const PORT = Number(env.PEER_PORT || 8302);
const ISSUER = `http://127.0.0.1:${PORT}`;
const RESOURCE = 'urn:ciam-bench:api';
const ADAPTER = env.PEER_ADAPTER || 'postgres';
const ARGON2 = { type: argon2.argon2id, memoryCost: 19 * 1024, timeCost: 2, parallelism: 1 };

const pool = new pg.Pool({
  connectionString: env.PEER_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/bench',
  max: Number(env.PEER_PG_POOL || 4),
  idleTimeoutMillis: 0, // keep connections open between load runs, as ciam's pool does
});

const SCHEMA = `
CREATE SCHEMA IF NOT EXISTS peer;
CREATE TABLE IF NOT EXISTS peer.oidc (
  id text NOT NULL,
  type text NOT NULL,
  payload jsonb NOT NULL,
  grant_id text,
  user_code text,
  uid text,
  expires_at timestamptz,
  consumed_at timestamptz,
  PRIMARY KEY (id, type)
);
CREATE INDEX IF NOT EXISTS oidc_grant_id ON peer.oidc (grant_id);
CREATE INDEX IF NOT EXISTS oidc_uid ON peer.oidc (uid);
CREATE TABLE IF NOT EXISTS peer.accounts (
  id uuid PRIMARY KEY,
  email text NOT NULL,
  email_normalized text NOT NULL UNIQUE,
  email_verified boolean NOT NULL DEFAULT true,
  password_hash text NOT NULL,
  given_name text,
  family_name text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
`;

// oidc-provider's adapter interface, one row per stored model instance.
class PgAdapter {
  constructor(name) {
    this.name = name;
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
    await pool.query(
      `INSERT INTO peer.oidc (id, type, payload, grant_id, user_code, uid, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (id, type) DO UPDATE SET payload = EXCLUDED.payload,
         grant_id = EXCLUDED.grant_id, user_code = EXCLUDED.user_code,
         uid = EXCLUDED.uid, expires_at = EXCLUDED.expires_at`,
      [id, this.name, payload, payload.grantId, payload.userCode, payload.uid, expiresAt],
    );
  }

  async #findBy(column, value) {
    const { rows } = await pool.query(
      `SELECT payload, consumed_at FROM peer.oidc
       WHERE ${column} = $1 AND type = $2 AND (expires_at IS NULL OR expires_at > now())`,
      [value, this.name],
    );
    if (!rows.length) return undefined;
    const [{ payload, consumed_at: consumedAt }] = rows;
    return consumedAt ? { ...payload, consumed: Math.floor(consumedAt / 1000) } : payload;
  }

  find(id) {
    return this.#findBy('id', id);
  }

  findByUid(uid) {
    return this.#findBy('uid', uid);
  }

  findByUserCode(userCode) {
    return this.#findBy('user_code', userCode);
  }

  async consume(id) {
    await pool.query('UPDATE peer.oidc SET consumed_at = now() WHERE id = $1 AND type = $2', [
      id,
      this.name,
    ]);
  }

  async destroy(id) {
    await pool.query('DELETE FROM peer.oidc WHERE id = $1 AND type = $2', [id, this.name]);
  }

  async revokeByGrantId(grantId) {
    await pool.query('DELETE FROM peer.oidc WHERE grant_id = $1', [grantId]);
  }
}

async function seedAccount() {
  const email = env.PEER_USER_EMAIL || 'bench@example.test';
  const password = env.PEER_USER_PASSWORD || 'load test passphrase 7319';
  const hash = await argon2.hash(password, ARGON2);
  await pool.query(
    `INSERT INTO peer.accounts (id, email, email_normalized, password_hash, given_name, family_name)
     VALUES ($1, $2, $3, $4, 'Bench', 'User')
     ON CONFLICT (email_normalized) DO UPDATE SET password_hash = EXCLUDED.password_hash`,
    [crypto.randomUUID(), email, email.toLowerCase(), hash],
  );
}

async function findAccount(_ctx, sub) {
  const { rows } = await pool.query('SELECT * FROM peer.accounts WHERE id = $1', [sub]);
  if (!rows.length) return undefined;
  const [row] = rows;
  return {
    accountId: sub,
    async claims() {
      return {
        sub,
        email: row.email,
        email_verified: row.email_verified,
        name: `${row.given_name} ${row.family_name}`,
        given_name: row.given_name,
        family_name: row.family_name,
        updated_at: Math.floor(row.updated_at / 1000),
      };
    },
  };
}

function signingKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  const kid = crypto.createHash('sha256').update(`${jwk.e}.${jwk.n}`).digest('base64url');
  return { ...jwk, kid: kid.slice(0, 16), alg: 'RS256', use: 'sig' };
}

const configuration = {
  adapter: ADAPTER === 'postgres' ? PgAdapter : undefined,
  clients: [
    {
      client_id: 'bench',
      client_secret: env.PEER_CLIENT_SECRET || 'bench-peer-secret',
      redirect_uris: [env.PEER_REDIRECT_URI || 'http://127.0.0.1:9999/cb'],
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
  ],
  jwks: { keys: [signingKey()] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'updated_at'],
  },
  // ciam puts the scope's claims in the ID token too.
  conformIdTokenClaims: false,
  findAccount,
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // client_credentials gets the resource server, hence an RS256 JWT access token;
      // code and refresh grants keep userinfo-audience (opaque) tokens.
      defaultResource: async (ctx, _client, oneOf) =>
        oneOf || (ctx.oidc.params?.grant_type === 'client_credentials' ? RESOURCE : undefined),
      useGrantedResource: async () => false,
      getResourceServerInfo: async (_ctx, resource) => {
        if (resource !== RESOURCE) throw new errors.InvalidTarget();
        return {
          scope: 'api',
          audience: 'bench',
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  // ciam: a refresh token with every code exchange for a client allowed to refresh,
  // rotated on every use, and not tied to the browser session.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  expiresWithSession: async () => false,
  // A first-party client: no consent screen (ciam --first-party). Every
  // authorization gets its own grant, as every ciam code starts its own token
  // family: a refresh token reuse then revokes that family only.
  async loadExistingGrant(ctx) {
    const { client, session } = ctx.oidc;
    const grant = new ctx.oidc.provider.Grant({
      clientId: client.clientId,
      accountId: session.accountId,
    });
    grant.addOIDCScope('openid profile email offline_access');
    await grant.save();
    return grant;
  },
  pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: {
    AccessToken: 600,
    AuthorizationCode: 60,
    ClientCredentials: 600,
    IdToken: 3600,
    RefreshToken: 30 * 86400,
    Grant: 30 * 86400,
    Interaction: 3600,
    Session: 12 * 3600,
  },
};

const provider = new Provider(ISSUER, configuration);
const callback = provider.callback();

function escapeHtml(value) {
  return String(value).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
}

function loginPage(res, uid, email, error, status) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>
<body><main><h1>Sign in</h1>${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label>Email <input type="email" name="email" value="${escapeHtml(email)}" required></label>
<label>Password <input type="password" name="password" required></label>
<button type="submit">Sign in</button>
</form></main></body></html>`);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

let dummyHash;

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') {
    return loginPage(res, details.uid, details.params.login_hint || '', '', 200);
  }
  const form = await readForm(req);
  const email = (form.get('email') || '').slice(0, 320);
  const password = (form.get('password') || '').slice(0, 1024);
  const { rows } = await pool.query(
    'SELECT id, password_hash FROM peer.accounts WHERE email_normalized = $1',
    [email.toLowerCase()],
  );
  // Verify against a dummy hash for unknown emails, as ciam does (same timing).
  const ok = await argon2.verify(rows.length ? rows[0].password_hash : dummyHash, password);
  if (!rows.length || !ok) {
    return loginPage(res, details.uid, email, 'The email or password is not right.', 401);
  }
  return provider.interactionFinished(
    req,
    res,
    { login: { accountId: rows[0].id, amr: ['pwd'] } },
    { mergeWithLastSubmission: false },
  );
}

const server = http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      res.statusCode = err.statusCode || 500;
      res.end(err.message);
    });
    return;
  }
  callback(req, res);
});

if (ADAPTER === 'postgres') await pool.query(SCHEMA);
await seedAccount();
dummyHash = await argon2.hash(crypto.randomBytes(16).toString('hex'), ARGON2);
server.keepAliveTimeout = 65_000;
server.listen(PORT, '127.0.0.1', () => {
  console.log(`peer oidc-provider on ${ISSUER} (adapter: ${ADAPTER})`);
});
