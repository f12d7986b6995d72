#!/usr/bin/env node
// An upstream OpenID Provider for federation tests, built on oidc-provider (OpenID-certified):
// authorization code flow only, PKCE (S256) required, in-memory state, fresh signing keys per run.
//
//   node upstream-op.mjs [--port N] [CONFIG]
//
// CONFIG is a path to a JSON file or the JSON itself (starts with "{"); see docs/peers.md.
// Port: --port, else $UPSTREAM_OP_PORT, else config.port, else 0 (any free port; the ready
// line says which). Prints exactly one line on stdout once listening:
//   {"ready": true, "issuer": "http://127.0.0.1:PORT", "port": PORT, "pid": PID}
// Everything else (oidc-provider's notices, request errors) goes to stderr.
//
// Login is this script's own minimal interaction, not oidc-provider's devInteractions: the login
// name must be a configured account id (= sub), and the page answers JSON to `Accept:
// application/json` so a test can drive it with plain HTTP (tests/peers/_node.py does).

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

// oidc-provider prints notices with console.info; stdout is reserved for the ready line.
console.info = console.error;
console.log = console.error;
const { default: Provider } = await import('oidc-provider');

const DEFAULT_CLAIMS = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name', 'given_name', 'family_name', 'preferred_username', 'picture', 'locale'],
  groups: ['groups'],
};
const INTERACTION = /^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?\/?$/;
const MAX_FORM_BYTES = 16 * 1024;

