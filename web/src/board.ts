// The day board's model, pure: what state a visit shows, which lane it is in,
// where its block sits on the time axis, and the counts. Live frames update it
// from the visit summary every visit event carries.
import type { Visit } from "./api";
import type { Frame } from "./events";
import type { components } from "./generated/events";

type EventSchemas = components["schemas"];

export const BOARD_STATES = [
  "scheduled",
  "assigned",
  "checked_in",
  "late",
  "completed",
  "held",
  "invoiced",
  "missed",
  "cancelled",
  "unfilled",
] as const;
export type BoardState = (typeof BOARD_STATES)[number];

export const STATE_LABELS: Record<BoardState, string> = {
  scheduled: "scheduled",
  assigned: "assigned",
  checked_in: "checked in",
  late: "late",
  completed: "completed",
  held: "held",
  invoiced: "invoiced",
  missed: "missed check-out",
  cancelled: "cancelled",
  unfilled: "unfilled",
};

export interface BoardVisit {
  id: string;
  clientId: string;
  status: Visit["status"];
  caregiverIds: string[];
  start: number;
  end: number;
  /** The workflow's late timer fired, or the start passed the agency's grace. */
  lateAlert: boolean;
  held: boolean;
  missedCheckOut: boolean;
  /** The newest change applied (ms), so an older frame never undoes a newer row. */
  changedAt: number;
}

export function fromVisit(visit: Visit): BoardVisit {
  return {
    id: visit.id,
    clientId: visit.client_id,
    status: visit.status,
    caregiverIds: visit.caregiver_ids.length
      ? visit.caregiver_ids
      : visit.caregiver_id
        ? [visit.caregiver_id]
        : [],
    start: Date.parse(visit.scheduled_start),
    end: Date.parse(visit.scheduled_end),
    lateAlert: false,
    held: false,
    missedCheckOut: false,
    changedAt: Date.parse(visit.updated_at),
  };
}

/** What the board shows for a visit at `now`, given the agency's late grace. */
export function displayState(visit: BoardVisit, now: number, lateMinutes: number): BoardState {
  switch (visit.status) {
    case "cancelled":
      return "cancelled";
    case "invoiced":
      return "invoiced";
    case "completed":
      return visit.held ? "held" : visit.missedCheckOut ? "missed" : "completed";
    case "checked_in":
      return "checked_in";
    case "unfilled":
      return "unfilled";
    default:
      if (visit.lateAlert || now > visit.start + lateMinutes * 60_000) return "late";
      return visit.status === "assigned" ? "assigned" : "scheduled";
  }
}

/** What every visit event's data carries (flattened into it), as generated. */
type Summary = EventSchemas["VisitSummary"];

/** The visit summary a frame carries, if it is about a visit (assignments add everyone booked). */
export function summaryOf(frame: Frame): { summary: Summary; caregiverIds?: string[] } | null {
  const data = frame.event.data as Partial<Summary> & { caregiver_ids?: unknown };
  if (typeof data?.visit_id !== "string" || typeof data.scheduled_start !== "string") return null;
  return {
    summary: data as Summary,
    caregiverIds: Array.isArray(data.caregiver_ids) ? (data.caregiver_ids as string[]) : undefined,
  };
}

/**
 * Applies one frame to the board's visits: returns the changed visit, or
 * `unknown` with its id when the board has never seen it (the caller fetches
 * it), or null when the frame changes nothing here.
 */
