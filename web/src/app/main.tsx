import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { CaregiverApp } from "./CaregiverApp";
import "../styles.css";
import "./app.css";

// The app shell works with no network once the service worker has cached it;
// the worker also sends queued taps when the network returns (sw.ts).
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/app/sw.js", { scope: "/app/", type: "module" }).catch((error) => console.warn("no service worker:", error));
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <CaregiverApp />
  </StrictMode>,
);
