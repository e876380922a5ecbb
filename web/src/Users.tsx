import { useCallback, useEffect, useState, type FormEvent } from "react";
import { all, api, attempt, ApiProblem, type Caregiver, type User } from "./api";
import { Options, ProblemAlert, TableHead, useForm } from "./Field";
import { roleValues } from "./generated/api";

const emptyUser = { email: "", display_name: "", role: "coordinator", caregiver_id: "", password: "" };

/** Accounts (admins): who may sign in, with which role; deactivation ends sessions at once. */
export function Users({ caregivers, me }: { caregivers: Caregiver[]; me: User }) {
  const [users, setUsers] = useState<User[]>([]);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const { form, reset, bind, field } = useForm(emptyUser, "user", problem);
  const [created, setCreated] = useState<string | null>(null);

  const load = useCallback(() => {
    all<User>("/users").then(setUsers).catch((e) => setProblem(e instanceof ApiProblem ? e : null));
  }, []);
  useEffect(load, [load]);

  async function create(event: FormEvent) {
    event.preventDefault();
    setCreated(null);
    const user = await attempt(setProblem, () =>
      api<User>("POST", "/users", {
        email: form.email,
        display_name: form.display_name,
        role: form.role,
        caregiver_id: form.role === "caregiver" && form.caregiver_id ? form.caregiver_id : null,
        password: form.password,
      }),
    );
    if (!user) return;
    setCreated(user.email);
    reset();
    load();
  }

  async function setActive(user: User, active: boolean) {
    await attempt(setProblem, () => api("PATCH", `/users/${user.id}`, { active }));
    load();
  }

  return (
    <main className="users" aria-label="Users">
      <h2>Users</h2>
      <ProblemAlert problem={problem} />
      <table>
        <TableHead columns={["Name", "E-mail", "Role", "State"]} action />
        <tbody>
          {users.map((user) => (
            <tr key={user.id}>
              <td>{user.display_name}</td>
              <td>{user.email}</td>
              <td>{user.role}</td>
              <td>{user.active ? "active" : "deactivated"}</td>
              <td>
                {user.id !== me.id && (
                  <button type="button" onClick={() => setActive(user, !user.active)}>
                    {user.active ? `Deactivate ${user.display_name}` : `Reactivate ${user.display_name}`}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="resolve" onSubmit={create} aria-label="New user">
        <h3>New user</h3>
        {created && <p role="status">Created {created}.</p>}
        {field("email", "E-mail address", <input type="email" {...bind("email")} />)}
        {field("display_name", "Name", <input {...bind("display_name")} />)}
        {field(
          "role",
          "Role",
          <select {...bind("role")}>
            <Options values={roleValues} />
          </select>,
        )}
        {form.role === "caregiver" &&
          field(
            "caregiver_id",
            "Caregiver",
            <select {...bind("caregiver_id")}>
              <option value="">Choose…</option>
              {caregivers.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>,
          )}
        {field("password", "Password (12+ characters)", <input type="password" autoComplete="new-password" {...bind("password")} />)}
        <button type="submit">Create the user</button>
      </form>
    </main>
  );
}
