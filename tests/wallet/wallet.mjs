#!/usr/bin/env node
// An independent test wallet: OpenID4VCI 1.0 (pre-authorized code) and SD-JWT VC, made of
// third-party libraries only (@openid4vc/openid4vci for the protocol, @sd-jwt/* for the format,
// the status list and the crypto). It never imports the server's code: what it accepts and
// produces is what any wallet built on these libraries would.
//
// Every command prints one JSON object on stdout. Exit status 0: done; 2: refused by the other
// side or by a check of the wallet (the JSON says which stage and why); 1: misuse.
//
//   receive --offer URI --pin PIN --out STATE [--proof-nonce N | --no-proof-nonce]
//           [--proof-key-mismatch] [--proof-aud A] [--proof-typ T] [--proof-iat-offset S]
//           [--proof-jwk-private]
//   nonce   --offer URI | --state STATE          a fresh c_nonce from the issuer's nonce endpoint
//   status  --state STATE                         re-read the credential's status list entry
//   present --state STATE --disclose C1,C2 --nonce N --aud A [--name] [--out FILE]
//           [--tamper-disclosure] [--add-disclosure] [--duplicate-disclosure] [--kb-key-other] [--no-kb]
//           [--kb-iat-offset S]
//   inspect --presentation P                      the claims a presentation discloses
//
// The state file holds the holder key (private), the credential and what was learnt of the issuer.

import { readFileSync, writeFileSync } from 'node:fs'
import { randomBytes, createHash } from 'node:crypto'
import { parseArgs } from 'node:util'

import { Openid4vciClient, setGlobalConfig } from '@openid4vc/openid4vci'
import { clientAuthenticationAnonymous, Oauth2ClientErrorResponseError } from '@openid4vc/oauth2'
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc'
import { SDJwt, KBJwt, Jwt } from '@sd-jwt/core'
import { ES256, digest, generateSalt } from '@sd-jwt/crypto-nodejs'
import { getListFromStatusListJWT } from '@sd-jwt/jwt-status-list'

// Test and demo instances answer on http://127.0.0.1: the libraries refuse plain http unless told.
setGlobalConfig({ allowInsecureUrls: true })

const CONFIGURATION_ID = 'passeport_numerique_competences'
const STATUS_NAMES = { 0: 'valid', 1: 'invalid', 2: 'suspended' }

class Refused extends Error {
  constructor (stage, detail) {
    super(`${stage}: ${JSON.stringify(detail)}`)
    this.stage = stage
    this.detail = detail
  }
}

const b64url = (bytes) => Buffer.from(bytes).toString('base64url')
const b64json = (value) => b64url(Buffer.from(JSON.stringify(value)))
const unb64json = (text) => JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
const hasher = (data, alg) => digest(data, alg)

/** Compact JWS over header and payload, signed with a private JWK (ES256, raw r||s signature). */
async function signCompact (privateJwk, header, payload) {
  const signer = await ES256.getSigner(privateJwk)
  const data = `${b64json(header)}.${b64json(payload)}`
  return `${data}.${await signer(data)}`
}

const publicOf = ({ kty, crv, x, y }) => ({ kty, crv, x, y })

async function fetchJson (url) {
  const response = await fetch(url, { headers: { Accept: 'application/json' } })
  const text = await response.text()
  if (!response.ok) throw new Refused('fetch', { url, status: response.status, body: text.slice(0, 2000) })
  return JSON.parse(text)
}

/**
 * The issuer's keys, found as the SD-JWT VC draft says: for `iss` https://h/p, the JWT VC issuer
 * metadata at https://h/.well-known/jwt-vc-issuer/p, whose `issuer` must be `iss`.
 */
async function issuerKeys (iss) {
  const url = new URL(iss)
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '')
  const metadataUrl = `${url.origin}/.well-known/jwt-vc-issuer${path}`
  const metadata = await fetchJson(metadataUrl)
  if (metadata.issuer !== iss) {
    throw new Refused('issuer_keys', { reason: 'issuer mismatch', expected: iss, got: metadata.issuer })
  }
  const jwks = metadata.jwks ?? (metadata.jwks_uri ? await fetchJson(metadata.jwks_uri) : null)
  if (!jwks || !Array.isArray(jwks.keys) || jwks.keys.length === 0) {
    throw new Refused('issuer_keys', { reason: 'no keys', metadataUrl })
  }
  return { metadataUrl, jwks }
}

