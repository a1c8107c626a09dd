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
