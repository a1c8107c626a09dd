// Card page behaviours: conflict answers swap in like forms, print buttons.
document.addEventListener("htmx:beforeSwap", function (event) {
  // 409: the conflict view (what changed meanwhile + the user's input) replaces the form.
  if (event.detail.xhr && event.detail.xhr.status === 409) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) { window.print(); }
});
// htmx settles "style" between old and new elements of the same id (a form re-rendered after a
// conflict or error); writing an empty style attribute breaks our CSP (style-src 'self'). Settle without it.
if (window.htmx) { window.htmx.config.attributesToSettle = ["class", "width", "height"]; }
