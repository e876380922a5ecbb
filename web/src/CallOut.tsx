import { useMemo, useState, type FormEvent } from "react";
import { api, attempt, ApiProblem, type Schemas } from "./api";
import { Field, Panel } from "./Field";
import { instantOf, localInput } from "./time";

/**
 * Records a caregiver's call-out: the platform moves each affected visit to
 * someone else or marks it unfilled, and the board shows it as it happens.
 */
export function CallOut(props: { caregiverId: string; name: string; timeZone: string; dayEnd: number; onClose: () => void }) {
  const { caregiverId, name, timeZone, dayEnd, onClose } = props;
  const [start, setStart] = useState(() => localInput(Date.now(), timeZone));
  const [end, setEnd] = useState(() => localInput(Math.max(dayEnd, Date.now() + 3600_000), timeZone));
  const [reason, setReason] = useState("");
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [answer, setAnswer] = useState<string | null>(null);
  // One key per form: a double click or a retry records one call-out.
  const key = useMemo(() => crypto.randomUUID(), []);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const result = await attempt(setProblem, () =>
      api<Schemas["CallOutResponse"]>(
        "POST",
        `/caregivers/${caregiverId}/call-outs`,
        { start: instantOf(start, timeZone), end: instantOf(end, timeZone), reason },
        { "idempotency-key": key },
      ),
    );
    if (!result) return;
    const moved = result.changes.filter((c) => c.status === "assigned").length;
    const unfilled = result.changes.filter((c) => c.status === "unfilled").length;
    setAnswer(
      result.status === "decided"
        ? `Recorded: ${moved} visit(s) moved to someone else, ${unfilled} unfilled.`
        : "Recorded: the visits are being re-decided; watch them move on the board.",
    );
  }

  return (
    <Panel label="Call-out" title={`${name} calls out`} problem={problem} onClose={onClose}>
      {answer ? (
        <p role="status">{answer}</p>
      ) : (
        <form className="action" onSubmit={submit}>
          <Field id="callout-start" name="start" label="From" problem={problem}>
            <input type="datetime-local" value={start} onChange={(e) => setStart(e.target.value)} />
          </Field>
          <Field id="callout-end" name="end" label="Until" problem={problem}>
            <input type="datetime-local" value={end} onChange={(e) => setEnd(e.target.value)} />
          </Field>
          <Field id="callout-reason" name="reason" label="Reason" problem={problem}>
            <input value={reason} onChange={(e) => setReason(e.target.value)} />
          </Field>
          <button type="submit">Record the call-out</button>
        </form>
      )}
    </Panel>
  );
}
