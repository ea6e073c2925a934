/* Demo stand-in for Hotjar's loader: served only when /consent/check allows statistics. */
window.__cgStandin = window.__cgStandin || {};
window.__cgStandin.hotjar = true;
document.dispatchEvent(new CustomEvent("cg-standin", { detail: "hotjar" }));
