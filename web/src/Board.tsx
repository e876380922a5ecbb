import { memo, useCallback, useEffect, useMemo, useRef, useState } from "react";
import { all, api, logout, type Caregiver, type Client, type User, type Visit } from "./api";
import {
  applyFrame,
  counts,
  dayWindow,
  displayState,
  fromVisit,
  lanes,
  stackRows,
  position,
  STATE_LABELS,
  type BoardState,
  type BoardVisit,
} from "./board";
import { EventFeed, type FeedState, type Frame } from "./events";
import { Billing } from "./Billing";
import { Payers } from "./Payers";
import { CallOut } from "./CallOut";
import { Holds } from "./Holds";
import { PlanDay } from "./PlanDay";
import { Users } from "./Users";
import { clock } from "./time";
import { VisitPanel } from "./VisitPanel";

const ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "Europe/London"];

function today(timeZone: string): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(
    Date.now(),
  );
}


type View = "board" | "holds" | "billing" | "payers" | "users";
const PAGES: [View, string, string][] = [
  ["board", "Day board", "/"],
  ["holds", "EVV holds", "/holds"],
  ["billing", "Billing", "/billing"],
  ["payers", "Payers", "/payers"],
  ["users", "Users", "/users"],
];

/** Who sees a page: users are the admins' page, billing and payers are not the coordinators'. */
function mayView(view: View, user: User): boolean {
  if (view === "users") return user.role === "admin";
  if (view === "billing" || view === "payers") return user.role === "admin" || user.role === "billing";
  return true;
}

function viewOf(path: string, user: User): View {
  const found = PAGES.find(([, , p]) => p === path)?.[0] ?? "board";
  return mayView(found, user) ? found : "board";
}

const FEED_LABELS: Record<FeedState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
};