/** A verifier callback for the libraries: picks the key named by the JWS header's kid. */
function keySetVerifier (jwks) {
  return async (data, signature) => {
    const header = unb64json(data.split('.')[0])
    const candidates = header.kid ? jwks.keys.filter((k) => k.kid === header.kid) : jwks.keys
    if (header.alg !== 'ES256' || candidates.length === 0) return false
    for (const key of candidates) {
      const verify = await ES256.getVerifier(publicOf(key))
      if (await verify(data, signature)) return true
    }
    return false
  }
}

/** Verifies a credential (or presentation) with the issuer's published keys, reads its status. */
async function verifyCredential (sdJwt, { holderJwk } = {}) {
  const decoded = await SDJwt.fromEncode(sdJwt, hasher)
  const iss = decoded.jwt.payload.iss
  const { metadataUrl, jwks } = await issuerKeys(iss)
  let statusValue = null
  const instance = new SDJwtVcInstance({
    hasher,
    hashAlg: 'sha-256',
    verifier: keySetVerifier(jwks),
    statusValidator: async (status) => { statusValue = status },
    loadTypeMetadataFormat: true
  })
  let verified
  try {
    verified = await instance.verify(sdJwt)
  } catch (error) {
    throw new Refused('verify_credential', { message: error.message })
  }
  const header = verified.header ?? {}
  if (header.typ !== 'dc+sd-jwt') throw new Refused('verify_credential', { reason: 'typ', typ: header.typ })
  if (holderJwk) {
    const cnf = verified.payload.cnf?.jwk
    if (!cnf || cnf.x !== holderJwk.x || cnf.y !== holderJwk.y) {
      throw new Refused('verify_credential', { reason: 'cnf.jwk is not the holder key', cnf })
    }
  }
  const claims = await instance.getClaims(sdJwt)
  return {
    iss,
    jwtVcIssuerMetadata: metadataUrl,
    kid: header.kid ?? null,
    header,
    payload: verified.payload,
    claims,
    status: statusValue === null ? null : (STATUS_NAMES[statusValue] ?? `status ${statusValue}`),
    statusList: verified.payload.status?.status_list ?? null,
    typeMetadata: verified.typeMetadata?.mergedTypeMetadata ?? verified.typeMetadata ?? null,
    disclosureCount: decoded.disclosures?.length ?? 0
  }
}

function client () {
  return new Openid4vciClient({
    callbacks: {
      fetch,
      hash: (data, alg) => new Uint8Array(createHash(alg.replace('-', '').toLowerCase()).update(data).digest()),
      generateRandom: (length) => new Uint8Array(randomBytes(length)),
      clientAuthentication: clientAuthenticationAnonymous(),
      signJwt: async () => { throw new Error('signJwt is set per request') }
    }
  })
}

/** The error a library raised for an HTTP answer of the issuer, as plain JSON. */
function describeError (stage, error) {
  if (error instanceof Refused) return { stage: error.stage, ...error.detail }
  const out = { stage, message: error.message.slice(0, 2000), name: error.constructor?.name }
  if (error instanceof Oauth2ClientErrorResponseError) {
    // Token and nonce endpoints: the OAuth error body and the HTTP status.
    out.error = error.errorResponse
    out.status = error.response?.status
    out.contentType = error.response?.headers?.get('content-type') ?? null
  } else if (error.response && typeof error.response === 'object') {
    // Credential endpoint: { ok: false, response, credentialErrorResponseResult }.
    const notOk = error.response
    out.status = notOk.response?.status ?? notOk.status
    if (notOk.credentialErrorResponseResult?.data) out.error = notOk.credentialErrorResponseResult.data
    // What the library could not read as an error response (not application/json, say), kept
    // for the diagnosis, apart from what the library understood.
    out.contentType = notOk.response?.headers?.get('content-type') ?? null
    if (!out.error && typeof error.message === 'string') out.unparsed = error.message.split('\n').slice(1).join('\n')
  }
  if (typeof error.textResponse === 'string' && !out.error) {
    // An answer that is not an OAuth error (a 429, say): its body as sent, JSON when it is.
    try { out.body = JSON.parse(error.textResponse) } catch { out.body = error.textResponse.slice(0, 2000) }
  }
  return out
}

