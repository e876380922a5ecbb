// What the phone keeps (IndexedDB): the visits last seen and who saw them,
// so the app opens with no network, and the check-ins and check-outs waiting
// to be sent, each with its device time, position and the Idempotency-Key
// made at the tap. No token is ever stored: the session lives in the
// httpOnly refresh cookie.
import { openDB, type DBSchema, type IDBPDatabase } from "idb";
import type { Schemas, User } from "../api";

export type MyVisit = Schemas["MyVisit"];
export type EvvAction = "check-in" | "check-out";

/** A tap not yet answered by the platform, or refused by it. */
export interface Queued {
  key: string;
  visitId: string;
  /** The visit as the caregiver knew it at the tap ("Eleanor P., 9:00 AM"), for when it is gone from the list. */
  label: string;
  action: EvvAction;
  body: { caregiver_id: string; at: string; latitude: number; longitude: number };
  /** When the tap happened (device clock), for the order they are sent in. */
  tappedAt: number;
  state: "waiting" | "refused";
  /** The platform's reason, for a refused one. */
  reason?: string;
}

interface AppSchema extends DBSchema {
  outbox: { key: string; value: Queued; indexes: { tappedAt: number } };
  seen: { key: string; value: { user: User; visits: MyVisit[]; at: number } };
}

let opened: Promise<IDBPDatabase<AppSchema>> | null = null;
function db() {
  opened ??= openDB<AppSchema>("homecare-app", 1, {
    upgrade(database) {
      database.createObjectStore("outbox", { keyPath: "key" }).createIndex("tappedAt", "tappedAt");
      database.createObjectStore("seen");
    },
  });
  return opened;
}

export async function queued(): Promise<Queued[]> {
  return (await db()).getAllFromIndex("outbox", "tappedAt");
}

export async function enqueue(entry: Queued): Promise<void> {
  await (await db()).put("outbox", entry);
}

export async function dequeue(key: string): Promise<void> {
  await (await db()).delete("outbox", key);
}

export async function remember(user: User, visits: MyVisit[]): Promise<void> {
  await (await db()).put("seen", { user, visits, at: Date.now() }, "last");
}

export async function lastSeen(): Promise<{ user: User; visits: MyVisit[]; at: number } | undefined> {
  return (await db()).get("seen", "last");
}

/** Signing out forgets everything this phone kept. */
export async function forget(): Promise<void> {
  const database = await db();
  await database.clear("seen");
  await database.clear("outbox");
}
