// Dragging a card of the opportunities board to another column.
// Each card holds a form (stage selector and Move button) that works without
// JavaScript; a drop picks the column's stage in that form and submits it, and
// htmx posts it (CSRF header from <body hx-headers>) and swaps in the columns.
(function () {
  "use strict";
  var dragged = null;

  function columnOf(node) {
    return node && node.closest ? node.closest(".column[data-stage]") : null;
  }

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".deal[draggable]");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.id);
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    document.querySelectorAll(".column.drop-here").forEach(function (column) {
      column.classList.remove("drop-here");
    });
  });

  document.addEventListener("dragover", function (event) {
    var column = columnOf(event.target);
    if (!dragged || !column) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    column.classList.add("drop-here");
  });

  document.addEventListener("dragleave", function (event) {
    var column = columnOf(event.target);
    if (column && !column.contains(event.relatedTarget)) column.classList.remove("drop-here");
  });

  document.addEventListener("drop", function (event) {
    var column = columnOf(event.target);
    if (!dragged || !column) return;
    event.preventDefault();
    column.classList.remove("drop-here");
    var form = dragged.querySelector("form.move");
    if (!form || columnOf(dragged) === column) return;
    form.elements.stage.value = column.dataset.stage;
    form.requestSubmit();
  });
})();
