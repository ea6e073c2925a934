// The banner in Debian's headless Chromium against the real stack (started by
// tests/integration/test_banner.sh, which passes CG_URL, CG_DB, CG_DIR, ...).
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { createRequire } from "node:module";

const URL_ = process.env.CG_URL;
const DB = process.env.CG_DB;
const SRC = process.env.CG_SRC;
const SHOTS = process.env.CG_SHOTS;
const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");

let passed = 0, failed = 0;
function check(name, cond, detail = "") {
  if (cond) { passed++; console.log(`ok   - ${name}`); }
  else { failed++; console.log(`FAIL - ${name}${detail ? `\n       ${detail}` : ""}`); }
}
// the stack's database, whichever backend (CG_PG_URL: PostgreSQL)
const sql = (q) => (process.env.CG_PG_URL
  ? execFileSync("psql", ["-X", "-q", "-At", "-F", "|", "-v", "ON_ERROR_STOP=1", process.env.CG_PG_URL, "-c", q])
  : execFileSync("sqlite3", ["-batch", "-noheader", DB, q])).toString().trim();
const BUILD_ID = process.env.CG_BUILD_ID;   // the build test_banner.sh's stack stamped
const lastBanner = () => sql("SELECT banner FROM consent_events ORDER BY id DESC LIMIT 1");
// the focused element, inside the banner's shadow root when focus is there
const DEEP_ACTIVE = "(() => { let e = document.activeElement; while (e && e.shadowRoot && e.shadowRoot.activeElement) e = e.shadowRoot.activeElement; return e; })()";
const shadow = "document.querySelector('consent-gate').shadowRoot";
const lastRow = () => sql("SELECT action || ':' || CAST(preferences AS TEXT) || CAST(statistics AS TEXT) || CAST(marketing AS TEXT) FROM consent_events ORDER BY id DESC LIMIT 1");
const rows = () => Number(sql("SELECT count(*) FROM consent_events"));

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"],
});
const foreign = [];
async function newPage(opts = {}) {
  const ctx = await browser.newContext({ locale: "nb-NO", ...opts });
  const page = await ctx.newPage();
  page.on("request", (r) => { if (!r.url().startsWith(URL_) && !r.url().startsWith("data:")) foreign.push(r.url()); });
  return { ctx, page };
}
const banner = (page) => page.locator('.cg[role="dialog"]');
async function gateStatus(page, name) {
  await page.waitForFunction((n) => !["…", ""].includes(document.getElementById("st-" + n).textContent), name);
  return page.locator("#st-" + name).textContent();
}
async function axe(page, label) {
  await page.addScriptTag({ path: AXE });
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document.querySelector("consent-gate"), { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] });
    return r.violations.map((v) => `${v.id}: ${v.nodes.length} node(s) ${v.nodes[0].target}`);
  });
  check(`axe-core: no violation on the ${label}`, res.length === 0, res.join("; "));
}

