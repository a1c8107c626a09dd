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
// Table fields: add a row from the <template>, remove a row.
document.addEventListener("click", function (event) {
  var add = event.target.closest("[data-add-row]");
  if (add) {
    var box = add.closest(".table-field");
    var index = parseInt(box.getAttribute("data-next-row") || "0", 10);
    box.setAttribute("data-next-row", String(index + 1));
    var html = box.querySelector("template").innerHTML.split("__row__").join(String(index));
    box.querySelector("tbody").insertAdjacentHTML("beforeend", html);
    var first = box.querySelector("tbody tr:last-child input, tbody tr:last-child select");
    if (first) { first.focus(); }
    return;
  }
  var remove = event.target.closest("[data-remove-row]");
  if (remove) { remove.closest("tr").remove(); }
});
// A 422 answer is the re-rendered form or widget with its error messages: swap it in like a success.
document.addEventListener("htmx:beforeSwap", function (event) {
  if (event.detail.xhr && event.detail.xhr.status === 422) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
// Phone header: one line, the links behind the menu button.
document.addEventListener("click", function (event) {
  var toggle = event.target.closest(".menu-toggle, [data-toggle-open]");
  if (!toggle) { return; }
  var box = document.getElementById(toggle.getAttribute("aria-controls"));
  if (!box) { return; }
  var open = toggle.getAttribute("aria-expanded") !== "true";
  toggle.setAttribute("aria-expanded", open ? "true" : "false");
  box.classList.toggle("is-open", open);
});
// Copy buttons: data-copy names the field whose text goes to the clipboard.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) { return; }
  var field = document.querySelector(button.getAttribute("data-copy"));
  if (!field) { return; }
  field.select();
  var done = function () { button.textContent = button.getAttribute("data-copied") || button.textContent; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
  } else {
    document.execCommand("copy");
    done();
  }
});
