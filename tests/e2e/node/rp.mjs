// A relying party on node's certified `openid-client`, driven by
// tests/e2e/test_openid_client.py in two steps. Each step reads one JSON object on
// stdin and prints one JSON object on stdout.
//
//   node rp.mjs start   {issuer, client_id, client_secret|null, redirect_uri, scope}
//     -> {authorization_url, code_verifier, state, nonce}
//   node rp.mjs finish  {...same, callback_url, code_verifier, state, nonce}
//     -> {id_token_claims, userinfo, token_type, scope, has_refresh_token,
//         refreshed: {...}, refreshed_userinfo}
//
// The Python side drives the browser login between the two steps. On any error the
// script prints {error: {...}} (openid-client's error name, code, message, cause)
// and exits 1, so a test failure shows exactly what the library rejected.
//
// Client configuration is openid-client's default except:
//   - allowInsecureRequests: the provider under test is plain HTTP on 127.0.0.1;
//   - enableNonRepudiationChecks: a *stricter* check; without it openid-client trusts
//     TLS and skips the ID token signature (not possible to rely on over plain HTTP).
//     With it, ID tokens are verified against the provider's jwks_uri.
import * as client from "openid-client";

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

async function configure(input) {
  const metadata = { redirect_uris: [input.redirect_uri] };
  let auth;
  if (input.client_secret) {
    metadata.client_secret = input.client_secret;
    metadata.token_endpoint_auth_method = "client_secret_basic";
    auth = client.ClientSecretBasic(input.client_secret);
  } else {
    metadata.token_endpoint_auth_method = "none";
    auth = client.None();
  }
  return client.discovery(new URL(input.issuer), input.client_id, metadata, auth, {
    execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
  });
}

async function start(input) {
  const config = await configure(input);
  const code_verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: input.redirect_uri,
    scope: input.scope,
    code_challenge: await client.calculatePKCECodeChallenge(code_verifier),
    code_challenge_method: "S256",
    state,
    nonce,
  });
  return { authorization_url: url.href, code_verifier, state, nonce };
}

async function finish(input) {
  const config = await configure(input);
  const tokens = await client.authorizationCodeGrant(config, new URL(input.callback_url), {
    pkceCodeVerifier: input.code_verifier,
    expectedState: input.state,
    expectedNonce: input.nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  if (!tokens.refresh_token) {
    throw new Error("token response has no refresh_token");
  }
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  const refreshedUserinfo = await client.fetchUserInfo(
    config,
    refreshed.access_token,
    claims.sub,
  );
  return {
    id_token_claims: claims,
    userinfo,
    token_type: tokens.token_type,
    scope: tokens.scope ?? null,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    refreshed: {
      id_token_claims: refreshed.claims() ?? null,
      token_type: refreshed.token_type,
      access_token: refreshed.access_token,
      refresh_token: refreshed.refresh_token ?? null,
    },
    refreshed_userinfo: refreshedUserinfo,
  };
}

function describe(error) {
  if (!(error instanceof Error)) return { message: String(error) };
  const out = { name: error.name, message: error.message };
  if (error.code !== undefined) out.code = error.code;
  if (error.error !== undefined) out.error = error.error;
  if (error.error_description !== undefined) out.error_description = error.error_description;
  if (error.status !== undefined) out.status = error.status;
  if (error.cause !== undefined) {
    out.cause = error.cause instanceof Error ? describe(error.cause) : error.cause;
  }
  return out;
}

const steps = { start, finish };
const step = steps[process.argv[2]];
if (!step) {
  process.stderr.write("usage: node rp.mjs start|finish < input.json\n");
  process.exit(2);
}
try {
  const result = await step(await readStdin());
  process.stdout.write(JSON.stringify(result) + "\n");
} catch (error) {
  process.stdout.write(JSON.stringify({ error: describe(error) }, replacer) + "\n");
  process.exitCode = 1;
}

function replacer(_key, value) {
  if (value instanceof Response) return { status: value.status, url: value.url };
  if (value instanceof Headers) return Object.fromEntries(value);
  return value;
}
