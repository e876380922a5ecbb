// The live feed: `/v1/events` over a WebSocket, typed by the AsyncAPI
// document's frames. A dropped connection reconnects with `?since=` the last
// sequence seen, so nothing is missed and nothing repeats; the state is shown.
import type { components } from "./generated/events";
import { refresh, token } from "./api";

type EventSchemas = components["schemas"];
/** Any frame the socket sends: `{sequence, event}` with a typed envelope. */
export type Frame = EventSchemas[Extract<keyof EventSchemas, `${string}Frame`>];
export type FeedState = "connecting" | "live" | "reconnecting";

export class EventFeed {
  private socket: WebSocket | null = null;
  private since: number | null = null;
  private attempts = 0;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly onFrame: (frame: Frame) => void,
    private readonly onState: (state: FeedState) => void,
  ) {}

  start() {
    this.stopped = false;
    this.onState("connecting");
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close(1000, "bye");
    this.socket = null;
  }

  /** The last sequence applied (the resume point). */
  get sequence(): number | null {
    return this.since;
  }

  private connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = this.since === null ? "" : `?since=${this.since}`;
    const protocols = ["homecare.v1", `bearer.${token() ?? ""}`];
    const socket = new WebSocket(`${scheme}://${location.host}/v1/events${query}`, protocols);
    this.socket = socket;
    socket.onopen = () => {
      this.attempts = 0;
      this.onState("live");
    };
    socket.onmessage = (message) => {
      const frame = JSON.parse(String(message.data)) as Frame;
      this.since = frame.sequence;
      this.onFrame(frame);
    };
    socket.onclose = () => {
      if (this.stopped || this.socket !== socket) return;
      this.onState("reconnecting");
      const delay = Math.min(15_000, 250 * 2 ** this.attempts);
      this.attempts += 1;
      // The handshake may have failed for an expired access token.
      this.timer = setTimeout(async () => {
        if (this.attempts > 1) await refresh().catch(() => null);
        if (!this.stopped) this.connect();
      }, delay);
    };
  }
}