/** The home page: one lane per caregiver, the day's visits live from `/v1/events`. */
export function Board({ user }: { user: User }) {
  // `?day=YYYY-MM-DD&zone=...` opens a given day (a link, the board bench).
  const query = new URLSearchParams(location.search);
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const asked = query.get("zone");
  const [timeZone, setTimeZone] = useState(
    asked && ZONES.includes(asked) ? asked : ZONES.includes(browserZone) ? browserZone : "America/Chicago",
  );
  const [date, setDate] = useState(() => (/^\d{4}-\d{2}-\d{2}$/.test(query.get("day") ?? "") ? query.get("day")! : today(timeZone)));
  const [caregivers, setCaregivers] = useState<Caregiver[]>([]);
  const [clients, setClients] = useState<Map<string, string>>(new Map());
  const [lateMinutes, setLateMinutes] = useState(10);
  const [feedState, setFeedState] = useState<FeedState>("connecting");
  const [selected, setSelected] = useState<string | null>(null);
  const [callingOut, setCallingOut] = useState<string | null>(null);
  const [planning, setPlanning] = useState(false);
  const [view, setView] = useState<View>(() => viewOf(location.pathname, user));
  const [lastFrame, setLastFrame] = useState<Frame | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [now, setNow] = useState(Date.now());
  const [, setVersion] = useState(0);
  const visits = useRef(new Map<string, BoardVisit>());
  const loaded = useRef(false);
  const queued = useRef<Frame[]>([]);
  const measured = useRef<number[]>([]);
  const window_ = useMemo(() => dayWindow(date, timeZone), [date, timeZone]);
  const windowRef = useRef(window_);
  windowRef.current = window_;

  const redraw = useCallback(() => setVersion((v) => v + 1), []);

  const addVisit = useCallback(
    async (id: string) => {
      const visit = await api<Visit>("GET", `/visits/${id}`);
      const { from, to } = windowRef.current;
      if (Date.parse(visit.scheduled_end) > from && Date.parse(visit.scheduled_start) < to) {
        visits.current.set(id, fromVisit(visit));
        redraw();
      }
    },
    [redraw],
  );

  const apply = useCallback(
    (frame: Frame) => {
      setLastFrame(frame);
      const result = applyFrame(visits.current, frame);
      if (result && "unknown" in result) void addVisit(result.unknown).catch(() => {});
      else if (result) {
        measured.current.push(frame.sequence);
        redraw();
      }
    },
    [addVisit, redraw],
  );

  // The feed starts before the first load; frames that arrive meanwhile wait
  // and are applied after it (an older frame never undoes a newer row).
  useEffect(() => {
    const feed = new EventFeed(
      (frame) => {
        performance.mark(`frame-${frame.sequence}`);
        if (loaded.current) apply(frame);
        else queued.current.push(frame);
      },
      setFeedState,
    );
    feed.start();
    return () => feed.stop();
  }, [apply]);

  useEffect(() => {
    let cancelled = false;
    loaded.current = false;
    setLoadError(null);
    const { from, to } = window_;
    const range = `from=${encodeURIComponent(new Date(from).toISOString())}&to=${encodeURIComponent(new Date(to).toISOString())}`;
    Promise.all([
      all<Caregiver>("/caregivers"),
      all<Client>("/clients"),
      all<Visit>(`/visits?${range}`),
      api<{ late_check_in_minutes: number }>("GET", "/agency"),
    ])
      .then(([caregiverRows, clientRows, visitRows, agency]) => {
        if (cancelled) return;
        setCaregivers(caregiverRows);
        setClients(new Map(clientRows.map((c) => [c.id, c.name])));
        setLateMinutes(agency.late_check_in_minutes);
        visits.current = new Map(visitRows.map((v) => [v.id, fromVisit(v)]));
        loaded.current = true;
        for (const frame of queued.current.splice(0)) apply(frame);
        redraw();
        readyPending.current = true;
      })
      .catch((error) => !cancelled && setLoadError(String(error.message ?? error)));
    return () => {
      cancelled = true;
    };
  }, [window_, apply, redraw]);

  // The now-line moves each half minute (a clock, not a poll of the API).
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(timer);
  }, []);

  // When the day's blocks are first on the page (browser traces, the board bench).
  const readyPending = useRef(false);
  useEffect(() => {
    if (readyPending.current) {
      readyPending.current = false;
      performance.mark("board-ready");
    }
  });

  // How long a frame took to reach the page, for browser traces.
  useEffect(() => {
    for (const sequence of measured.current.splice(0)) {
      try {
        performance.measure("event-to-render", `frame-${sequence}`);
        performance.clearMarks(`frame-${sequence}`);
      } catch {
        /* the mark was cleared already */
      }
    }
  });

  // A caregiver or client added since the load (a frame names them): fetch
  // the lists again.
  // Each unknown id is looked up once.
  const fetchingNames = useRef(false);
  const lookedUp = useRef(new Set<string>());
  useEffect(() => {
    const known = new Set(caregivers.map((c) => c.id));
    const missing = [...visits.current.values()]
      .flatMap((v) => [...(clients.has(v.clientId) ? [] : [v.clientId]), ...v.caregiverIds.filter((id) => !known.has(id))])
      .filter((id) => !lookedUp.current.has(id));
    if (!missing.length || fetchingNames.current || !loaded.current) return;
    missing.forEach((id) => lookedUp.current.add(id));
    fetchingNames.current = true;
    Promise.all([all<Caregiver>("/caregivers"), all<Client>("/clients")])
      .then(([caregiverRows, clientRows]) => {
        setCaregivers(caregiverRows);
        setClients(new Map(clientRows.map((c) => [c.id, c.name])));
      })
      .catch(() => {})
      .finally(() => (fetchingNames.current = false));
  });

  const order = useMemo(
    () => [...caregivers].filter((c) => c.active).sort((a, b) => a.name.localeCompare(b.name)).map((c) => c.id),
    [caregivers],
  );
  const names = useMemo(() => new Map(caregivers.map((c) => [c.id, c.name])), [caregivers]);
  const shown = [...visits.current.values()].filter((v) => v.end > window_.from && v.start < window_.to);
  const board = lanes(shown, order);
  const total = counts(shown, now, lateMinutes);
  const hours = Array.from({ length: 25 }, (_, h) => h);
  const span = window_.to - window_.from;
  const nowLine = now >= window_.from && now < window_.to ? ((now - window_.from) / span) * 100 : null;

  return (
    <div className="console">
      <header className="topbar">
        <h1>homecare</h1>
        <nav aria-label="Pages" className="pages">
          {PAGES.filter(([key]) => mayView(key, user)).map(([key, label, path]) => (
            <a
              key={key}
              href={path}
              aria-current={view === key ? "page" : undefined}
              onClick={(e) => {
                e.preventDefault();
                history.pushState(null, "", path);
                setView(key);
              }}
            >
              {label}
            </a>
          ))}
        </nav>
        <div className="controls">
          <label>
            Day <input type="date" value={date} onChange={(e) => e.target.value && setDate(e.target.value)} />
          </label>
          <label>
            Time zone{" "}
            <select value={timeZone} onChange={(e) => setTimeZone(e.target.value)}>
              {ZONES.map((zone) => (
                <option key={zone}>{zone}</option>
              ))}
            </select>
          </label>
          {user.role !== "billing" && (
            <button type="button" onClick={() => setPlanning(true)}>
              Plan the day
            </button>
          )}
          <span role="status" className={`feed feed-${feedState}`} data-testid="feed-state">
            {FEED_LABELS[feedState]}
          </span>
        </div>
        <div className="who">
          <span className="who-name">
            <span>{user.display_name}</span>
            <span className="who-role">{user.role}</span>
          </span>
          <button type="button" onClick={() => logout()}>
            Sign out
          </button>
        </div>
      </header>
      <section aria-label="Counts" className="counts">
        {(
          [
            ["visits", "Visits"],
            ["unfilled", "Unfilled"],
            ["late", "Late"],
            ["held", "Held"],
            ["invoiced", "Invoiced"],
          ] as const
        ).map(([key, label]) => (
          <div key={key} className={`count count-${key}`} data-testid={`count-${key}`}>
            <span className="count-value">{total[key]}</span> {label}
          </div>
        ))}
      </section>
      {loadError && (
        <p role="alert" className="problem">
          {loadError}
        </p>
      )}
      {view === "users" && <Users caregivers={caregivers} me={user} />}
      {view === "billing" && <Billing clients={clients} />}
      {view === "payers" && <Payers />}
      {view === "holds" && <Holds clients={clients} names={names} timeZone={timeZone} lastFrame={lastFrame} />}
      <main className="board" aria-label="Day board" hidden={view !== "board"}>
        <div className="axis" aria-hidden="true">
          <div className="lane-name" />
          <div className="track">
            {hours.map((h) => (
              <span key={h} className="tick" style={{ left: `${((h * 3600_000) / span) * 100}%` }}>
                {h < 24 ? clock(window_.from + h * 3600_000, timeZone) : ""}
              </span>
            ))}
          </div>
        </div>
        <ul className="lanes">
          {board.map((lane) => {
            const stacked = stackRows(lane.visits);
            return (
              <li
                key={lane.caregiverId ?? "unfilled"}
                className={lane.caregiverId ? "lane" : "lane lane-unfilled"}
                style={{ minHeight: `${0.6 + stacked.rows * 2.3}rem` }}
              >
                <div className="lane-name">
                  <h2>{lane.caregiverId ? (names.get(lane.caregiverId) ?? "Unknown") : "Unfilled"}</h2>
                  {lane.caregiverId && (
                    <button
                      type="button"
                      className="callout-button"
                      onClick={() => setCallingOut(lane.caregiverId)}
                      aria-label={`Record a call-out for ${names.get(lane.caregiverId) ?? "this caregiver"}`}
                    >
                      Call out
                    </button>
                  )}
                </div>
                <div className="track">
                  {nowLine !== null && <div className="now-line" style={{ left: `${nowLine}%` }} aria-hidden="true" />}
                  {lane.visits.map((visit) => (
                    <Block
                      key={visit.id}
                      visit={visit}
                      state={displayState(visit, now, lateMinutes)}
                      client={clients.get(visit.clientId) ?? "Client"}
                      timeZone={timeZone}
                      dayFrom={window_.from}
                      dayTo={window_.to}
                      row={stacked.row.get(visit.id) ?? 0}
                      onSelect={setSelected}
                    />
                  ))}
                </div>
              </li>
            );
          })}
        </ul>
      </main>
      {planning && (
        <PlanDay date={date} timeZone={timeZone} lastFrame={lastFrame} onClose={() => setPlanning(false)} />
      )}
      {callingOut && (
        <CallOut
          key={callingOut}
          caregiverId={callingOut}
          name={names.get(callingOut) ?? "The caregiver"}
          timeZone={timeZone}
          dayEnd={window_.to}
          onClose={() => setCallingOut(null)}
        />
      )}
      {selected && (
        <VisitPanel
          visitId={selected}
          timeZone={timeZone}
          names={names}
          clients={clients}
          onClose={() => setSelected(null)}
        />
      )}
    </div>
  );
}

