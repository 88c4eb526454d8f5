/* The flags task page: point at lines (issue 29). Click a line, shift+click another for a range, pick the
   problem, "Add span"; or in the code box: j/k or arrows move a line cursor, Space starts (and ends) a range,
   the number of a problem adds the range as that problem, Esc clears, x removes the last span. Each span is
   a row of hidden inputs (span_start, span_end, span_category, span_comment) sent with the form; the server
   checks every one (tasks.label_schemas). A static file: the CSP forbids inline scripts. */
(function () {
  "use strict";

  function fill(text, values) {
    return (text || "").replace(/\{(\w+)\}/g, function (all, name) { return name in values ? values[name] : all; });
  }

  function lineOf(box, n) { return box.querySelector("#code-line-" + n); }

  function state(box) {
    if (!box._spans) { box._spans = {cursor: 0, anchor: 0, start: 0, end: 0}; }
    return box._spans;
  }

  function section(box) { return box.closest("#task") || document; }

  function paint(box) {
    var s = state(box), root = section(box);
    var lo = Math.min(s.start, s.end), hi = Math.max(s.start, s.end);
    var covered = {};
    root.querySelectorAll("#span-list > li").forEach(function (li) {
      for (var n = Number(li.getAttribute("data-start")); n <= Number(li.getAttribute("data-end")); n++) {
        (covered[n] = covered[n] || []).push(li.getAttribute("data-category"));
      }
    });
    var total = Number(box.getAttribute("data-lines"));
    for (var n = 1; n <= total; n++) {
      var line = lineOf(box, n);
      if (!line) continue;
      line.classList.toggle("span-cursor", n === s.cursor);
      line.classList.toggle("span-selected", s.start > 0 && n >= lo && n <= hi);
      line.classList.toggle("span-flagged", !!covered[n]);
      if (covered[n]) { line.setAttribute("title", covered[n].join(", ")); } else { line.removeAttribute("title"); }
    }
    var out = root.querySelector("#span-selection");
    if (out && !out._keep) {
      out.textContent = s.start !== 0 ? fill(out.getAttribute(lo === hi ? "data-one" : "data-range"), {start: lo, end: hi})
        : s.cursor ? fill(out.getAttribute("data-cursor"), {n: s.cursor}) : out.getAttribute("data-none");
    }
    if (out) { out._keep = false; }
    var add = root.querySelector("#add-span");
    if (add) { add.disabled = s.start === 0; }
  }

  function select(box, n, extend) {
    var s = state(box);
    if (extend && s.start) { s.end = n; } else { s.start = s.end = n; }
    s.cursor = n;
    paint(box);
  }

  function clear(box) {
    var s = state(box);
    s.anchor = s.start = s.end = 0;
    paint(box);
  }

  function hidden(name, value) {
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    return input;
  }

  // The span's category is a flag of the answer (the server adds it too): tick its box, and let work.js
  // untick "none" through the change event, as a click on the box would.
  function tick(root, category) {
    var flag = root.querySelector('input[name=flags][value="' + category.replace(/"/g, "") + '"]');
    if (flag && !flag.checked) {
      flag.checked = true;
      flag.dispatchEvent(new Event("change", {bubbles: true}));
    }
  }

  function addSpan(box, category) {
    var s = state(box), root = section(box);
    if (!s.start || !category) return;
    var list = root.querySelector("#span-list");
    var lo = Math.min(s.start, s.end), hi = Math.max(s.start, s.end);
    var commentBox = root.querySelector("#span-comment");
    var comment = commentBox ? commentBox.value.trim() : "";
    var li = document.createElement("li");
    li.setAttribute("data-start", lo);
    li.setAttribute("data-end", hi);
    li.setAttribute("data-category", category);
    var text = document.createElement("span");
    text.className = "span-text";
    text.textContent = fill(list.getAttribute("data-lines"), {start: lo, end: hi}) + ": " + category
      + (comment ? " \u2014 " + comment : "");
    li.appendChild(text);
    li.appendChild(hidden("span_start", lo));
    li.appendChild(hidden("span_end", hi));
    li.appendChild(hidden("span_category", category));
    li.appendChild(hidden("span_comment", comment));
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "secondary";
    remove.setAttribute("data-remove-span", "");
    remove.textContent = list.getAttribute("data-remove");
    li.appendChild(remove);
    list.appendChild(li);
    if (commentBox) { commentBox.value = ""; }
    tick(root, category);
    s.anchor = s.start = s.end = 0;
    var out = root.querySelector("#span-selection");
    if (out) { out.textContent = fill(out.getAttribute("data-added"), {start: lo, end: hi, category: category}); out._keep = true; }
    paint(box);
  }

  function removeSpan(li) {
    var root = li.closest("#task") || document;
    var box = root.querySelector("#span-code");
    li.remove();
    var out = root.querySelector("#span-selection");
    if (out) { out.textContent = out.getAttribute("data-removed"); out._keep = true; }
    if (box) { paint(box); }
  }

  function onKey(event) {
    var box = event.currentTarget, s = state(box);
    if (event.altKey || event.metaKey || event.ctrlKey) return;
    var total = Number(box.getAttribute("data-lines"));
    var key = event.key;
    var handled = true;
    if (key === "j" || key === "J" || key === "ArrowDown" || key === "k" || key === "K" || key === "ArrowUp") {
      var step = (key === "k" || key === "K" || key === "ArrowUp") ? -1 : 1;
      s.cursor = Math.min(total, Math.max(1, (s.cursor || (step > 0 ? 0 : 2)) + step));
      if (s.anchor) { s.start = s.anchor; s.end = s.cursor; }
      paint(box);
      var line = lineOf(box, s.cursor);
      if (line && line.scrollIntoView) { line.scrollIntoView({block: "nearest"}); }
    } else if (key === " " || key === "v" || key === "V") {
      if (!s.cursor) { s.cursor = 1; }
      if (s.anchor) { s.anchor = 0; }  // ends the range: it stays selected for a problem's number
      else { s.anchor = s.cursor; s.start = s.end = s.cursor; }
      paint(box);
    } else if (key === "Escape") {
      clear(box);
    } else if (key === "x" || key === "X") {
      var last = section(box).querySelector("#span-list > li:last-child");
      if (last) { removeSpan(last); }
    } else if (/^[1-9]$/.test(key)) {
      var option = section(box).querySelector('#span-category option[data-key="' + key + '"]');
      if (!option) return;  // the number of "none" (or of no problem): work.js's keys, not a span
      if (!s.start && s.cursor) { s.start = s.end = s.cursor; }
      if (!s.start) return;
      addSpan(box, option.value);
    } else {
      handled = false;
    }
    if (handled) {
      // Keys of the code box are not the page's keys (work.js: numbers tick flags, s skips).
      event.preventDefault();
      event.stopPropagation();
    }
  }

  function setUp(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("#span-code:not([data-ready])").forEach(function (box) {
      box.setAttribute("data-ready", "1");
      box.addEventListener("keydown", onKey);
      box.addEventListener("click", function (event) {
        var line = event.target.closest && event.target.closest('[id^="code-line-"]');
        if (!line || !box.contains(line)) return;
        var n = Number(line.id.slice("code-line-".length));
        select(box, n, event.shiftKey);
        state(box).anchor = 0;
      });
      box.addEventListener("mousedown", function (event) {
        if (event.shiftKey) { event.preventDefault(); }  // shift+click extends the range, not a text selection
      });
      paint(box);
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target.closest) return;
    var remove = target.closest("[data-remove-span]");
    if (remove) { removeSpan(remove.closest("li")); return; }
    if (target.closest("#add-span")) {
      var root = target.closest("#task") || document;
      var box = root.querySelector("#span-code"), category = root.querySelector("#span-category");
      if (box && category) { addSpan(box, category.value); box.focus(); }
    }
  });

  document.addEventListener("DOMContentLoaded", function () { setUp(document); });
  document.addEventListener("htmx:load", function (event) { setUp(event.detail.elt); });
  if (document.readyState !== "loading") { setUp(document); }
})();
