import { describe, expect, it } from 'vitest'
import { APPID, accessToken, expectWxError, useSimulator, wxGet, wxPost } from './support.js'

const ctx = useSimulator()

describe('POST /wxa/business/getuserphonenumber', () => {
  it('redeems a one-use phone code into phone_info with a watermark and a numeric countryCode', async () => {
    const { admin } = ctx.sim
    await admin.setClock(Date.UTC(2031, 0, 1))
    await admin.registerPhoneCode({
      appid: APPID,
      code: 'p1',
      phoneNumber: '+8613800138000',
      purePhoneNumber: '13800138000',
      countryCode: '86',
    })
    const token = await accessToken(ctx.sim)
    const res = await wxPost(
      ctx.sim,
      '/wxa/business/getuserphonenumber',
      { code: 'p1' },
      { access_token: token }
    )
    expect(res.body).toMatchObject({
      errcode: 0,
      errmsg: 'ok',
      phone_info: {
        phoneNumber: '+8613800138000',
        purePhoneNumber: '13800138000',
        countryCode: 86,
      },
    })
    const watermark = (res.body.phone_info as { watermark: { timestamp: number; appid: string } })
      .watermark
    expect(watermark.appid).toBe(APPID)
    expect(watermark.timestamp).toBeGreaterThanOrEqual(Date.UTC(2031, 0, 1) / 1000)
    expect(watermark.timestamp).toBeLessThan(Date.UTC(2031, 0, 1) / 1000 + 5)
    expectWxError(
      await wxPost(
        ctx.sim,
        '/wxa/business/getuserphonenumber',
        { code: 'p1' },
        { access_token: token }
      ),
      40029
    )
    expectWxError(
      await wxPost(
        ctx.sim,
        '/wxa/business/getuserphonenumber',
        { code: 'nope' },
        { access_token: token }
      ),
      40029
    )
  })

  it('a phone code expires 300 s after registration → 40029', async () => {
    const { admin } = ctx.sim
    const init = { appid: APPID, phoneNumber: '1', purePhoneNumber: '1', countryCode: 86 }
    await admin.registerPhoneCode({ ...init, code: 'p-late' })
    await admin.registerPhoneCode({ ...init, code: 'p-edge' })
    const redeem = async (code: string) =>
      wxPost(
        ctx.sim,
        '/wxa/business/getuserphonenumber',
        { code },
        { access_token: await accessToken(ctx.sim) }
      )
    await admin.advanceClock(295_000) // the sim clock also runs in real time
    expect((await redeem('p-edge')).body.errcode).toBe(0)
    await admin.advanceClock(5_000)
    expectWxError(await redeem('p-late'), 40029)
  })

  it('a code issued for another app → 40013; needs a token and POST', async () => {
    await ctx.sim.admin.registerPhoneCode({
      appid: 'wxother',
      code: 'p2',
      phoneNumber: '1',
      purePhoneNumber: '1',
      countryCode: 86,
    })
    const token = await accessToken(ctx.sim)
    expectWxError(
      await wxPost(
        ctx.sim,
        '/wxa/business/getuserphonenumber',
        { code: 'p2' },
        { access_token: token }
      ),
      40013
    )
    expectWxError(await wxPost(ctx.sim, '/wxa/business/getuserphonenumber', { code: 'p2' }), 41001)
    expectWxError(
      await wxGet(ctx.sim, '/wxa/business/getuserphonenumber', { access_token: token }),
      43002
    )
  })
})

describe('POST /cgi-bin/message/subscribe/send', () => {
  const FIELDS = {
    thing1: 'thing',
    number2: 'number',
    letter3: 'letter',
    symbol4: 'symbol',
    character_string5: 'character_string',
    time6: 'time',
    date7: 'date',
    amount8: 'amount',
    phone_number9: 'phone_number',
    car_number10: 'car_number',
    name11: 'name',
    phrase12: 'phrase',
  } as const
  const GOOD: Record<keyof typeof FIELDS, string> = {
    thing1: '订单已发货，请注意查收包裹信息',
    number2: '12345.67',
    letter3: 'ABCdef',
    symbol4: '%$#',
    character_string5: 'SN-2024_001#A',
    time6: '2019年10月1日 15:01',
    date7: '2019-12-25 09:42',
    amount8: '¥100.50元',
    phone_number9: '+86-0755-1234567',
    car_number10: '粤A8Z8888',
    name11: '张三',
    phrase12: '已发货',
  }

  const data = (values: Record<string, string>) =>
    Object.fromEntries(Object.entries(values).map(([k, v]) => [k, { value: v }]))

  async function setup(count = 5) {
    const { admin } = ctx.sim
    await admin.registerUser({ appid: APPID, openid: 'o1' })
    await admin.registerTemplate({ appid: APPID, templateId: 'tpl1', fields: { ...FIELDS } })
    await admin.grantSubscription({ appid: APPID, openid: 'o1', templateId: 'tpl1', count })
    return accessToken(ctx.sim)
  }

  function send(token: string, body: Record<string, unknown>) {
    return wxPost(
      ctx.sim,
      '/cgi-bin/message/subscribe/send',
      { touser: 'o1', template_id: 'tpl1', data: data(GOOD), ...body },
      { access_token: token }
    )
  }

  it('sends with valid values for every keyword type; each send consumes one subscription → 43101', async () => {
    const token = await setup(2)
    expect(
      (
        await send(token, {
          page: 'pages/order/detail?id=1',
          miniprogram_state: 'trial',
          lang: 'en_US',
        })
      ).body
    ).toEqual({ errcode: 0, errmsg: 'ok' })
    expect((await send(token, {})).body.errcode).toBe(0)
    expectWxError(await send(token, {}), 43101)
  })

  it('40003 for an empty or unknown touser, 40037 for an unknown template', async () => {
    const token = await setup()
    expectWxError(await send(token, { touser: '' }), 40003)
    expectWxError(await send(token, { touser: 'stranger' }), 40003)
    expectWxError(await send(token, { template_id: 'other' }), 40037)
  })

  it.each([
    ['thing1', '这是一个超过二十个字符长度的事物描述文字内容'],
    ['number2', '12a'],
    ['letter3', 'abc1'],
    ['symbol4', '%%%%%%'],
    ['character_string5', 'has space'],
    ['time6', '25:00'],
    ['date7', '2019年13'],
    ['amount8', '100.123'],
    ['phone_number9', '123456789012345678'],
    ['car_number10', '粤A-88888'],
    ['name11', '张三123'],
    ['phrase12', '已经发货了啊'],
  ])(
    '47003 names the field when %s is invalid (%s), without spending a subscription',
    async (field, value) => {
      const token = await setup(1)
      const msg = expectWxError(
        await send(token, { data: data({ ...GOOD, [field]: value }) }),
        47003
      )
      expect(msg).toMatch(new RegExp(`^argument invalid! data\\.${field}\\.value invalid rid: `))
      expect((await send(token, {})).body.errcode).toBe(0)
    }
  )

  it('47003 for a missing field, 41030 for an implausible page', async () => {
    const token = await setup()
    const { thing1: _dropped, ...rest } = GOOD
    expect(expectWxError(await send(token, { data: data(rest) }), 47003)).toContain(
      'data.thing1.value'
    )
    expectWxError(await send(token, { page: '/pages/index' }), 41030)
    expectWxError(await send(token, { page: 'pages/../x' }), 41030)
    expect(expectWxError(await send(token, { miniprogram_state: 'beta' }), 47003)).toContain(
      'miniprogram_state'
    )
  })
})