/**
 * One visit's block. A frame replaces only the visit it changes, so memo
 * renders only that block again, not the whole day.
 */
const Block = memo(function Block(props: {
  visit: BoardVisit;
  state: BoardState;
  client: string;
  timeZone: string;
  dayFrom: number;
  dayTo: number;
  /** Which of its lane's rows (overlapping visits stack). */
  row: number;
  onSelect: (id: string) => void;
}) {
  const { visit, state, client, timeZone, dayFrom, dayTo, row, onSelect } = props;
  const at = position(visit, dayFrom, dayTo);
  const times = `${clock(visit.start, timeZone)}–${clock(visit.end, timeZone)}`;
  return (
    <button
      type="button"
      className={`block state-${state}`}
      style={{ left: `${at.left}%`, width: `${Math.max(at.width, 0.8)}%`, top: `${0.3 + row * 2.3}rem` }}
      onClick={() => onSelect(visit.id)}
      title={`${client} ${STATE_LABELS[state]}, ${times}`}
      data-visit={visit.id}
      data-state={state}
    >
      {/* The button's name is its text (with the times for screen readers). */}
      <span className="block-client">{client}</span> <span className="block-state">{STATE_LABELS[state]}</span>
      <span className="visually-hidden">, {times}</span>
    </button>
  );
});
