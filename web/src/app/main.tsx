import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { CaregiverApp } from "./CaregiverApp";
import "../styles.css";
import "./app.css";

// The app shell works with no network once the service worker has cached it.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch((error) => console.warn("no service worker:", error));
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <CaregiverApp />
  </StrictMode>,
);
