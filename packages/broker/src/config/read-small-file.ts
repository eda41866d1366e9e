import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs'

// The config file and secret files are read whole at start. A path that points at a device, a
// FIFO or a huge file must not hang the command or fill the memory (`/dev/zero` once grew to GBs,
// a FIFO blocked `check-config` forever): only regular files are read, and only up to a limit.

/** The file is not a regular file, or is larger than allowed. `reason` reads after the field. */
export class NotASmallFileError extends Error {
  override readonly name = 'NotASmallFileError'
  constructor(readonly reason: string) {
    super(reason)
  }
}

function notRegular(stats: Stats): string | undefined {
  if (stats.isFile()) return undefined
  if (stats.isFIFO()) return 'a FIFO (named pipe)'
  if (stats.isDirectory()) return 'a directory'
  if (stats.isCharacterDevice()) return 'a character device'
  if (stats.isBlockDevice()) return 'a block device'
  if (stats.isSocket()) return 'a socket'
  return 'not a regular file'
}

function check(stats: Stats, maxBytes: number): void {
  const kind = notRegular(stats)
  if (kind !== undefined) throw new NotASmallFileError(`is ${kind}, not a regular file`)
  if (stats.size > maxBytes) throw new NotASmallFileError(`is larger than ${maxBytes} bytes`)
}

/**
 * Reads a regular file of at most `maxBytes` as UTF-8. Throws NotASmallFileError for anything else,
 * and Node's own errors (ENOENT, EACCES, ...) when the path cannot be opened.
 */
export function readSmallFile(path: string, maxBytes: number): string {
  // stat first, so that a FIFO is refused before open() could block on it.
  check(statSync(path), maxBytes)
  // O_NONBLOCK: should the path be swapped for a FIFO after the stat, open() still returns.
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0))
  try {
    check(fstatSync(fd), maxBytes)
    // Read at most one byte past the limit: files that report size 0 (procfs) are bounded too.
    const buffer = Buffer.alloc(maxBytes + 1)
    let length = 0
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null)
      if (n === 0) break
      length += n
      if (length > maxBytes) throw new NotASmallFileError(`is larger than ${maxBytes} bytes`)
    }
    return buffer.toString('utf8', 0, length)
  } finally {
    closeSync(fd)
  }
}
