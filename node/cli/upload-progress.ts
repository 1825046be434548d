// The in-place upload progress line of `pylon deploy` and `pylon actor upgrade` on a terminal
// (`uploading 3.1/12.0 MiB (26%)`); on a pipe or file it writes nothing (the command prints one
// final line). It never writes to stdout, which carries the command's result.

const MiB = 1024 * 1024

/** A progress callback for ApiClient.uploadCode writing to `stream`, or nothing when it is not a TTY. */
export function uploadProgress (stream: NodeJS.WriteStream = process.stderr): ((sent: number, total: number) => void) | undefined {
  if (stream.isTTY !== true) return undefined
  return (sent, total) => {
    const percent = total === 0 ? 100 : Math.floor(sent * 100 / total)
    stream.write(`\r\x1b[2Kuploading ${formatMiB(sent)}/${formatMiB(total)} MiB (${percent}%)${sent >= total ? '\n' : ''}`)
  }
}

export function formatMiB (bytes: number): string {
  return (bytes / MiB).toFixed(1)
}

/** The size and chunk count of a finished upload, for the line printed after it (also on a pipe). */
export function uploadedSummary (bytes: number, chunkBytes: number): string {
  const chunks = Math.ceil(bytes / chunkBytes)
  const size = bytes < MiB ? `${bytes} bytes` : `${formatMiB(bytes)} MiB (${bytes} bytes)`
  return `${size} in ${chunks} chunk${chunks === 1 ? '' : 's'}`
}
