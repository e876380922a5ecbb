// The caregiver app's tap-to-recorded time: a phone (390×844, geolocation
// at the client's door) checks in and out of VISITS back-to-back visits,
// online, and the app's `tap-to-recorded` measures (from the tap, through the
// position, the IndexedDB queue and the API, to the answer on the screen)
// are read. Run against a running platform (docs/benchmarks.md):
//   HOMECARE_URL, HOMECARE_TOKEN (admin JWT), VISITS (default 50), CHROMIUM
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import { caller } from "./common.mjs";

const base = process.env.HOMECARE_URL;
const token = process.env.HOMECARE_TOKEN;
const count = Number(process.env.VISITS ?? 50);
assert(base && token, "HOMECARE_URL and HOMECARE_TOKEN are required");
const password = "app bench password 1";

const call = caller(base, token);
const door = { latitude: 41.94, longitude: -87.67 };
const client = await call("POST", "/clients", { name: "Bench Client", address: "1452 W Belmont Ave, Chicago", ...door, timezone: "America/Chicago" });
const caregiver = await call("POST", "/caregivers", { name: "Bench Caregiver", skills: [] });
const email = `bench-${Date.now()}@agency.example`;
await call("POST", "/users", { email, display_name: "Bench Caregiver", role: "caregiver", caregiver_id: caregiver.id, password });
// Back to back from ten minutes ago, five minutes each: within the window the app lists.
const first = Date.now() - 10 * 60_000;
const ids = [];
for (let n = 0; n < count; n++) {
  const start = new Date(first + n * 5 * 60_000);
  const visit = await call("POST", "/visits", {
    client_id: client.id, required_skills: [], scheduled_start: start.toISOString(), scheduled_end: new Date(start.getTime() + 5 * 60_000).toISOString(),
  });
  ids.push(visit.id);
}
for (;;) {
  const mine = await Promise.all(ids.map((id) => call("GET", `/visits/${id}`)));
  if (mine.every((v) => v.caregiver_id === caregiver.id)) break;
  assert.ok(mine.every((v) => v.status !== "unfilled"), "a bench visit went unfilled");
  await new Promise((r) => setTimeout(r, 250));
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
const phone = await browser.newContext({
  viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, timezoneId: "America/Chicago",
  permissions: ["geolocation"], geolocation: { ...door, accuracy: 10 },
});
const app = await phone.newPage();
await app.goto(`${base}/app/`);
await app.getByLabel("E-mail address", { exact: true }).fill(email);
await app.getByLabel("Password", { exact: true }).fill(password);
await app.getByRole("button", { name: "Sign in" }).click();
await app.getByTestId("app-connection").filter({ hasText: "Live" }).waitFor();
for (const id of ids) {
  const card = app.locator(`[data-visit="${id}"]`);
  await card.getByRole("button", { name: "Check in" }).click();
  await card.getByRole("status").filter({ hasText: "Check-in accepted" }).waitFor();
  await card.getByRole("button", { name: "Check out" }).click();
  await card.getByRole("status").filter({ hasText: "Check-out accepted" }).waitFor();
}
const inOrder = await app.evaluate(() => performance.getEntriesByName("tap-to-recorded").map((m) => m.duration));
console.log(`first taps: ${inOrder.slice(0, 4).map((d) => d.toFixed(0)).join(", ")} ms; slowest at tap ${inOrder.indexOf(Math.max(...inOrder)) + 1}`);
const measures = [...inOrder].sort((a, b) => a - b);
const at = (p) => measures[Math.min(measures.length - 1, Math.floor((p / 100) * measures.length))].toFixed(1);
console.log(`tap-to-recorded over ${measures.length} taps: p50 ${at(50)} ms, p95 ${at(95)} ms, p99 ${at(99)} ms, max ${measures.at(-1).toFixed(1)} ms`);
await browser.close();
