import { useEffect, useState } from "react";
import { api, attempt, ApiProblem, type Schemas } from "./api";
import type { Frame } from "./events";
import { Panel } from "./Field";

type Plan = Schemas["Plan"];

/**
 * Plans the board's day with the optimizer: a progress bar while it searches
 * (its time limit is known), the figures once `homecare.plan.completed`
 * arrives; the board redraws from the assignment frames on its own.
 */
export function PlanDay(props: { date: string; timeZone: string; lastFrame: Frame | null; onClose: () => void }) {
  const { date, timeZone, lastFrame, onClose } = props;
  const [plan, setPlan] = useState<Plan | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [seconds, setSeconds] = useState(10);
  const [now, setNow] = useState(Date.now());

  useEffect(() => {
    if (plan?.status !== "running") return;
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, [plan?.status]);

  useEffect(() => {
    if (!plan || lastFrame?.event.type !== "homecare.plan.completed" || lastFrame.event.subject !== plan.id) return;
    api<Plan>("GET", `/plans/${plan.id}`).then(setPlan, (e) => setProblem(e instanceof ApiProblem ? e : null));
  }, [lastFrame, plan]);

  async function start() {
    const started = await attempt(setProblem, () => api<Plan>("POST", "/plans", { date, timezone: timeZone, time_limit_seconds: seconds }));
    if (started) setPlan(started);
  }

  const elapsed = plan ? (now - Date.parse(plan.created_at)) / 1000 : 0;
  const share = plan ? Math.min(1, elapsed / plan.time_limit_seconds) : 0;
  return (
    <Panel label="Plan" title={`Plan ${date}`} problem={problem} onClose={onClose}>
      {!plan && (
        <div className="action">
          <label htmlFor="plan-seconds">Search for (seconds)</label>
          <input
            id="plan-seconds"
            type="number"
            min={1}
            max={600}
            value={seconds}
            onChange={(e) => setSeconds(Number(e.target.value))}
          />
          <button type="button" onClick={start}>
            Plan the day
          </button>
        </div>
      )}
      {plan?.status === "running" && (
        <div role="status">
          <p>The optimizer is searching…</p>
          <progress max={1} value={share} aria-label="Optimizer progress" />
        </div>
      )}
      {plan && plan.status !== "running" && (
        <dl className="facts" data-testid="plan-figures">
          <dt>Outcome</dt>
          <dd>{plan.status}</dd>
          <dt>Visits</dt>
          <dd>{plan.visits ?? "–"}</dd>
          <dt>Travel</dt>
          <dd>{plan.travel_minutes?.toFixed(0) ?? "–"} min</dd>
          <dt>Lateness</dt>
          <dd>
            {plan.lateness_minutes?.toFixed(0) ?? "–"} min (at most {plan.max_lateness_minutes?.toFixed(0) ?? "–"})
          </dd>
          <dt>Changed</dt>
          <dd>{plan.changed ?? "–"}</dd>
          <dt>Unfilled</dt>
          <dd>{plan.unfilled ?? "–"}</dd>
        </dl>
      )}
    </Panel>
  );
}
