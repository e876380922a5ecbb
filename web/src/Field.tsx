import type { ChangeEvent, ReactElement, ReactNode } from "react";
import { cloneElement, useState } from "react";
import type { ApiProblem } from "./api";

/**
 * A labelled input with the API's message for its field beside it (and tied
 * to it with aria-describedby). `name` is the API's field name.
 */
export function Field(props: { id: string; name: string; label: string; problem: ApiProblem | null; children: ReactElement<Record<string, unknown>> }) {
  const { id, name, label, problem, children } = props;
  const message = problem?.fieldError(name);
  const errorId = `${id}-error`;
  return (
    <>
      <label htmlFor={id}>{label}</label>
      {cloneElement(children, {
        id,
        "aria-invalid": Boolean(message),
        "aria-describedby": message ? errorId : undefined,
      })}
      {message && (
        <span className="field-error" id={errorId}>
          {message}
        </span>
      )}
    </>
  );
}

/** A refusal that is not about one field (those appear beside their fields). */
export function ProblemAlert({ problem }: { problem: ApiProblem | null }) {
  if (!problem || problem.errors.length) return null;
  return (
    <p role="alert" className="problem">
      {problem.detail}
    </p>
  );
}

/** A side panel: its title, a close button named for it, and a refusal if any. */
export function Panel(props: { label: string; title: string; problem: ApiProblem | null; onClose: () => void; children: ReactNode }) {
  const { label, title, problem, onClose, children } = props;
  return (
    <aside className="panel" aria-label={label}>
      <div className="panel-head">
        <h2>{title}</h2>
        <button type="button" onClick={onClose} aria-label={`Close the ${label.toLowerCase()} panel`}>
          ×
        </button>
      </div>
      <ProblemAlert problem={problem} />
      {children}
    </aside>
  );
}

/** A form's text inputs bound to one state object, each with the API's message for its field. */
export function useForm<T extends Record<string, string>>(initial: T, prefix: string, problem: ApiProblem | null) {
  const [form, setForm] = useState(initial);
  const bind = (name: keyof T & string) => ({
    value: form[name],
    onChange: (e: ChangeEvent<HTMLInputElement | HTMLSelectElement>) => setForm({ ...form, [name]: e.target.value }),
  });
  const field = (name: keyof T & string, label: string, input: ReactElement<Record<string, unknown>>) => (
    <Field id={`${prefix}-${name}`} name={name} label={label} problem={problem}>
      {input}
    </Field>
  );
  return { form, reset: () => setForm(initial), bind, field };
}

/** A select's options from a generated code list (value and, unless `label` says otherwise, text). */
export function Options({ values, label }: { values: readonly string[]; label?: (value: string) => string }) {
  return (
    <>
      {values.map((value) => (
        <option key={value} value={value}>
          {label ? label(value) : value}
        </option>
      ))}
    </>
  );
}

/** A table's column headings; `action` adds a last, visually hidden "Action" column. */
export function TableHead({ columns, action = false }: { columns: readonly string[]; action?: boolean }) {
  return (
    <thead>
      <tr>
        {columns.map((column) => (
          <th key={column} scope="col">
            {column}
          </th>
        ))}
        {action && (
          <th scope="col">
            <span className="visually-hidden">Action</span>
          </th>
        )}
      </tr>
    </thead>
  );
}
