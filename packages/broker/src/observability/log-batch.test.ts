import { afterEach, describe, expect, it } from 'vitest'
import { LineBatch, type LineSink } from './log-batch.js'

class Sink implements LineSink {
  writes: string[] = []
  flushes = 0
  syncFlushes = 0
  write(text: string): void {
    this.writes.push(text)
  }
  flush(cb: (err?: Error) => void): void {
    this.flushes++
    cb()
  }
  flushSync(): void {
    this.syncFlushes++
  }
}

const open: LineBatch[] = []
function batch(sink: Sink, chunkBytes: number, intervalMs = 60_000): LineBatch {
  const b = new LineBatch(sink, chunkBytes, intervalMs)
  open.push(b)
  return b
}
afterEach(() => {
  for (const b of open.splice(0)) b.close()
})

describe('LineBatch', () => {
  it('hands lines over in order, in one write per chunk', () => {
    const sink = new Sink()
    const b = batch(sink, 10)
    b.write('aaaa\n')
    expect(sink.writes).toEqual([])
    b.write('bbbb\n')
    expect(sink.writes).toEqual(['aaaa\nbbbb\n'])
    b.write('cc\n')
    b.write('dddddddd\n')
    expect(sink.writes).toEqual(['aaaa\nbbbb\n', 'cc\ndddddddd\n'])
  })

  it('hands over what is pending after the interval', async () => {
    const sink = new Sink()
    const b = batch(sink, 1 << 20, 20)
    b.write('late\n')
    expect(sink.writes).toEqual([])
    await new Promise((r) => setTimeout(r, 200))
    expect(sink.writes).toEqual(['late\n'])
  })

  it('flush(cb) hands over, then waits for the sink; flushSync() and close() write out too', () => {
    const sink = new Sink()
    const b = batch(sink, 1 << 20)
    b.write('one\n')
    let called = false
    b.flush(() => (called = true))
    expect(sink.writes).toEqual(['one\n'])
    expect([called, sink.flushes]).toEqual([true, 1])
    b.write('two\n')
    b.flushSync()
    expect(sink.writes).toEqual(['one\n', 'two\n'])
    expect(sink.syncFlushes).toBe(1)
    b.write('three\n')
    b.close()
    expect(sink.writes).toEqual(['one\n', 'two\n', 'three\n'])
  })

  it('writes out at process exit until closed', () => {
    const before = process.listenerCount('exit')
    const sink = new Sink()
    const b = batch(sink, 1 << 20)
    expect(process.listenerCount('exit')).toBe(before + 1)
    b.write('at exit\n')
    process.emit('exit', 0)
    expect(sink.writes).toEqual(['at exit\n'])
    expect(sink.syncFlushes).toBe(1)
    b.close()
    expect(process.listenerCount('exit')).toBe(before)
  })
})
