// The caregiver app on a phone (390×844, geolocation granted and set by the
// test) beside the office's console, in Debian's Chromium: sign-in, today's
// visits, a check-in the console shows, a check-out made offline that survives
// closing the app and is sent exactly once when the network returns, a
// check-in the service worker sends with the app closed, a check-out 3 km
// away that the platform holds, and the office's reassignment, reschedule
// and cancellation arriving as banners. Run by the e2e test
// `caregiver_app` (./dev test), which makes the data and passes:
//   HOMECARE_URL, CAREGIVER_EMAIL, COORDINATOR_EMAIL, PASSWORD,
//   CLIENT_LAT, CLIENT_LNG, NEAR_VISIT, FAR_VISIT, LATER_VISIT (to be
//   reassigned to OTHER_CAREGIVER while the phone is offline), CANCELLED_VISIT
//   (cancelled by the office while the app is open), HOMECARE_TOKEN
//   (an admin's, for the office's side), SCREENSHOTS, CHROMIUM
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { axe, caller, shot } from "./common.mjs";
const env = (name) => {
  assert(process.env[name], `${name} is required`);
  return process.env[name];
};
const base = env("HOMECARE_URL");
const password = env("PASSWORD");
const client = { latitude: Number(env("CLIENT_LAT")), longitude: Number(env("CLIENT_LNG")) };
const near = env("NEAR_VISIT");
const far = env("FAR_VISIT");
const later = env("LATER_VISIT");
const screenshots = process.env.SCREENSHOTS;
const zone = "America/Chicago";

const call = caller(base, env("HOMECARE_TOKEN"));

async function signIn(page, email) {
  await page.getByLabel("E-mail address", { exact: true }).fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
const failures = [];
process.on("uncaughtException", async (error) => {
  console.error(String(error.stack ?? error));
  console.error("failures so far:", failures);
  for (const [n, open] of browser.contexts().flatMap((c) => c.pages()).entries()) {
    try {
      console.error(`--- page ${n + 1}: ${open.url()}\n${(await open.locator("body").innerText()).slice(0, 2000)}`);
      if (screenshots) await open.screenshot({ path: `${screenshots}/app-failure-${n + 1}.png` });
    } catch {}
  }
  process.exit(1);
});

// The office: the coordinator's board, to see what the phone does.
const office = await browser.newContext({ viewport: { width: 1440, height: 900 }, timezoneId: zone });
const board = await office.newPage();
await board.goto(`${base}/`);
await signIn(board, env("COORDINATOR_EMAIL"));
await board.getByTestId("feed-state").filter({ hasText: "Live" }).waitFor();

// The phone.
const phone = await browser.newContext({
  viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, timezoneId: zone,
  permissions: ["geolocation"], geolocation: { ...client, accuracy: 10 },
});
let app = await phone.newPage();
app.on("pageerror", (error) => failures.push(`page error: ${error.message}`));
await app.goto(`${base}/app/`);
await app.getByRole("heading", { name: "Sign in to homecare" }).waitFor();
await axe(app, "app sign-in");
await signIn(app, env("CAREGIVER_EMAIL"));
await app.getByRole("heading", { name: "My visits" }).waitFor();
const nearCard = app.locator(`[data-visit="${near}"]`);
await nearCard.getByRole("heading", { name: /Eleanor P\./ }).waitFor();
assert.equal(await app.getByText("Eleanor Park").count(), 0, "only the first name and last initial");
await app.getByTestId("app-connection").filter({ hasText: "Live" }).waitFor();
await axe(app, "my visits");
await shot(app, "app-visits");
console.log("app: signed in; today's visits shown with the client's first name and initial");

// Check in at the client's door; the console shows it.
await nearCard.getByRole("button", { name: "Check in" }).click();
await nearCard.getByRole("status").filter({ hasText: "Check-in accepted." }).waitFor();
const recorded = Date.now();
await board.locator(`[data-visit="${near}"][data-state="checked_in"]`).waitFor({ timeout: 5_000 });
console.log(`app: check-in accepted; the console showed "checked in" ${Date.now() - recorded} ms after the phone did`);

// The app shell is cached once the service worker controls the page.
await app.evaluate(async () => {
  await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) await new Promise((r) => navigator.serviceWorker.addEventListener("controllerchange", r));
});

