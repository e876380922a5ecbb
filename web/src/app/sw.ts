// The caregiver app's service worker (a module, built by Vite to
// /app/sw.js): the app shell (its page, script and styles) is cached so the
// app opens with no network; the API is never cached here (the page keeps
// the last visits it saw in IndexedDB). Navigations try the network first and
// fall back to the cached page; Vite's hashed assets are immutable, so the
// cache answers them first. When the network returns, Background Sync wakes
// it to send the queued check-ins and check-outs, app open or not.
/// <reference lib="webworker" />
import { sendOutbox } from "./outbox";

declare const self: ServiceWorkerGlobalScope;
/** A push message as the notifier sends it (notifier/src/channels.rs). */
interface PushMessage {
  title: string;
  body: string;
  url: string;
  tag: string;
}

/** Background Sync's event (not in TypeScript's library yet). */
interface SyncEvent extends ExtendableEvent {
  readonly tag: string;
  readonly lastChance: boolean;
}

const SHELL = "homecare-app-shell-v1";
const PAGE = "/app/";

/** The page and every asset it names, fetched fresh and cached together. */
async function cacheShell(page?: Response) {
  const response = page ?? (await fetch(PAGE, { cache: "no-cache" }));
  if (!response.ok) return;
  const html = await response.clone().text();
  const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
  const cache = await caches.open(SHELL);
  await Promise.all(
    [...new Set(assets), "/app/manifest.webmanifest", "/app/icon.svg"].map(async (url) => {
      if (!(await cache.match(url))) await cache.add(url);
    }),
  );
  await cache.put(PAGE, response);
}

self.addEventListener("install", (event) => {
  event.waitUntil(cacheShell().then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n !== SHELL).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  if (event.request.mode === "navigate" && url.pathname.startsWith("/app")) {
    event.respondWith(
      fetch(event.request)
        .then((response) => {
          // A new deployment's page and assets replace the old ones.
          if (response.ok) event.waitUntil(cacheShell(response.clone()));
          return response;
        })
        .catch(async () => (await caches.match(PAGE)) ?? Response.error()),
    );
  } else if (url.pathname.startsWith("/assets/") || url.pathname.startsWith("/app/")) {
    event.respondWith(
      caches.match(event.request).then(
        (cached) =>
          cached ??
          fetch(event.request).then(async (response) => {
            if (response.ok && url.pathname.startsWith("/assets/")) {
              await (await caches.open(SHELL)).put(event.request, response.clone());
            }
            return response;
          }),
      ),
    );
  }
});

// Background Sync: the network is back. The queue is sent from here, with
// the session's refresh cookie, and open pages are told to show the result.
// A failure rejects, and the browser tries the sync again later.
self.addEventListener("sync", ((event: SyncEvent) => {
  if (event.tag !== "homecare-outbox") return;
  event.waitUntil(
    sendOutbox().then(async (result) => {
      for (const page of await self.clients.matchAll({ type: "window" })) page.postMessage({ type: "outbox-sent" });
      if (result === "offline") throw new Error("the queued check-ins and check-outs wait for the network");
    }),
  );
}) as EventListener);

// Web Push: the notifier's message (decrypted by the browser) becomes a
// notification; tapping it opens the app, or the page it names.
self.addEventListener("push", (event) => {
  const message = event.data?.json() as PushMessage | undefined;
  if (!message) return;
  event.waitUntil(
    self.registration.showNotification(message.title, {
      body: message.body,
      tag: message.tag,
      icon: "/app/icon.svg",
      data: { url: message.url || "/app/" },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL((event.notification.data as { url?: string } | null)?.url ?? "/app/", location.origin);
  // Only our own pages open from a notification.
  const target = url.origin === location.origin ? url.href : `${location.origin}/app/`;
  event.waitUntil(
    self.clients.matchAll({ type: "window" }).then((pages) => {
      const open = pages.find((page) => page.url.startsWith(`${location.origin}/app/`));
      return open ? open.focus() : self.clients.openWindow(target).then(() => undefined);
    }),
  );
});