try {
  // ---- first visit, fairness, accessibility, reject all --------------------
  {
    const { ctx, page } = await newPage();
    await page.goto(URL_ + "/");
    await banner(page).waitFor({ state: "visible" });
    check("first visit shows the banner", await banner(page).isVisible());
    check("banner speaks Norwegian for nb-NO", (await page.locator("#cg-t").textContent()) === "Informasjonskapsler");
    const boxes = [];
    for (const a of ["accept-all", "reject-all", "settings"]) {
      const b = page.locator(`[data-cg-action="${a}"]`);
      const style = await b.evaluate((e) => { const s = getComputedStyle(e); return [s.fontSize, s.fontWeight, s.color, s.backgroundColor, s.borderTopWidth, s.borderTopColor].join("|"); });
      boxes.push({ a, style, box: await b.boundingBox() });
    }
    check("first layer: accept, reject and settings look alike (equal prominence)",
      boxes.every((b) => b.style === boxes[0].style && Math.abs(b.box.height - boxes[0].box.height) < 1),
      JSON.stringify(boxes));
    const shifts = await page.evaluate(() => new Promise((res) => {
      let sum = 0;
      new PerformanceObserver((l) => l.getEntries().forEach((e) => { sum += e.value; })).observe({ type: "layout-shift", buffered: true });
      setTimeout(() => res(sum), 300);
    }));
    check("no layout shift of the page content", shifts === 0, `CLS ${shifts}`);
    await axe(page, "first layer");
    await page.click('[data-cg-action="settings"]');
    check("settings: three categories, none pre-ticked",
      (await page.locator("consent-gate [data-cg-category]").count()) === 3 &&
      (await page.locator("consent-gate [data-cg-category]:checked").count()) === 0);
    check("settings: necessary shown as always on", await page.locator(".cg-c input[disabled]:checked").count() === 1);
    check("settings: link to the policy", (await page.locator('.cg a[href="/personvern"]').count()) === 1);
    const policy = await page.request.get(URL_ + "/personvern");
    check("the policy link is no 404", policy.status() === 200, `status ${policy.status()}`);
    await axe(page, "settings layer");
    await page.keyboard.press("Escape");
    check("Escape closes the settings without choosing",
      (await page.locator(".cg-s").isHidden()) && (await banner(page).isVisible()) && rows() === 0);
    check("first visit: the gated scripts are refused", (await gateStatus(page, "ga")) === "stoppet av samtykkeporten");
    await page.click('[data-cg-action="reject-all"]');
    await banner(page).waitFor({ state: "hidden" });
    check("reject all: the stored row is all zeros", lastRow() === "choice:000", lastRow());
    check("the choice records the build the banner runs", lastBanner().startsWith(`build=${BUILD_ID};notice=`), lastBanner());
    await page.reload();
    await page.waitForTimeout(300);
    check("reject all: the banner stays gone after reload", await banner(page).count() === 0 || await banner(page).isHidden());
    check("reject all: the statistics stand-ins are refused",
      (await gateStatus(page, "ga")) === "stoppet av samtykkeporten" &&
      (await gateStatus(page, "hotjar")) === "stoppet av samtykkeporten");
    // ---- reopen, grant statistics, save ---------------------------------------
    await page.click("#cookie-settings");
    await banner(page).waitFor({ state: "visible" });
    check("ConsentGate.open() reopens the banner, focus on its first button",
      await page.evaluate(`${DEEP_ACTIVE}.getAttribute("data-cg-action")`) === "accept-all");
    await page.click('[data-cg-action="settings"]');
    await page.check('[data-cg-category="statistics"]');
    await page.click('[data-cg-action="save"]');
    await banner(page).waitFor({ state: "hidden" });
    check("save: the row grants statistics only", lastRow() === "choice:010", lastRow());
    await page.waitForFunction(() => document.getElementById("st-ga").textContent === "lastet");
    check("save: the statistics stand-in loads", (await gateStatus(page, "ga")) === "lastet");
    check("state() reports the choice", JSON.stringify(await page.evaluate(() => {
      const s = ConsentGate.state(); return [s.decided, s.preferences, s.statistics, s.marketing];
    })) === "[true,false,true,false]");
    // ---- track() → /collect → outbox -----------------------------------------
    const before = Number(sql("SELECT count(*) FROM outbox"));
    await page.click('button.buy[data-item="votter"]');
    await page.waitForTimeout(500);
    check("track() sends the event with sendBeacon", Number(sql("SELECT count(*) FROM outbox WHERE payload LIKE '%add_to_cart%votter%'")) >= 1 &&
      Number(sql("SELECT count(*) FROM outbox")) > before);
    await ctx.close();
  }

  // ---- keyboard only ---------------------------------------------------------
  {
    const { ctx, page } = await newPage();
    await page.goto(URL_ + "/");
    await banner(page).waitFor({ state: "visible" });
    const n0 = rows();
    const focused = () => page.evaluate(`(() => { const e = ${DEEP_ACTIVE};
      return e.getAttribute("data-cg-action") || e.getAttribute("data-cg-category") || e.tagName; })()`);
    const order = [];
    for (let i = 0; i < 4; i++) { await page.keyboard.press("Tab"); order.push(await focused()); }
    check("tab order starts in the banner: policy link, accept, reject, settings",
      order.join(",") === "A,accept-all,reject-all,settings", order.join(","));
    const outline = await page.evaluate(`getComputedStyle(${DEEP_ACTIVE}).outlineStyle`);
    check("focus is visible", outline !== "none", outline);
    await page.keyboard.press("Enter");
    check("Enter on settings opens them, focus on the first category", (await focused()) === "preferences");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Space");                // statistics on
    await page.keyboard.press("Tab");
    await page.keyboard.press("Space");                // marketing on
    await page.keyboard.press("Space");                // marketing off again
    await page.keyboard.press("Escape");
    check("Escape returns to the first layer, focus on settings, nothing stored",
      (await focused()) === "settings" && rows() === n0);
    await page.keyboard.press("Enter");
    check("settings keep the unsaved ticks", await page.isChecked('[data-cg-category="statistics"]'));
    let guard = 0;
    while ((await focused()) !== "save" && guard++ < 12) await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await banner(page).waitFor({ state: "hidden" });
    check("keyboard-only: the choice is stored", lastRow() === "choice:010" && rows() === n0 + 1, lastRow());
    await ctx.close();
  }

  // ---- GPC -------------------------------------------------------------------
  {
    const { ctx, page } = await newPage({ locale: "en-GB" });
    await page.addInitScript(() => Object.defineProperty(Navigator.prototype, "globalPrivacyControl", { get: () => true }));
    await page.goto(URL_ + "/nolang.html");
    await page.click('[data-cg-action="settings"]');
    check("GPC: the settings say why marketing is off",
      (await page.locator(".cg-g").textContent()).includes("Global Privacy Control") &&
      !(await page.isChecked('[data-cg-category="marketing"]')));
    await ctx.close();
  }

  // ---- small screens and zoom --------------------------------------------------
  for (const [w, h, label] of [[320, 640, "320 px wide"], [640, 360, "200 % zoom of 1280x720"]]) {
    const { ctx, page } = await newPage({ viewport: { width: w, height: h } });
    await page.goto(URL_ + "/");
    await banner(page).waitFor({ state: "visible" });
    const fits = await page.evaluate(`document.documentElement.scrollWidth <= window.innerWidth &&
      ${shadow}.querySelector(".cg").scrollWidth <= window.innerWidth`);
    let reachable = true;
    for (const a of ["accept-all", "reject-all", "settings"]) {
      const b = page.locator(`[data-cg-action="${a}"]`);
      await b.scrollIntoViewIfNeeded();
      const box = await b.boundingBox();
      reachable = reachable && box && box.x >= 0 && box.x + box.width <= w + 1;
    }
    check(`works at ${label}: no horizontal scroll, every button reachable`, fits && reachable);
    await ctx.close();
  }

  // ---- languages -----------------------------------------------------------------
  mkdirSync(SHOTS, { recursive: true });
  const titles = { nb: "Informasjonskapsler", nn: "Informasjonskapslar", sv: "Kakor på webbplatsen",
                   da: "Cookies på hjemmesiden", fi: "Evästeet", en: "Cookies on this site" };
  for (const [lang, title] of Object.entries(titles)) {
    const { ctx, page } = await newPage({ locale: lang === "en" ? "en-US" : `${lang}-XX` });
    await page.goto(URL_ + "/nolang.html");
    await banner(page).waitFor({ state: "visible" });
    await page.click('[data-cg-action="settings"]');
    const got = await page.locator("#cg-t").textContent();
    const labels = await page.locator(".cg-a button:visible").allTextContents();
    await page.screenshot({ path: `${SHOTS}/banner-${lang}.png`, fullPage: false });
    check(`language ${lang} renders`, got === title && labels.every((l) => l.length > 0) &&
      (await page.locator(".cg").getAttribute("lang")) === lang, `${got} ${labels}`);
    await ctx.close();
  }
  {
    const { ctx, page } = await newPage({ locale: "de-DE" });
    await page.goto(URL_ + "/nolang.html");
    check("an unknown language falls back to English", (await page.locator("#cg-t").textContent()) === titles.en);
    await ctx.close();
  }
  {
    const { ctx, page } = await newPage({ locale: "en-US" });
    await page.goto(URL_ + "/");
    check("the page's language comes before the browser's (lang=nb page, en-US browser)",
      (await page.locator("#cg-t").textContent()) === titles.nb);
    await ctx.close();
  }

  // ---- the one-tag embed: styled, fixed, no layout shift --------------------------
  for (const path of ["/static-index.html", "/static-linked.html"]) {
    const { ctx, page } = await newPage({ viewport: { width: 390, height: 844 } });
    await page.addInitScript(() => {
      window.__cls = 0; window.__moved = [];
      new PerformanceObserver((l) => { for (const e of l.getEntries()) if (!e.hadRecentInput) {
        window.__cls += e.value;
        e.sources.forEach((s) => __moved.push(`${Math.round(e.startTime)} ms ${s.node && (s.node.id || s.node.nodeName)} ` +
          `${JSON.stringify(s.previousRect)} -> ${JSON.stringify(s.currentRect)}`));
      } })
        .observe({ type: "layout-shift", buffered: true });
    });
    await page.goto(URL_ + path);
    await banner(page).waitFor({ state: "visible" });
    await page.waitForLoadState("load");
    const r = await page.evaluate(`new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(() => {
      const root = ${shadow}, cg = root.querySelector(".cg"), box = root.querySelector(".cg-b");
      res({ cls: window.__cls, moved: window.__moved, position: getComputedStyle(cg).position, border: getComputedStyle(box).borderTopWidth,
            sheets: root.querySelectorAll('link[href*="banner.css"]').length,
            header: Math.round(document.querySelector("header").getBoundingClientRect().top) });
    })))`);
    check(`${path}: the banner is styled and fixed`, r.position === "fixed" && r.border === "2px", JSON.stringify(r));
    check(`${path}: zero layout shift (CLS ${r.cls})`, r.cls === 0, JSON.stringify(r));
    check(`${path}: the page content stays where it is`, r.header === 0, JSON.stringify(r));
    check(`${path}: the stylesheet once, inside the banner's shadow root`, r.sheets === 1, JSON.stringify(r));
    await ctx.close();
  }
  // ---- a page's own CSS cannot change what the banner shows ----------------------
  {
    const look = async (page) => page.evaluate(`(() => { const root = ${shadow};
      return ["#cg-t", '[data-cg-action="accept-all"]', ".cg-b"].map((q) => {
        const e = root.querySelector(q), s = getComputedStyle(e), b = e.getBoundingClientRect();
        return [q, s.display, s.visibility, s.color, s.fontSize, s.backgroundColor, Math.round(b.width), Math.round(b.height), e.textContent.length].join(",");
      }).join(" | "); })()`);
    const plain = await newPage({ locale: "en-US" }), hostile = await newPage({ locale: "en-US" });
    await plain.page.goto(URL_ + "/nolang.html");
    await hostile.page.goto(URL_ + "/hostile.html");
    await banner(plain.page).waitFor({ state: "visible" });
    await banner(hostile.page).waitFor({ state: "visible" });
    const a = await look(plain.page), b = await look(hostile.page);
    check("a page stylesheet hiding and restyling .cg-like selectors changes nothing the banner shows", a === b, `${a}\n       ${b}`);
    await hostile.page.click('[data-cg-action="accept-all"]');
    await banner(hostile.page).waitFor({ state: "hidden" });
    check("... and the choice records the same build", lastBanner().startsWith(`build=${BUILD_ID};`), lastBanner());
    await plain.ctx.close();
    await hostile.ctx.close();
  }

  // ---- policy version bump -----------------------------------------------------------
  {
    const { ctx, page } = await newPage();
    await page.goto(URL_ + "/");
    await page.click('[data-cg-action="accept-all"]');
    await banner(page).waitFor({ state: "hidden" });
    check("accept all stores all ones", lastRow() === "choice:111", lastRow());
    // the operator bumps the version in the daemon and the embed
    execFileSync("bash", ["-c", process.env.CG_BUMP_POLICY]);
    await page.reload();
    await page.waitForTimeout(200);
    await page.locator('[data-cg-action="accept-all"]').first().waitFor({ state: "attached" });
    check("policy version bump: the banner shows again", await banner(page).isVisible());
    await page.click('[data-cg-action="accept-all"]');
    await banner(page).waitFor({ state: "hidden" });
    check("the new choice is stored under the new version",
      sql("SELECT policy_version FROM consent_events ORDER BY id DESC LIMIT 1") === "2024-06");
    await ctx.close();
  }
  {
    // a page still embedding the old version gets 409 and says so
    const { ctx, page } = await newPage({ locale: "en-US" });
    await page.goto(URL_ + "/old.html");
    await page.click('[data-cg-action="accept-all"]');
    await page.locator(".cg-e").waitFor({ state: "visible" });
    check("a stale banner is told to reload (409)", (await page.locator(".cg-e").textContent()).includes("reload"));
    await ctx.close();
  }

  // ---- budget and origins ------------------------------------------------------------
  const js = readFileSync(`${SRC}/web/banner.js`), css = readFileSync(`${SRC}/web/banner.css`);
  const gz = gzipSync(js, { level: 9 }).length + gzipSync(css, { level: 9 }).length;
  check(`banner.js + banner.css ≤ 8 KB gzipped (${gz} bytes)`, gz <= 8192);
  const served = await (await fetch(URL_ + "/consent/banner.js", { headers: { "Accept-Encoding": "gzip" } })).headers.get("content-encoding");
  check("nginx serves the banner gzipped", served === "gzip", String(served));
  check("no request to another origin at any point", foreign.length === 0, foreign.join(" "));
  writeFileSync(`${SHOTS}/README.txt`, "Screenshots of the banner's settings layer per language, from tests/browser/banner.test.mjs\n");
} catch (e) {
  failed++;
  console.log(`FAIL - unexpected error: ${e.stack || e}`);
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
