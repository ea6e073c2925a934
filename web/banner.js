/* consentgate banner: <script src="/consent/banner.js" defer data-policy-version="2023-12"
 * data-policy-url="/personvern" data-lang="nb"></script>. No dependencies, same origin only.
 * API: ConsentGate.open(), .state(), .on('change', fn), .track(name, params), .withdraw()
 * It renders in a shadow root, styled by banner.css alone (the page's CSS reaches it only
 * through the --cg-* custom properties), so what a visitor sees is this build: its id
 * (consentctl banner stamp) goes with every choice. Texts are changed here, never from
 * the page, for the same reason. */
(function (w, d) {
  "use strict";
  var me = d.currentScript || d.querySelector('script[src*="banner.js"]');
  var cfg = (me && me.dataset) || {};
  var VER = cfg.policyVersion || "", URL_ = cfg.policyUrl || "", BASE = cfg.base || "/consent";
  var BUILD = "cg-build:00000000000000000000000000000000".slice(9);
  var CATS = ["preferences", "statistics", "marketing"];
  var gpc = !!navigator.globalPrivacyControl;
  /* texts: [title, intro, policy, accept, reject, settings, save, necessary, necessary desc,
     preferences, desc, statistics, desc, marketing, desc, GPC note, stale, error] */
  var T = {
    en: ["Cookies on this site", "We use cookies that are needed for the site to work. With your consent we also use cookies for preferences, statistics and marketing. You can change your choice at any time.", "Privacy policy", "Accept all", "Reject all", "Settings", "Save choice", "Necessary", "Make the site work, e.g. the cart. Always on.", "Preferences", "Remember your settings, such as language.", "Statistics", "Help us see how the site is used.", "Marketing", "Show relevant ads on other sites.", "Your browser sends Global Privacy Control, so marketing is off.", "The privacy policy has changed. Please reload the page.", "Your choice could not be saved. Please try again."],
    nb: ["Informasjonskapsler", "Vi bruker informasjonskapsler som trengs for at nettstedet skal virke. Med ditt samtykke bruker vi også kapsler for preferanser, statistikk og markedsføring. Du kan endre valget når som helst.", "Personvernerklæring", "Godta alle", "Avvis alle", "Innstillinger", "Lagre valg", "Nødvendige", "Får nettstedet til å virke, f.eks. handlekurven. Alltid på.", "Preferanser", "Husker innstillingene dine, som språk.", "Statistikk", "Hjelper oss å se hvordan nettstedet brukes.", "Markedsføring", "Viser relevante annonser på andre nettsteder.", "Nettleseren din sender Global Privacy Control, så markedsføring er av.", "Personvernerklæringen er endret. Last inn siden på nytt.", "Valget ble ikke lagret. Prøv igjen."],
    nn: ["Informasjonskapslar", "Vi brukar informasjonskapslar som trengst for at nettstaden skal verke. Med samtykket ditt brukar vi òg kapslar for preferansar, statistikk og marknadsføring. Du kan endre valet når som helst.", "Personvernerklæring", "Godta alle", "Avvis alle", "Innstillingar", "Lagre val", "Naudsynte", "Får nettstaden til å verke, t.d. handlekorga. Alltid på.", "Preferansar", "Hugsar innstillingane dine, som språk.", "Statistikk", "Hjelper oss å sjå korleis nettstaden blir brukt.", "Marknadsføring", "Viser relevante annonsar på andre nettstader.", "Nettlesaren din sender Global Privacy Control, så marknadsføring er av.", "Personvernerklæringa er endra. Last inn sida på nytt.", "Valet vart ikkje lagra. Prøv igjen."],
    sv: ["Kakor på webbplatsen", "Vi använder kakor som behövs för att webbplatsen ska fungera. Med ditt samtycke använder vi även kakor för inställningar, statistik och marknadsföring. Du kan ändra ditt val när som helst.", "Integritetspolicy", "Godkänn alla", "Avvisa alla", "Inställningar", "Spara val", "Nödvändiga", "Får webbplatsen att fungera, t.ex. varukorgen. Alltid på.", "Preferenser", "Kommer ihåg dina val, som språk.", "Statistik", "Hjälper oss att se hur webbplatsen används.", "Marknadsföring", "Visar relevanta annonser på andra webbplatser.", "Din webbläsare skickar Global Privacy Control, så marknadsföring är av.", "Integritetspolicyn har ändrats. Ladda om sidan.", "Ditt val kunde inte sparas. Försök igen."],
    da: ["Cookies på hjemmesiden", "Vi bruger cookies, der er nødvendige for at hjemmesiden virker. Med dit samtykke bruger vi også cookies til præferencer, statistik og markedsføring. Du kan ændre dit valg når som helst.", "Privatlivspolitik", "Accepter alle", "Afvis alle", "Indstillinger", "Gem valg", "Nødvendige", "Får hjemmesiden til at virke, f.eks. kurven. Altid til.", "Præferencer", "Husker dine indstillinger, som sprog.", "Statistik", "Hjælper os med at se, hvordan siden bruges.", "Markedsføring", "Viser relevante annoncer på andre sider.", "Din browser sender Global Privacy Control, så markedsføring er slået fra.", "Privatlivspolitikken er ændret. Genindlæs siden.", "Dit valg blev ikke gemt. Prøv igen."],
    fi: ["Evästeet", "Käytämme evästeitä, joita sivusto tarvitsee toimiakseen. Suostumuksellasi käytämme evästeitä myös asetuksiin, tilastointiin ja markkinointiin. Voit muuttaa valintaasi milloin tahansa.", "Tietosuojaseloste", "Hyväksy kaikki", "Hylkää kaikki", "Asetukset", "Tallenna valinta", "Välttämättömät", "Pitävät sivuston toiminnassa, esim. ostoskorin. Aina päällä.", "Mieltymykset", "Muistavat valintasi, kuten kielen.", "Tilastot", "Auttavat meitä näkemään, miten sivustoa käytetään.", "Markkinointi", "Näyttävät osuvia mainoksia muilla sivustoilla.", "Selaimesi lähettää Global Privacy Control -signaalin, joten markkinointi on pois päältä.", "Tietosuojaseloste on muuttunut. Lataa sivu uudelleen.", "Valintaa ei voitu tallentaa. Yritä uudelleen."]
  };
  function pick() {
    /* the embed's data-lang, then the page's own language, then the browser's */
    var c = [cfg.lang, d.documentElement.lang].concat(navigator.languages || [navigator.language]);
    for (var i = 0; i < c.length; i++) {
      var l = String(c[i] || "").toLowerCase().split("-")[0];
      if (l === "no") l = "nb";
      if (T[l]) return l;
    }
    return "en";
  }
  var lang = pick(), t = T[lang], el, layer2, opener, subs = [], waiting;
  /* the stylesheet loads inside the shadow root; the banner waits for it, so it never
     shows unstyled */
  var styled = false;
  var st = read();

  function read() {
    var m = d.cookie.match(/(?:^|;\s*)cg_state=([^;]*)/), s = { decided: false, policyVersion: null };
    CATS.forEach(function (c) { s[c] = false; });
    if (!m) return s;
    var q = new URLSearchParams(m[1]);
    s.policyVersion = q.get("v");
    s.decided = s.policyVersion === VER;
    s.preferences = q.get("p") === "1"; s.statistics = q.get("s") === "1"; s.marketing = q.get("m") === "1";
    return s;
  }
  function copy() { return Object.assign({}, st); }
  function emit() {
    var g = function (b) { return b ? "granted" : "denied"; };
    if (typeof w.gtag === "function") w.gtag("consent", "update", {
      analytics_storage: g(st.statistics), ad_storage: g(st.marketing), ad_user_data: g(st.marketing),
      ad_personalization: g(st.marketing), functionality_storage: g(st.preferences),
      personalization_storage: g(st.preferences)
    });
    subs.forEach(function (f) { try { f(copy()); } catch (e) { setTimeout(function () { throw e; }); } });
  }
  function h(tag, attrs, text) {
    var e = d.createElement(tag);
    for (var a in attrs) e.setAttribute(a, attrs[a]);
    if (text) e.textContent = text;
    return e;
  }
  function build() {
    var host = d.createElement("consent-gate"), root, css;
    /* inline !important outranks any page rule on the host */
    host.setAttribute("style", "all:initial!important;display:block!important");
    root = host.attachShadow({ mode: "open" });
    css = root.appendChild(h("link", { rel: "stylesheet", href: (me && me.src ? me.src : BASE + "/banner.js").replace(/banner\.js(\?|$)/, "banner.css$1") }));
    css.onload = css.onerror = function () { styled = true; if (waiting) { waiting(); waiting = null; } };
    el = root.appendChild(h("div", { "class": "cg", hidden: "", role: "dialog", "aria-modal": "false", "aria-labelledby": "cg-t", "aria-describedby": "cg-d", lang: lang,
      style: "position:fixed;left:0;right:0;bottom:0" })); /* out of the flow even in a frame before its stylesheet applies */
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
      var a = e.target.getAttribute && e.target.getAttribute("data-cg-action");
      if (a === "accept-all") save(true);
      else if (a === "reject-all") save(false);
      else if (a === "save") save();
      else if (a === "settings") settings(true);
    });
    el.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && !layer2.hidden) { e.preventDefault(); settings(false); }
    });
    d.body.insertBefore(host, d.body.firstChild);
  }
  function $(sel) { return el.querySelector(sel); }
  function settings(on, quiet) {
    layer2.hidden = !on;
    $('[data-cg-action="save"]').hidden = !on;
    $('[data-cg-action="settings"]').hidden = on;
    if (on && gpc && !st.decided) $('[data-cg-category="marketing"]').checked = false;
    if (!quiet) $(on ? "[data-cg-category]" : '[data-cg-action="settings"]').focus();
  }
  function show(then) {
    if (!el) build();
    if (!styled) { waiting = function () { show(then); }; return; }
    CATS.forEach(function (c) { $('[data-cg-category="' + c + '"]').checked = st.decided && st[c]; });
    settings(false, true);
    el.hidden = false;
    if (then) then();
  }
  function hide() {
    el.hidden = true;
    if (opener && opener.focus) opener.focus();
    opener = null;
  }
  function save(all) {
    var ch = {};
    CATS.forEach(function (c) { ch[c] = all === undefined ? $('[data-cg-category="' + c + '"]').checked : all; });
    $(".cg-e").textContent = "";
    fetch(BASE, {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ choices: ch, policy_version: VER, lang: lang, banner: BUILD, page: location.href })
    }).then(function (r) {
      if (r.status === 409) throw t[16];
      if (!r.ok) throw t[17];
      return r.json();
    }).then(function () {
      st = read();
      hide();
      emit();
    }).catch(function (m) { $(".cg-e").textContent = typeof m === "string" ? m : t[17]; });
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
      var body = JSON.stringify({ events: [{ name: name, params: params || {} }] });
      return navigator.sendBeacon ? navigator.sendBeacon("/collect", body)
        : (fetch("/collect", { method: "POST", body: body, keepalive: true, credentials: "same-origin" }), true);
    },
    withdraw: function () {
      return fetch(BASE, { method: "DELETE", credentials: "same-origin" }).then(function (r) {
        if (r.ok) { st = read(); emit(); }
        return r.ok;
      });
    }
  };
  function init() {
    if (st.decided) emit(); else show();
  }
  if (d.body) init(); else d.addEventListener("DOMContentLoaded", init);
})(window, document);