// Offline: the check-out waits on the phone, survives closing the app, and
// is sent once when the network returns.
await phone.setOffline(true);
await app.getByTestId("app-connection").filter({ hasText: "Offline" }).waitFor();
await nearCard.getByRole("button", { name: "Check out" }).click();
await nearCard.getByTestId("waiting").filter({ hasText: /Check-out for Eleanor P\., .* waiting to send/ }).waitFor();
await shot(app, "app-offline");
await app.close();
app = await phone.newPage();
app.on("pageerror", (error) => failures.push(`page error: ${error.message}`));
const reopened = Date.now();
await app.goto(`${base}/app/`);
await app.locator(`[data-visit="${near}"]`).getByRole("heading", { name: /Eleanor P\./ }).waitFor();
console.log(`app: reopened offline in ${Date.now() - reopened} ms, the visits as last seen`);
await app.getByText("Offline: the visits as last seen").waitFor();
await app.locator(`[data-visit="${near}"]`).getByTestId("waiting").waitFor();
await phone.setOffline(false);
await app.locator(`[data-visit="${near}"][data-status="completed"], [data-visit="${near}"][data-status="invoiced"]`).waitFor({ timeout: 30_000 });
assert.equal(await app.locator(`[data-visit="${near}"]`).getByTestId("waiting").count(), 0);
await board.locator(`[data-visit="${near}"][data-state="invoiced"]`).waitFor({ timeout: 30_000 });
console.log("app: back online, the queued check-out was sent; the visit is invoiced");

// A check-in tapped offline is sent by the service worker when the network
// returns, with the app closed: Background Sync wakes the worker (fired here
// through the DevTools protocol, as the browser does when it is back online).
await app.getByTestId("app-connection").filter({ hasText: "Live" }).waitFor();
await phone.setOffline(true);
await app.getByTestId("app-connection").filter({ hasText: "Offline" }).waitFor();
await app.locator(`[data-visit="${far}"]`).getByRole("button", { name: "Check in" }).click();
await app.locator(`[data-visit="${far}"]`).getByTestId("waiting").waitFor();
await app.close();
await phone.setOffline(false);
const elsewhere = await phone.newPage();
const devtools = await phone.newCDPSession(elsewhere);
const registration = new Promise((resolve) =>
  devtools.on("ServiceWorker.workerRegistrationUpdated", ({ registrations }) => {
    const ours = registrations.find((r) => r.scopeURL === `${base}/app/` && !r.isDeleted);
    if (ours) resolve(ours.registrationId);
  }),
);
await devtools.send("ServiceWorker.enable");
const registrationId = await registration;
assert.equal(phone.pages().filter((p) => p.url().includes("/app")).length, 0, "no app page is open");
await devtools.send("ServiceWorker.dispatchSyncEvent", { origin: base, registrationId, tag: "homecare-outbox", lastChance: false });
for (let tries = 0; (await call("GET", `/visits/${far}`)).status !== "checked_in"; tries++) {
  assert(tries < 100, "the service worker sent the queued check-in");
  await new Promise((r) => setTimeout(r, 100));
}
await elsewhere.close();
console.log("app: a check-in queued offline was sent by the service worker with the app closed");

