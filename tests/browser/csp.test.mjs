// The per-visitor Content-Security-Policy in Debian's headless Chromium
// against the real stack (started by tests/integration/test_csp_browser.sh,
// once per mode: CSP_MODE=enforce, stopped (the daemon down), report). The
// page is served at 127.0.0.1 with a vendor tag the site forgot to retag;
// the vendor is a
// second loopback origin (127.0.0.2) whose recording server sees every
// request. The policy names report-uri only ([csp] report_to = false:
// Chromium delivers Reporting API reports from HTTPS pages only, and with
// report-to it ignores report-uri); the daemon counts reports in
// consentgate_csp_reports_total.
import { chromium } from "playwright-core";
import { createServer } from "node:http";
import { writeFileSync, mkdirSync } from "node:fs";

const { CG_DIR, CG_PORT, VPORT, CSP_MODE } = process.env;
const SITE = `http://127.0.0.1:${CG_PORT}`;
const VEND = `http://127.0.0.2:${VPORT}`;
let passed = 0, failed = 0;
function check(name, cond, detail = "") {
  if (cond) { passed++; console.log(`ok   - ${CSP_MODE}: ${name}`); }
  else { failed++; console.log(`FAIL - ${CSP_MODE}: ${name}${detail ? `\n       ${detail}` : ""}`); }
}
const metric = async (vendor) => {
  const t = await (await fetch(`${SITE}/consent/metrics`)).text();
  const m = t.match(new RegExp(`^consentgate_csp_reports_total\\{vendor="${vendor}"\\} (\\d+)$`, "m"));
  return m ? Number(m[1]) : -1;
};
const until = async (fn, ms = 20000) => {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100)))
    if (await fn()) return true;
  return false;
};

const seen = [];
const vendor = createServer((req, res) => {
  seen.push(req.url);
  res.writeHead(200, { "Content-Type": "application/javascript" });
  res.end(`window.__loaded = (window.__loaded || []).concat(${JSON.stringify(req.url)});`);
});
await new Promise((r) => vendor.listen(Number(VPORT), "127.0.0.2", r));

const demo = `${CG_DIR}/web/demo`;
mkdirSync(demo, { recursive: true });
writeFileSync(`${demo}/csp.html`, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>csp</title>
<script>window.__v = []; document.addEventListener("securitypolicyviolation", function (e) { __v.push(e.blockedURI); });</script>
<script src="/consent/banner.js" defer data-policy-version="2023-12"></script></head><body>
<h1>Shop</h1>
<script src="${VEND}/forgot.js"></script>
<script type="text/plain" data-cg-category="statistics">window.__held = "ran"</script>
<script>window.__inline = "ran"</script>
</body></html>`);

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"],
});
const banner = (page) => page.locator('consent-gate .cg[role="dialog"]');

try {
  const ctx = await browser.newContext({ locale: "en-US" });
  const page = await ctx.newPage();
  page.on("pageerror", (e) => console.log(`# page error: ${e}`));
  const before = await metric("standin-stats");
  const header = async () => {
    const r = await page.goto(`${SITE}/shop/csp.html`);
    return r.headers();
  };
  const h = await header();
  if (CSP_MODE === "stopped") { // the daemon is down: nginx's fallback policy
    check("the page is served", (await page.title()) === "csp");
    check("... with the base policy nginx holds", h["content-security-policy"] === "script-src 'self' 'unsafe-inline'",
      h["content-security-policy"]);
    check("... which blocks the forgotten tag (the browser says so)",
      await until(() => page.evaluate(() => __v.some((u) => u.includes("/forgot.js")))));
    check("... and the vendor saw nothing", seen.length === 0, seen.join(" "));
  } else await banner(page).waitFor({ state: "visible" });
  if (CSP_MODE === "enforce") {
    check("the page carries Content-Security-Policy", (h["content-security-policy"] || "").startsWith("script-src 'self' 'unsafe-inline'"));
    // the browser's report is the proof it saw the tag: then the vendor must have seen nothing
    check("the forgotten tag is reported", await until(async () => (await metric("standin-stats")) > before));
    check("... and the vendor saw nothing (blocked)", seen.length === 0, seen.join(" "));
    check("the page's own inline script runs ('unsafe-inline' in base)", (await page.evaluate(() => window.__inline)) === "ran");
    // accept: the banner reloads the page (its policy cannot widen), which then loads the vendor
    const nav = page.waitForNavigation();
    await page.click('consent-gate [data-cg-action="accept-all"]');
    await nav;
    await page.waitForLoadState("load");
    check("after the grant and the reload the vendor's tag loads", await until(() => seen.includes("/forgot.js")), seen.join(" "));
    check("... and the held inline script ran ('unsafe-inline' in base)",
      await until(() => page.evaluate(() => window.__held === "ran")));
    check("... under a policy that allows the vendor", (await page.evaluate(async () =>
      (await fetch(location.href)).headers.get("content-security-policy"))).includes(`127.0.0.2:`));
  } else if (CSP_MODE === "report") {
    check("the page carries the Report-Only policy", !!h["content-security-policy-report-only"] && !h["content-security-policy"]);
    check("the forgotten tag loads", await until(() => seen.includes("/forgot.js")), seen.join(" "));
    check("... and its report reaches the daemon and is counted",
      await until(async () => (await metric("standin-stats")) === before + 1), String(await metric("standin-stats")));
    // accepting releases the held script: a load the banner made is no leak
    const counted = await metric("standin-stats");
    await page.click('consent-gate [data-cg-action="accept-all"]');
    await until(() => page.evaluate(() => window.__held === "ran"));
    await page.evaluate((v) => { const s = document.createElement("script"); s.src = v; document.body.appendChild(s); },
      `${VEND}/released.js`);
    // a leak after it, from the page itself (an img of a host of no vendor): once it is counted,
    // the release's report, sent before it, has been handled
    const u0 = await metric("unknown");
    await page.evaluate(() => { const i = new Image(); i.src = "http://127.0.0.3:9/sentinel.gif"; document.body.appendChild(i); });
    check("a later leak of the page is counted (the sentinel)", await until(async () => (await metric("unknown")) > u0));
    check("the banner's release (accepting statistics) added nothing", (await metric("standin-stats")) === counted,
      `${counted} -> ${await metric("standin-stats")}`);
  }
  await ctx.close();
} finally {
  await browser.close();
  vendor.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
