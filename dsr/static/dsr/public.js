/* The public pages, enhanced: the form shows only what the chosen kind needs, as the person
   chooses (without this script the server does the same one step at a time), and after a
   failed submit the error summary takes the focus. A static file: the CSP allows no inline script. */
(function () {
  "use strict";

  function valueOf(form, name) {
    var field = form.elements[name];
    if (!field) { return ""; }
    if (field.tagName === "SELECT" || field.tagName === "INPUT") { return field.value; }
    for (var i = 0; i < field.length; i++) {
      if (field[i].checked) { return field[i].value; }
    }
    return "";
  }

  function adapt(form) {
    var parts = form.querySelectorAll("[data-show-when]");
    for (var i = 0; i < parts.length; i++) {
      var rule = parts[i].getAttribute("data-show-when").split("=");
      var value = valueOf(form, rule[0]);
      parts[i].hidden = rule[1] === "*" ? value === "" : value !== rule[1];
    }
  }

  function focusField(event) {
    var id = event.currentTarget.getAttribute("href").slice(1);
    var field = document.getElementById(id);
    if (!field) { return; }
    event.preventDefault();
    var group = field.closest("fieldset") || field;
    group.scrollIntoView({block: "center"});
    field.focus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var forms = document.querySelectorAll("form[data-adapts]");
    for (var i = 0; i < forms.length; i++) {
      var form = forms[i];
      var steps = form.querySelectorAll("[data-without-script]");
      for (var j = 0; j < steps.length; j++) { steps[j].hidden = true; }
      adapt(form);
      form.addEventListener("change", adapt.bind(null, form));
    }
    var summary = document.getElementById("error-summary");
    if (summary) {
      var links = summary.querySelectorAll("a[href^='#']");
      for (var k = 0; k < links.length; k++) { links[k].addEventListener("click", focusField); }
      summary.focus();
    }
  });
}());
