/* Demo stand-in for Google's gtag.js: served only when /consent/check allows statistics. */
window.__cgStandin = window.__cgStandin || {};
window.__cgStandin.ga = true;
document.dispatchEvent(new CustomEvent("cg-standin", { detail: "ga" }));
