#!/usr/bin/env node
// A relying party built on openid-client (OpenID-certified), run one step per process so that a
// Python test can do the end-user's part (logging in at the OP) between the steps.
//
//   node rp.mjs STEP [JSON]        JSON input as the second argument, or on stdin when absent/"-"
//
// Success: exit 0, one JSON object on stdout.
// Failure: exit 1 (peer rejected something) or 2 (bad input), one JSON object on stderr:
//   {"error": message, "code": openid-client/oauth4webapi code, "name": error class, ...details}
// docs/peers.md lists every step's fields.

import * as oidc from 'openid-client';

class UsageError extends Error {
  name = 'UsageError';

  code = 'RP_USAGE';
}

const AUTH_METHODS = {
  client_secret_basic: (secret) => oidc.ClientSecretBasic(secret),
  client_secret_post: (secret) => oidc.ClientSecretPost(secret),
  none: () => oidc.None(),
};

function need(input, name, type = 'string') {
  const value = input[name];
  if (typeof value !== type || (type === 'string' && value === '')) {
    throw new UsageError(`"${name}" must be a non-empty ${type}`);
  }
  return value;
}

function optional(input, name, type) {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== type) throw new UsageError(`"${name}" must be a ${type}`);
  return value;
}

function stringParams(value, name) {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(`"${name}" must be an object of string values`);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
}

// Every step starts from discovery: the steps are separate processes and hold no state, which
// also means each one re-checks the issuer's metadata the way a fresh RP instance would.
async function configure(input) {
  const issuer = new URL(need(input, 'issuer'));
  const clientId = need(input, 'client_id');
  const secret = optional(input, 'client_secret', 'string');
  const method = optional(input, 'token_endpoint_auth_method', 'string')
    ?? (secret ? 'client_secret_basic' : 'none');
  const makeAuth = AUTH_METHODS[method];
  if (!makeAuth) {
    throw new UsageError(`token_endpoint_auth_method must be one of ${Object.keys(AUTH_METHODS)}`);
  }
  if (method !== 'none' && !secret) throw new UsageError(`${method} needs "client_secret"`);
  const metadata = {
    ...(input.client_metadata ?? {}),
    token_endpoint_auth_method: method,
    ...(secret ? { client_secret: secret } : {}),
    ...(input.redirect_uri ? { redirect_uris: [input.redirect_uri] } : {}),
  };
  // openid-client only talks HTTPS unless told otherwise; test servers listen on plain loopback.
  const options = input.insecure_http === true ? { execute: [oidc.allowInsecureRequests] } : {};
  return oidc.discovery(issuer, clientId, metadata, makeAuth(secret), options);
}

function tokenResult(tokens) {
  return {
    access_token: tokens.access_token,
    token_type: tokens.token_type,
    expires_in: tokens.expiresIn() ?? null,
    scope: tokens.scope ?? null,
    refresh_token: tokens.refresh_token ?? null,
    id_token: tokens.id_token ?? null,
    claims: tokens.claims() ?? null,
  };
}

async function discover(input) {
  const config = await configure(input);
  const metadata = config.serverMetadata();
  return {
    issuer: metadata.issuer,
    supports_pkce: metadata.supportsPKCE(),
    metadata: JSON.parse(JSON.stringify(metadata)),
  };
}

async function authorizeUrl(input) {
  const config = await configure(input);
  const state = optional(input, 'state', 'string') ?? oidc.randomState();
  const nonce = optional(input, 'nonce', 'string') ?? oidc.randomNonce();
  const params = {
    redirect_uri: need(input, 'redirect_uri'),
    scope: optional(input, 'scope', 'string') ?? 'openid',
    state,
    nonce,
  };
  let codeVerifier = null;
  if (input.pkce !== false) {
    codeVerifier = optional(input, 'code_verifier', 'string') ?? oidc.randomPKCECodeVerifier();
    params.code_challenge = await oidc.calculatePKCECodeChallenge(codeVerifier);
    params.code_challenge_method = 'S256';
  }
  for (const name of ['prompt', 'acr_values', 'login_hint', 'ui_locales']) {
    const value = optional(input, name, 'string');
    if (value !== undefined) params[name] = value;
  }
  const maxAge = optional(input, 'max_age', 'number');
  if (maxAge !== undefined) params.max_age = String(maxAge);
  Object.assign(params, stringParams(input.extra_params, 'extra_params'));
  const url = oidc.buildAuthorizationUrl(config, params);
  return { url: url.href, state, nonce, code_verifier: codeVerifier };
}

