// The lifecycle every long-lived component follows. daemon.ts starts them in a declared order and
// stops them in reverse; a component never starts or stops another.

export interface Startable {
  /** Post: the component is serving. Throws if it cannot start; then it holds no resources. */
  start (): Promise<void>
  /** Post: every timer, socket and handle the component owns is released. Idempotent. */
  stop (): Promise<void>
}

export interface NamedStartable {
  name: string
  component: Startable
}

/**
 * Starts components in order. If one fails, stops those already started (in reverse) and rethrows,
 * so a failed start leaves nothing running. Returns a stop function that stops them in reverse.
 */
export async function startAll (components: NamedStartable[], onStopError: (name: string, error: unknown) => void): Promise<() => Promise<void>> {
  const started: NamedStartable[] = []
  const stopStarted = async (): Promise<void> => {
    for (const entry of started.toReversed()) {
      try {
        await entry.component.stop()
      } catch (error) {
        onStopError(entry.name, error)
      }
    }
    started.length = 0
  }
  for (const entry of components) {
    try {
      await entry.component.start()
    } catch (error) {
      await stopStarted()
      throw new Error(`${entry.name} failed to start: ${(error as Error).message}`, { cause: error })
    }
    started.push(entry)
  }
  return stopStarted
}
