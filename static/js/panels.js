// Lazy panels (templates/partials/lazy_panel.html): when a panel cannot be loaded, say so and why, instead of
// leaving "Loading…" on the page for ever.
(function () {
  function failed(event, reason) {
    var elt = event.detail && event.detail.elt;
    var panel = elt && elt.closest && elt.closest("[data-lazy-panel]");
    if (!panel) return;
    panel.removeAttribute("aria-busy");
    panel.classList.add("failed");
    var loading = panel.querySelector("[data-loading]");
    var error = panel.querySelector("[data-error]");
    if (loading) loading.hidden = true;
    if (error) {
      var why = error.querySelector("[data-error-reason]");
      if (why) why.textContent = " (" + reason + ")";
      error.hidden = false;
    }
  }
  document.addEventListener("htmx:responseError", function (e) {
    failed(e, "the server answered " + e.detail.xhr.status);
  });
  document.addEventListener("htmx:sendError", function (e) { failed(e, "the server could not be reached"); });
  document.addEventListener("htmx:timeout", function (e) { failed(e, "the server did not answer in time"); });
})();
