// The console in a real browser (Debian's Chromium through playwright-core),
// against a running API with a worker: sign-in and lockout, the board drawn
// from the API, live changes from /v1/events without a reload, a call-out
// moving a block, accessibility (axe-core), screenshots, and how long a live
// frame takes to reach the page. Run by the e2e test `console` (./dev test),
// which starts the platform and passes:
//   HOMECARE_URL        the API (and console) base, e.g. http://127.0.0.1:PORT
//   HOMECARE_TOKEN      an admin JWT for the API calls that stand in for the field
//   CONSOLE_EMAIL / CONSOLE_PASSWORD     a coordinator account
//   CONSOLE_LOCK_EMAIL  another account, to be locked by wrong passwords
//   SCREENSHOTS         where to write PNGs (optional)
//   CHROMIUM            the browser (default /usr/bin/chromium)
import { chromium } from "playwright-core";
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import assert from "node:assert/strict";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const base = process.env.HOMECARE_URL;
const token = process.env.HOMECARE_TOKEN;
const email = process.env.CONSOLE_EMAIL;
const password = process.env.CONSOLE_PASSWORD;
const screenshots = process.env.SCREENSHOTS;
const zone = "America/Chicago";
assert(base && token && email && password, "HOMECARE_URL, HOMECARE_TOKEN, CONSOLE_EMAIL and CONSOLE_PASSWORD are required");

