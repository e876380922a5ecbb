import { useState, type FormEvent } from "react";
import { ApiProblem, login, type User } from "./api";
import { Field, ProblemAlert } from "./Field";

/** The sign-in page: the API's field errors beside the fields, its refusals above. */
export function Login({ onSignedIn }: { onSignedIn: (user: User) => void }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      const session = await login(email, password);
      onSignedIn(session.user);
    } catch (error) {
      setProblem(error instanceof ApiProblem ? error : new ApiProblem(0, "", String(error)));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="centered">
      <form className="login" onSubmit={submit} noValidate aria-labelledby="login-title">
        <h1 id="login-title">Sign in to homecare</h1>
        <ProblemAlert problem={problem} />
        <Field id="email" name="email" label="E-mail address" problem={problem}>
          <input type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} />
        </Field>
        <Field id="password" name="password" label="Password" problem={problem}>
          <input
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </Field>
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
