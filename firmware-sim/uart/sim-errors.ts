/**
 * Errors of the simulated serial binding, shaped like those of `@serialport/bindings-cpp` so that
 * `@serialport/stream` reacts to them exactly as it does to real hardware: `canceled: true` means
 * "the port was closed, keep quiet"; anything else on a read or write makes the stream close
 * itself with a `DisconnectedError` (`disconnected: true`).
 */

/** OS-like error codes raised by the simulator. */
export type SimErrorCode = 'ENOENT' | 'EBUSY' | 'ENXIO' | 'ECANCELED' | 'ENOTOPEN';

/** An error raised by the simulated binding; `name` is `SimBindingError`. */
export class SimBindingError extends Error {
  override readonly name = 'SimBindingError';
  /** OS-like code, e.g. `ENXIO` for a pulled adapter. */
  readonly code: SimErrorCode;
  /** True when an operation was cut short by `close()`; the stream ignores such errors. */
  readonly canceled: boolean;
  /** True when the device vanished (as bindings-cpp marks `ENXIO`); the stream disconnects. */
  readonly disconnect: boolean;
  /** Path of the port concerned. */
  readonly path: string;

  constructor(message: string, code: SimErrorCode, path: string, flags: { canceled?: boolean; disconnect?: boolean } = {}) {
    super(message);
    this.code = code;
    this.path = path;
    this.canceled = flags.canceled ?? false;
    this.disconnect = flags.disconnect ?? false;
  }
}

/** A pending read or write ended by `close()` (`canceled: true`). */
export function canceledError(path: string, what: 'read' | 'write' | 'drain'): SimBindingError {
  return new SimBindingError(`${what} canceled: port ${path} was closed`, 'ECANCELED', path, { canceled: true });
}

/** Any I/O on a port whose adapter was pulled (`disconnect: true`, code `ENXIO`). */
export function unpluggedError(path: string): SimBindingError {
  return new SimBindingError(`No such device or address: ${path} was unplugged`, 'ENXIO', path, { disconnect: true });
}

/** `open()` of a path that does not exist or is unplugged. */
export function notFoundError(path: string): SimBindingError {
  return new SimBindingError(`Error: No such file or directory, cannot open ${path}`, 'ENOENT', path);
}

/** `open()` of a path another port already holds (ports always open locked). */
export function busyError(path: string): SimBindingError {
  return new SimBindingError(`Error Resource temporarily unavailable Cannot lock port ${path}`, 'EBUSY', path);
}

/** A control operation (`update`, `set`, ...) on a closed port. */
export function notOpenError(path: string): SimBindingError {
  return new SimBindingError(`Port is not open: ${path}`, 'ENOTOPEN', path);
}
