// Our own small behaviours. Everything else is HTML + htmx attributes.
document.addEventListener("htmx:responseError", function (event) {
  // Server error pages for htmx requests are fragments: show them where the flash area is.
  var flash = document.getElementById("flash");
  if (flash && event.detail.xhr && event.detail.xhr.responseText && !event.detail.target.closest("form")) {
    flash.innerHTML = event.detail.xhr.responseText;
  }
});
// Forms and buttons that ask for confirmation with data-confirm (outside htmx).
document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) { event.preventDefault(); }
});
