// The console in a real browser (Debian's Chromium through playwright-core),
// against a running API with a worker: sign-in and lockout, the board drawn
// from the API, live changes from /v1/events without a reload, a call-out
// moving a block, holds, the plan, an admin's billing, payers and users pages
// with the API's field errors beside their fields, a caregiver kept off the
// board, accessibility (axe-core), screenshots, and how long a live frame
// takes to reach the page. Run by the e2e test `console` (./dev test),
// which starts the platform and passes:
//   HOMECARE_URL        the API (and console) base, e.g. http://127.0.0.1:PORT
//   HOMECARE_TOKEN      an admin JWT for the API calls that stand in for the field
//   CONSOLE_EMAIL / CONSOLE_PASSWORD     a coordinator account
//   CONSOLE_LOCK_EMAIL  another account, to be locked by wrong passwords
//   CONSOLE_ADMIN_EMAIL an admin account (same password): billing, payers, users
//   SCREENSHOTS         where to write PNGs (optional)
//   CHROMIUM            the browser (default /usr/bin/chromium)
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";
import { axe, caller as apiCaller, shot } from "./common.mjs";
const base = process.env.HOMECARE_URL;
const token = process.env.HOMECARE_TOKEN;
const email = process.env.CONSOLE_EMAIL;
const password = process.env.CONSOLE_PASSWORD;
const screenshots = process.env.SCREENSHOTS;
const zone = "America/Chicago";
assert(base && token && email && password, "HOMECARE_URL, HOMECARE_TOKEN, CONSOLE_EMAIL and CONSOLE_PASSWORD are required");

const call = apiCaller(base, token);

/** Polls `check` until it answers something truthy (30 s at most). */
async function until(what, check) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const answer = await check();
    if (answer) return answer;
    assert.ok(Date.now() < deadline, `timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
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
  // Every open page (the coordinator's, then the admin's and the caregiver's).
  const pages = browser.contexts().flatMap((c) => c.pages());
  for (const [n, open] of pages.entries()) {
    try {
      console.error(`--- page ${n + 1} of ${pages.length}: ${open.url()}`);
      console.error((await open.locator("body").innerText()).slice(0, 3000));
      if (screenshots) await open.screenshot({ path: `${screenshots}/failure-${n + 1}.png` });
    } catch {}
  }
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

// An admin's pages (billing, payers and rates, users), in a context of its own.
const adminEmail = process.env.CONSOLE_ADMIN_EMAIL;
assert(adminEmail, "CONSOLE_ADMIN_EMAIL is required");
async function signIn(who, address) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, timezoneId: zone });
  const page = await context.newPage();
  page.on("pageerror", (error) => failures.push(`page error (${address}): ${error.message}`));
  await page.goto(base + "/");
  await page.getByLabel("E-mail address", { exact: true }).fill(address);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  console.log(`${who}: signed in`);
  return page;
}
/** The API's message for a field, beside that field and tied to it. */
async function fieldError(page, id, pattern) {
  const error = page.locator(`#${id}-error`);
  await error.filter({ hasText: pattern }).waitFor();
  assert.equal(await page.locator(`#${id}`).getAttribute("aria-invalid"), "true");
  assert.equal(await page.locator(`#${id}`).getAttribute("aria-describedby"), `${id}-error`);
}
const admin = await signIn("admin", adminEmail);
await admin.getByTestId("feed-state").filter({ hasText: "Live" }).waitFor();