// A check-out 3 km from the client is recorded and held for the office.
app = await phone.newPage();
app.on("pageerror", (error) => failures.push(`page error: ${error.message}`));
await app.goto(`${base}/app/`);
const farCard = app.locator(`[data-visit="${far}"]`);
await app.getByTestId("app-connection").filter({ hasText: "Live" }).waitFor();
await app.locator(`[data-visit="${far}"][data-status="checked_in"]`).waitFor();
assert.equal(await farCard.getByTestId("waiting").count(), 0, "nothing waits on the phone");
await phone.setGeolocation({ latitude: client.latitude + 0.027, longitude: client.longitude, accuracy: 10 });
await farCard.getByRole("button", { name: "Check out" }).click();
await farCard.getByRole("status").filter({ hasText: /Check-out accepted with an EVV exception the office will resolve: .*outside the client's area \(3\.0 km away\)/ }).waitFor();
await board.locator(`[data-visit="${far}"][data-state="held"]`).waitFor({ timeout: 10_000 });
// The office sees the exception itself in its hold queue.
await board.getByRole("link", { name: "EVV holds" }).click();
await board.locator(`[data-hold="${far}"]`).getByText("outside geofence").waitFor();
await board.getByRole("link", { name: "Day board" }).click();
await app.locator(`[data-visit="${far}"][data-status="held"]`).getByText("Held for the office").waitFor();
await axe(app, "my visits after check-out");
await shot(app, "app-held");
console.log("app: a check-out 3 km away was recorded with its exception; the console shows it held, the exception in its hold queue");

// A visit reassigned while the phone is offline: the check-in queued for it
// comes back refused, with the platform's reason, and the banner says why.
await phone.setGeolocation({ ...client, accuracy: 10 });
await phone.setOffline(true);
await app.getByTestId("app-connection").filter({ hasText: "Offline" }).waitFor();
const laterCard = app.locator(`[data-visit="${later}"]`);
await laterCard.getByRole("button", { name: "Check in" }).click();
await laterCard.getByTestId("waiting").waitFor();
await call("PUT", `/visits/${later}/assignment`, { caregiver_ids: [env("OTHER_CAREGIVER")] });
await phone.setOffline(false);
const refused = app.getByRole("region", { name: "Not sent" }).getByTestId("refused");
await refused.filter({ hasText: /Check-in for Eleanor P\., .* refused: / }).waitFor({ timeout: 30_000 });
console.log(`app: the check-in queued offline for a visit reassigned meanwhile came back "${(await refused.innerText()).split("\n")[0]}"`);
await app.locator(`[data-visit="${later}"]`).waitFor({ state: "detached" });
// The reassignment reached the phone over its own event socket, as a banner.
await app.locator(".banner").filter({ hasText: "was reassigned" }).waitFor({ timeout: 10_000 });
await axe(app, "my visits with a refused check-in");
await shot(app, "app-refused");

// The office moves a visit while the app is open: a banner with the news.
await app.getByRole("button", { name: "Dismiss" }).first().click();
const moved = await call("GET", `/visits/${env("CANCELLED_VISIT")}`);
const hour = 60 * 60 * 1000;
await call("POST", `/visits/${env("CANCELLED_VISIT")}/reschedule`, {
  scheduled_start: new Date(Date.parse(moved.scheduled_start) + hour).toISOString(),
  scheduled_end: new Date(Date.parse(moved.scheduled_end) + hour).toISOString(),
});
await app.locator(".banner").filter({ hasText: /Your visit with Eleanor P\. at .* has new times\./ }).waitFor({ timeout: 10_000 });
console.log("app: a visit the office rescheduled showed up as a banner");

// The office cancels a visit while the app is open: a banner, and the card says so.
await app.getByRole("button", { name: "Dismiss" }).first().click();
await call("POST", `/visits/${env("CANCELLED_VISIT")}/cancel`, { reason: "The client is in hospital" });
await app.locator(".banner").filter({ hasText: /Your visit with Eleanor P\. at .* was cancelled\./ }).waitFor({ timeout: 10_000 });
await app.locator(`[data-visit="${env("CANCELLED_VISIT")}"][data-status="cancelled"]`).waitFor();
console.log("app: a visit cancelled by the office showed up as a banner and a cancelled card");

// A call-out from the app, answered.
await app.getByRole("button", { name: "Call out" }).click();
await app.getByLabel("Reason", { exact: true }).fill("Sick child");
await app.getByRole("button", { name: "Record the call-out" }).click();
await app.getByRole("status").filter({ hasText: "Recorded" }).waitFor();
await axe(app, "call-out");
console.log(`app: call-out answered: ${await app.getByRole("status").filter({ hasText: "Recorded" }).innerText()}`);

await browser.close();
assert.deepEqual(failures, [], failures.join("\n"));
console.log("caregiver app browser test passed");
