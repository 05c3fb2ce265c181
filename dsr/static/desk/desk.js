// Small touches for the desk; every page works without it.
(function () {
  // "/" focuses the search box.
  document.addEventListener("keydown", function (e) {
    var search = document.getElementById("search");
    if (e.key === "/" && search && document.activeElement.tagName !== "INPUT" && document.activeElement.tagName !== "TEXTAREA") {
      e.preventDefault(); search.focus();
    }
  });
  // Select all rows of the queue.
  var all = document.getElementById("select-all");
  if (all) all.addEventListener("change", function () {
    document.querySelectorAll("input[name=selected]").forEach(function (box) { box.checked = all.checked; });
  });
  // Reason templates fill their textarea.
  document.querySelectorAll("select[data-fill]").forEach(function (select) {
    select.addEventListener("change", function () { document.getElementById(select.dataset.fill).value = select.value; });
  });
  // Per-system progress stays live while jobs run.
  function poll() {
    var table = document.getElementById("progress");
    if (!table || !table.dataset.poll) return;
    fetch(table.dataset.poll, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var holder = document.createElement("div"); holder.innerHTML = html;
        var fresh = holder.querySelector("#progress");
        if (fresh) { table.replaceWith(fresh); if (!fresh.dataset.poll) location.reload(); }
        setTimeout(poll, 2000);
      });
  }
  setTimeout(poll, 2000);
})();