function fail(message) {
  process.stderr.write(`${JSON.stringify({ error: message, code: 'UPSTREAM_OP_CONFIG' })}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  let port;
  let source;
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--port') {
      port = argv[i + 1];
      i += 1;
    } else if (source === undefined) {
      source = argv[i];
    } else {
      fail(`unexpected argument ${argv[i]}`);
    }
  }
  let config = {};
  if (source !== undefined) {
    const text = source.trimStart().startsWith('{') ? source : readFileSync(source, 'utf8');
    try {
      config = JSON.parse(text);
    } catch (err) {
      fail(`config is not JSON: ${err.message}`);
    }
  }
  port ??= process.env.UPSTREAM_OP_PORT ?? config.port ?? 0;
  if (!Number.isInteger(Number(port)) || Number(port) < 0 || Number(port) > 65535) {
    fail(`bad port ${port}`);
  }
  return { config, port: Number(port) };
}

function checkConfig(config) {
  const known = new Set([
    'port', 'host', 'issuer', 'clients', 'accounts', 'claims', 'conform_id_token_claims', 'ttl',
  ]);
  const unknown = Object.keys(config).filter((key) => !known.has(key));
  if (unknown.length) fail(`unknown config keys: ${unknown.join(', ')}`);
  if (!Array.isArray(config.clients ?? [])) fail('"clients" must be a list');
  const accounts = config.accounts ?? {};
  if (typeof accounts !== 'object' || Array.isArray(accounts)) {
    fail('"accounts" must map account id (sub) to claims');
  }
  for (const client of config.clients ?? []) {
    if (typeof client?.client_id !== 'string') fail('every client needs a "client_id"');
    if (!Array.isArray(client.redirect_uris) || !client.redirect_uris.length) {
      fail(`client ${client.client_id} needs "redirect_uris"`);
    }
  }
}

// Clients take oidc-provider's (RFC 7591) metadata names; only the defaults below are ours.
function clientMetadata(client) {
  const isPublic = client.client_secret === undefined;
  return {
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: isPublic ? 'none' : 'client_secret_basic',
    ...client,
  };
}

function signingKeys() {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  return {
    keys: [
      { ...rsa.export({ format: 'jwk' }), use: 'sig', alg: 'RS256' },
      { ...ec.export({ format: 'jwk' }), use: 'sig', alg: 'ES256' },
    ],
  };
}

function providerConfiguration(config) {
  const accounts = config.accounts ?? {};
  const ttl = {
    AccessToken: 3600,
    IdToken: 3600,
    RefreshToken: 86400,
    Interaction: 600,
    Session: 86400,
    Grant: 86400,
    ...(config.ttl ?? {}),
  };
  return {
    clients: (config.clients ?? []).map(clientMetadata),
    jwks: signingKeys(),
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: config.claims ?? DEFAULT_CLAIMS,
    // Most enterprise IdPs put the scope's claims in the ID token too, which is what federation
    // code reads; `conform_id_token_claims: true` restores OIDC Core §5.4 (userinfo only).
    conformIdTokenClaims: config.conform_id_token_claims === true,
    responseTypes: ['code'],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: true, allowedPolicy: async () => true },
      revocation: { enabled: true, allowedPolicy: async () => true },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: { enabled: false },
      userinfo: { enabled: true },
    },
    ttl: Object.fromEntries(Object.entries(ttl).map(([name, seconds]) => [name, () => seconds])),
    findAccount: async (_ctx, sub) => {
      if (!Object.hasOwn(accounts, sub)) return undefined;
      return { accountId: sub, claims: async () => ({ ...accounts[sub], sub }) };
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError: async (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
}

const escapeHtml = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function readForm(req) {
  let size = 0;
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw Object.assign(new Error('form too large'), { status: 413 });
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function reply(res, status, body, type) {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}

function describePage(details, uid) {
  const base = `/interaction/${uid}`;
  return {
    uid,
    prompt: details.prompt.name,
    client_id: details.params.client_id,
    scope: details.params.scope ?? null,
    login_hint: details.params.login_hint ?? null,
    login_url: `${base}/login`,
    confirm_url: `${base}/confirm`,
    abort_url: `${base}/abort`,
  };
}

function renderPage(page) {
  const form = page.prompt === 'login'
    ? `<form method="post" action="${escapeHtml(page.login_url)}" data-prompt="login">
  <label>Account <input name="login" required autofocus value="${escapeHtml(page.login_hint ?? '')}"></label>
  <button type="submit">Sign in</button>
</form>`
    : `<p>${escapeHtml(page.client_id)} asks for: ${escapeHtml(page.scope ?? '')}</p>
<form method="post" action="${escapeHtml(page.confirm_url)}" data-prompt="consent">
  <button type="submit">Allow</button>
</form>`;
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Upstream OP: ${escapeHtml(page.prompt)}</title></head>
<body>
${form}
<form method="post" action="${escapeHtml(page.abort_url)}"><button type="submit">Cancel</button></form>
</body></html>
`;
}

// Mirrors what a consent screen grants: whatever the prompt reports as missing.
async function grantMissing(provider, details) {
  const { prompt: { details: missing }, grantId, session, params } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

async function interaction(provider, accounts, req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    reply(res, 400, JSON.stringify({ error: 'interaction_mismatch' }), 'application/json');
    return;
  }
  const page = describePage(details, uid);
  if (action === undefined && req.method === 'GET') {
    if ((req.headers.accept ?? '').includes('application/json')) {
      reply(res, 200, JSON.stringify(page), 'application/json');
    } else {
      reply(res, 200, renderPage(page), 'text/html; charset=utf-8');
    }
    return;
  }
  if (req.method !== 'POST') {
    reply(res, 405, JSON.stringify({ error: 'method_not_allowed' }), 'application/json');
    return;
  }
  const form = await readForm(req);
  if (action === 'abort') {
    await provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  } else if (action === 'login' && page.prompt === 'login') {
    const login = form.get('login') ?? '';
    if (!Object.hasOwn(accounts, login)) {
      reply(res, 400, JSON.stringify({ error: 'unknown_account', login }), 'application/json');
      return;
    }
    const result = { login: { accountId: login } };
    if (form.get('acr')) result.login.acr = form.get('acr');
    if (form.get('amr')) result.login.amr = form.get('amr').split(' ');
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  } else if (action === 'confirm' && page.prompt === 'consent') {
    const result = { consent: { grantId: await grantMissing(provider, details) } };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
  } else {
    reply(res, 409, JSON.stringify({ error: 'wrong_prompt', prompt: page.prompt }), 'application/json');
  }
}

const { config, port } = parseArgs(process.argv.slice(2));
checkConfig(config);
const host = config.host ?? '127.0.0.1';
let provider;
let providerCallback;

const server = createServer((req, res) => {
  const match = INTERACTION.exec(new URL(req.url, 'http://op.invalid').pathname);
  if (!match) {
    providerCallback(req, res);
    return;
  }
  interaction(provider, config.accounts ?? {}, req, res, match[1], match[2]).catch((err) => {
    console.error(`interaction ${match[1]}: ${err.stack ?? err}`);
    if (!res.headersSent) {
      const body = JSON.stringify({ error: err.name ?? 'server_error', message: err.message });
      reply(res, err.status ?? err.statusCode ?? 400, body, 'application/json');
    }
  });
});

server.listen(port, host, () => {
  const actual = server.address().port;
  const issuer = config.issuer ?? `http://${host}:${actual}`;
  if (new URL(issuer).pathname !== '/') fail('issuer must have no path (the OP is served at /)');
  provider = new Provider(issuer, providerConfiguration(config));
  provider.on('server_error', (_ctx, err) => console.error(`server_error: ${err.stack ?? err}`));
  providerCallback = provider.callback();
  process.stdout.write(`${JSON.stringify({ ready: true, issuer, port: actual, pid: process.pid })}\n`);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