async function call(method, path, body, headers = {}) {
  const response = await fetch(`${base}/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function axe(page, name) {
  // Through the DevTools protocol: the page's CSP (rightly) refuses inline scripts.
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(axeSource);
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of serious) console.error(`axe ${name}: ${v.id} (${v.impact}): ${v.nodes.map((n) => n.target).join(" ")}`);
  assert.equal(serious.length, 0, `axe found serious or critical violations on ${name}`);
  console.log(`axe ${name}: ${result.violations.length} minor, 0 serious or critical`);
}

async function shot(page, name) {
  if (!screenshots) return;
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: `${screenshots}/${name}.png` });
}

function localInput(at) {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    }).formatToParts(at).map((x) => [x.type, x.value]),
  );
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

function localDate(at) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(at);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const failures = [];
const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, timezoneId: zone });
const page = await context.newPage();
page.on("pageerror", (error) => failures.push(`page error: ${error.message}`));
page.on("console", (message) => {
  if (process.env.DEBUG_CONSOLE) console.error(`[page ${message.type()}] ${message.text()}`);
  if (message.type() === "error" && !/ (401|403|422|429) /.test(message.text())) failures.push(`console: ${message.text()}`);
});
// On any failure, what the page showed.
process.on("uncaughtException", async (error) => {
  console.error(String(error.stack ?? error));
  console.error("failures so far:", failures);
  try {
    console.error((await page.locator("body").innerText()).slice(0, 3000));
    if (screenshots) await page.screenshot({ path: `${screenshots}/failure.png` });
  } catch {}
  process.exit(1);
});

// The page's own headers: a CSP without inline scripts, and no token stored.
const first = await page.goto(base + "/");
const csp = first.headers()["content-security-policy"];
assert.match(csp, /script-src 'self'/);
assert.doesNotMatch(csp, /unsafe-inline/);
await page.getByRole("heading", { name: "Sign in to homecare" }).waitFor();
await axe(page, "sign-in");
await shot(page, "sign-in");

// A wrong password is refused on the page; repeated ones lock the account.
await page.getByLabel("E-mail address", { exact: true }).fill(email);
await page.getByLabel("Password", { exact: true }).fill("not the password at all");
await page.getByRole("button", { name: "Sign in" }).click();
await page.getByRole("alert").filter({ hasText: "wrong" }).waitFor();
const lockEmail = process.env.CONSOLE_LOCK_EMAIL;
if (lockEmail) {
  await page.getByLabel("E-mail address", { exact: true }).fill(lockEmail);
  for (let n = 1; n <= 5; n++) {
    await page.getByLabel("Password", { exact: true }).fill(`wrong guess ${n} here`);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "wrong" }).waitFor();
  }
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "locked" }).waitFor();
  console.log("lockout: engaged after 5 wrong passwords");
}
// Field errors appear beside the field.
await page.getByLabel("E-mail address", { exact: true }).fill("not an address");
await page.getByRole("button", { name: "Sign in" }).click();
await page.locator("#email-error").waitFor();

// Sign in; the board connects to the feed.
await page.getByLabel("E-mail address", { exact: true }).fill(email);
await page.getByLabel("Password", { exact: true }).fill(password);
await page.getByRole("button", { name: "Sign in" }).click();
await page.getByTestId("feed-state").filter({ hasText: "Live" }).waitFor();
const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
assert.ok(!stored.includes("hc_"), "no token in web storage");
const cookies = await context.cookies();
assert.ok(cookies.every((c) => !c.name.includes("refresh") || c.httpOnly), "the refresh cookie is httpOnly");

// The field, through the API: a client, two caregivers, a visit in an hour.
const start = new Date(Math.ceil((Date.now() + 60 * 60_000) / 60_000) * 60_000);
const end = new Date(start.getTime() + 60 * 60_000);
await page.getByLabel("Day", { exact: true }).fill(localDate(start));
const client = await call("POST", "/clients", {
  name: "Eleanor Park", address: "1452 W Belmont Ave, Chicago", latitude: 41.94, longitude: -87.67, timezone: zone,
});
const maria = await call("POST", "/caregivers", { name: "Maria Lopez", skills: [] });
const visit = await call("POST", "/visits", {
  client_id: client.id, scheduled_start: start.toISOString(), scheduled_end: end.toISOString(), required_skills: [],
});
await page.evaluate(() => (window.__sameDocument = true));
const block = page.locator(`[data-visit="${visit.id}"]`);
await block.waitFor();
await page.waitForFunction((id) => document.querySelector(`[data-visit="${id}"]`)?.dataset.state === "assigned", visit.id);
console.log("board: a visit created through the API appeared, assigned");

// A second caregiver joins; a call-out by Maria moves her visit to him.
const james = await call("POST", "/caregivers", { name: "James Okafor", skills: [] });
const second = await call("POST", "/visits", {
  client_id: client.id,
  scheduled_start: new Date(end.getTime() + 30 * 60_000).toISOString(),
  scheduled_end: new Date(end.getTime() + 90 * 60_000).toISOString(),
  required_skills: [],
});
await page.locator(`[data-visit="${second.id}"][data-state="assigned"]`).waitFor();
const before = await call("GET", `/visits/${second.id}`);
const caller = before.caregiver_id === maria.id ? maria : james;
const stays = caller === maria ? james : maria;
// Recorded from the board: the caller's lane has the button.
await page.getByRole("button", { name: `Record a call-out for ${caller.name}` }).click();
await page.getByLabel("From", { exact: true }).fill(localInput(new Date(end.getTime() + 20 * 60_000)));
await page.getByLabel("Until", { exact: true }).fill(localInput(new Date(end.getTime() + 100 * 60_000)));
await page.getByRole("button", { name: "Record the call-out" }).click();
await page.locator("#callout-reason-error").waitFor();
assert.ok(await page.locator("#callout-reason-error").isVisible(), "a blank reason is refused beside the field");
await page.getByLabel("Reason", { exact: true }).fill("sick");
await page.getByRole("button", { name: "Record the call-out" }).click();
await page.getByRole("status").filter({ hasText: "Recorded" }).waitFor();
await page.waitForFunction(
  ([id, name]) => {
    const node = document.querySelector(`[data-visit="${id}"]`);
    return node?.closest("li")?.querySelector("h2")?.textContent === name;
  },
  [second.id, stays.name],
  { timeout: 30_000 },
);
await page.getByRole("button", { name: "Close the call-out panel" }).click();
console.log(`call-out: recorded from the board; the visit moved to ${stays.name}'s lane`);

// Check-in through the API turns the first block to "checked in".
const firstVisit = await call("GET", `/visits/${visit.id}`);
await call("POST", `/visits/${visit.id}/check-in`, {
  caregiver_id: firstVisit.caregiver_id, at: new Date().toISOString(), latitude: 41.94, longitude: -87.67,
});
await page.locator(`[data-visit="${visit.id}"][data-state="checked_in"]`).waitFor();
assert.equal(await page.evaluate(() => window.__sameDocument), true, "no reload happened");
console.log("board: check-in reflected without a reload");

// A check-out 15 km from the client is held; the hold is resolved from the
// queue, and the visit leaves it when its invoice line appears.
await call("POST", `/visits/${visit.id}/check-out`, {
  caregiver_id: firstVisit.caregiver_id, at: new Date().toISOString(), latitude: 41.80, longitude: -87.60,
});
await page.locator(`[data-visit="${visit.id}"][data-state="held"]`).waitFor();
await page.getByRole("link", { name: "EVV holds" }).click();
const hold = page.locator(`[data-hold="${visit.id}"]`);
await hold.waitFor();
await axe(page, "EVV holds");
await shot(page, "holds");
await hold.getByLabel("Resolution", { exact: true }).selectOption("service_outside_home");
await hold.getByLabel("Note", { exact: true }).fill("Took Eleanor to her appointment; confirmed with her daughter.");
await hold.getByRole("button", { name: "Resolve" }).click();
await hold.waitFor({ state: "detached", timeout: 30_000 });
await page.getByRole("link", { name: "Day board" }).click();
await page.locator(`[data-visit="${visit.id}"][data-state="invoiced"]`).waitFor();
console.log("holds: resolved from the queue; the visit left it and ended invoiced");

// The side panel: details, timeline, and the Temporal link.
await page.locator(`[data-visit="${visit.id}"]`).click();
await page.getByTestId("panel-status").filter({ hasText: "invoiced" }).waitFor();
await page.getByRole("link", { name: /in the Temporal UI/ }).waitFor();
await axe(page, "board with visit panel");
await shot(page, "visit-panel");
await page.getByRole("button", { name: "Close the visit panel" }).click();
await axe(page, "board");
await shot(page, "board");

// Plan the day: the optimizer runs, its figures appear when it is done.
await page.getByRole("button", { name: "Plan the day" }).click();
await page.getByLabel("Search for (seconds)", { exact: true }).fill("2");
await page.getByRole("complementary", { name: "Plan" }).getByRole("button", { name: "Plan the day" }).click();
await page.getByTestId("plan-figures").waitFor({ timeout: 60_000 });
console.log(`plan: ${(await page.getByTestId("plan-figures").innerText()).replace(/\s+/g, " ")}`);
await axe(page, "plan the day");
await shot(page, "plan");
await page.getByRole("button", { name: "Close the plan panel" }).click();

const measures = await page.evaluate(() =>
  performance.getEntriesByName("event-to-render").map((m) => m.duration),
);
if (measures.length) {
  measures.sort((a, b) => a - b);
  console.log(`event-to-render: ${measures.length} frames, max ${measures.at(-1).toFixed(1)} ms`);
}
await browser.close();
assert.deepEqual(failures, [], failures.join("\n"));
console.log("console browser test passed");
