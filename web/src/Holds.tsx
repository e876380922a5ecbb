import { useCallback, useEffect, useState, type FormEvent } from "react";
import { all, api, attempt, ApiProblem, type Schemas } from "./api";
import type { Frame } from "./events";
import { ProblemAlert } from "./Field";
import { resolutionCodeValues } from "./generated/api";

type Held = Schemas["HeldVisit"];

/**
 * The EVV hold queue: completed visits with open exceptions, each resolved
 * with a reason code. A visit leaves the queue when its invoice line appears
 * (the `invoice.created` frame), not when the form is sent.
 */
export function Holds(props: {
  clients: Map<string, string>;
  names: Map<string, string>;
  timeZone: string;
  lastFrame: Frame | null;
}) {
  const { clients, names, timeZone, lastFrame } = props;
  const [held, setHeld] = useState<Held[]>([]);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(() => {
    all<Held>("/billing/holds")
      .then(setHeld)
      .catch((e) => setError(String(e.message ?? e)));
  }, []);
  useEffect(load, [load]);

  useEffect(() => {
    if (!lastFrame) return;
    const type = lastFrame.event.type;
    if (type === "homecare.invoice.created") {
      setHeld((list) => list.filter((h) => h.visit_id !== lastFrame.event.subject));
    } else if (type === "homecare.visit.held") {
      load();
    }
  }, [lastFrame, load]);

  const when = (at: string) =>
    new Intl.DateTimeFormat("en-GB", { timeZone, dateStyle: "medium", timeStyle: "short" }).format(Date.parse(at));

  return (
    <main className="holds" aria-label="EVV holds">
      <h2>Held visits ({held.length})</h2>
      {error && (
        <p role="alert" className="problem">
          {error}
        </p>
      )}
      {held.length === 0 && <p>No visit is held: every completed visit has been invoiced.</p>}
      <ul className="hold-list">
        {held.map((visit) => (
          <li key={visit.visit_id} className="hold" data-hold={visit.visit_id}>
            <h3>
              {clients.get(visit.client_id) ?? "Client"}, {when(visit.scheduled_start)}
              {visit.caregiver_id ? ` (${names.get(visit.caregiver_id) ?? "caregiver"})` : ""}
            </h3>
            {visit.exceptions.map((exception) => (
              <Resolve key={exception.id} visitId={visit.visit_id} exception={exception} />
            ))}
          </li>
        ))}
      </ul>
    </main>
  );
}

function describe(detail: Record<string, unknown> | undefined): string {
  if (!detail) return "";
  return Object.entries(detail)
    .map(([key, value]) => `${key.replace(/_/g, " ")}: ${typeof value === "number" ? Math.round(value) : String(value)}`)
    .join(", ");
}

function Resolve({ visitId, exception }: { visitId: string; exception: Held["exceptions"][number] }) {
  const [code, setCode] = useState<string>(resolutionCodeValues[0]);
  const [note, setNote] = useState("");
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [sent, setSent] = useState(false);
  const id = `${exception.id}`;

  async function submit(event: FormEvent) {
    event.preventDefault();
    const done = await attempt(setProblem, async () => {
      await api("POST", `/visits/${visitId}/exceptions/${exception.id}/resolve`, { resolution_code: code, note });
      return true;
    });
    if (done) setSent(true);
  }

  const codeError = problem?.fieldError("resolution_code");
  const noteError = problem?.fieldError("note");
  return (
    <form className="resolve" onSubmit={submit}>
      <p>
        <strong>{exception.code.replace(/_/g, " ")}</strong> {describe(exception.detail as Record<string, unknown>)}
      </p>
      <ProblemAlert problem={problem} />
      <label htmlFor={`code-${id}`}>Resolution</label>
      <select id={`code-${id}`} value={code} onChange={(e) => setCode(e.target.value)} aria-describedby={codeError ? `code-${id}-error` : undefined}>
        {resolutionCodeValues.map((value) => (
          <option key={value} value={value}>
            {value.replace(/_/g, " ")}
          </option>
        ))}
      </select>
      {codeError && (
        <span className="field-error" id={`code-${id}-error`}>
          {codeError}
        </span>
      )}
      <label htmlFor={`note-${id}`}>Note</label>
      <input id={`note-${id}`} value={note} onChange={(e) => setNote(e.target.value)} aria-describedby={noteError ? `note-${id}-error` : undefined} />
      {noteError && (
        <span className="field-error" id={`note-${id}-error`}>
          {noteError}
        </span>
      )}
      <button type="submit" disabled={sent}>
        {sent ? "Resolved: waiting for the invoice" : "Resolve"}
      </button>
    </form>
  );
}
