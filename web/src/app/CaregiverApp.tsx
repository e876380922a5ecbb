import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiProblem, logout, refresh, token, whenSignedOut, type User } from "../api";
import { CallOut } from "../CallOut";
import { EventFeed, type FeedState, type Frame } from "../events";
import { Login } from "../Login";
import { sendOutbox } from "./outbox";
import { PushToggle } from "./Push";
import { dequeue, enqueue, forget, lastSeen, queued, remember, type EvvAction, type MyVisit, type Queued } from "./store";


const ACTION_LABELS: Record<EvvAction, string> = { "check-in": "Check-in", "check-out": "Check-out" };

/** An EVV exception as the platform found it, in the caregiver's words. */
function exceptionText(code: string, detail: Record<string, unknown>): string {
  const number = (key: string) => (typeof detail[key] === "number" ? (detail[key] as number) : null);
  const metres = number("distance_meters");
  if (code === "outside_geofence" && metres !== null) {
    return `outside the client's area (${metres >= 1000 ? `${(metres / 1000).toFixed(1)} km` : `${Math.round(metres)} m`} away)`;
  }
  if (code === "late_check_in" && number("minutes_late") !== null) return `late by ${number("minutes_late")} minutes`;
  if (code === "early_check_out" && number("minutes_early") !== null) return `early by ${number("minutes_early")} minutes`;
  return code.replace(/_/g, " ");
}

/** What the platform decided about a visit's taps: accepted, and the EVV exceptions it found (by id). */
interface Answer {
  action: EvvAction | null;
  exceptions: Map<string, string>;
}

function answerText({ action, exceptions }: Answer): string {
  const what = action ? `${ACTION_LABELS[action]} accepted` : "Recorded";
  if (exceptions.size === 0) return `${what}.`;
  return `${what} with an EVV exception the office will resolve: ${[...exceptions.values()].join("; ")}.`;
}

function position(): Promise<GeolocationPosition> {
  return new Promise((resolve, reject) =>
    navigator.geolocation.getCurrentPosition(resolve, reject, { enableHighAccuracy: true, timeout: 15_000, maximumAge: 0 }),
  );
}

function time(at: string, timeZone: string): string {
  return new Intl.DateTimeFormat("en-US", { timeZone, hour: "numeric", minute: "2-digit" }).format(Date.parse(at));
}

function day(at: string, timeZone: string): string {
  return new Intl.DateTimeFormat("en-US", { timeZone, weekday: "long", month: "long", day: "numeric" }).format(Date.parse(at));
}

/** What a frame about one of my visits means to me, for the banner (`known`: every visit seen this session). */
function news(frame: Frame, known: Map<string, MyVisit>, me: string): string | null {
  const data = frame.event.data as { visit_id?: string; caregiver_ids?: string[]; previous_caregiver_ids?: string[] };
  const visit = data.visit_id ? known.get(data.visit_id) : undefined;
  const who = visit ? `${visit.client_name} at ${time(visit.scheduled_start, visit.timezone)}` : "a client";
  switch (frame.event.type) {
    case "homecare.visit.cancelled":
      return `Your visit with ${who} was cancelled.`;
    case "homecare.visit.rescheduled":
      return `Your visit with ${who} has new times.`;
    case "homecare.visit.assigned":
    case "homecare.visit.unfilled": {
      const now = (data.caregiver_ids ?? []).includes(me);
      const before = (data.previous_caregiver_ids ?? []).includes(me);
      if (before && !now) {
        return frame.event.type === "homecare.visit.unfilled"
          ? `Your visit with ${who} was taken off your schedule; the office is finding someone.`
          : `Your visit with ${who} was reassigned to someone else.`;
      }
      if (now && !before) return "You have a new visit.";
      return null;
    }
    default:
      return null;
  }
}

