// The in-place upload progress line of `pylon deploy` and `pylon actor upgrade` on a terminal
// (`uploading 3.1/12.0 MiB (26%)`); on a pipe or file it draws nothing, and the command prints one
// summary line. It never writes to stdout, which carries the command's result.

const MiB = 1024 * 1024

/** What ApiClient.uploadCode reports after each chunk: chunks sent so far, and whether the node already held the code. */
export interface UploadStep { chunks: number, held: boolean }

/**
 * The progress callback for ApiClient.uploadCode (drawing only when `stream` is a TTY, never without one) and the
 * summary line for after the upload, from what the upload reported.
 */
export function uploadReporter (stream: NodeJS.WriteStream | undefined): { onProgress: (sent: number, total: number, step: UploadStep) => void, summary: (bytes: number, cid: string) => string } {
  let last: UploadStep = { chunks: 0, held: false }
  return {
    onProgress (sent, total, step) {
      last = step
      if (stream?.isTTY !== true) return
      const percent = total === 0 ? 100 : Math.floor(sent * 100 / total)
      stream.write(`\r\x1b[2Kuploading ${formatMiB(sent)}/${formatMiB(total)} MiB (${percent}%)${sent >= total ? '\n' : ''}`)
    },
    summary (bytes, cid) {
      const size = bytes < MiB ? `${bytes} bytes` : `${formatMiB(bytes)} MiB (${bytes} bytes)`
      if (last.held) return `the node already holds ${cid} (${size}): nothing uploaded`
      return `uploaded ${size} in ${last.chunks} chunk${last.chunks === 1 ? '' : 's'} as ${cid}`
    }
  }
}

export function formatMiB (bytes: number): string {
  return (bytes / MiB).toFixed(1)
}
