// Generates NextAuth v4 (`next-auth/jwt`) and Auth.js v5 (`@auth/core/jwt`)
// session-cookie test vectors using the libraries' own `encode` functions.
//
//   cd tests/vectors/nextauth && npm ci && node generate.mjs
//
// Writes vectors.json next to this file. Tokens carry the real generation time
// (iat/exp) plus a random jti and IV, so each run produces new values; the
// ordering of vectors and of keys is fixed.
//
// Every vector is also checked here with the libraries' own `decode`:
//   - "claims" is what the library decodes with the key that encrypted it
//     (for expired vectors the clock is pinned to a moment before exp, since
//     the library refuses to return expired claims otherwise);
//   - with the verifier configuration listed in the vector (cookieName +
//     secrets), decoding at the real clock must succeed for "valid" and
//     "invalid_user_id", fail with ERR_JWT_EXPIRED for "expired", and fail to
//     decrypt for "wrong_secret".

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

import * as v4jwt from "next-auth/jwt";
import * as v5jwt from "@auth/core/jwt";

const here = dirname(fileURLToPath(import.meta.url));

const SECRETS = {
  primary: "test-secret-primary-0123456789abcdef0123456789abcdef",
  secondary: "test-secret-secondary-0123456789abcdef0123456789abcd",
};

const FIFTY_YEARS = 50 * 365 * 24 * 60 * 60;
const EXPIRED = -3600;

const V4_COOKIE = "next-auth.session-token";
const V4_COOKIE_SECURE = "__Secure-next-auth.session-token";
const V5_COOKIE = "authjs.session-token";
const V5_COOKIE_SECURE = "__Secure-authjs.session-token";

const baseToken = (sub) => ({
  sub,
  name: "Demo Creator",
  email: "creator@example.com",
});

// ~5000 characters, deterministic.
const LARGE_PICTURE = (() => {
  const prefix = "https://example.com/avatars/";
  const filler = "0123456789abcdef".repeat(400);
  return (prefix + filler).slice(0, 5000 - ".png".length) + ".png";
})();

// `enc.secrets` / `enc.salt`: what the library is given to ENCODE.
// `secrets` / `cookieName`: how a VERIFIER is configured (what goes in the JSON).
const CASES = [
  {
    name: "v4-valid",
    version: 4,
    cookieName: V4_COOKIE,
    secrets: ["primary"],
    token: baseToken("42"),
    maxAge: FIFTY_YEARS,
    enc: { secrets: ["primary"] },
    expect: "valid",
  },
  {
    name: "v4-valid-secure",
    version: 4,
    cookieName: V4_COOKIE_SECURE,
    secrets: ["primary"],
    token: baseToken("7"),
    maxAge: FIFTY_YEARS,
    enc: { secrets: ["primary"] },
    expect: "valid",
  },
  {
    name: "v4-expired",
    version: 4,
    cookieName: V4_COOKIE,
    secrets: ["primary"],
    token: baseToken("42"),
    maxAge: EXPIRED,
    enc: { secrets: ["primary"] },
    expect: "expired",
  },
  {
    name: "v4-non-integer-sub",
    version: 4,
    cookieName: V4_COOKIE,
    secrets: ["primary"],
    token: baseToken("user_abc"),
    maxAge: FIFTY_YEARS,
    enc: { secrets: ["primary"] },
    expect: "invalid_user_id",
  },
  {
    name: "v4-wrong-secret",
    version: 4,
    cookieName: V4_COOKIE,
    secrets: ["primary"],
    token: baseToken("42"),
    maxAge: FIFTY_YEARS,
    enc: { secrets: ["secondary"] },
    expect: "wrong_secret",
  },
  {
    name: "v5-valid",
    version: 5,
    cookieName: V5_COOKIE,
    secrets: ["primary"],
    token: baseToken("42"),
    maxAge: FIFTY_YEARS,
    enc: { secrets: ["primary"], salt: V5_COOKIE },
    expect: "valid",
  },
  {
    name: "v5-valid-secure",
    version: 5,
    cookieName: V5_COOKIE_SECURE,
    secrets: ["primary"],
    token: baseToken("7"),
    maxAge: FIFTY_YEARS,
    enc: { secrets: ["primary"], salt: V5_COOKIE_SECURE },
    expect: "valid",
  },
  {
    // Encrypted with the secondary secret only; a verifier configured with
    // [primary, secondary] must try each secret in turn.
    name: "v5-rotated",
    version: 5,
    cookieName: V5_COOKIE,
    secrets: ["primary", "secondary"],
    token: baseToken("42"),
    maxAge: FIFTY_YEARS,
    enc: { secrets: ["secondary"], salt: V5_COOKIE },
    expect: "valid",
  },
  {
    name: "v5-expired",
    version: 5,
    cookieName: V5_COOKIE,
    secrets: ["primary"],
    token: baseToken("42"),
    maxAge: EXPIRED,
    enc: { secrets: ["primary"], salt: V5_COOKIE },
    expect: "expired",
  },
  {
    // Encrypted with salt "authjs.session-token" but presented under the
    // __Secure- name: the derived key differs, so it must not decrypt.
    name: "v5-wrong-salt",
    version: 5,
    cookieName: V5_COOKIE_SECURE,
    secrets: ["primary"],
    token: baseToken("42"),
    maxAge: FIFTY_YEARS,
    enc: { secrets: ["primary"], salt: V5_COOKIE },
    expect: "wrong_secret",
  },
  {
    name: "v5-large",
    version: 5,
    cookieName: V5_COOKIE,
    secrets: ["primary"],
    token: { ...baseToken("42"), picture: LARGE_PICTURE },
    maxAge: FIFTY_YEARS,
    enc: { secrets: ["primary"], salt: V5_COOKIE },
    expect: "valid",
  },
  {
    name: "v5-non-integer-sub",
    version: 5,
    cookieName: V5_COOKIE,
    secrets: ["primary"],
    token: baseToken("0"),
    maxAge: FIFTY_YEARS,
    enc: { secrets: ["primary"], salt: V5_COOKIE },
    expect: "invalid_user_id",
  },
];

