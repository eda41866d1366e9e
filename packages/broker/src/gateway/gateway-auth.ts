import { timingSafeEqual } from 'node:crypto'
import type { ClientConfig } from '../config/load.js'
import { sha256 } from '../config/key-digest.js'
import type { AppConfig, TokenEngine } from '../engine/types.js'
import type { AccessPolicy, Denial } from '../policy/access-policy.js'
import type { AliasTokens } from './alias-tokens.js'
import { refusal, type Refusal } from './wechat-errors.js'

// Who is calling the gateway, for which app (design §10). A caller presents a client key (in the
// `secret` field where an SDK puts the AppSecret, or `Authorization: Bearer`) or an access_token
// the gateway handed out: an alias (names its client and app) or a real token of an app
// (engine.tokenOwner; it names the app, not the client). Whether the client may use the gateway
// for that app is the access policy's rule (src/policy/access-policy.ts), asked here, never
// restated. A key refusal is 40125, as WeChat answers a wrong secret.

/** Past this many remembered tokens, those expired are swept (one app rotates every 2 h or so). */
const ANSWERED_SWEEP_AT = 256

export interface Caller {
  appid: string
  /** Null for a real token: it is the app's, shared by every client of the app. */
  client: ClientConfig | null
}

export type Identified = ({ ok: true } & Caller) | Refusal

const DENIAL_DETAIL: Record<Denial, string> = {
  missing_key: 'no client key',
  unknown_key: 'unknown client key',
  missing_scope: 'this key does not have the gateway scope',
  app_not_allowed: 'this key is not allowed to use this appid',
}

export interface GatewayAuthDeps {
  policy: AccessPolicy
  engine: Pick<TokenEngine, 'tokenOwner'>
  apps: readonly Pick<AppConfig, 'appid' | 'secret'>[]
  aliases: AliasTokens
  /** A caller sent an app's real AppSecret (never the value: which app's it is). */
  onAppSecret: (appid: string) => void
}

export class GatewayAuth {
  private readonly appids: ReadonlySet<string>
  /** Real tokens answered at the token endpoints: their app and answered expiry. */
  private readonly answeredTokens = new Map<string, { appid: string; until: number }>()
  /** SHA-256 of each app secret, so that a presented value is compared in constant time. */
  private readonly secretDigests: { appid: string; digest: Buffer }[]

  constructor(private readonly deps: GatewayAuthDeps) {
    this.appids = new Set(deps.apps.map((a) => a.appid))
    this.secretDigests = deps.apps.map((a) => ({ appid: a.appid, digest: sha256(a.secret) }))
  }

  /**
   * A client key for `appid` (or, when none is given, the key's single app). An unknown key is
   * also compared with every app secret: a real AppSecret is refused with the same 40125, counted
   * and logged (never its value), so a misrouted SDK fails loudly instead of competing with the
   * broker, and the gateway never says whether a secret is right.
   */
  key(key: string, appid: string | undefined): Identified {
    const decision = this.deps.policy.client(key, 'gateway')
    if (!decision.ok) {
      if (decision.denial === 'unknown_key') {
        const owner = this.appSecretOwner(key)
        if (owner !== undefined) {
          this.deps.onAppSecret(owner)
          return refusal(40125, 'a real AppSecret is never accepted here; use a client key')
        }
      }
      return refusal(40125, DENIAL_DETAIL[decision.denial])
    }
    const client = decision.client
    const app = appid ?? singleApp(client)
    if (app === undefined) {
      return refusal(41002, 'this key may use several apps: send appid')
    }
    const allowed = this.deps.policy.app(client, app, 'gateway')
    if (!allowed.ok) return refusal(40125, DENIAL_DETAIL[allowed.denial])
    if (!this.appids.has(app)) return refusal(40013, 'the broker manages no such app')
    return { ok: true, appid: app, client }
  }

  /**
   * An access_token on a proxied call: an alias (its client must still hold the gateway scope and
   * the app) or a token the broker serves, or served within WeChat's overlap. Anything else is
   * 40001, as WeChat answers for a token it does not know: the SDK fetches a new one.
   */
  token(token: string, now: number): Identified {
    const alias = this.deps.aliases.check(token, now)
    if (alias !== undefined) {
      if (!('ok' in alias)) return alias
      const allowed = this.deps.policy.clientApp(alias.client, 'gateway', alias.appid)
      if (!allowed.ok) return refusal(40001, 'the client of this alias token may no longer use it')
      return { ok: true, appid: alias.appid, client: alias.client }
    }
    const appid = this.deps.engine.tokenOwner(token)?.appid ?? this.answeredApp(token, now)
    if (appid === undefined) return refusal(40001, 'not an access_token this broker issued')
    return { ok: true, appid, client: null }
  }

  /**
   * A real token the token endpoints answered with, until the expiry they answered. The engine
   * knows the current token and the one before it; an SDK may hold one older still (two
   * rotations within WeChat's overlap, say a scheduled one and a reported one) and was told it
   * may use it until then. Without this, it would get 40001, and node-easywechat, which never
   * refetches on 40001, would fail until its cache expired. The proxy sends the current token
   * whatever was presented, so honouring the promise costs nothing at WeChat.
   */
  answered(token: string, appid: string, until: number, now: number): void {
    if (this.answeredTokens.size >= ANSWERED_SWEEP_AT) {
      for (const [t, a] of this.answeredTokens) if (a.until <= now) this.answeredTokens.delete(t)
    }
    const known = this.answeredTokens.get(token)
    if (!known || known.until < until) this.answeredTokens.set(token, { appid, until })
  }

  private answeredApp(token: string, now: number): string | undefined {
    const answered = this.answeredTokens.get(token)
    if (!answered) return undefined
    if (answered.until > now) return answered.appid
    this.answeredTokens.delete(token)
    return undefined
  }

  /** The app whose secret `value` is; every digest is compared (no early exit). */
  private appSecretOwner(value: string): string | undefined {
    const digest = sha256(value)
    let owner: string | undefined
    for (const s of this.secretDigests) {
      if (timingSafeEqual(digest, s.digest) && owner === undefined) owner = s.appid
    }
    return owner
  }
}

function singleApp(client: ClientConfig): string | undefined {
  if (client.apps === null || client.apps.size !== 1) return undefined
  return client.apps.values().next().value
}
