import { useEffect, useState } from "react";
import { logout, refresh, whenSignedOut, type User } from "./api";
import { Board } from "./Board";
import { Login } from "./Login";

/** Signed in (the board), signed out (the sign-in page), or finding out. */
export function App() {
  const [user, setUser] = useState<User | null | undefined>(undefined);

  useEffect(() => {
    whenSignedOut(() => setUser(null));
    // A session survives a reload through the refresh cookie.
    refresh()
      .then((session) => setUser(session?.user ?? null))
      .catch(() => setUser(null));
  }, []);

  if (user === undefined) return <main className="centered" aria-busy="true">Loading…</main>;
  if (user === null) return <Login onSignedIn={setUser} />;
  if (user.role === "caregiver") {
    return (
      <main className="centered">
        <h1>homecare</h1>
        <p>The console is for the office. Caregivers use the caregiver app on their phone.</p>
        <p>
          <a href="/app/">Open the caregiver app</a>
        </p>
        <button type="button" onClick={() => logout()}>Sign out</button>
      </main>
    );
  }
  return <Board user={user} />;
}
