// The day board under load, in Chromium (production build): how long the
// first render of a full day takes, and how long each live frame takes to
// reach the page while visits are rescheduled at a steady rate through the
// API (each reschedule is two frames: the new times, then the decision on
// who staffs them). Run against a running platform (docs/benchmarks.md):
//   HOMECARE_URL, HOMECARE_TOKEN (admin JWT), CONSOLE_EMAIL, CONSOLE_PASSWORD,
//   DAY (YYYY-MM-DD), ZONE (default America/Chicago), RATE (reschedules/s, 25),
//   LIVE_SECONDS (20), CHROMIUM, SCREENSHOT (a PNG path, optional),
//   SEED_CAREGIVERS and SEED_VISITS: first create that many caregivers and
//   visits on DAY through the API (the day: 60 and 400)
import { chromium } from "playwright-core";
import assert from "node:assert/strict";

const base = process.env.HOMECARE_URL;
const token = process.env.HOMECARE_TOKEN;
const day = process.env.DAY;
const zone = process.env.ZONE ?? "America/Chicago";
const rate = Number(process.env.RATE ?? 25);
const seconds = Number(process.env.LIVE_SECONDS ?? 20);
assert(base && token && day && process.env.CONSOLE_EMAIL && process.env.CONSOLE_PASSWORD, "see the header for the environment");

