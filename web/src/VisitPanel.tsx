import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, attempt, ApiProblem, type Schemas } from "./api";
import { Field, Panel } from "./Field";
import { instantOf, localInput } from "./time";

type Detail = Schemas["VisitDetail"];
type Candidates = Schemas["CandidatesView"];
type TimelineEvent = Schemas["TimelineEvent"];

function when(at: string, timeZone: string): string {
  return new Intl.DateTimeFormat("en-GB", {
    timeZone,
    weekday: "short",
    hour: "2-digit",
    minute: "2-digit",
  }).format(Date.parse(at));
}

/** A visit's side panel: details, timeline, candidates and what a coordinator can do. */
export function VisitPanel(props: {
  visitId: string;
  timeZone: string;
  names: Map<string, string>;
  clients: Map<string, string>;
  onClose: () => void;
}) {
  const { visitId, timeZone, names, clients, onClose } = props;
  const [detail, setDetail] = useState<Detail | null>(null);
  const [timeline, setTimeline] = useState<TimelineEvent[]>([]);
  const [candidates, setCandidates] = useState<Candidates | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [overrideReason, setOverrideReason] = useState("");
  const [cancelReason, setCancelReason] = useState("");
  const [start, setStart] = useState("");
  const [end, setEnd] = useState("");

  const load = useCallback(async () => {
    const [visit, events] = await Promise.all([
      api<Detail>("GET", `/visits/${visitId}`),
      api<TimelineEvent[]>("GET", `/visits/${visitId}/events`),
    ]);
    setDetail(visit);
    setTimeline(events);
    setStart((s) => s || localInput(Date.parse(visit.scheduled_start), timeZone));
    setEnd((e) => e || localInput(Date.parse(visit.scheduled_end), timeZone));
    if (["scheduled", "unfilled", "assigned"].includes(visit.status)) {
      setCandidates(await api<Candidates>("GET", `/visits/${visitId}/candidates`));
    } else {
      setCandidates(null);
    }
  }, [visitId, timeZone]);

  useEffect(() => {
    setStart("");
    setEnd("");
    load().catch((e) => setProblem(e instanceof ApiProblem ? e : null));
  }, [load]);

  async function act(run: () => Promise<unknown>) {
    await attempt(setProblem, async () => {
      await run();
      await load();
    });
  }

  const reschedule = (event: FormEvent) => {
    event.preventDefault();
    void act(() =>
      api("POST", `/visits/${visitId}/reschedule`, { scheduled_start: instantOf(start, timeZone), scheduled_end: instantOf(end, timeZone) }),
    );
  };
  const cancel = (event: FormEvent) => {
    event.preventDefault();
    void act(() => api("POST", `/visits/${visitId}/cancel`, { reason: cancelReason }));
  };
  const assign = (caregiverId: string) =>
    act(() =>
      api("PUT", `/visits/${visitId}/assignment`, {
        caregiver_ids: [caregiverId],
        ...(overrideReason.trim() ? { override_reason: overrideReason } : {}),
      }),
    );

  const temporal = `${location.protocol}//${location.hostname}:8233/namespaces/default/workflows/${detail?.workflow.workflow_id ?? ""}`;

  return (
    <Panel label="Visit" title={detail ? (clients.get(detail.client_id) ?? "Visit") : "Visit"} problem={problem} onClose={onClose}>
      {detail && (
        <>
          <dl className="facts">
            <dt>When</dt>
            <dd>
              {when(detail.scheduled_start, timeZone)}–{when(detail.scheduled_end, timeZone)}
            </dd>
            <dt>State</dt>
            <dd data-testid="panel-status">{detail.status.replace("_", " ")}</dd>
            <dt>Caregivers</dt>
            <dd>{detail.caregiver_ids.map((id) => names.get(id) ?? id).join(", ") || "nobody yet"}</dd>
            <dt>Service</dt>
            <dd>{detail.service_code}</dd>
            <dt>Workflow</dt>
            <dd>
              <a href={temporal} target="_blank" rel="noreferrer">
                {detail.workflow.workflow_id} in the Temporal UI
              </a>
            </dd>
          </dl>
          <h3>Timeline</h3>
          <ol className="timeline">
            {timeline.map((event) => (
              <li key={event.event_id}>
                <time dateTime={event.occurred_at}>{when(event.occurred_at, timeZone)}</time>{" "}
                {event.type.replace("homecare.", "").replace(/[._]/g, " ")}
              </li>
            ))}
          </ol>
          {candidates && (
            <>
              <h3>Candidates</h3>
              <Field id="override_reason" name="override_reason" label="Weekly-cap override reason (if needed)" problem={problem}>
                <input value={overrideReason} onChange={(e) => setOverrideReason(e.target.value)} />
              </Field>
              <ul className="candidates">
                {candidates.eligible.map((c) => (
                  <li key={c.caregiver_id}>
                    <strong>{c.name}</strong> score {c.score.total.toFixed(2)}
                    <span className="terms">
                      continuity {c.score.continuity.toFixed(2)}, preferred {c.score.preferred.toFixed(2)}, travel{" "}
                      {c.score.travel.toFixed(2)} ({c.score.travel_minutes} min), overtime {c.score.overtime.toFixed(2)},
                      balance {c.score.balance.toFixed(2)}
                    </span>
                    <button type="button" onClick={() => assign(c.caregiver_id)}>
                      Assign {c.name}
                    </button>
                  </li>
                ))}
              </ul>
              {candidates.ineligible.length > 0 && (
                <details>
                  <summary>Why not the others ({candidates.ineligible.length})</summary>
                  <ul className="candidates">
                    {candidates.ineligible.map((c) => (
                      <li key={c.caregiver_id}>
                        <strong>{c.name}</strong>:{" "}
                        {c.violations.map((v) => Object.values(v).filter((x) => typeof x === "string").join(": ")).join("; ")}
                      </li>
                    ))}
                  </ul>
                </details>
              )}
            </>
          )}
          {["scheduled", "unfilled", "assigned"].includes(detail.status) && (
            <>
              <form onSubmit={reschedule} className="action">
                <h3>Reschedule</h3>
                <Field id="scheduled_start" name="scheduled_start" label="Start" problem={problem}>
                  <input type="datetime-local" value={start} onChange={(e) => setStart(e.target.value)} />
                </Field>
                <Field id="scheduled_end" name="scheduled_end" label="End" problem={problem}>
                  <input type="datetime-local" value={end} onChange={(e) => setEnd(e.target.value)} />
                </Field>
                <button type="submit">Reschedule</button>
              </form>
              <form onSubmit={cancel} className="action">
                <h3>Cancel</h3>
                <Field id="reason" name="reason" label="Reason" problem={problem}>
                  <input value={cancelReason} onChange={(e) => setCancelReason(e.target.value)} />
                </Field>
                <button type="submit">Cancel the visit</button>
              </form>
            </>
          )}
        </>
      )}
    </Panel>
  );
}
