import type { ClientConfig } from '../config/load.js'
import type { Scope } from '../config/schema.js'
import type { Authenticator } from './authenticator.js'

/**
 * Who may do what with which app: the one rule every surface calls — the token GET's hot path,
 * every /v1 route (through the app-scoped route declaration, so no handler can forget it), and the
 * WeChat-compatible gateway. Each surface maps a denial to its own answer (a /v1 error envelope, a
 * WeChat errcode); the decision is made here. An authorized use of an app is counted once, here
 * (`wxbroker_client_requests_total{client,appid,scope}`).
 */
export type Denial =
  /** No key was presented. */
  | 'missing_key'
  /** The key belongs to no client. */
  | 'unknown_key'
  /** The client lacks the scope. */
  | 'missing_scope'
  /** The client may not use this app (whether or not the app exists). */
  | 'app_not_allowed'

export type Decision =
  { ok: true; client: ClientConfig } | { ok: false; denial: Denial; client?: ClientConfig }

export class AccessPolicy {
  constructor(
    private readonly auth: Authenticator,
    private readonly countUse: (client: string, appid: string, scope: Scope) => void
  ) {}

  /** The client behind `key`, if it holds `scope`; no app is involved yet. */
  client(key: string | undefined, scope: Scope): Decision {
    if (key === undefined) return { ok: false, denial: 'missing_key' }
    const client = this.auth.identify(key)
    if (!client) return { ok: false, denial: 'unknown_key' }
    return this.scoped(client, scope)
  }

  /** Whether an identified client may act on `appid`; counts the authorized use as `scope`. */
  app(client: ClientConfig, appid: string, scope: Scope): Decision {
    if (!this.mayUse(client, appid)) return { ok: false, denial: 'app_not_allowed', client }
    this.countUse(client.name, appid, scope)
    return { ok: true, client }
  }

  /** Key, scope and app at once (the hot path, the gateway). */
  authorize(key: string | undefined, scope: Scope, appid: string): Decision {
    const decision = this.client(key, scope)
    return decision.ok ? this.app(decision.client, appid, scope) : decision
  }

  /**
   * Scope and app for a client already identified without its key, by a value issued to it (the
   * gateway's alias tokens): the same decision as `authorize` would make for its key now.
   */
  clientApp(client: ClientConfig, scope: Scope, appid: string): Decision {
    const decision = this.scoped(client, scope)
    return decision.ok ? this.app(client, appid, scope) : decision
  }

  private scoped(client: ClientConfig, scope: Scope): Decision {
    if (!client.scopes.has(scope)) return { ok: false, denial: 'missing_scope', client }
    return { ok: true, client }
  }

  /** Whether `client` may see or use `appid` (listings filter with this; nothing is counted). */
  mayUse(client: ClientConfig, appid: string): boolean {
    return client.apps === null || client.apps.has(appid)
  }

  /** Counts a use that concerns no single app (`appid` "*": the admin listing). */
  countListing(client: ClientConfig, scope: Scope): void {
    this.countUse(client.name, '*', scope)
  }
}