async function callback(input) {
  const config = await configure(input);
  const checks = {
    expectedState: optional(input, 'state', 'string'),
    expectedNonce: optional(input, 'nonce', 'string'),
    pkceCodeVerifier: optional(input, 'code_verifier', 'string'),
    maxAge: optional(input, 'max_age', 'number'),
    idTokenExpected: input.id_token_expected !== false,
  };
  const tokens = await oidc.authorizationCodeGrant(
    config,
    new URL(need(input, 'callback_url')),
    checks,
    stringParams(input.token_params, 'token_params'),
  );
  return tokenResult(tokens);
}

async function refresh(input) {
  const config = await configure(input);
  const params = stringParams(input.token_params, 'token_params');
  const scope = optional(input, 'scope', 'string');
  if (scope !== undefined) params.scope = scope;
  const tokens = await oidc.refreshTokenGrant(config, need(input, 'refresh_token'), params);
  return tokenResult(tokens);
}

async function userinfo(input) {
  const config = await configure(input);
  // openid-client insists on naming the expected subject (OIDC Core §5.3.2: sub MUST match the
  // ID token's); skipping the check has to be asked for explicitly.
  const expected = input.skip_subject_check === true
    ? oidc.skipSubjectCheck
    : need(input, 'expected_sub');
  return oidc.fetchUserInfo(config, need(input, 'access_token'), expected);
}

function hintParams(input) {
  const hint = optional(input, 'token_type_hint', 'string');
  return hint === undefined ? {} : { token_type_hint: hint };
}

async function introspect(input) {
  const config = await configure(input);
  return oidc.tokenIntrospection(config, need(input, 'token'), hintParams(input));
}

async function revoke(input) {
  const config = await configure(input);
  await oidc.tokenRevocation(config, need(input, 'token'), hintParams(input));
  return { revoked: true };
}

async function endSessionUrl(input) {
  const config = await configure(input);
  const params = stringParams(input.extra_params, 'extra_params');
  for (const name of ['id_token_hint', 'post_logout_redirect_uri', 'state', 'logout_hint']) {
    const value = optional(input, name, 'string');
    if (value !== undefined) params[name] = value;
  }
  return { url: oidc.buildEndSessionUrl(config, params).href };
}

const STEPS = {
  discover,
  'authorize-url': authorizeUrl,
  callback,
  refresh,
  userinfo,
  introspect,
  revoke,
  'end-session-url': endSessionUrl,
};

async function readInput(arg) {
  let text = arg;
  if (text === undefined || text === '-') {
    const chunks = [];
    for await (const chunk of process.stdin) chunks.push(chunk);
    text = Buffer.concat(chunks).toString('utf8');
  }
  let input;
  try {
    input = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`input is not JSON: ${err.message}`);
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new UsageError('input must be a JSON object');
  }
  return input;
}

// Flattens what a test may want to assert on: the openid-client code, the OAuth error from the
// server, and for claim/attribute comparisons which one failed.
function describe(err) {
  const out = { error: err.message, code: err.code ?? null, name: err.name };
  if (typeof err.error === 'string') out.oauth_error = err.error;
  if (typeof err.error_description === 'string') out.error_description = err.error_description;
  if (typeof err.status === 'number') out.status = err.status;
  const inner = err.cause;
  if (inner instanceof Error) {
    out.detail = inner.message;
    if (inner.code && !out.code) out.code = inner.code;
    const facts = inner.cause;
    if (facts && typeof facts === 'object') {
      for (const key of ['claim', 'attribute', 'expected', 'reason', 'alg']) {
        if (facts[key] !== undefined && typeof facts[key] !== 'object') out[key] = facts[key];
      }
    }
  }
  return out;
}

async function main() {
  const [step, arg] = process.argv.slice(2);
  const run = STEPS[step];
  if (!run) throw new UsageError(`unknown step ${JSON.stringify(step)}; one of ${Object.keys(STEPS)}`);
  const result = await run(await readInput(arg));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${JSON.stringify(describe(err))}\n`);
  process.exitCode = err instanceof UsageError ? 2 : 1;
});
