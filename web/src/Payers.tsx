import { useCallback, useEffect, useState, type FormEvent } from "react";
import { all, api, attempt, ApiProblem, type Schemas } from "./api";
import { Options, ProblemAlert, TableHead, useForm } from "./Field";
import { billingUnitValues, claimFilingIndicatorValues, rateRoundingValues } from "./generated/api";

type Payer = Schemas["Payer"];
type Rate = Schemas["Rate"];

const emptyPayer = { name: "", payer_identifier: "", claim_filing_indicator: "MC" };
const emptyRate = {
  service_code: "",
  unit_rate: "",
  effective_from: new Date().toISOString().slice(0, 10),
  effective_to: "",
  unit: "quarter_hour",
  rounding: "eight_minute",
  round_up_threshold_percent: "",
  modifiers: "",
  overtime_multiplier: "1",
  holiday_multiplier: "1",
};

/** Payers and their rate tables (billing staff and admins): what claims name and what a visit is worth. */
export function Payers() {
  const [payers, setPayers] = useState<Payer[]>([]);
  const [chosen, setChosen] = useState("");
  const [rates, setRates] = useState<Rate[]>([]);
  const [payerProblem, setPayerProblem] = useState<ApiProblem | null>(null);
  const [rateProblem, setRateProblem] = useState<ApiProblem | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const payerForm = useForm(emptyPayer, "payer", payerProblem);
  const rateForm = useForm(emptyRate, "rate", rateProblem);

  const loadPayers = useCallback(
    () =>
      attempt(setPayerProblem, async () => {
        const rows = await all<Payer>("/payers");
        setPayers(rows);
        setChosen((current) => current || rows[0]?.id || "");
      }),
    [],
  );
  useEffect(() => {
    loadPayers();
  }, [loadPayers]);
  const loadRates = useCallback(() => {
    if (chosen) attempt(setRateProblem, async () => setRates(await api<Rate[]>("GET", `/payers/${chosen}/rates`)));
  }, [chosen]);
  useEffect(loadRates, [loadRates]);

  async function createPayer(event: FormEvent) {
    event.preventDefault();
    setStatus(null);
    const payer = await attempt(setPayerProblem, () => api<Payer>("POST", "/payers", payerForm.form));
    if (!payer) return;
    setStatus(`Registered ${payer.name}.`);
    payerForm.reset();
    setChosen(payer.id);
    loadPayers();
  }

  async function createRate(event: FormEvent) {
    event.preventDefault();
    setStatus(null);
    const f = rateForm.form;
    const optional = (text: string) => (text.trim() === "" ? null : text.trim());
    const rate = await attempt(setRateProblem, () =>
      api<Rate>("POST", `/payers/${chosen}/rates`, {
        service_code: f.service_code.trim(),
        unit_rate: f.unit_rate.trim(),
        effective_from: f.effective_from,
        effective_to: optional(f.effective_to),
        unit: f.unit,
        rounding: f.rounding,
        round_up_threshold_percent: optional(f.round_up_threshold_percent),
        modifiers: f.modifiers.split(/[\s,]+/).filter(Boolean),
        overtime_multiplier: f.overtime_multiplier.trim(),
        holiday_multiplier: f.holiday_multiplier.trim(),
      }),
    );
    if (!rate) return;
    setStatus(`Added ${rate.service_code} at ${rate.unit_rate} per ${rate.unit.replace("_", " ")}.`);
    rateForm.reset();
    loadRates();
  }

  const payerName = payers.find((p) => p.id === chosen)?.name ?? "";
  const { bind: bindPayer, field: payerField } = payerForm;
  const { bind: bindRate, field: rateField } = rateForm;
  return (
    <main className="users" aria-label="Payers and rates">
      <h2>Payers and rates</h2>
      {status && <p role="status">{status}</p>}
      <ProblemAlert problem={payerProblem} />
      <table>
        <caption className="visually-hidden">Payers</caption>
        <TableHead columns={["Payer", "Claims id", "Filing indicator"]} action />
        <tbody>
          {payers.map((payer) => (
            <tr key={payer.id} aria-current={payer.id === chosen ? "true" : undefined}>
              <td>{payer.name}</td>
              <td>{payer.payer_identifier}</td>
              <td>{payer.claim_filing_indicator}</td>
              <td>
                <button type="button" onClick={() => setChosen(payer.id)} disabled={payer.id === chosen}>
                  {`Rates of ${payer.name}`}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="resolve" onSubmit={createPayer} aria-label="New payer">
        <h3>New payer</h3>
        {payerField("name", "Name", <input {...bindPayer("name")} />)}
        {payerField("payer_identifier", "Payer id on claims", <input {...bindPayer("payer_identifier")} />)}
        {payerField(
          "claim_filing_indicator",
          "Claim filing indicator",
          <select {...bindPayer("claim_filing_indicator")}>
            <Options values={claimFilingIndicatorValues} />
          </select>,
        )}
        <button type="submit">Register the payer</button>
      </form>
      {chosen && (
        <section aria-label={`Rates of ${payerName}`}>
          <h3>Rates of {payerName}</h3>
          <ProblemAlert problem={rateProblem} />
          <table>
            <TableHead columns={["Service", "Modifiers", "Rate", "Unit", "Rounding", "From", "To", "Overtime ×", "Holiday ×"]} />
            <tbody>
              {rates.map((rate) => (
                <tr key={rate.id}>
                  <td>{rate.service_code}</td>
                  <td>{rate.modifiers.join(" ")}</td>
                  <td className="amount">{rate.unit_rate}</td>
                  <td>{rate.unit.replace("_", " ")}</td>
                  <td>
                    {rate.rounding.replaceAll("_", " ")}
                    {rate.round_up_threshold_percent ? ` (${rate.round_up_threshold_percent}%)` : ""}
                  </td>
                  <td>{rate.effective_from}</td>
                  <td>{rate.effective_to ?? "open"}</td>
                  <td>{rate.overtime_multiplier}</td>
                  <td>{rate.holiday_multiplier}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <form className="resolve" onSubmit={createRate} aria-label="New rate">
            <h3>New rate</h3>
            {rateField("service_code", "Service code (HCPCS)", <input {...bindRate("service_code")} />)}
            {rateField("modifiers", "Modifiers (space-separated)", <input {...bindRate("modifiers")} />)}
            {rateField("unit_rate", "Rate per unit", <input inputMode="decimal" {...bindRate("unit_rate")} />)}
            {rateField(
              "unit",
              "Unit",
              <select {...bindRate("unit")}>
                <Options values={billingUnitValues} label={(unit) => unit.replace("_", " ")} />
              </select>,
            )}
            {rateField(
              "rounding",
              "Rounding",
              <select {...bindRate("rounding")}>
                <Options values={rateRoundingValues} label={(rounding) => rounding.replaceAll("_", " ")} />
              </select>,
            )}
            {rateForm.form.rounding === "round_up_threshold" &&
              rateField("round_up_threshold_percent", "Round up from (% of a unit)", <input inputMode="decimal" {...bindRate("round_up_threshold_percent")} />)}
            {rateField("effective_from", "From", <input type="date" {...bindRate("effective_from")} />)}
            {rateField("effective_to", "To (empty: open-ended)", <input type="date" {...bindRate("effective_to")} />)}
            {rateField("overtime_multiplier", "Overtime multiplier", <input inputMode="decimal" {...bindRate("overtime_multiplier")} />)}
            {rateField("holiday_multiplier", "Holiday multiplier", <input inputMode="decimal" {...bindRate("holiday_multiplier")} />)}
            <button type="submit">Add the rate</button>
          </form>
        </section>
      )}
    </main>
  );
}
