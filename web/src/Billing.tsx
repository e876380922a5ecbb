import { useEffect, useState, type FormEvent } from "react";
import { all, api, attempt, ApiProblem, token, type Schemas } from "./api";
import { Field, ProblemAlert, TableHead } from "./Field";

type Payer = Schemas["Payer"];
type InvoiceLine = Schemas["InvoiceLine"];
type Claim = Schemas["Claim"];
type Authorization = Schemas["AuthorizationView"];

/** Billing: a payer's invoice lines for a period, its claims and the 837P, and a client's authorizations. */
export function Billing({ clients }: { clients: Map<string, string> }) {
  const [payers, setPayers] = useState<Payer[]>([]);
  const [payer, setPayer] = useState("");
  const month = new Date().toISOString().slice(0, 7);
  const [from, setFrom] = useState(`${month}-01`);
  const [to, setTo] = useState(new Date().toISOString().slice(0, 10));
  const [lines, setLines] = useState<InvoiceLine[]>([]);
  const [claims, setClaims] = useState<Claim[]>([]);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [download, setDownload] = useState<string | null>(null);
  const [formed, setFormed] = useState<string[]>([]);
  const [client, setClient] = useState("");
  const [authorizations, setAuthorizations] = useState<Authorization[]>([]);

  useEffect(() => {
    all<Payer>("/payers").then((rows) => {
      setPayers(rows);
      setPayer((p) => p || rows[0]?.id || "");
    });
  }, []);

  const period = `payer_id=${payer}&from=${from}&to=${to}`;
  async function show(event?: FormEvent) {
    event?.preventDefault();
    await attempt(setProblem, async () => {
      setLines(await all<InvoiceLine>(`/invoice-lines?${period}`));
      setClaims(await api<Claim[]>("GET", `/claims?${period}`));
    });
  }

  async function formClaims() {
    setFormed([]);
    const result = await attempt(setProblem, () => api<Schemas["FormedClaims"]>("POST", "/claims", { payer_id: payer, from, to }));
    if (!result) return;
    setFormed([
      result.claims.length ? `Formed ${result.claims.length} claim(s).` : "Nothing new to claim in the period.",
      ...result.not_claimable.map((n) => `${clients.get(n.client_id) ?? n.client_id}: ${n.lines} line(s) not claimed, ${n.reason}.`),
    ]);
    await show();
  }

  async function export837p() {
    setProblem(null);
    const response = await fetch(`/v1/claims/837p?${period}`, { headers: { authorization: `Bearer ${token()}` } });
    if (!response.ok) {
      setProblem(new ApiProblem(response.status, "", (await response.json().catch(() => ({}))).detail ?? response.statusText));
      return;
    }
    if (download) URL.revokeObjectURL(download);
    setDownload(URL.createObjectURL(await response.blob()));
  }

  useEffect(() => {
    if (!client) return;
    api<Authorization[]>("GET", `/clients/${client}/authorizations?on=${to}`).then(setAuthorizations, () => setAuthorizations([]));
  }, [client, to]);

  const total = lines.reduce((sum, line) => sum + Number(line.amount), 0);
  return (
    <main className="users" aria-label="Billing">
      <h2>Billing</h2>
      <ProblemAlert problem={problem} />
      <form className="resolve" onSubmit={show} aria-label="Billing period">
        <label htmlFor="billing-payer">Payer</label>
        <select id="billing-payer" value={payer} onChange={(e) => setPayer(e.target.value)}>
          {payers.map((p) => (
            <option key={p.id} value={p.id}>
              {p.name}
            </option>
          ))}
        </select>
        <Field id="billing-from" name="from" label="From" problem={problem}>
          <input type="date" value={from} onChange={(e) => setFrom(e.target.value)} />
        </Field>
        <Field id="billing-to" name="to" label="To" problem={problem}>
          <input type="date" value={to} onChange={(e) => setTo(e.target.value)} />
        </Field>
        <button type="submit">Show the period</button>
      </form>
      <h3>
        Invoice lines ({lines.length}, {total.toFixed(2)})
      </h3>
      <table>
        <TableHead columns={["Date", "Client", "Service", "Units", "Amount", "Claim"]} />
        <tbody>
          {lines.map((line) => (
            <tr key={line.id}>
              <td>{line.service_date}</td>
              <td>{clients.get(line.client_id) ?? line.client_id}</td>
              <td>{line.service_code}</td>
              <td className="amount">{line.units}</td>
              <td className="amount">{line.amount}</td>
              <td>{line.claim_id ? "claimed" : line.units > 0 ? "open" : "not billable (0 units)"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Claims ({claims.length})</h3>
      <ul>
        {claims.map((claim) => (
          <li key={claim.id}>
            Claim {claim.number}: {clients.get(claim.client_id) ?? claim.client_id}, {claim.line_count} line(s),{" "}
            {claim.total}
          </li>
        ))}
      </ul>
      <div className="buttons">
        <button type="button" onClick={formClaims} disabled={!payer}>
          Form claims for the period
        </button>
        <button type="button" onClick={export837p} disabled={!payer}>
          Prepare the 837P file
        </button>
        {download && (
          <a href={download} download={`claims-${from}-${to}.x12`}>
            Download the 837P
          </a>
        )}
      </div>
      {formed.length > 0 && (
        <div role="status" aria-label="Forming claims" className="notice">
          <ul>
            {formed.map((text) => (
              <li key={text}>{text}</li>
            ))}
          </ul>
        </div>
      )}
      <h3>Authorizations</h3>
      <label htmlFor="billing-client">Client</label>{" "}
      <select id="billing-client" value={client} onChange={(e) => setClient(e.target.value)}>
        <option value="">Choose…</option>
        {[...clients].map(([id, name]) => (
          <option key={id} value={id}>
            {name}
          </option>
        ))}
      </select>
      <ul>
        {authorizations.map((a) => (
          <li key={a.id}>
            {a.service_code} {a.period_start}–{a.period_end}: {a.used_units} of {a.units} units used, {a.remaining_units}{" "}
            left
          </li>
        ))}
      </ul>
    </main>
  );
}
