import { useEffect, useState } from "react";
import { api, ApiProblem, type Schemas } from "../api";

type PushState = "unsupported" | "off" | "on" | "blocked";

function bytes(base64url: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64url.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(new ArrayBuffer(text.length));
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/**
 * "Get notifications on this phone": subscribes the app's service worker to
 * Web Push with the platform's VAPID key and registers the subscription, so
 * the notifier can tell the caregiver of a change with the app closed.
 */
export function PushToggle() {
  const [state, setState] = useState<PushState>("unsupported");
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    if (!("PushManager" in window) || !navigator.serviceWorker) return;
    void (async () => {
      const key = await api<Schemas["PushKey"]>("GET", "/push/key").catch(() => null);
      if (!key) return;
      const registration = await navigator.serviceWorker.ready;
      if (Notification.permission === "denied") setState("blocked");
      else setState((await registration.pushManager.getSubscription()) ? "on" : "off");
    })();
  }, []);

  async function subscribe() {
    setProblem(null);
    try {
      if ((await Notification.requestPermission()) !== "granted") {
        setState("blocked");
        return;
      }
      const { public_key } = await api<Schemas["PushKey"]>("GET", "/push/key");
      const registration = await navigator.serviceWorker.ready;
      const subscription = await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: bytes(public_key),
      });
      await api("POST", "/me/push-subscriptions", subscription.toJSON());
      setState("on");
    } catch (error) {
      setProblem(error instanceof ApiProblem ? error.detail : `Notifications could not be turned on: ${(error as Error).message}`);
    }
  }

  if (state === "unsupported") return null;
  return (
    <>
      {state === "off" && (
        <button type="button" onClick={subscribe}>
          Get notifications on this phone
        </button>
      )}
      {state === "on" && <span className="push-on">Notifications on</span>}
      {state === "blocked" && <span className="push-blocked">Notifications are blocked in this phone's settings.</span>}
      {problem && (
        <span role="alert" className="problem">
          {problem}
        </span>
      )}
    </>
  );
}