// Billing: a visit worked this morning (through the API, as the field would)
// is billed; with the client's coverage its line becomes a claim and an 837P.
const [line] = await call("GET", `/invoice-lines?visit_id=${visit.id}`);
assert.ok(line, "the resolved visit has its invoice line");
await call("PUT", `/clients/${client.id}/coverages/${line.payer_id}`, {
  member_id: "MBR-1001", last_name: "PARK", first_name: "ELEANOR", date_of_birth: "1941-06-02", gender: "F",
  address_line: "1452 W BELMONT AVE", city: "CHICAGO", state: "IL", postal_code: "60657", diagnosis_codes: ["R262"],
});
const worked = { start: new Date(Date.now() - 200 * 60_000), end: new Date(Date.now() - 110 * 60_000) };
const morning = await call("POST", "/visits", {
  client_id: client.id, scheduled_start: worked.start.toISOString(), scheduled_end: worked.end.toISOString(), required_skills: [],
});
const staffed = await until("the morning's visit is staffed", async () => {
  const v = await call("GET", `/visits/${morning.id}`);
  return v.caregiver_id ? v : null;
});
for (const [action, at] of [["check-in", worked.start], ["check-out", worked.end]]) {
  await call("POST", `/visits/${morning.id}/${action}`, {
    caregiver_id: staffed.caregiver_id, at: at.toISOString(), latitude: 41.94, longitude: -87.67,
  });
}
await admin.getByRole("link", { name: "Billing" }).click();
await admin.getByLabel("Payer", { exact: true }).selectOption(line.payer_id);
await admin.getByLabel("From", { exact: true }).fill(localDate(new Date(Date.now() - 86_400_000)));
await admin.getByLabel("To", { exact: true }).fill(localDate(new Date(Date.now() + 86_400_000)));
await until("the morning's invoice line is on the page", async () => {
  await admin.getByRole("button", { name: "Show the period" }).click();
  await new Promise((r) => setTimeout(r, 200));
  return (await admin.getByRole("cell", { name: "open", exact: true }).count()) > 0;
});
await admin.getByRole("cell", { name: "not billable (0 units)" }).waitFor();
await admin.getByRole("button", { name: "Form claims for the period" }).click();
await admin.getByRole("status", { name: "Forming claims" }).filter({ hasText: "Formed 1 claim(s)." }).waitFor();
await admin.getByRole("heading", { name: "Claims (1)" }).waitFor();
await admin.getByRole("cell", { name: "claimed", exact: true }).waitFor();
await admin.getByRole("button", { name: "Form claims for the period" }).click();
await admin.getByRole("status", { name: "Forming claims" }).filter({ hasText: "Nothing new to claim" }).waitFor();
await admin.getByRole("button", { name: "Prepare the 837P file" }).click();
const download837 = admin.waitForEvent("download");
await admin.getByRole("link", { name: "Download the 837P" }).click();
const x12 = readFileSync(await (await download837).path(), "utf8");
assert.match(x12, /^ISA\*/);
assert.match(x12, /ST\*837\*/);
assert.match(x12, /NM1\*IL\*1\*PARK\*ELEANOR/);
await axe(admin, "billing");
await shot(admin, "billing");
console.log(`billing: a worked visit's line formed one claim (once); an 837P of ${x12.length} bytes downloaded`);

// Payers and rates: the API's field errors beside the fields, then a payer and its rate.
await admin.getByRole("link", { name: "Payers" }).click();
const payerForm = admin.getByRole("form", { name: "New payer" });
await payerForm.getByLabel("Name", { exact: true }).fill("Prairie Health Plan");
await payerForm.getByLabel("Payer id on claims", { exact: true }).fill("x");
await payerForm.getByRole("button", { name: "Register the payer" }).click();
await fieldError(admin, "payer-payer_identifier", /letters or digits|characters/);
await payerForm.getByLabel("Payer id on claims", { exact: true }).fill("PHP01");
await payerForm.getByRole("button", { name: "Register the payer" }).click();
await admin.getByRole("status").filter({ hasText: "Registered Prairie Health Plan." }).waitFor();
const rateForm = admin.getByRole("form", { name: "New rate" });
await admin.getByRole("heading", { name: "Rates of Prairie Health Plan" }).waitFor();
await rateForm.getByLabel("Service code (HCPCS)", { exact: true }).fill("Z9999");
await rateForm.getByLabel("Rate per unit", { exact: true }).fill("7.25");
await rateForm.getByRole("button", { name: "Add the rate" }).click();
await fieldError(admin, "rate-service_code", "unknown service code");
await rateForm.getByLabel("Service code (HCPCS)", { exact: true }).fill("T1019");
await rateForm.getByLabel("Modifiers (space-separated)", { exact: true }).fill("U1");
await rateForm.getByRole("button", { name: "Add the rate" }).click();
await admin.getByRole("status").filter({ hasText: "Added T1019 at 7.25" }).waitFor();
await admin.getByRole("cell", { name: "T1019" }).waitFor();
await axe(admin, "payers and rates");
await shot(admin, "payers");
console.log("payers: field errors shown beside their fields; a payer and its rate added");

// Users: a caregiver's account for Maria; a short password is refused beside its field.
await admin.getByRole("link", { name: "Users" }).click();
const userForm = admin.getByRole("form", { name: "New user" });
await userForm.getByLabel("E-mail address", { exact: true }).fill("maria@agency.example");
await userForm.getByLabel("Name", { exact: true }).fill("Maria Lopez");
await userForm.getByLabel("Role", { exact: true }).selectOption("caregiver");
await userForm.getByLabel("Caregiver", { exact: true }).selectOption(maria.id);
await userForm.getByLabel("Password (12+ characters)", { exact: true }).fill("short");
await userForm.getByRole("button", { name: "Create the user" }).click();
await fieldError(admin, "user-password", /12/);
await userForm.getByLabel("Password (12+ characters)", { exact: true }).fill(password);
await userForm.getByRole("button", { name: "Create the user" }).click();
await admin.getByRole("status").filter({ hasText: "Created maria@agency.example." }).waitFor();
await admin.getByRole("cell", { name: "maria@agency.example" }).waitFor();
await axe(admin, "users");
await shot(admin, "users");

// A caregiver who signs in to the console never sees the board.
const caregiverPage = await signIn("caregiver", "maria@agency.example");
await caregiverPage.getByText("Caregivers use the caregiver app").waitFor();
assert.equal(await caregiverPage.getByRole("main", { name: "Day board" }).count(), 0);
assert.equal(await caregiverPage.getByRole("navigation", { name: "Pages" }).count(), 0);
console.log("users: a caregiver account created; its holder sees no board");

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
