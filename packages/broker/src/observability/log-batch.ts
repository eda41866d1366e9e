import type { DestinationStream } from 'pino'

/** What LineBatch writes to: SonicBoom (pino.destination) or anything with the same methods. */
export interface LineSink {
  write(text: string): unknown
  flush(cb: (err?: Error) => void): void
  flushSync(): void
}

/**
 * Collects log lines and hands them to `sink` in chunks of `chunkBytes` (counted in UTF-16 units,
 * close enough for mostly ASCII JSON) or every `intervalMs`, whichever comes first: one write per
 * access line would cost more than serving the token. This, not SonicBoom's own minLength, because
 * SonicBoom measures its pending string with Buffer.byteLength on every write, which flattens the
 * growing string each time: at the token GET's rate that cost about 2 µs a line, more than the
 * line itself (docs/benchmarks.md). SonicBoom still does the writing (partial writes, EAGAIN,
 * drain). Lines keep their order; pending lines are written out synchronously at process exit.
 */
export class LineBatch implements DestinationStream {
  private lines: string[] = []
  private pending = 0
  private readonly timer: NodeJS.Timeout
  private readonly onExit = (): void => this.flushSync()

  constructor(
    private readonly sink: LineSink,
    private readonly chunkBytes = 16 * 1024,
    intervalMs = 250
  ) {
    this.timer = setInterval(() => this.handOver(), intervalMs).unref()
    process.once('exit', this.onExit)
  }

  write(line: string): void {
    this.lines.push(line)
    this.pending += line.length
    if (this.pending >= this.chunkBytes) this.handOver()
  }

  /** Hands over what is pending, then calls back once the sink has written it. */
  flush(cb: (err?: Error) => void = () => {}): void {
    this.handOver()
    this.sink.flush(cb)
  }

  flushSync(): void {
    this.handOver()
    this.sink.flushSync()
  }

  /** Stops the timer and the exit hook, after writing out what is pending. */
  close(): void {
    clearInterval(this.timer)
    process.off('exit', this.onExit)
    this.handOver()
  }

  private handOver(): void {
    if (this.lines.length === 0) return
    const text = this.lines.join('')
    this.lines = []
    this.pending = 0
    this.sink.write(text)
  }
}
