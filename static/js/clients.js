// Client list: select rows for bulk actions, show the count in the confirmation, narrow the option filter.
(function () {
  function checked() { return document.querySelectorAll("input[name=ids][form=bulk-form]:checked"); }
  function updateCount() {
    var out = document.querySelector("[data-selected-count]");
    var n = checked().length;
    if (out) { out.textContent = String(n); }
    // On a phone the bulk bar appears only once a client is selected.
    var bar = document.getElementById("bulk-form");
    if (bar) { bar.classList.toggle("has-selection", n > 0); }
  }
  document.addEventListener("change", function (event) {
    var t = event.target;
    if (t.matches("[data-select-all]")) {
      document.querySelectorAll("input[name=ids][form=bulk-form]").forEach(function (box) { box.checked = t.checked; });
      updateCount();
    } else if (t.matches("input[name=ids]")) {
      updateCount();
    } else if (t.matches("#client-filters select[name=field]")) {
      var select = t.form.querySelector("[data-field-options]");
      if (select) {
        select.value = "";
        select.querySelectorAll("option[data-field]").forEach(function (o) {
          var other = o.getAttribute("data-field") !== t.value;
          o.hidden = other; o.disabled = other;
        });
      }
    }
  });
  // Bulk actions confirm with the number of selected clients: the question holds __N__ for it.
  document.addEventListener("htmx:confirm", function (event) {
    var question = event.detail.question;
    if (!question || question.indexOf("__N__") < 0) { return; }
    event.preventDefault();
    var n = checked().length;
    if (n === 0) {
      window.alert(event.detail.elt.getAttribute("data-none") || "");
      return;
    }
    if (window.confirm(question.split("__N__").join(String(n)))) { event.detail.issueRequest(true); }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "client-rows") {
      var all = document.querySelector("[data-select-all]");
      if (all) { all.checked = false; }
      updateCount();
    }
  });
})();
