import type { ReactElement } from "react";
import { cloneElement } from "react";
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