export function applyFrame(
  visits: Map<string, BoardVisit>,
  frame: Frame,
): { changed: BoardVisit } | { unknown: string } | null {
  const found = summaryOf(frame);
  if (!found) return null;
  const { summary, caregiverIds } = found;
  const current = visits.get(summary.visit_id);
  if (!current) return { unknown: summary.visit_id };
  const at = Date.parse(frame.event.time);
  if (at < current.changedAt) return null;
  const type = frame.event.type;
  const next: BoardVisit = {
    ...current,
    status: summary.status,
    start: Date.parse(summary.scheduled_start),
    end: Date.parse(summary.scheduled_end),
    caregiverIds:
      caregiverIds ?? (summary.caregiver_id ? [summary.caregiver_id] : summary.status === "unfilled" ? [] : current.caregiverIds),
    changedAt: at,
  };
  if (type === "homecare.alert.late_check_in") next.lateAlert = true;
  if (type === "homecare.visit.rescheduled" || type === "homecare.visit.assigned") next.lateAlert = false;
  if (type === "homecare.visit.held") next.held = true;
  if (type === "homecare.invoice.created" || type === "homecare.visit.cancelled") next.held = false;
  if (type === "homecare.visit.completed") {
    next.missedCheckOut = Boolean((frame.event.data as { missed_check_out?: boolean }).missed_check_out);
  }
  visits.set(next.id, next);
  return { changed: next };
}

export interface Lane {
  caregiverId: string | null;
  visits: BoardVisit[];
}

/** The unfilled lane first, then one lane per caregiver in `order`. */
export function lanes(visits: Iterable<BoardVisit>, order: string[]): Lane[] {
  const unfilled: BoardVisit[] = [];
  const byCaregiver = new Map<string, BoardVisit[]>(order.map((id) => [id, []]));
  for (const visit of visits) {
    if (visit.caregiverIds.length === 0) {
      if (visit.status !== "cancelled") unfilled.push(visit);
      continue;
    }
    for (const id of visit.caregiverIds) {
      if (!byCaregiver.has(id)) byCaregiver.set(id, []);
      byCaregiver.get(id)!.push(visit);
    }
  }
  const sorted = (list: BoardVisit[]) => list.sort((a, b) => a.start - b.start || a.id.localeCompare(b.id));
  return [
    { caregiverId: null, visits: sorted(unfilled) },
    ...[...byCaregiver].map(([caregiverId, list]) => ({ caregiverId, visits: sorted(list) })),
  ];
}

/**
 * Rows for a lane's blocks so that none hides another: each visit (in start
 * order) takes the first row whose last visit has ended by its start. A
 * caregiver's lane has one row unless two of their visits overlap; the
 * unfilled lane grows a row per overlapping visit.
 */
export function stackRows(visits: readonly BoardVisit[]): { row: Map<string, number>; rows: number } {
  const ends: number[] = [];
  const row = new Map<string, number>();
  for (const visit of [...visits].sort((a, b) => a.start - b.start || a.id.localeCompare(b.id))) {
    let free = ends.findIndex((end) => end <= visit.start);
    if (free === -1) free = ends.push(visit.end) - 1;
    else ends[free] = visit.end;
    row.set(visit.id, free);
  }
  return { row, rows: Math.max(ends.length, 1) };
}

/** A block's place on the axis, in percent of the day (clipped to it). */
export function position(visit: BoardVisit, dayStart: number, dayEnd: number) {
  const span = dayEnd - dayStart;
  const from = Math.max(visit.start, dayStart);
  const to = Math.min(visit.end, dayEnd);
  return { left: ((from - dayStart) / span) * 100, width: (Math.max(to - from, 0) / span) * 100 };
}

export interface Counts {
  visits: number;
  unfilled: number;
  late: number;
  held: number;
  invoiced: number;
}

export function counts(visits: Iterable<BoardVisit>, now: number, lateMinutes: number): Counts {
  const total: Counts = { visits: 0, unfilled: 0, late: 0, held: 0, invoiced: 0 };
  for (const visit of visits) {
    const state = displayState(visit, now, lateMinutes);
    if (state !== "cancelled") total.visits += 1;
    if (state === "unfilled") total.unfilled += 1;
    if (state === "late") total.late += 1;
    if (state === "held") total.held += 1;
    if (state === "invoiced") total.invoiced += 1;
  }
  return total;
}

export { dayWindow } from "./time";