/** A tap on the phone: waiting to be sent, or refused with the platform's reason. */
function QueuedLine({ entry, onDismiss }: { entry: Queued; onDismiss: (key: string) => void }) {
  const tapped = new Date(entry.body.at).toLocaleTimeString();
  if (entry.state === "waiting") {
    return (
      <p className="waiting" data-testid="waiting">
        {ACTION_LABELS[entry.action]} for {entry.label} waiting to send (tapped at {tapped}).
      </p>
    );
  }
  return (
    <p className="refused" role="alert" data-testid="refused">
      {ACTION_LABELS[entry.action]} for {entry.label} (tapped at {tapped}) refused: {entry.reason}{" "}
      <button type="button" onClick={() => onDismiss(entry.key)}>
        Dismiss
      </button>
    </p>
  );
}

/** The caregiver app: my visits, check-in and check-out with EVV, offline first. */
export function CaregiverApp() {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [visits, setVisits] = useState<MyVisit[]>([]);
  const [seenAt, setSeenAt] = useState<number | null>(null);
  const [online, setOnline] = useState(navigator.onLine);
  const [outbox, setOutbox] = useState<Queued[]>([]);
  const [answers, setAnswers] = useState<Map<string, Answer>>(new Map());
  const [banner, setBanner] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [feed, setFeed] = useState<FeedState>("connecting");
  const [callingOut, setCallingOut] = useState(false);
  // Every visit seen this session, for naming one that has left the list.
  const known = useRef(new Map<string, MyVisit>());
  for (const visit of visits) known.current.set(visit.id, visit);
  const sending = useRef(false);
  const sendAgain = useRef(false);

  const showOffline = useCallback(async () => {
    const seen = await lastSeen();
    if (seen) {
      setUser((current) => current ?? seen.user);
      setVisits(seen.visits);
      setSeenAt(seen.at);
    }
    return seen;
  }, []);

  // A session from the refresh cookie; with no network, the last one seen.
  useEffect(() => {
    whenSignedOut(() => setUser(null));
    refresh()
      .then((session) => setUser(session?.user ?? null))
      .catch(async () => {
        if (!(await showOffline())) setUser(null);
      });
    queued().then(setOutbox);
  }, [showOffline]);

  // One reload at a time: frames that arrive meanwhile ask for one more.
  const loading = useRef<Promise<void> | null>(null);
  const stale = useRef(false);
  const load = useCallback((): Promise<void> => {
    if (loading.current) {
      stale.current = true;
      return loading.current;
    }
    const run = async () => {
      do {
        stale.current = false;
        if (!token()) return;
        try {
          const mine = await api<MyVisit[]>("GET", "/me/visits");
          setVisits(mine);
          setSeenAt(null);
          if (user) await remember(user, mine);
        } catch (error) {
          if (error instanceof ApiProblem) setProblem(error.detail);
          else await showOffline();
          return;
        }
      } while (stale.current);
    };
    loading.current = run().finally(() => {
      loading.current = null;
    });
    return loading.current;
  }, [showOffline, user]);

  /** What the platform answered to a tap sent from this page. */
  const sent = useCallback((entry: Queued) => {
    // From the tap to the platform's answer on the screen (browser traces, the app bench).
    const mark = `tap-${entry.visitId}-${entry.action}`;
    requestAnimationFrame(() => {
      if (performance.getEntriesByName(mark).length) performance.measure("tap-to-recorded", mark);
    });
    // Exceptions arrive as events (with what was found), before or after this answer.
    setAnswers((now) => {
      const exceptions = now.get(entry.visitId)?.exceptions ?? new Map<string, string>();
      return new Map(now).set(entry.visitId, { action: entry.action, exceptions });
    });
  }, []);

  /** Sends what waits (outbox.ts); taps during a pass ask for one more. */
  const send = useCallback(async () => {
    if (sending.current) {
      sendAgain.current = true;
      return;
    }
    sending.current = true;
    try {
      do {
        sendAgain.current = false;
        if ((await sendOutbox(sent)) !== "sent") break;
      } while (sendAgain.current);
    } finally {
      sending.current = false;
      setOutbox(await queued());
      await load();
    }
  }, [load, sent]);

  useEffect(() => {
    if (!user || user.role !== "caregiver") return;
    void send();
    const feedOf = new EventFeed(
      (frame) => {
        const text = news(frame, known.current, user.caregiver_id ?? "");
        if (text) setBanner(text);
        if (frame.event.type === "homecare.visit.exception_raised") {
          const data = frame.event.data as { visit_id: string; exception_id: string; code: string; detail: Record<string, unknown> };
          setAnswers((now) => {
            const before = now.get(data.visit_id) ?? { action: null, exceptions: new Map<string, string>() };
            const exceptions = new Map(before.exceptions).set(data.exception_id, exceptionText(data.code, data.detail ?? {}));
            return new Map(now).set(data.visit_id, { ...before, exceptions });
          });
        }
        void load();
      },
      setFeed,
    );
    if (token()) feedOf.start();
    const back = () => {
      setOnline(true);
      void send().then(() => {
        if (token()) feedOf.start();
      });
    };
    const gone = () => setOnline(false);
    // The service worker sent the queue while this page was away or asleep.
    const message = (event: MessageEvent) => {
      if (event.data?.type === "outbox-sent") void queued().then(setOutbox).then(load);
    };
    window.addEventListener("online", back);
    window.addEventListener("offline", gone);
    navigator.serviceWorker?.addEventListener("message", message);
    // A busy platform (503) is tried again while the app is open.
    const retry = setInterval(() => {
      if (navigator.onLine) void send();
    }, 15_000);
    return () => {
      feedOf.stop();
      clearInterval(retry);
      window.removeEventListener("online", back);
      window.removeEventListener("offline", gone);
      navigator.serviceWorker?.removeEventListener("message", message);
    };
  }, [user, send, load]);

  async function tap(visit: MyVisit, action: EvvAction) {
    if (!user?.caregiver_id) return;
    setProblem(null);
    performance.mark(`tap-${visit.id}-${action}`);
    // The device's time is taken at the tap, before asking for the position.
    const at = new Date().toISOString();
    let where: GeolocationPosition;
    try {
      where = await position();
    } catch (error) {
      setProblem(`Your position is needed for EVV: ${(error as GeolocationPositionError).message || "allow location for this app"}.`);
      return;
    }
    const entry: Queued = {
      key: crypto.randomUUID(),
      visitId: visit.id,
      label: `${visit.client_name}, ${time(visit.scheduled_start, visit.timezone)}`,
      action,
      body: { caregiver_id: user.caregiver_id, at, latitude: where.coords.latitude, longitude: where.coords.longitude },
      tappedAt: Date.now(),
      state: "waiting",
    };
    await enqueue(entry);
    setOutbox(await queued());
    const registration = await navigator.serviceWorker?.ready.catch(() => undefined);
    await (registration as (ServiceWorkerRegistration & { sync?: { register(tag: string): Promise<void> } }) | undefined)?.sync
      ?.register("homecare-outbox")
      .catch(() => undefined);
    await send();
  }

  async function signOut() {
    await forget();
    await logout().catch(() => setUser(null));
  }

  if (user === undefined) return <main className="centered" aria-busy="true">Loading…</main>;
  if (user === null) return <Login onSignedIn={setUser} />;
  if (user.role !== "caregiver") {
    return (
      <main className="centered">
        <h1>homecare</h1>
        <p>This app is for caregivers. The office works in the console.</p>
        <p>
          <a href="/">Open the console</a>
        </p>
      </main>
    );
  }

  const byDay = new Map<string, MyVisit[]>();
  for (const visit of visits) {
    const key = day(visit.scheduled_start, visit.timezone);
    byDay.set(key, [...(byDay.get(key) ?? []), visit]);
  }
  const pending = (visitId: string) => outbox.filter((q) => q.visitId === visitId);
  // Taps for visits no longer on the list (reassigned or cancelled meanwhile).
  const orphans = outbox.filter((q) => !visits.some((v) => v.id === q.visitId));
  const dismiss = (key: string) => dequeue(key).then(() => queued().then(setOutbox));
  return (
    <div className="app">
      <header className="app-bar">
        <h1>My visits</h1>
        <span role="status" className={`feed feed-${online ? feed : "offline"}`} data-testid="app-connection">
          {online ? (feed === "live" ? "Live" : "Connecting…") : "Offline"}
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      {online && (
        <p className="app-actions">
          <button type="button" onClick={() => setCallingOut(true)}>
            Call out
          </button>{" "}
          <PushToggle />
        </p>
      )}
      {callingOut && user.caregiver_id && (
        <CallOut
          caregiverId={user.caregiver_id}
          name={user.display_name}
          timeZone={Intl.DateTimeFormat().resolvedOptions().timeZone}
          dayEnd={Date.now() + 8 * 3600_000}
          onClose={() => {
            setCallingOut(false);
            void load();
          }}
        />
      )}
      <main aria-label="My visits">
        {banner && (
          <div className="banner" role="alert">
            {banner}{" "}
            <button type="button" onClick={() => setBanner(null)}>
              Dismiss
            </button>
          </div>
        )}
        {problem && (
          <p role="alert" className="problem">
            {problem}
          </p>
        )}
        {orphans.length > 0 && (
          <section aria-label="Not sent">
            <h2>Not sent</h2>
            <ul className="cards">
              {orphans.map((q) => (
                <li key={q.key} className="card card-cancelled" data-queued={q.key}>
                  <QueuedLine entry={q} onDismiss={dismiss} />
                </li>
              ))}
            </ul>
          </section>
        )}
        {seenAt !== null && <p className="stale">Offline: the visits as last seen at {new Date(seenAt).toLocaleTimeString()}.</p>}
        {visits.length === 0 && <p>No visits in the next days.</p>}
        {[...byDay].map(([label, list]) => (
          <section key={label} aria-label={label}>
            <h2>{label}</h2>
            <ul className="cards">
              {list.map((visit) => (
                <li
                  key={visit.id}
                  className={`card card-${visit.held ? "held" : visit.status}`}
                  data-visit={visit.id}
                  data-status={visit.held ? "held" : visit.status}
                >
                  <h3>
                    {time(visit.scheduled_start, visit.timezone)}–{time(visit.scheduled_end, visit.timezone)} · {visit.client_name}
                  </h3>
                  <p className="address">{visit.address}</p>
                  {visit.required_skills.length > 0 && <p>Skills: {visit.required_skills.join(", ")}</p>}
                  {visit.planned_duties.length > 0 && (
                    <ul className="duties">
                      {visit.planned_duties.map((duty) => (
                        <li key={duty.code}>{duty.text ?? duty.code.replace(/_/g, " ")}</li>
                      ))}
                    </ul>
                  )}
                  <p className="card-status">
                    {visit.held ? "Held for the office (EVV exception)" : visit.status.replace("_", " ")}
                  </p>
                  {answers.has(visit.id) && <p role="status">{answerText(answers.get(visit.id)!)}</p>}
                  {pending(visit.id).map((q) => (
                    <QueuedLine key={q.key} entry={q} onDismiss={dismiss} />
                  ))}
                  {visit.records_evv && visit.status === "assigned" && !pending(visit.id).some((q) => q.action === "check-in") && (
                    <button type="button" className="primary" onClick={() => tap(visit, "check-in")}>
                      Check in
                    </button>
                  )}
                  {visit.records_evv &&
                    (visit.status === "checked_in" || pending(visit.id).some((q) => q.action === "check-in" && q.state === "waiting")) &&
                    !pending(visit.id).some((q) => q.action === "check-out") && (
                      <button type="button" className="primary" onClick={() => tap(visit, "check-out")}>
                        Check out
                      </button>
                    )}
                </li>
              ))}
            </ul>
          </section>
        ))}
      </main>
    </div>
  );
}
