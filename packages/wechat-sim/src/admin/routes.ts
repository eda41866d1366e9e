import { Hono } from 'hono'
import type { z } from 'zod'
import { AdminInputError } from '../errors.js'
import type { SimEnv } from '../routes/context.js'
import type { SimState } from '../state/sim-state.js'
import {
  appInitSchema,
  clockAdvanceSchema,
  clockSetSchema,
  faultSchema,
  loginCodeInitSchema,
  phoneCodeInitSchema,
  riskyKeywordsSchema,
  subscriptionGrantSchema,
  templateInitSchema,
  tokenCheckSchema,
  tokenKindSchema,
  userInitSchema,
  type TokenKind,
} from './schemas.js'

/** Validates admin input, naming each bad field in the error (answered with HTTP 400). */
export function parseInput<T extends z.ZodType>(
  schema: T,
  input: unknown,
  what: string
): z.infer<T> {
  const result = schema.safeParse(input)
  if (result.success) return result.data
  const problems = result.error.issues.map((i) => {
    const field = i.path.length > 0 ? i.path.join('.') : '(body)'
    return `${field}: ${i.message}`
  })
  throw new AdminInputError(`invalid ${what}: ${problems.join('; ')}`)
}

function kindParam(kind: string): TokenKind {
  return parseInput(tokenKindSchema, kind, 'token kind (use classic or stable)')
}

/** The admin API under /__sim/ (JSON in, JSON out). Documented in the package README. */
export function adminRoutes(state: SimState): Hono<SimEnv> {
  const admin = new Hono<SimEnv>()
  const body = async (c: { req: { json(): Promise<unknown> } }): Promise<unknown> => {
    try {
      return await c.req.json()
    } catch {
      throw new AdminInputError('the request body must be JSON')
    }
  }

  admin.post('/apps', async (c) => {
    const init = parseInput(appInitSchema, await body(c), 'app')
    const { secret: _secret, ...config } = state.apps.register(init)
    return c.json(config)
  })

  admin.post('/users', async (c) =>
    c.json(state.users.upsert(parseInput(userInitSchema, await body(c), 'user')))
  )
  admin.get('/users/:appid/:openid', (c) => {
    const user = state.users.get(c.req.param('appid'), c.req.param('openid'))
    return user ? c.json(user) : c.json({ error: 'no such user' }, 404)
  })

  admin.post('/login-codes', async (c) => {
    state.users.addLoginCode(
      parseInput(loginCodeInitSchema, await body(c), 'login code'),
      state.now()
    )
    return c.json({ ok: true })
  })
  admin.post('/phone-codes', async (c) => {
    state.users.addPhoneCode(
      parseInput(phoneCodeInitSchema, await body(c), 'phone code'),
      state.now()
    )
    return c.json({ ok: true })
  })
  admin.post('/templates', async (c) => {
    state.messages.addTemplate(parseInput(templateInitSchema, await body(c), 'template'))
    return c.json({ ok: true })
  })
  admin.post('/subscriptions', async (c) => {
    const grant = parseInput(subscriptionGrantSchema, await body(c), 'subscription grant')
    return c.json({ remaining: state.messages.grant(grant) })
  })
  admin.put('/risky-keywords', async (c) => {
    state.risky.set(parseInput(riskyKeywordsSchema, await body(c), 'risky keywords'))
    return c.json({ ok: true })
  })

  admin.get('/clock', (c) => c.json({ now: state.now() }))
  admin.post('/clock/set', async (c) => {
    state.clock.set(parseInput(clockSetSchema, await body(c), 'clock set').epochMs)
    return c.json({ now: state.now() })
  })
  admin.post('/clock/advance', async (c) => {
    state.clock.advance(parseInput(clockAdvanceSchema, await body(c), 'clock advance').ms)
    return c.json({ now: state.now() })
  })

  admin.get('/faults', (c) => c.json(state.faults.list()))
  admin.post('/faults', async (c) => {
    const fault = state.faults.add(parseInput(faultSchema, await body(c), 'fault'))
    return c.json({ id: fault.id })
  })
  admin.delete('/faults', (c) => {
    state.faults.clear()
    return c.json({ ok: true })
  })
  admin.delete('/faults/:id', (c) =>
    c.json({ removed: state.faults.remove(Number(c.req.param('id'))) })
  )

  admin.get('/held', (c) => c.json(state.held.list()))

  admin.get('/calls', (c) => c.json(state.calls.counts()))
  admin.get('/call-log', (c) => c.json(state.calls.logEntries()))

  admin.get('/tokens/:appid/:kind', (c) =>
    c.json(state.tokens.view(c.req.param('appid'), kindParam(c.req.param('kind')), state.now()))
  )
  admin.post('/tokens/check', async (c) => {
    const { token } = parseInput(tokenCheckSchema, await body(c), 'token check')
    return c.json(state.tokens.check(token, state.now()))
  })
  admin.post('/tokens/:appid/:kind/retire', (c) => {
    state.tokens.retire(c.req.param('appid'), kindParam(c.req.param('kind')), state.now())
    return c.json({ ok: true })
  })

  admin.post('/reset', (c) => {
    state.reset()
    return c.json({ ok: true })
  })

  return admin
}
