/*
 * Colour theme, applied before first paint. A classic blocking script in <head>, so that the
 * page never flashes the wrong theme. The choice is stored by shell.js under "orch-theme";
 * with nothing stored, the system preference (prefers-color-scheme) decides.
 */
(function () {
  "use strict";
  var root = document.documentElement;
  var theme = null;
  try {
    theme = window.localStorage.getItem("orch-theme");
  } catch (e) {
    theme = null; // storage blocked: follow the system
  }
  if (theme !== "light" && theme !== "dark") {
    theme = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  root.dataset.theme = theme;
  root.classList.add("js");
})();
