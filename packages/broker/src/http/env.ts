import type { ClientConfig } from '../config/load.js'

/** Per-request values the middleware chain sets for handlers. */
export interface BrokerEnv {
  Variables: {
    requestId: string
    /** Set once the bearer key is authenticated. */
    client: ClientConfig | undefined
  }
}