async function stage (name, run) {
  try {
    return await run()
  } catch (error) {
    if (error instanceof Refused) throw error
    throw new Refused(name, describeError(name, error))
  }
}

async function receive (opts) {
  if (!opts.offer || !opts.out) usage('receive needs --offer and --out')
  const oid = client()
  const offer = await stage('offer', () => oid.resolveCredentialOffer(opts.offer))
  const issuerMetadata = await stage('metadata', () => oid.resolveIssuerMetadata(offer.credential_issuer))
  const configurationId = offer.credential_configuration_ids[0]
  const configuration = issuerMetadata.credentialIssuer.credential_configurations_supported[configurationId]
  if (!configuration) throw new Refused('metadata', { reason: 'offered configuration not in metadata', configurationId })

  const grant = offer.grants?.['urn:ietf:params:oauth:grant-type:pre-authorized_code']
  const { accessTokenResponse } = await stage('token', () =>
    oid.retrievePreAuthorizedCodeAccessTokenFromOffer({
      credentialOffer: offer,
      issuerMetadata,
      txCode: opts.pin ?? undefined
    })
  )
  const nonce = opts['no-proof-nonce']
    ? undefined
    : opts['proof-nonce'] ?? (await stage('nonce', () => oid.requestNonce({ issuerMetadata }))).c_nonce

  const holder = await ES256.generateKeyPair()
  const other = await ES256.generateKeyPair()
  // The proof is built by the library; this callback only signs what it hands over. With
  // --proof-key-mismatch the header names the holder key but another key signs.
  const signingKey = opts['proof-key-mismatch'] ? other.privateKey : holder.privateKey
  const proofClient = new Openid4vciClient({
    callbacks: {
      ...oid.options.callbacks,
      signJwt: async (signer, { header, payload }) => {
        const jwtHeader = { ...header, ...(opts['proof-typ'] ? { typ: opts['proof-typ'] } : {}) }
        const jwtPayload = { ...payload, ...(opts['proof-aud'] ? { aud: opts['proof-aud'] } : {}) }
        return { jwt: await signCompact(signingKey, jwtHeader, jwtPayload), signerJwk: signer.publicJwk }
      }
    }
  })
  const proof = await stage('proof', () =>
    proofClient.createCredentialRequestJwtProof({
      issuerMetadata,
      credentialConfigurationId: configurationId,
      // --proof-jwk-private: the header's jwk carries the private part too (a careless wallet).
      signer: {
        method: 'jwk',
        alg: 'ES256',
        publicJwk: opts['proof-jwk-private'] ? { ...publicOf(holder.publicKey), d: holder.privateKey.d } : publicOf(holder.publicKey)
      },
      nonce,
      issuedAt: new Date(Date.now() + Number(opts['proof-iat-offset'] ?? 0) * 1000)
    })
  )
  const { credentialResponse } = await stage('credential', () =>
    oid.retrieveCredentials({
      issuerMetadata,
      accessToken: accessTokenResponse.access_token,
      credentialConfigurationId: configurationId,
      proofs: { jwt: [proof.jwt] }
    })
  )
  const credential = credentialResponse.credentials?.[0]?.credential
  if (typeof credential !== 'string') throw new Refused('credential', { reason: 'no credential', credentialResponse })

  const state = {
    offer: opts.offer,
    credentialIssuer: offer.credential_issuer,
    configurationId,
    configuration,
    issuerDisplay: issuerMetadata.credentialIssuer.display ?? null,
    proofNonce: nonce,
    holder,
    credential
  }
  writeFileSync(opts.out, JSON.stringify(state, null, 2), { mode: 0o600 })
  const checked = await verifyCredential(credential, { holderJwk: holder.publicKey })
  if (checked.iss !== offer.credential_issuer) {
    throw new Refused('verify_credential', { reason: 'iss is not the credential issuer', iss: checked.iss })
  }
  if (checked.payload.vct !== configuration.vct) {
    throw new Refused('verify_credential', { reason: 'vct is not the offered one', vct: checked.payload.vct })
  }
  return {
    ok: true,
    credentialIssuer: offer.credential_issuer,
    configurationId,
    format: configuration.format,
    txCode: grant?.tx_code ?? null,
    issuerDisplay: issuerMetadata.credentialIssuer.display ?? null,
    credentialDisplay: configuration.credential_metadata?.display ?? configuration.display ?? null,
    authorizationServer: issuerMetadata.authorizationServers?.[0]?.issuer ?? null,
    tokenType: accessTokenResponse.token_type,
    proofNonce: nonce,
    holderJwk: publicOf(holder.publicKey),
    ...checked,
    credential
  }
}

