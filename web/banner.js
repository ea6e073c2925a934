/* consentgate banner and page gate: docs/banner.md. Texts change here, never from the page:
 * the build's id (consentctl banner stamp) goes with every choice. */
(function (w, d) {
  "use strict";
  var me = d.currentScript || d.querySelector('script[src*="banner.js"]');
  var cfg = (me && me.dataset) || {};
  var VER = cfg.policyVersion || "", URL_ = cfg.policyUrl || "", BASE = cfg.base || "/consent";
  var BUILD = "cg-build:00000000000000000000000000000000".slice(9);
  var CATS = ["preferences", "statistics", "marketing"];
  var gpc = !!navigator.globalPrivacyControl;
  /* title, intro, policy, accept, reject, settings, save, necessary+desc, preferences+desc,
     statistics+desc, marketing+desc, GPC, stale, error, embed (%v vendor %r recipient
     %n country %c category), load once, allow %c, shared with */
  var T = {
    en: ["Cookies on this site", "We use cookies that are needed for the site to work. With your consent we also use cookies for preferences, statistics and marketing. You can change your choice at any time.", "Privacy policy", "Accept all", "Reject all", "Settings", "Save choice", "Necessary", "Make the site work, e.g. the cart. Always on.", "Preferences", "Remember your settings, such as language.", "Statistics", "Help us see how the site is used.", "Marketing", "Show relevant ads on other sites.", "Your browser sends Global Privacy Control, so marketing is off.", "The privacy policy has changed. Please reload the page.", "Your choice could not be saved. Please try again.", "%v (%r, %n) loads only with consent to %c.", "Load this once", "Always allow %c", "Shared with"],
    nb: ["Informasjonskapsler", "Vi bruker informasjonskapsler som trengs for at nettstedet skal virke. Med ditt samtykke bruker vi også kapsler for preferanser, statistikk og markedsføring. Du kan endre valget når som helst.", "Personvernerklæring", "Godta alle", "Avvis alle", "Innstillinger", "Lagre valg", "Nødvendige", "Får nettstedet til å virke, f.eks. handlekurven. Alltid på.", "Preferanser", "Husker innstillingene dine, som språk.", "Statistikk", "Hjelper oss å se hvordan nettstedet brukes.", "Markedsføring", "Viser relevante annonser på andre nettsteder.", "Nettleseren din sender Global Privacy Control, så markedsføring er av.", "Personvernerklæringen er endret. Last inn siden på nytt.", "Valget ble ikke lagret. Prøv igjen.", "%v (%r, %n) lastes bare med samtykke til %c.", "Last inn én gang", "Tillat alltid %c", "Deles med"],
    nn: ["Informasjonskapslar", "Vi brukar informasjonskapslar som trengst for at nettstaden skal verke. Med samtykket ditt brukar vi òg kapslar for preferansar, statistikk og marknadsføring. Du kan endre valet når som helst.", "Personvernerklæring", "Godta alle", "Avvis alle", "Innstillingar", "Lagre val", "Naudsynte", "Får nettstaden til å verke, t.d. handlekorga. Alltid på.", "Preferansar", "Hugsar innstillingane dine, som språk.", "Statistikk", "Hjelper oss å sjå korleis nettstaden blir brukt.", "Marknadsføring", "Viser relevante annonsar på andre nettstader.", "Nettlesaren din sender Global Privacy Control, så marknadsføring er av.", "Personvernerklæringa er endra. Last inn sida på nytt.", "Valet vart ikkje lagra. Prøv igjen.", "%v (%r, %n) blir lasta berre med samtykke til %c.", "Last inn éin gong", "Tillat alltid %c", "Delast med"],
    sv: ["Kakor på webbplatsen", "Vi använder kakor som behövs för att webbplatsen ska fungera. Med ditt samtycke använder vi även kakor för inställningar, statistik och marknadsföring. Du kan ändra ditt val när som helst.", "Integritetspolicy", "Godkänn alla", "Avvisa alla", "Inställningar", "Spara val", "Nödvändiga", "Får webbplatsen att fungera, t.ex. varukorgen. Alltid på.", "Preferenser", "Kommer ihåg dina val, som språk.", "Statistik", "Hjälper oss att se hur webbplatsen används.", "Marknadsföring", "Visar relevanta annonser på andra webbplatser.", "Din webbläsare skickar Global Privacy Control, så marknadsföring är av.", "Integritetspolicyn har ändrats. Ladda om sidan.", "Ditt val kunde inte sparas. Försök igen.", "%v (%r, %n) laddas bara med samtycke till %c.", "Ladda en gång", "Tillåt alltid %c", "Delas med"],
    da: ["Cookies på hjemmesiden", "Vi bruger cookies, der er nødvendige for at hjemmesiden virker. Med dit samtykke bruger vi også cookies til præferencer, statistik og markedsføring. Du kan ændre dit valg når som helst.", "Privatlivspolitik", "Accepter alle", "Afvis alle", "Indstillinger", "Gem valg", "Nødvendige", "Får hjemmesiden til at virke, f.eks. kurven. Altid til.", "Præferencer", "Husker dine indstillinger, som sprog.", "Statistik", "Hjælper os med at se, hvordan siden bruges.", "Markedsføring", "Viser relevante annoncer på andre sider.", "Din browser sender Global Privacy Control, så markedsføring er slået fra.", "Privatlivspolitikken er ændret. Genindlæs siden.", "Dit valg blev ikke gemt. Prøv igen.", "%v (%r, %n) indlæses kun med samtykke til %c.", "Indlæs én gang", "Tillad altid %c", "Deles med"],
    fi: ["Evästeet", "Käytämme evästeitä, joita sivusto tarvitsee toimiakseen. Suostumuksellasi käytämme evästeitä myös asetuksiin, tilastointiin ja markkinointiin. Voit muuttaa valintaasi milloin tahansa.", "Tietosuojaseloste", "Hyväksy kaikki", "Hylkää kaikki", "Asetukset", "Tallenna valinta", "Välttämättömät", "Pitävät sivuston toiminnassa, esim. ostoskorin. Aina päällä.", "Mieltymykset", "Muistavat valintasi, kuten kielen.", "Tilastot", "Auttavat meitä näkemään, miten sivustoa käytetään.", "Markkinointi", "Näyttävät osuvia mainoksia muilla sivustoilla.", "Selaimesi lähettää Global Privacy Control -signaalin, joten markkinointi on pois päältä.", "Tietosuojaseloste on muuttunut. Lataa sivu uudelleen.", "Valintaa ei voitu tallentaa. Yritä uudelleen.", "%v (%r, %n) ladataan vain suostumuksella: %c.", "Lataa kerran", "Salli aina: %c", "Jaetaan"]
  };
  function pick() {
    var c = [cfg.lang, d.documentElement.lang].concat(navigator.languages || [navigator.language]);
    for (var i = 0; i < c.length; i++) {
      var l = String(c[i] || "").toLowerCase().split("-")[0];
      if (l === "no") l = "nb";
      if (T[l]) return l;
    }
    return "en";
  }
  var lang = pick(), t = T[lang], el, layer2, opener, subs = [], waiting;
  /* never shown unstyled */
  var styled = false;
  var st = read();
  /* V, VID: GET /consent/vendors; ran: categories whose scripts ran here */
  var V = [], VID = "", listed, ran = {}, queue = Promise.resolve(), names;
  var CSS = (me && me.src ? me.src : BASE + "/banner.js").replace(/banner\.js(\?|$)/, "banner.css$1");

  function read() {
    var m = d.cookie.match(/(?:^|;\s*)cg_state=([^;]*)/), q = new URLSearchParams(m ? m[1] : ""), v = q.get("v");
    var s = { decided: v === VER, policyVersion: v };
    CATS.forEach(function (c) { s[c] = q.get(c[0]) === "1"; });
    return s;
  }
  function copy() { return Object.assign({}, st); }
  function ok(c) { return st.decided && st[c]; }
  function signal() {
    var g = function (b) { return b ? "granted" : "denied"; }, s = ok("statistics"), m = ok("marketing"), p = ok("preferences");
    if (typeof w.gtag === "function") w.gtag("consent", "update", {
      analytics_storage: g(s), ad_storage: g(m), ad_user_data: g(m),
      ad_personalization: g(m), functionality_storage: g(p), personalization_storage: g(p)
    });
    if (w.uetq && w.uetq.push) w.uetq.push("consent", "update", { ad_storage: g(m) });
    if (typeof w.clarity === "function") w.clarity("consentv2", { ad_Storage: g(m), analytics_Storage: g(s) });
    if (typeof w.fbq === "function") w.fbq("consent", m ? "grant" : "revoke");
  }
  function emit() {
    signal();
    subs.forEach(function (f) { try { f(copy()); } catch (e) { setTimeout(function () { throw e; }); } });
  }
  function h(tag, attrs, text) {
    var e = d.createElement(tag);
    for (var a in attrs) e.setAttribute(a, attrs[a]);
    if (text) e.textContent = text;
    return e;
  }
  function shadow(host) {
    var root = host.attachShadow({ mode: "open" });
    return [root, root.appendChild(h("link", { rel: "stylesheet", href: CSS }))];
  }
  function build() {
    var host = d.createElement("consent-gate"), r;
    host.setAttribute("style", "all:initial!important;display:block!important");
    r = shadow(host);
    r[1].onload = r[1].onerror = function () { styled = true; if (waiting) { waiting(); waiting = null; } };
    el = r[0].appendChild(h("div", { "class": "cg", hidden: "", role: "dialog", "aria-labelledby": "cg-t", "aria-describedby": "cg-d", lang: lang,
      style: "position:fixed;left:0;right:0;bottom:0" }));
    var b = el.appendChild(h("div", { "class": "cg-b" }));
    b.appendChild(h("h2", { id: "cg-t" }, t[0]));
    var p = b.appendChild(h("p", { id: "cg-d" }, t[1] + " "));
    if (URL_) p.appendChild(h("a", { href: URL_ }, t[2]));
    layer2 = b.appendChild(h("fieldset", { "class": "cg-s", hidden: "" }));
    layer2.appendChild(h("legend", {}, t[5]));
    ["necessary"].concat(CATS).forEach(function (c, i) {
      var row = layer2.appendChild(h("div", { "class": "cg-c" }));
      var lab = row.appendChild(h("label", {}));
      var box = lab.appendChild(h("input", { type: "checkbox", "aria-describedby": "cg-" + c }));
      lab.appendChild(d.createTextNode(" " + t[7 + 2 * i]));
      row.appendChild(h("p", { id: "cg-" + c }, t[8 + 2 * i]));
      if (i) box.setAttribute("data-cg-category", c);
      else { box.checked = true; box.disabled = true; }
    });
    if (gpc) layer2.appendChild(h("p", { "class": "cg-g" }, t[15]));
    b.appendChild(h("p", { "class": "cg-e", role: "alert" }));
    var acts = b.appendChild(h("div", { "class": "cg-a" }));
    [["accept-all", 3], ["reject-all", 4], ["settings", 5], ["save", 6]].forEach(function (a) {
      var btn = acts.appendChild(h("button", { type: "button", "data-cg-action": a[0] }, t[a[1]]));
      if (a[0] === "save") btn.hidden = true;
    });
    el.addEventListener("click", function (e) {
      var a = e.target.getAttribute("data-cg-action");
      if (a === "settings") settings(true);
      else if (a) save(a === "save" ? void 0 : a === "accept-all");
    });
    el.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && !layer2.hidden) { e.preventDefault(); settings(false); }
    });
    d.body.insertBefore(host, d.body.firstChild);
  }
  function $(sel) { return el.querySelector(sel); }
  function country(v) {
    try { return v.country ? (names = names || new Intl.DisplayNames([lang], { type: "region" })).of(v.country) : ""; } catch (e) { return v.country; }
  }
  function who(v) { return v.title + " — " + [v.recipient, country(v)].filter(Boolean).join(", "); }
  /* when the settings open */
  function listVendors() {
    CATS.forEach(function (c, i) {
      var vs = V.filter(function (v) { return v.category === c; }), row = $("#cg-" + c), ul = row.nextSibling;
      if (ul) ul.remove();
      if (!vs.length) return;
      ul = row.parentNode.appendChild(h("ul", { "class": "cg-v", "aria-label": t[21] + ": " + t[9 + 2 * i] }));
      vs.forEach(function (v) { ul.appendChild(h("li", {}, who(v))); });
    });
  }
  function settings(on, quiet) {
    if (on) listVendors();
    layer2.hidden = !on;
    $('[data-cg-action="save"]').hidden = !on;
    $('[data-cg-action="settings"]').hidden = on;
    if (on && gpc && !st.decided) $('[data-cg-category="marketing"]').checked = false;
    if (!quiet) $(on ? "[data-cg-category]" : '[data-cg-action="settings"]').focus();
  }
  function show(then) {
    if (!el) build();
    if (!styled) { waiting = function () { show(then); }; return; }
    CATS.forEach(function (c) { $('[data-cg-category="' + c + '"]').checked = ok(c); });
    settings(false, true);
    el.hidden = false;
    if (then) then();
  }
  function hide() {
    el.hidden = true;
    if (opener && opener.focus) opener.focus();
    opener = null;
  }
  /* all: true, false, undefined (the switches) or {category: bool} */
  function save(all) {
    var ch = {};
    CATS.forEach(function (c) {
      ch[c] = typeof all === "object" ? !!all[c] : all === undefined ? $('[data-cg-category="' + c + '"]').checked : all;
    });
    if (el) $(".cg-e").textContent = "";
    var body = { choices: ch, policy_version: VER, lang: lang, banner: BUILD, page: location.href, vendors: VID || void 0 };
    return fetch(BASE, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (r) {
      if (r.status === 409) throw t[16];
      if (!r.ok) throw t[17];
      return r.json();
    }).then(changed).catch(function (m) {
      m = typeof m === "string" ? m : t[17];
      if (!el || el.hidden) show();
      $(".cg-e").textContent = m;
    });
  }
  function changed(r) {
    var was = st;
    st = read();
    if (el) hide();
    emit();
    gate();
    clear();
    /* a script cannot be unloaded; a page's enforced policy cannot widen */
    if (cfg.cgReload !== "off" && CATS.some(function (c) {
      return ran[c] && was[c] && !ok(c) || r && r.csp == "enforce" && !was[c] && ok(c) &&
        V.some(function (v) { return v.category == c; });
    }))
      location.replace(location.href);
  }

  function like(list, name) {
    return list.some(function (p) { return p.slice(-1) === "*" ? name.indexOf(p.slice(0, -1)) === 0 : p === name; });
  }
  /* vendor cookies (host and parent domains) and storage of categories not granted */
  function clear() {
    var host = location.hostname.split("."), doms = [""];
    for (var i = 0; i < host.length - 1 && !/^[\d.]+$/.test(location.hostname); i++)
      doms.push("; Domain=" + host.slice(i).join("."));
    V.forEach(function (v) {
      if (ok(v.category)) return;
      d.cookie.split(/;\s*/).forEach(function (kv) {
        var n = kv.split("=")[0];
        if (n && like(v.cookies, n)) doms.forEach(function (x) { d.cookie = n + "=; Max-Age=0; Path=/" + x; });
      });
      [w.localStorage, w.sessionStorage].forEach(function (s) {
        try {
          for (var k = s.length - 1; k >= 0; k--) if (like(v.storage, s.key(k))) s.removeItem(s.key(k));
        } catch (e) {}
      });
    });
  }
  /* once, in order: an external one holds the next until it loads or fails */
  function run(s) {
    var c = s.getAttribute("data-cg-category");
    s.type = "text/cg-queued";
    queue = queue.then(function () {
      return new Promise(function (done) {
        var n = d.createElement("script");
        [].forEach.call(s.attributes, function (a) { if (a.name !== "type") n.setAttribute(a.name, a.value); });
        var tp = s.getAttribute("data-cg-type");
        if (tp) n.type = tp;
        ran[c] = true;
        if (n.src) { n.async = false; n.onload = n.onerror = done; } else n.text = s.text;
        s.replaceWith(n);
        if (!n.src) done();
      });
    });
  }
  function embed(f, once) {
    if (!once) ran[f.getAttribute("data-cg-category")] = true;
    if (f.cgPh) { f.cgPh.remove(); f.cgPh = null; f.style.cssText = f.cgS; }
    f.src = f.getAttribute("data-cg-src");
    f.removeAttribute("data-cg-src");
  }
  /* reads only: one layout for all frames */
  function box(f) {
    var cs = getComputedStyle(f), r = f.getBoundingClientRect();
    return "all:initial;box-sizing:border-box;overflow:hidden;vertical-align:" + cs.verticalAlign + ";display:" +
      (cs.display === "inline" ? "inline-block" : cs.display) + ";width:" + r.width + "px;height:" + r.height + "px;margin:" + cs.margin;
  }
  /* the frame stays, hidden: removing it is a long task */
  function hold(f, css) {
    var c = f.getAttribute("data-cg-category"), i = CATS.indexOf(c);
    var v = V.filter(function (x) { return x.name === f.getAttribute("data-cg-vendor"); })[0] || { title: f.getAttribute("data-cg-vendor") || f.title || "", recipient: "" };
    var cat = (t[9 + 2 * i] || c).toLowerCase();
    var host = h("consent-gate-embed", {}), sh = shadow(host);
    host.style.cssText = css;
    /* shown once styled: no shift */
    var b = sh[0].appendChild(h("div", { "class": "cg-p", hidden: "", role: "group", lang: lang, "aria-label": v.title }));
    sh[1].onload = sh[1].onerror = function () { b.hidden = false; };
    b.appendChild(h("p", {}, t[18].replace("%v", v.title).replace("%r", v.recipient || "?").replace("%n", country(v) || "?").replace("%c", cat)));
    b.appendChild(h("button", { type: "button", "data-cg-action": "embed-once" }, t[19]));
    b.appendChild(h("button", { type: "button", "data-cg-action": "embed-allow" }, t[20].replace("%c", cat)));
    b.addEventListener("click", function (e) {
      var a = e.target.getAttribute("data-cg-action"), ch = copy();
      if (a === "embed-once") embed(f, true);
      if (a === "embed-allow") { ch[c] = true; save(ch); }
    });
    f.cgPh = host;
    f.cgS = f.style.cssText;
    f.before(host);
    f.style.setProperty("display", "none", "important");
  }
  function gate(root) {
    root = root || d;
    root.querySelectorAll('script[type="text/plain"][data-cg-category]').forEach(function (s) {
      if (ok(s.getAttribute("data-cg-category"))) run(s);
    });
    if (listed) [].map.call(root.querySelectorAll("iframe[data-cg-src]"), function (f) {
      var g = ok(f.getAttribute("data-cg-category"));
      return [f, g, g || f.cgPh || box(f)];
    }).forEach(function (a) { if (a[1]) embed(a[0]); else if (!a[0].cgPh) hold(a[0], a[2]); });
  }

  w.ConsentGate = {
    open: function () {
      opener = d.activeElement;
      show(function () { $("[data-cg-action]").focus(); });
    },
    state: copy,
    on: function (ev, fn) {
      if (ev === "change" && typeof fn === "function") {
        subs.push(fn);
        if (st.decided) setTimeout(function () { fn(copy()); });
      }
    },
    track: function (name, params) {
      return navigator.sendBeacon("/collect", JSON.stringify({ events: [{ name: name, params: params || {} }] }));
    },
    withdraw: function () {
      return fetch(BASE, { method: "DELETE" }).then(function (r) {
        if (r.ok) changed();
        return r.ok;
      });
    }
  };
  /* short tasks */
  function init() {
    /* on() tells subscribers; open() may come first */
    setTimeout(st.decided ? signal : function () { el || show(); });
    new MutationObserver(function (ms) {
      ms.forEach(function (m) { m.addedNodes.forEach(function (n) { if (n.parentNode && n.querySelectorAll) gate(n.parentNode); }); });
    }).observe(d.documentElement, { childList: true, subtree: true });
    gate();
    /* frames wait for the list (it names their vendor) */
    fetch(BASE + "/vendors").then(function (r) { return r.json(); }).then(function (j) {
      V = j.vendors; VID = j.id;
      if (layer2 && !layer2.hidden) listVendors();
    }).catch(function () {}).then(function () { listed = 1; gate(); setTimeout(clear); });
  }
  if (d.body) setTimeout(init); else d.addEventListener("DOMContentLoaded", init);
})(window, document);
