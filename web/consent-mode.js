/* consentgate: Google Consent Mode defaults. Place it before any Google tag, without
 * async or defer: <script src="/consent/consent-mode.js" data-policy-version="2023-12"></script>
 * Everything is denied but security until the banner's update; a returning visitor's
 * choice (the cg_state cookie of this policy version) is the update at once, so the
 * first hit already carries it. docs/banner.md#consent-signals */
(function (w, d) {
  "use strict";
  var D = "denied", me = d.currentScript, v = me && me.getAttribute("data-policy-version");
  w.dataLayer = w.dataLayer || [];
  if (typeof w.gtag !== "function") w.gtag = function () { w.dataLayer.push(arguments); };
  w.gtag("consent", "default", {
    ad_storage: D, analytics_storage: D, ad_user_data: D, ad_personalization: D,
    functionality_storage: D, personalization_storage: D, security_storage: "granted", wait_for_update: 500
  });
  var m = d.cookie.match(/(?:^|;\s*)cg_state=([^;]*)/);
  if (!m) return;
  var q = new URLSearchParams(m[1]), g = function (k) { return q.get(k) === "1" ? "granted" : D; };
  if (v && q.get("v") !== v) return; /* a choice under another policy version is asked again */
  w.gtag("consent", "update", {
    analytics_storage: g("s"), ad_storage: g("m"), ad_user_data: g("m"), ad_personalization: g("m"),
    functionality_storage: g("p"), personalization_storage: g("p")
  });
})(window, document);