function loadState (path) {
  if (!path) usage('--state is needed')
  return JSON.parse(readFileSync(path, 'utf8'))
}

async function nonce (opts) {
  const oid = client()
  const issuer = opts.state
    ? loadState(opts.state).credentialIssuer
    : (await stage('offer', () => oid.resolveCredentialOffer(opts.offer))).credential_issuer
  const issuerMetadata = await stage('metadata', () => oid.resolveIssuerMetadata(issuer))
  const answer = await stage('nonce', () => oid.requestNonce({ issuerMetadata }))
  return { ok: true, c_nonce: answer.c_nonce, c_nonce_expires_in: answer.c_nonce_expires_in ?? null }
}

async function status (opts) {
  const state = loadState(opts.state)
  const checked = await verifyCredential(state.credential, { holderJwk: state.holder.publicKey })
  // Read once more straight from the list, with the library's decoder, for the raw value.
  const { uri, idx } = checked.statusList
  const response = await fetch(uri, { headers: { Accept: 'application/statuslist+jwt' } })
  const token = await response.text()
  const list = getListFromStatusListJWT(token)
  const claims = Jwt.decodeJWT(token).payload
  return { ok: true, status: checked.status, uri, idx, value: list.getStatus(idx), sub: claims.sub ?? null }
}

/** Disclosures of the skills to show, chosen by code, plus the name ones if asked. */
async function choose (sdjwt, codes, withName) {
  const chosen = []
  const found = new Set()
  for (const disclosure of sdjwt.disclosures) {
    const value = disclosure.value
    if (disclosure.key === undefined && value && typeof value === 'object' && codes.includes(value.code)) {
      chosen.push(disclosure)
      found.add(value.code)
    } else if (withName && (disclosure.key === 'given_name' || disclosure.key === 'family_name')) {
      chosen.push(disclosure)
    }
  }
  const missing = codes.filter((c) => !found.has(c))
  if (missing.length) throw new Refused('present', { reason: 'skills not in the credential', missing })
  return chosen
}

