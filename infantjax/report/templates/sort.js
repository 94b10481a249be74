/* Sort the infants table by a column: numbers numerically (empty cells last), text alphabetically; ties keep
   the page's original order. One pass over the rows, moved with a single fragment. */
(function () {
  "use strict";
  var table = document.getElementById("infants");
  if (!table) { return; }
  var body = table.tBodies[0];
  var heads = table.tHead.rows[0].cells;

  function cellKey(row, col, numeric) {
    var cell = row.cells[col];
    var raw = cell.getAttribute("data-sort");
    if (raw === null) { raw = cell.textContent; }
    raw = raw.trim();
    if (!numeric) { return raw.toLowerCase(); }
    return raw === "" ? NaN : parseFloat(raw);
  }

  function sortBy(col, direction) {
    var numeric = heads[col].getAttribute("data-type") === "number";
    var keyed = [];
    for (var i = 0; i < body.rows.length; i++) {
      var row = body.rows[i];
      keyed.push([cellKey(row, col, numeric), Number(row.getAttribute("data-index")), row]);
    }
    keyed.sort(function (a, b) {
      var x = a[0], y = b[0];
      if (numeric) {
        var xn = isNaN(x), yn = isNaN(y);
        if (xn || yn) { return xn === yn ? a[1] - b[1] : (xn ? 1 : -1); }
      }
      if (x < y) { return -direction; }
      if (x > y) { return direction; }
      return a[1] - b[1];
    });
    var fragment = document.createDocumentFragment();
    for (var k = 0; k < keyed.length; k++) { fragment.appendChild(keyed[k][2]); }
    body.appendChild(fragment);
    for (var h = 0; h < heads.length; h++) {
      heads[h].setAttribute("aria-sort", h === col ? (direction > 0 ? "ascending" : "descending") : "none");
    }
  }

  Array.prototype.forEach.call(heads, function (head, col) {
    var button = head.querySelector("button");
    if (!button) { return; }
    button.addEventListener("click", function () {
      sortBy(col, head.getAttribute("aria-sort") === "ascending" ? -1 : 1);
    });
  });
  table.setAttribute("data-sortable", "ready");
}());