const secretValues = (names) => names.map((n) => {
  assert.ok(n in SECRETS, `unknown secret name ${n}`);
  return SECRETS[n];
});

async function encodeCase(c) {
  const secrets = secretValues(c.enc.secrets);
  if (c.version === 4) {
    assert.equal(secrets.length, 1);
    return v4jwt.encode({ token: c.token, secret: secrets[0], maxAge: c.maxAge });
  }
  return v5jwt.encode({
    token: c.token,
    secret: secrets.length === 1 ? secrets[0] : secrets,
    salt: c.enc.salt,
    maxAge: c.maxAge,
  });
}

// Decode like the library does for a verifier holding `secrets` (names) and,
// for v5, using `salt`. v4's decode takes one secret, so rotation is the
// caller's loop over the list (first success wins).
async function libDecode(version, value, secretNames, salt) {
  const secrets = secretValues(secretNames);
  if (version === 4) {
    let lastErr;
    for (const secret of secrets) {
      try {
        return await v4jwt.decode({ token: value, secret });
      } catch (err) {
        lastErr = err;
        if (err?.code === "ERR_JWT_EXPIRED") throw err;
      }
    }
    throw lastErr;
  }
  return v5jwt.decode({
    token: value,
    secret: secrets.length === 1 ? secrets[0] : secrets,
    salt,
  });
}

// Run `fn` with the global clock pinned to `ms` (both jose versions read the
// time via `new Date()` / `Date.now()`).
async function withClock(ms, fn) {
  const RealDate = globalThis.Date;
  class FixedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(ms);
      else super(...args);
    }
    static now() {
      return ms;
    }
  }
  globalThis.Date = FixedDate;
  try {
    return await fn();
  } finally {
    globalThis.Date = RealDate;
  }
}

function b64urlJson(part) {
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
}

function sortKeys(obj) {
  return Object.fromEntries(Object.keys(obj).sort().map((k) => [k, obj[k]]));
}

async function buildVector(c) {
  const value = await encodeCase(c);
  const parts = value.split(".");
  assert.equal(parts.length, 5, `${c.name}: not a compact JWE`);
  const header = b64urlJson(parts[0]);
  assert.equal(header.alg, "dir");
  assert.equal(header.enc, c.version === 4 ? "A256GCM" : "A256CBC-HS512");

  // Claims as the library sees them, decoded with the encoding key.
  const encSalt = c.version === 5 ? c.enc.salt : undefined;
  let claims;
  if (c.expect === "expired") {
    // The library refuses expired tokens, so decode with the clock pinned to
    // a minute before exp (exp = generation time + maxAge).
    claims = await withClock(
      Date.now() + (c.maxAge - 60) * 1000,
      () => libDecode(c.version, value, [c.enc.secrets[0]], encSalt),
    );
  } else {
    claims = await libDecode(c.version, value, [c.enc.secrets[0]], encSalt);
  }
  for (const k of ["sub", "iat", "exp", "jti"]) {
    assert.ok(k in claims, `${c.name}: claim ${k} missing`);
  }
  assert.equal(claims.sub, c.token.sub);
  assert.equal(claims.exp - claims.iat, c.maxAge, `${c.name}: exp - iat != maxAge`);

  // Behaviour under the verifier configuration, at the real clock.
  const verSalt = c.version === 5 ? c.cookieName : undefined;
  let outcome;
  try {
    const got = await libDecode(c.version, value, c.secrets, verSalt);
    assert.deepEqual(got, claims);
    outcome = "decoded";
  } catch (err) {
    outcome = err?.code === "ERR_JWT_EXPIRED" ? "expired" : "undecryptable";
  }
  const wanted = {
    valid: "decoded",
    invalid_user_id: "decoded",
    expired: "expired",
    wrong_secret: "undecryptable",
  }[c.expect];
  assert.equal(outcome, wanted, `${c.name}: library decode gave ${outcome}, wanted ${wanted}`);

  if (c.name === "v5-large") {
    assert.ok(value.length > 4096, "v5-large must exceed one 4096-byte cookie");
  }

  return {
    name: c.name,
    cookieName: c.cookieName,
    secrets: c.secrets,
    value,
    claims: sortKeys(claims),
    expect: c.expect,
  };
}

function pkgVersion(name) {
  const p = join(here, "node_modules", ...name.split("/"), "package.json");
  return JSON.parse(readFileSync(p, "utf8")).version;
}

const vectors = [];
for (const c of CASES) vectors.push(await buildVector(c));

const out = {
  generatedWith: {
    "next-auth": pkgVersion("next-auth"),
    "@auth/core": pkgVersion("@auth/core"),
    node: process.versions.node,
  },
  secrets: SECRETS,
  vectors,
};

const outPath = join(here, "vectors.json");
writeFileSync(outPath, JSON.stringify(out, null, 2) + "\n");
console.log(`wrote ${vectors.length} vectors to ${outPath}`);
