import type { SimAdmin } from '@wxbroker/wechat-sim'

/**
 * What a subscribe-message send needs at the simulator: the user, a one-field template
 * (`thing1: thing`) and `count` one-time subscriptions of the user to it.
 */
export async function registerSubscriber(
  admin: SimAdmin,
  s: { appid: string; openid: string; templateId: string; count: number }
): Promise<void> {
  await admin.registerUser({ appid: s.appid, openid: s.openid })
  await admin.registerTemplate({
    appid: s.appid,
    templateId: s.templateId,
    fields: { thing1: 'thing' },
  })
  await admin.grantSubscription(s)
}
