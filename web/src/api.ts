// The API as the console uses it: types generated from /openapi.json, the
// access token in memory only (never localStorage), the refresh token in the
// httpOnly cookie the API sets, and problem+json errors with their fields.
import type { components } from "./generated/api";

export type Schemas = components["schemas"];
export type Visit = Schemas["Visit"];
export type Caregiver = Schemas["Caregiver"];
export type Client = Schemas["Client"];
export type Session = Schemas["Session"];
export type User = Schemas["User"];
export type FieldError = Schemas["FieldError"];

/** An answer other than 2xx, as the API's RFC 9457 problem. */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly detail: string,
    readonly errors: FieldError[] = [],
    readonly retryAfter: number | null = null,
  ) {
    super(detail);
  }

  /** The API's message for one field, to show beside it. */
  fieldError(field: string): string | undefined {
    return this.errors.find((e) => e.field === field)?.message;
  }
}

let accessToken: string | null = null;
let onSignedOut: () => void = () => {};

/** Who to tell when the session ends (the app shows the sign-in page). */
export function whenSignedOut(callback: () => void) {
  onSignedOut = callback;
}

export function token(): string | null {
  return accessToken;
}

async function problemOf(response: Response): Promise<ApiProblem> {
  const retry = response.headers.get("retry-after");
  try {
    const body = await response.json();
    return new ApiProblem(
      response.status,
      String(body.type ?? ""),
      String(body.detail ?? response.statusText),
      Array.isArray(body.errors) ? body.errors : [],
      retry ? Number(retry) : null,
    );
  } catch {
    return new ApiProblem(response.status, "", response.statusText, [], retry ? Number(retry) : null);
  }
}

function remember(session: Session): Session {
  accessToken = session.access_token;
  return session;
}

export async function login(email: string, password: string): Promise<Session> {
  const response = await fetch("/v1/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
    credentials: "same-origin",
  });
  if (!response.ok) throw await problemOf(response);
  return remember(await response.json());
}

/**
 * A new access token from the refresh cookie, or null when there is no
 * session. Tabs refresh one at a time (Web Locks): a refresh token is good
 * once, and a second use would revoke the session.
 */
export async function refresh(): Promise<Session | null> {
  const run = async () => {
    const response = await fetch("/v1/auth/refresh", { method: "POST", credentials: "same-origin" });
    if (!response.ok) return null;
    return remember(await response.json());
  };
  return navigator.locks ? navigator.locks.request("homecare-refresh", run) : run();
}

export async function logout(): Promise<void> {
  await fetch("/v1/auth/logout", {
    method: "POST",
    credentials: "same-origin",
    headers: accessToken ? { authorization: `Bearer ${accessToken}` } : {},
  });
  accessToken = null;
  onSignedOut();
}

/** One API call; an expired access token is refreshed once and the call retried. */
export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const send = () =>
    fetch(`/v1${path}`, {
      method,
      headers: {
        ...headers,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  let response = await send();
  if (response.status === 401 && (await refresh())) response = await send();
  if (response.status === 401) {
    accessToken = null;
    onSignedOut();
  }
  if (!response.ok) throw await problemOf(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** Every page of a list (the API pages at 1000). */
export async function all<T>(path: string): Promise<T[]> {
  const rows: T[] = [];
  const join = path.includes("?") ? "&" : "?";
  for (let offset = 0; ; offset += 1000) {
    const page = await api<T[]>("GET", `${path}${join}limit=1000&offset=${offset}`);
    rows.push(...page);
    if (page.length < 1000) return rows;
  }
}

/**
 * Runs a user's action: clears the last refusal first, and a new one goes to
 * `onProblem` (the page shows it beside its fields, or as an alert); anything
 * other than a refusal is thrown.
 */
export async function attempt<T>(onProblem: (problem: ApiProblem | null) => void, action: () => Promise<T>): Promise<T | undefined> {
  onProblem(null);
  try {
    return await action();
  } catch (error) {
    if (!(error instanceof ApiProblem)) throw error;
    onProblem(error);
    return undefined;
  }
}
