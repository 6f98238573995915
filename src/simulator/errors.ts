/**
 * A PVE API error. `message` is what PVE puts in the body and whose first line is the reason
 * phrase; `errors` is the per-parameter map of a 400.
 */
export class PveError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(message);
  }
}

/** A plain `die` in a PVE handler: HTTP 500 with the message. */
export const fail = (message: string) => new PveError(500, message);

export const paramError = (errors: Record<string, string>) =>
  new PveError(400, 'Parameter verification failed.', errors);

export const permissionError = (path: string, priv: string) =>
  new PveError(403, `Permission check failed (${path}, ${priv})`);

/** An error raised inside a task's worker: the task ends with this text as its exit status. */
export class TaskError extends Error {
  constructor(
    message: string,
    /** Log lines the worker wrote before failing. */
    readonly lines: string[] = [],
  ) {
    super(message);
  }
}

/**
 * An answer pveproxy gives itself, outside the API's JSON envelope: the first line is the reason
 * phrase and the whole text the body (pve-http-server PVE/APIServer/AnyEvent.pm error).
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