async function present (opts) {
  const state = loadState(opts.state)
  const codes = (opts.disclose ?? '').split(',').map((c) => c.trim()).filter(Boolean)
  const sdjwt = await SDJwt.fromEncode(state.credential, hasher)
  let disclosures = (await choose(sdjwt, codes, opts.name)).map((d) => d.encode())

  if (opts['tamper-disclosure']) {
    // The first chosen skill, its level raised: the same salt, so only the digest check can tell.
    const [salt, value] = unb64json(disclosures[0])
    disclosures[0] = b64json([salt, { ...value, niveau: typeof value.niveau === 'number' ? value.niveau + 1 : 'expert' }])
  }
  if (opts['duplicate-disclosure']) disclosures.push(disclosures[0])
  if (opts['add-disclosure']) {
    // A skill the issuer never signed, in a well-formed array-element disclosure.
    disclosures.push(b64json([generateSalt(22), { code: 'pp:FORGED', libelle: 'Compétence inventée', niveau: 3, date: '2026-01-01', lieu: 'Nulle part' }]))
  }
  const presented = `${sdjwt.jwt.encodeJwt()}~${disclosures.map((d) => `${d}~`).join('')}`

  let presentation = presented
  if (!opts['no-kb']) {
    if (!opts.nonce || !opts.aud) usage('present needs --nonce and --aud (or --no-kb)')
    const holderKey = opts['kb-key-other'] ? (await ES256.generateKeyPair()).privateKey : state.holder.privateKey
    // The key-binding JWT as RFC 9901 §4.3: sd_hash over the presentation up to its last '~'.
    const kb = new KBJwt({
      header: { typ: 'kb+jwt', alg: 'ES256' },
      payload: {
        iat: Math.floor(Date.now() / 1000) + Number(opts['kb-iat-offset'] ?? 0),
        aud: opts.aud,
        nonce: opts.nonce,
        sd_hash: b64url(hasher(presented, 'sha-256'))
      }
    })
    presentation = presented + (await kb.sign(await ES256.getSigner(holderKey)))
  }

  // Untouched presentations are checked with the library as a verifier would, so a failure at
  // the server is the server's, not the wallet's.
  let selfCheck = null
  const altered = ['tamper-disclosure', 'add-disclosure', 'duplicate-disclosure', 'kb-key-other', 'no-kb', 'kb-iat-offset']
  if (!altered.some((option) => opts[option])) {
    const { jwks } = await issuerKeys(sdjwt.jwt.payload.iss)
    const instance = new SDJwtVcInstance({
      hasher,
      verifier: keySetVerifier(jwks),
      kbVerifier: async (data, sig, payload) => (await ES256.getVerifier(payload.cnf.jwk))(data, sig),
      statusValidator: async () => {}
    })
    const verified = await instance.verify(presentation, { keyBindingNonce: opts.nonce })
    const claims = await instance.getClaims(presentation)
    selfCheck = {
      kb: verified.kb?.payload ?? null,
      disclosed: (claims.competences ?? []).map((s) => s.code)
    }
  }
  const result = { ok: true, presentation, disclosed: codes, disclosures: disclosures.length, selfCheck }
  if (opts.out) writeFileSync(opts.out, presentation)
  return result
}

async function inspect (opts) {
  const instance = new SDJwtVcInstance({ hasher })
  const claims = await instance.getClaims(opts.presentation)
  return { ok: true, claims }
}

function usage (message) {
  process.stdout.write(JSON.stringify({ ok: false, stage: 'usage', message }) + '\n')
  process.exit(1)
}

const COMMANDS = { receive, nonce, status, present, inspect }

async function main () {
  const [command, ...rest] = process.argv.slice(2)
  if (!COMMANDS[command]) usage(`commands: ${Object.keys(COMMANDS).join(', ')}`)
  let values
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        offer: { type: 'string' },
        pin: { type: 'string' },
        out: { type: 'string' },
        state: { type: 'string' },
        disclose: { type: 'string' },
        nonce: { type: 'string' },
        aud: { type: 'string' },
        name: { type: 'boolean' },
        presentation: { type: 'string' },
        'proof-nonce': { type: 'string' },
        'proof-key-mismatch': { type: 'boolean' },
        'proof-aud': { type: 'string' },
        'proof-typ': { type: 'string' },
        'proof-iat-offset': { type: 'string' },
        'proof-jwk-private': { type: 'boolean' },
        'duplicate-disclosure': { type: 'boolean' },
        'no-proof-nonce': { type: 'boolean' },
        'kb-iat-offset': { type: 'string' },
        'tamper-disclosure': { type: 'boolean' },
        'add-disclosure': { type: 'boolean' },
        'kb-key-other': { type: 'boolean' },
        'no-kb': { type: 'boolean' }
      }
    }))
  } catch (error) {
    usage(error.message)
  }
  try {
    const result = await COMMANDS[command](values)
    process.stdout.write(JSON.stringify(result) + '\n')
  } catch (error) {
    const detail = error instanceof Refused
      ? { stage: error.stage, ...error.detail }
      : describeError(command, error)
    process.stdout.write(JSON.stringify({ ok: false, ...detail }) + '\n')
    process.exit(2)
  }
}

await main()
