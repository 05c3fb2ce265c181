// Small touches for the desk; every page works without it.
(function () {
  // "/" focuses the search box.
  document.addEventListener("keydown", function (e) {
    var search = document.getElementById("search");
    if (e.key === "/" && search && document.activeElement.tagName !== "INPUT" && document.activeElement.tagName !== "TEXTAREA") {
      e.preventDefault(); search.focus();
    }
  });
  // Tick every row of the queue; say how many are ticked.
  var all = document.getElementById("select-all");
  var ticked = document.getElementById("selected-count");
  function count() {
    var n = document.querySelectorAll("input[name=selected]:checked").length;
    if (ticked) ticked.textContent = n ? "(" + n + " ticked)" : "";
  }
  if (all) all.addEventListener("change", function () {
    document.querySelectorAll("input[name=selected]").forEach(function (box) { box.checked = all.checked; });
    count();
  });
  document.querySelectorAll("input[name=selected]").forEach(function (box) { box.addEventListener("change", count); });
  // Reply templates fill their textarea: with the option's text, or its value.
  document.querySelectorAll("select[data-fill]").forEach(function (select) {
    select.addEventListener("change", function () {
      var option = select.options[select.selectedIndex];
      var text = option && option.dataset.text !== undefined ? option.dataset.text : select.value;
      document.getElementById(select.dataset.fill).value = text;
    });
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
