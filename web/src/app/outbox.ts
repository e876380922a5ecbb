// Sending the phone's queued check-ins and check-outs: one function for the
// open app and for the service worker, which sends them when the network
// returns even with the app closed (Background Sync). The session comes from
// the refresh cookie either way. A Web Lock lets one sender run at a time
// across the pages and the worker; a second sender would only repeat the
// same Idempotency-Key, so the lock saves requests, not correctness.
import { api, ApiProblem, refresh, token } from "../api";
import { dequeue, enqueue, queued, type Queued } from "./store";

/** How a pass over the queue ended. */
export type Sent = "sent" | "offline" | "signed-out";

/** A refusal is final (shown with its reason); anything else is tried again with the same key. */
function refusal(error: unknown): error is ApiProblem {
  return error instanceof ApiProblem && error.status >= 400 && error.status < 500 && ![401, 408, 429].includes(error.status);
}

/** Sends what waits, oldest tap first, stopping at the first failure that is not a refusal. */
export async function sendOutbox(onSent: (entry: Queued) => void = () => {}): Promise<Sent> {
  const run = async (): Promise<Sent> => {
    const waiting = (await queued()).filter((entry) => entry.state === "waiting");
    if (waiting.length === 0) return "sent";
    try {
      if (!token() && !(await refresh())) return "signed-out";
    } catch {
      return "offline";
    }
    for (const entry of waiting) {
      try {
        await api("POST", `/visits/${entry.visitId}/${entry.action}`, entry.body, { "idempotency-key": entry.key });
        await dequeue(entry.key);
        onSent(entry);
      } catch (error) {
        if (!refusal(error)) return "offline";
        await enqueue({ ...entry, state: "refused", reason: error.detail });
      }
    }
    return "sent";
  };
  return navigator.locks ? navigator.locks.request("homecare-outbox", run) : run();
}