async function call(method, path, body) {
  const response = await fetch(`${base}/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// The day, through the API as an office would make it: clients around
// Chicago, caregivers, and visits of one to two hours between 7:00 and 19:00.
const seedCaregivers = Number(process.env.SEED_CAREGIVERS ?? 0);
const seedVisits = Number(process.env.SEED_VISITS ?? 0);
if (seedVisits > 0) {
  const random = (() => {
    let state = 20261202;
    return () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
  })();
  const checked = async (method, path, body) => {
    const answer = await call(method, path, body);
    assert.ok(answer.status < 300, `${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  };
  for (let n = 0; n < seedCaregivers; n++) await checked("POST", "/caregivers", { name: `Caregiver ${n + 1}`, skills: [] });
  const clients = [];
  for (let n = 0; n < Math.ceil(seedVisits / 4); n++) {
    clients.push(
      await checked("POST", "/clients", {
        name: `Client ${n + 1}`, address: `${100 + n} W Bench St, Chicago`, timezone: zone,
        latitude: 41.75 + random() * 0.25, longitude: -87.8 + random() * 0.25,
      }),
    );
  }
  // Local 7:00 on DAY in ZONE (the zone's offset at noon that day).
  const noon = new Date(`${day}T12:00:00Z`);
  const local = Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" })
      .formatToParts(noon)
      .map((p) => [p.type, Number(p.value)]),
  );
  const offset = noon.getTime() - Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute);
  const morning = Date.parse(`${day}T07:00:00Z`) + offset;
  const started = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < seedVisits) {
      const n = next++;
      const start = morning + Math.floor(random() * 40) * 15 * 60_000;
      const minutes = 60 + Math.floor(random() * 5) * 15;
      await checked("POST", "/visits", {
        client_id: clients[n % clients.length].id, required_skills: [],
        scheduled_start: new Date(start).toISOString(), scheduled_end: new Date(start + minutes * 60_000).toISOString(),
      });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  // Until the engine has decided every one (assigned or unfilled).
  const window = `from=${new Date(morning - 3600_000).toISOString()}&to=${new Date(morning + 16 * 3600_000).toISOString()}`;
  for (let waited = 0; ; waited += 500) {
    const pending = await call("GET", `/visits?status=scheduled&${window}&limit=1`);
    if (pending.body.length === 0) break;
    assert.ok(waited < 120_000, "visits still undecided after two minutes");
    await new Promise((r) => setTimeout(r, 500));
  }
  console.log(`seeded ${seedCaregivers} caregivers, ${clients.length} clients and ${seedVisits} visits, all decided, in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, timezoneId: zone });
const page = await context.newPage();
await page.goto(`${base}/`);
await page.getByLabel("E-mail address", { exact: true }).fill(process.env.CONSOLE_EMAIL);
await page.getByLabel("Password", { exact: true }).fill(process.env.CONSOLE_PASSWORD);
await page.getByRole("button", { name: "Sign in" }).click();
await page.getByTestId("feed-state").filter({ hasText: "Live" }).waitFor();

// First render: a fresh load of the day (the session comes back from the
// refresh cookie), from navigation start to the mark the board sets once the
// day's blocks are committed.
const renders = [];
for (let run = 0; run < 3; run++) {
  await page.goto(`${base}/?day=${day}&zone=${encodeURIComponent(zone)}`);
  await page.waitForFunction(() => performance.getEntriesByName("board-ready").length > 0, null, { timeout: 60_000 });
  const ready = await page.evaluate(() => performance.getEntriesByName("board-ready")[0].startTime);
  const blocks = await page.locator("[data-visit]").count();
  const lanes = await page.locator("li.lane").count();
  renders.push(ready);
  console.log(`first render ${run + 1}: ${ready.toFixed(0)} ms, ${blocks} blocks in ${lanes} lanes`);
}
await page.getByTestId("feed-state").filter({ hasText: "Live" }).waitFor();
if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT });

// Live: reschedule the day's assigned visits by a minute, back and forth, at
// `rate` per second; every change is a frame the page must show.
const from = new Date(`${day}T00:00:00Z`).getTime() - 14 * 3600_000;
const to = from + 48 * 3600_000;
const listed = await call("GET", `/visits?status=assigned&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}&limit=1000`);
const visits = listed.body.filter((v) => Date.parse(v.scheduled_start) > Date.now() + 3600_000);
assert(visits.length > 0, "no assigned visits ahead on that day");
await page.evaluate(() => performance.clearMeasures("event-to-render"));
let sent = 0;
const otherAnswers = new Map(); // status -> count, for answers other than 200
const started = Date.now();
const inFlight = new Set();
for (let n = 0; n < rate * seconds; n++) {
  const due = started + (n * 1000) / rate;
  const wait = due - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const visit = visits[n % visits.length];
  const shift = (Math.floor(n / visits.length) % 2 === 0 ? 1 : -1) * 60_000;
  const start = new Date(Date.parse(visit.scheduled_start) + shift);
  const end = new Date(Date.parse(visit.scheduled_end) + shift);
  visit.scheduled_start = start.toISOString();
  visit.scheduled_end = end.toISOString();
  const request = call("POST", `/visits/${visit.id}/reschedule`, {
    scheduled_start: visit.scheduled_start,
    scheduled_end: visit.scheduled_end,
  }).then((answer) => {
    if (answer.status === 200) sent += 1;
    else otherAnswers.set(answer.status, (otherAnswers.get(answer.status) ?? 0) + 1);
  });
  inFlight.add(request);
  request.finally(() => inFlight.delete(request));
}
await Promise.all(inFlight);
const elapsed = (Date.now() - started) / 1000;
await new Promise((r) => setTimeout(r, 2000));
const entries = await page.evaluate(() =>
  performance.getEntriesByName("event-to-render").map((m) => ({ at: m.startTime, duration: m.duration })),
);
const measures = entries.map((e) => e.duration).sort((a, b) => a - b);
const arrivals = entries.map((e) => e.at).sort((a, b) => a - b);
const frameSeconds = (arrivals.at(-1) - arrivals[0]) / 1000;
// The busiest second of frames, and how many seconds had at least 50.
const perSecond = new Map();
for (const at of arrivals) perSecond.set(Math.floor(at / 1000), (perSecond.get(Math.floor(at / 1000)) ?? 0) + 1);
const busiest = Math.max(...perSecond.values());
const seconds50 = [...perSecond.values()].filter((n) => n >= 50).length;
console.log(
  `live: ${sent} reschedules answered 200 (others: ${JSON.stringify(Object.fromEntries(otherAnswers))}) in ${elapsed.toFixed(1)} s = ${(sent / elapsed).toFixed(1)}/s; ` +
    `${measures.length} frames shown over ${frameSeconds.toFixed(1)} s = ${(measures.length / frameSeconds).toFixed(1)} frames/s ` +
    `(busiest second ${busiest}, ${seconds50} seconds at 50 or more); event-to-render p50 ${percentile(measures, 50).toFixed(1)} ms, ` +
    `p95 ${percentile(measures, 95).toFixed(1)} ms, p99 ${percentile(measures, 99).toFixed(1)} ms, max ${measures.at(-1).toFixed(1)} ms`,
);
console.log(`first render: median ${[...renders].sort((a, b) => a - b)[1].toFixed(0)} ms of 3`);
await browser.close();
