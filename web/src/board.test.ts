import { describe, expect, it } from "vitest";
import type { Visit } from "./api";
import type { Frame } from "./events";
import { applyFrame, counts, dayWindow, displayState, fromVisit, lanes, position, stackRows, type BoardVisit } from "./board";

const caregiver = "11111111-1111-4111-8111-111111111111";
const other = "22222222-2222-4222-8222-222222222222";

function visit(overrides: Partial<Visit> = {}): Visit {
  return {
    id: "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
    client_id: "cccccccc-cccc-4ccc-8ccc-cccccccccccc",
    caregiver_id: caregiver,
    caregiver_ids: [caregiver],
    payer_id: "dddddddd-dddd-4ddd-8ddd-dddddddddddd",
    service_code: "T1019",
    scheduled_start: "2026-12-02T14:00:00Z",
    scheduled_end: "2026-12-02T16:00:00Z",
    required_skills: [],
    caregivers_needed: 1,
    assignment_version: 1,
    status: "assigned",
    cancel_reason: null,
    care_plan_id: null,
    occurrence_date: null,
    planned_duties: [],
    reported_duties: null,
    created_at: "2026-12-01T10:00:00Z",
    updated_at: "2026-12-01T10:00:00Z",
    ...overrides,
  } as Visit;
}

// Visit events carry the visit's summary flattened into their data, as the
// generated event types say.
function frame(type: string, time: string, data: Record<string, unknown>, sequence = 1): Frame {
  return {
    sequence,
    event: {
      specversion: "1.0",
      id: crypto.randomUUID(),
      source: "homecare",
      type,
      subject: "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
      time,
      datacontenttype: "application/json",
      data,
    },
  } as unknown as Frame;
}

function summary(status: string, caregiverId: string | null = caregiver) {
  return {
    visit_id: "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
    client_id: "cccccccc-cccc-4ccc-8ccc-cccccccccccc",
    caregiver_id: caregiverId,
    status,
    service_code: "T1019",
    scheduled_start: "2026-12-02T14:00:00Z",
    scheduled_end: "2026-12-02T16:00:00Z",
  };
}

describe("the day board", () => {
  const start = Date.parse("2026-12-02T14:00:00Z");

  it("shows late once the grace has passed or the late timer fired", () => {
    const v = fromVisit(visit());
    expect(displayState(v, start + 5 * 60_000, 10)).toBe("assigned");
    expect(displayState(v, start + 11 * 60_000, 10)).toBe("late");
    expect(displayState({ ...v, lateAlert: true }, start, 10)).toBe("late");
    expect(displayState({ ...v, status: "checked_in" }, start + 60 * 60_000, 10)).toBe("checked_in");
    expect(displayState({ ...v, status: "completed", held: true }, start, 10)).toBe("held");
    expect(displayState({ ...v, status: "completed", missedCheckOut: true }, start, 10)).toBe("missed");
  });

  it("moves a visit with each frame and never back with an older one", () => {
    const visits = new Map<string, BoardVisit>([[visit().id, fromVisit(visit())]]);
    const checkedIn = frame("homecare.visit.checked_in", "2026-12-02T14:01:00Z", summary("checked_in"));
    expect(applyFrame(visits, checkedIn)).not.toBeNull();
    expect(visits.get(visit().id)!.status).toBe("checked_in");
    const stale = frame("homecare.visit.assigned", "2026-12-01T09:00:00Z", { ...summary("assigned"), caregiver_ids: [caregiver] });
    expect(applyFrame(visits, stale)).toBeNull();
    expect(visits.get(visit().id)!.status).toBe("checked_in");
    const held = frame("homecare.visit.held", "2026-12-02T16:01:00Z", summary("completed"));
    applyFrame(visits, held);
    expect(displayState(visits.get(visit().id)!, start, 10)).toBe("held");
    const invoiced = frame("homecare.invoice.created", "2026-12-02T17:00:00Z", summary("invoiced"));
    applyFrame(visits, invoiced);
    expect(displayState(visits.get(visit().id)!, start, 10)).toBe("invoiced");
  });

  it("asks for a visit it has not seen and moves a called-out visit to the unfilled lane", () => {
    const visits = new Map<string, BoardVisit>([[visit().id, fromVisit(visit())]]);
    expect(applyFrame(visits, frame("homecare.visit.checked_in", "2026-12-02T14:00:00Z", { ...summary("checked_in"), visit_id: "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb" }))).toEqual({ unknown: "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb" });
    applyFrame(visits, frame("homecare.visit.unfilled", "2026-12-02T08:00:00Z", { ...summary("unfilled", null), caregiver_ids: [] }));
    const [unfilled, ...rest] = lanes(visits.values(), [caregiver, other]);
    expect(unfilled.caregiverId).toBeNull();
    expect(unfilled.visits.map((v) => v.id)).toEqual([visit().id]);
    expect(rest.map((l) => [l.caregiverId, l.visits.length])).toEqual([[caregiver, 0], [other, 0]]);
    expect(counts(visits.values(), start, 10)).toEqual({ visits: 1, unfilled: 1, late: 0, held: 0, invoiced: 0 });
  });

  it("places blocks on a local day, 23 or 25 hours long across a clock change", () => {
    const chicago = dayWindow("2026-12-02", "America/Chicago");
    expect(new Date(chicago.from).toISOString()).toBe("2026-12-02T06:00:00.000Z");
    expect(chicago.to - chicago.from).toBe(24 * 3600_000);
    const spring = dayWindow("2026-03-08", "America/Chicago");
    expect(spring.to - spring.from).toBe(23 * 3600_000);
    const autumn = dayWindow("2026-10-25", "Europe/London");
    expect(autumn.to - autumn.from).toBe(25 * 3600_000);
    const block = position(fromVisit(visit()), chicago.from, chicago.to);
    expect(block.left).toBeCloseTo((8 / 24) * 100);
    expect(block.width).toBeCloseTo((2 / 24) * 100);
  });
});

describe("stackRows", () => {
  const at = (id: string, start: number, end: number) =>
    ({ id, start: start * 3600_000, end: end * 3600_000, caregiverIds: [], status: "unfilled" }) as unknown as BoardVisit;

  it("keeps visits that do not overlap on one row", () => {
    const { row, rows } = stackRows([at("b", 10, 11), at("a", 8, 10), at("c", 11, 12)]);
    expect(rows).toBe(1);
    expect([row.get("a"), row.get("b"), row.get("c")]).toEqual([0, 0, 0]);
  });

  it("gives each overlapping visit the first free row", () => {
    const { row, rows } = stackRows([at("a", 8, 10), at("b", 9, 11), at("c", 9.5, 10.5), at("d", 10, 12)]);
    expect(rows).toBe(3);
    expect([row.get("a"), row.get("b"), row.get("c"), row.get("d")]).toEqual([0, 1, 2, 0]);
  });

  it("has one row when the lane is empty", () => {
    expect(stackRows([]).rows).toBe(1);
  });
});
