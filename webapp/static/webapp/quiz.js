/* The quiz page: before an attempt with unanswered questions is sent, ask (the server takes it as it is, an
   unanswered question scores nothing). A static file: the CSP forbids inline scripts. */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-quiz]")) return;
    var questions = form.querySelectorAll("fieldset[data-question]");
    var open = 0;
    questions.forEach(function (q) { if (!q.querySelector("input:checked")) { open += 1; } });
    if (!open) return;
    var text = form.getAttribute(open === 1 ? "data-unanswered-one" : "data-unanswered-many")
      .replace("{n}", String(open)).replace("{total}", String(questions.length));
    if (!window.confirm(text)) { event.preventDefault(); }
  });
})();
