// The card template editor: keyboard and drag-and-drop reordering of fields, focus kept across swaps.
(function () {
  "use strict";

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (e) {
      return "";
    }
  }

  // After a swap the moved row (or the button that moved it) gets the focus back.
  var refocus = null;

  function restoreFocus() {
    if (!refocus) { return; }
    var row = document.getElementById("tf-" + refocus.key);
    var target = row;
    if (row && refocus.move) {
      var button = row.querySelector('[data-move="' + refocus.move + '"]');
      if (button && !button.disabled) { target = button; }
    }
    refocus = null;
    if (target) { target.focus(); }
  }

  function moveField(row, values) {
    refocus = {key: row.getAttribute("data-field-key"), move: null};
    var selected = document.querySelector(".tpl-field.is-selected");
    values.selected = selected ? selected.getAttribute("data-field-key") : "";
    return htmx.ajax("POST", row.getAttribute("data-move-url"), {
      target: "#template-outline", swap: "outerHTML", values: values,
      headers: {"X-CSRFToken": csrfToken()}
    });
  }

  // Validation errors come back as 422 with the widget showing them: swap it in like a success.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr && event.detail.xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // Up/down buttons: remember which row moved so the focus follows it.
  document.addEventListener("click", function (event) {
    var button = event.target.closest(".tpl-field [data-move]");
    if (button) {
      refocus = {key: button.closest(".tpl-field").getAttribute("data-field-key"),
                 move: button.getAttribute("data-move")};
    }
    var link = event.target.closest("[data-select-field]");
    if (link) {
      document.querySelectorAll(".tpl-field.is-selected").forEach(function (el) { el.classList.remove("is-selected"); });
      var row = link.closest(".tpl-field");
      if (row) { row.classList.add("is-selected"); }
    }
  });

  // Alt+ArrowUp / Alt+ArrowDown on a focused field row moves it.
  document.addEventListener("keydown", function (event) {
    if (!event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) { return; }
    var row = event.target.closest && event.target.closest(".tpl-field");
    if (!row || event.target !== row) { return; }
    event.preventDefault();
    moveField(row, {direction: event.key === "ArrowUp" ? "up" : "down"});
  });

  // Drag and drop between and within sections (SortableJS), when it is loaded.
  function initSortable(root) {
    if (typeof Sortable === "undefined" || !root) { return; }
    root.querySelectorAll(".tpl-fields").forEach(function (list) {
      if (list.getAttribute("data-sortable")) { return; }
      list.setAttribute("data-sortable", "1");
      Sortable.create(list, {
        group: "template-fields", handle: ".tpl-handle", draggable: ".tpl-field", animation: 120,
        onEnd: function (evt) {
          if (evt.from === evt.to && evt.oldDraggableIndex === evt.newDraggableIndex) { return; }
          moveField(evt.item, {section: evt.to.getAttribute("data-section"), index: String(evt.newDraggableIndex)});
        }
      });
    });
  }

  document.addEventListener("htmx:afterSettle", function () {
    var outline = document.getElementById("template-outline");
    if (outline) {
      initSortable(outline);
      restoreFocus();
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    initSortable(document.getElementById("template-outline"));
  });
})();
