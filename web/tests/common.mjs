// What the browser scripts share: the API as a test's admin calls it,
// accessibility checks (axe-core) and screenshots.
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import assert from "node:assert/strict";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/** A function calling the API at `base` with `token`; a non-2xx answer throws. */
export function caller(base, token) {
  return async function call(method, path, body, headers = {}) {
    const response = await fetch(`${base}/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
}

/** No serious or critical axe-core violation on the page as it is now. */
export async function axe(page, name) {
  // Through the DevTools protocol: the page's CSP (rightly) refuses inline scripts.
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(axeSource);
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of serious) console.error(`axe ${name}: ${v.id} (${v.impact}): ${v.nodes.map((n) => n.target).join(" ")}`);
  assert.equal(serious.length, 0, `axe found serious or critical violations on ${name}`);
  console.log(`axe ${name}: ${result.violations.length} minor, 0 serious or critical`);
}

/** A PNG of the page in $SCREENSHOTS, if set. */
export async function shot(page, name) {
  const folder = process.env.SCREENSHOTS;
  if (!folder) return;
  mkdirSync(folder, { recursive: true });
  await page.screenshot({ path: `${folder}/${name}.png` });
}
