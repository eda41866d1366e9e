import { describe, expect, it } from 'vitest'
import { parsePrometheus } from '../src/index.js'

describe('the exposition parser', () => {
  it('declares families from # TYPE lines even without samples, and attributes suffixed samples', () => {
    const { families, samples } = parsePrometheus(
      [
        '# HELP a_total Things done.',
        '# TYPE a_total counter',
        '# HELP lat_seconds Latency.',
        '# TYPE lat_seconds histogram',
        'lat_seconds_bucket{le="0.1",route="/v1/apps/{appid}/token"} 3',
        'lat_seconds_bucket{le="+Inf",route="/v1/apps/{appid}/token"} 4',
        'lat_seconds_sum{route="/v1/apps/{appid}/token"} 0.25',
        'lat_seconds_count{route="/v1/apps/{appid}/token"} 4',
        '# TYPE g gauge',
        'g{msg="say \\"hi\\", a\\\\b\\nc",x="1"} -2.5e-3 1700000000000',
        'bare +Inf',
        '',
      ].join('\n')
    )
    expect(Object.fromEntries(families)).toEqual({
      a_total: 'counter',
      lat_seconds: 'histogram',
      g: 'gauge',
      bare: 'untyped',
    })
    expect(samples).toHaveLength(6)
    expect(samples[0]).toEqual({
      name: 'lat_seconds_bucket',
      labels: { le: '0.1', route: '/v1/apps/{appid}/token' },
      value: 3,
    })
    expect(samples[1]?.labels.le).toBe('+Inf')
    expect(samples[5]).toEqual({ name: 'bare', labels: {}, value: Infinity })
    expect(samples[4]).toEqual({
      name: 'g',
      labels: { msg: 'say "hi", a\\b\nc', x: '1' },
      value: -0.0025,
    })
  })

  it('rejects lines that are not the text format', () => {
    expect(() => parsePrometheus('a_total{x="1" 2')).toThrow('unparseable exposition line')
    expect(() => parsePrometheus('a{x=1} 2')).toThrow('bad label set')
    expect(() => parsePrometheus('a 12abc')).toThrow('bad value')
    expect(() => parsePrometheus('# TYPE a countr')).toThrow('unknown metric type')
  })
})

describe('special values', () => {
  it('reads NaN and infinities in any case, as Prometheus does (prom-client writes "Nan")', () => {
    const { samples } = parsePrometheus('a Nan\nb NaN\nc +Inf\nd -inf')
    expect(samples.map((s) => s.value)).toEqual([NaN, NaN, Infinity, -Infinity])
  })
})
